"""Generated guilds: channels, members with zipf-like activity, and payloads in Discord's format."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field

import orjson

from simulator.scenario import Dispatch, dispatch_tail

TEXT_NAMES = (
    "general",
    "random",
    "memes",
    "gaming",
    "music",
    "dev",
    "art",
    "off-topic",
    "help",
    "media",
    "announcements",
    "introductions",
    "food",
    "pets",
    "books",
    "movies",
)
VOICE_NAMES = ("Lounge", "Gaming", "Music", "Study", "Chill", "Meeting")
FIRST = (
    "Ava",
    "Noah",
    "Mia",
    "Liam",
    "Zoe",
    "Leo",
    "Ivy",
    "Kai",
    "Ada",
    "Max",
    "Eva",
    "Sam",
    "Lea",
    "Tom",
    "Nia",
    "Ben",
    "Ola",
    "Ren",
    "Uma",
    "Jon",
)
EPOCH_MS = 1420070400000
ADMINISTRATOR, MANAGE_GUILD = 0x8, 0x20
EVERYONE_PERMISSIONS = "1071698660929"  # Discord's default @everyone: neither of the two above
GUILD_BASE_MS = 1609459200000  # 2021-01-01: guild and channel ids
USER_BASE_MS = 1546300800000  # 2019-01-01: user ids
JOINED = "2021-06-01T12:00:00.000000+00:00"


def _sf(ms: int, increment: int) -> int:
    return ((ms - EPOCH_MS) << 22) | (increment & 0xFFF)


def _user(uid: int, n: int, bot: bool = False) -> dict:
    user = {
        "id": str(uid),
        "username": f"{'bot' if bot else 'user'}{n}",
        "discriminator": "0",
        "global_name": f"{FIRST[n % len(FIRST)]} {n}" if not bot else None,
        "avatar": None,
    }
    if bot:
        user["bot"] = True
    return user


def _member(user: dict, joined_at: str = JOINED, roles: list[str] | None = None) -> dict:
    return {
        "user": user,
        "roles": roles or [],
        "joined_at": joined_at,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "nick": None,
    }


def _role(rid: int, name: str, permissions: int | str, position: int, color: int = 0) -> dict:
    return {
        "id": str(rid),
        "name": name,
        "permissions": str(permissions),
        "position": position,
        "color": color,
        "hoist": False,
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


@dataclass
class GuildModel:
    """One generated guild and the state its live traffic changes (members, who is in voice)."""

    id: int
    payload: dict
    text_channels: list[int]
    channel_weights: list[float]
    voice_channels: list[int]
    afk_channel: int
    humans: list[int]
    human_weights: list[float]
    bots: list[int]
    users: dict[int, dict]
    staff: dict[int, list[str]] = field(default_factory=dict)  # owner and role holders: never leave
    roles: dict[int, list[str]] = field(default_factory=dict)  # every member's role ids
    role_ids: dict[str, int] = field(default_factory=dict)  # name -> id of the demo's roles
    joined: dict[int, int] = field(default_factory=dict)  # recent joiners: user -> joined at (ms)
    author_json: dict[int, str] = field(default_factory=dict)
    member_json: dict[int, str] = field(default_factory=dict)
    in_voice: dict[int, int] = field(default_factory=dict)
    initial_voice: dict[int, int] = field(default_factory=dict)
    _new_ids: itertools.count = field(default_factory=itertools.count)

    def remember(self, uid: int, user: dict, joined_at: str = JOINED) -> None:
        """Pre-serialise the author and member objects every message of this user embeds."""
        self.users[uid] = user
        self.author_json[uid] = orjson.dumps(user).decode()
        self.member_json[uid] = orjson.dumps(
            {
                "roles": self.roles.get(uid, []),
                "joined_at": joined_at,
                "deaf": False,
                "mute": False,
                "flags": 0,
            }
        ).decode()

    def voice_state(self, uid: int, channel: int | None) -> Dispatch:
        """VOICE_STATE_UPDATE: join or move to `channel`, or leave when None."""
        data = {
            "guild_id": str(self.id),
            "channel_id": str(channel) if channel else None,
            "user_id": str(uid),
            "member": _member(self.users[uid]),
            "session_id": f"s{uid}",
            "deaf": False,
            "mute": False,
            "self_deaf": False,
            "self_mute": False,
            "self_video": False,
            "suppress": False,
            "request_to_speak_timestamp": None,
        }
        return Dispatch(self.id, dispatch_tail("VOICE_STATE_UPDATE", orjson.dumps(data)))

    def member_add(self, ms: int) -> Dispatch:
        """GUILD_MEMBER_ADD of a new user who may chat afterwards (a light talker)."""
        n = next(self._new_ids)
        uid = _sf(ms, n)
        from simulator.generator import iso  # the timestamp format lives with the traffic

        joined = iso(ms)
        user = _user(uid, 10_000 + n)
        newcomer = self.role_ids.get("Newcomers")
        if newcomer:
            self.roles[uid] = [str(newcomer)]
        self.remember(uid, user, joined)
        self.humans.append(uid)
        self.human_weights.append(min(self.human_weights))
        data = {"guild_id": str(self.id), **_member(user, joined, self.roles.get(uid))}
        return Dispatch(self.id, dispatch_tail("GUILD_MEMBER_ADD", orjson.dumps(data)))

    def member_update(self, uid: int, roles: list[str]) -> Dispatch:
        """GUILD_MEMBER_UPDATE: the member's roles are now `roles` (the whole list, as Discord)."""
        self.roles[uid] = roles
        joined = self.users_joined(uid)
        self.remember(uid, self.users[uid], joined)
        data = {"guild_id": str(self.id), **_member(self.users[uid], joined, roles)}
        return Dispatch(self.id, dispatch_tail("GUILD_MEMBER_UPDATE", orjson.dumps(data)))

    def users_joined(self, uid: int) -> str:
        from simulator.generator import iso

        return iso(self.joined[uid]) if self.joined.get(uid) else JOINED

    def spread_joins(self, first_ms: int, end_ms: int, rng: random.Random) -> None:
        """Give the recent joiners join times in [first_ms, end_ms), in their member objects too."""
        for uid in self.joined:
            self.joined[uid] = rng.randrange(first_ms, end_ms)
            self.remember(uid, self.users[uid], self.users_joined(uid))
        for m in self.payload["members"]:
            uid = int(m["user"]["id"])
            if uid in self.joined:
                m["joined_at"] = self.users_joined(uid)

    def member_remove(self, uid: int) -> Dispatch:
        i = self.humans.index(uid)
        del self.humans[i], self.human_weights[i]
        data = {"guild_id": str(self.id), "user": self.users[uid]}
        return Dispatch(self.id, dispatch_tail("GUILD_MEMBER_REMOVE", orjson.dumps(data)))


# Roles without permissions for the role filter and colourful pickers: (name, colour, share of the
# members holding it; "Regulars" go to the most active).
DEMO_ROLES = (
    ("Regulars", 0x2ECC71, 0.15),
    ("Gamers", 0xE67E22, 0.30),
    ("Artists", 0x9B59B6, 0.15),
    ("Newcomers", 0x95A5A6, 0.0),
)
RECENT_JOINERS = 0.15  # of the plain members, joined during the backfilled days


def demo_roles(model: GuildModel, g_ms: int, rank: dict[int, int], seed: int, index: int) -> list:
    """The demo's roles and who holds them; a separate random stream, so the traffic stays the
    same for a seed."""
    rng = random.Random(f"roles-{seed}-{index}")
    plain = [u for u in model.humans if u not in model.staff]
    out = []
    for i, (name, color, share) in enumerate(DEMO_ROLES):
        rid = _sf(g_ms, 310 + i)
        model.role_ids[name] = rid
        out.append(_role(rid, name, 0, len(DEMO_ROLES) - i + 3, color))
        if name == "Regulars":
            holders = sorted(plain, key=lambda u: rank[u])[: int(len(plain) * share)]
        else:
            holders = rng.sample(plain, int(len(plain) * share))
        for uid in holders:
            model.roles.setdefault(uid, []).append(str(rid))
    for uid, staff_roles in model.staff.items():
        model.roles[uid] = list(staff_roles)
    # Recent joiners (join times are set by the generator, which knows the backfilled days).
    quiet = sorted(plain, key=lambda u: -rank[u])  # the least active first
    model.joined = dict.fromkeys(quiet[: int(len(plain) * RECENT_JOINERS)], 0)
    for uid in model.joined:
        model.roles[uid] = [str(model.role_ids["Newcomers"])]
    for uid in model.roles:
        model.remember(uid, model.users[uid])
    return out


def _channel(cid: int, ctype: int, name: str, position: int) -> dict:
    ch = {
        "id": str(cid),
        "type": ctype,
        "name": name,
        "position": position,
        "permission_overwrites": [],
        "parent_id": None,
        "nsfw": False,
    }
    if ctype == 0:
        ch |= {"topic": None, "last_message_id": None, "rate_limit_per_user": 0}
    else:
        ch |= {"bitrate": 64000, "user_limit": 0, "rtc_region": None}
    return ch


def build_guild(
    index: int, seed: int, members: int, channels: int, rng: random.Random
) -> GuildModel:
    """Guild `index`: `channels` text channels, voice channels and an AFK channel, `members`
    members."""
    g_ms = GUILD_BASE_MS + (seed % 100_000) * 1000 + index
    gid = _sf(g_ms, 0)
    text = [_sf(g_ms, 1 + i) for i in range(max(1, channels))]
    voice = [_sf(g_ms, 100 + i) for i in range(max(2, channels // 3))]
    afk = _sf(g_ms, 200)
    n_bots = max(1, members // 50)
    u_ms = USER_BASE_MS + (seed % 100_000) * 1000 + index * 100
    uids = [_sf(u_ms + j // 4096, j) for j in range(max(2, members))]
    humans, bots = uids[n_bots:], uids[:n_bots]
    order = humans[:]
    rng.shuffle(order)  # heavy talkers are not simply the lowest ids
    rank = {uid: r for r, uid in enumerate(order, start=1)}
    chans = [
        _channel(
            c,
            0,
            TEXT_NAMES[i % len(TEXT_NAMES)]
            + (f"-{i // len(TEXT_NAMES)}" if i >= len(TEXT_NAMES) else ""),
            i,
        )
        for i, c in enumerate(text)
    ]
    chans += [
        _channel(c, 2, f"{VOICE_NAMES[i % len(VOICE_NAMES)]} {i + 1}", 50 + i)
        for i, c in enumerate(voice)
    ]
    chans.append(_channel(afk, 2, "AFK", 99))
    model = GuildModel(
        id=gid,
        payload={},
        text_channels=text,
        channel_weights=[1 / (i + 1) ** 0.8 for i in range(len(text))],
        voice_channels=voice,
        afk_channel=afk,
        humans=humans,
        human_weights=[1 / rank[u] ** 1.1 for u in humans],
        bots=bots,
        users={},
    )
    for j, uid in enumerate(uids):
        model.remember(uid, _user(uid, j, bot=j < n_bots))
    for uid in rng.sample(humans, min(2, len(humans))):
        model.initial_voice[uid] = model.in_voice[uid] = rng.choice(voice)
    # Sign-in needs every kind of member: humans[0] owns the guild, humans[1] manages it (Manage
    # Server), humans[2] is an administrator, humans[3] a moderator (a role without either
    # permission).
    admins, managers, mods = _sf(g_ms, 301), _sf(g_ms, 302), _sf(g_ms, 303)
    roles = [
        _role(gid, "@everyone", EVERYONE_PERMISSIONS, 0),
        _role(admins, "Admins", ADMINISTRATOR, 3),
        _role(managers, "Managers", MANAGE_GUILD, 2),
        _role(mods, "Moderators", 0, 1),
    ]
    model.staff = {humans[0]: []} | {
        uid: [str(rid)] for uid, rid in zip(humans[1:4], (managers, admins, mods), strict=False)
    }
    roles += demo_roles(model, g_ms, rank, seed, index)
    # Discord sends at most large_threshold members; staff always among them
    shown_ids = [*model.staff, *(u for u in uids if u not in model.staff)][:250]
    shown = [_member(model.users[u], model.users_joined(u), model.roles.get(u)) for u in shown_ids]
    model.payload = {
        "id": str(gid),
        "name": f"Demo Guild {index + 1}" if index else "Mocha Demo",
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "application_id": None,
        "max_members": 500000,
        "max_video_channel_users": 25,
        "max_stage_video_channel_users": 50,
        "safety_alerts_channel_id": None,
        "widget_enabled": False,
        "owner_id": str(humans[0]),
        "afk_channel_id": str(afk),
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "roles": roles,
        "emojis": [],
        "stickers": [],
        "features": [],
        "mfa_level": 0,
        "system_channel_id": str(text[0]),
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "vanity_url_code": None,
        "description": None,
        "banner": None,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "preferred_locale": "en-US",
        "public_updates_channel_id": None,
        "nsfw_level": 0,
        "premium_progress_bar_enabled": False,
        "joined_at": JOINED,
        "large": len(uids) > 250,
        "unavailable": False,
        "member_count": len(uids),
        "channels": chans,
        "threads": [],
        "members": shown,
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
        "voice_states": [
            {
                "guild_id": str(gid),
                "channel_id": str(c),
                "user_id": str(u),
                "session_id": f"s{u}",
                "deaf": False,
                "mute": False,
                "self_deaf": False,
                "self_mute": False,
                "self_video": False,
                "suppress": False,
                "request_to_speak_timestamp": None,
            }
            for u, c in model.initial_voice.items()
        ],
    }
    return model
