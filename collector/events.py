"""Raw gateway payloads → the small, checked records the aggregator counts.

Each function takes a `d` dict exactly as Discord sends it and either returns
a record whose every field is safe to count and to store, or raises
`fields.Invalid` naming the field that is not. Nothing after this module
checks its input again. No Django, no I/O: every rule is testable on plain
dicts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NamedTuple

from collector.fields import (
    BAD_TYPE,
    MAX_SNOWFLAKE,
    Invalid,
    channel_type,
    clamped_int,
    flag,
    obj,
    opt_obj,
    opt_snowflake,
    snowflake,
    text,
    timestamp,
    timestamp_hour,
)

NAME_MAX = 64  # Member.username / global_name / nick
CHANNEL_NAME_MAX = 100
GUILD_NAME_MAX = 100
ICON_MAX = 64
ROLE_NAME_MAX = 100
COLOR_MAX = 0xFFFFFF


def parse_time(ts: str | None) -> datetime | None:
    """An aware datetime from a Discord timestamp, or None."""
    if not ts:
        return None
    try:
        dt = datetime.fromisoformat(ts)
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


class UserInfo(NamedTuple):
    user_id: int
    username: str
    global_name: str
    nick: str
    bot: bool


class ChannelInfo(NamedTuple):
    channel_id: int
    guild_id: int
    name: str
    type: int
    parent_id: int | None
    position: int


class Message(NamedTuple):
    guild_id: int
    channel_id: int
    user_id: int
    message_id: int
    hour: int
    timestamp: str
    from_bot: bool  # a bot, system user or webhook


class GuildInfoRecord(NamedTuple):
    guild_id: int
    name: str
    member_count: int | None  # None: the payload does not say
    afk_channel_id: int | None
    icon: str


class RoleInfo(NamedTuple):
    role_id: int
    guild_id: int
    name: str
    color: int
    position: int


class VoiceState(NamedTuple):
    guild_id: int
    user_id: int
    channel_id: int | None
    user: UserInfo | None
    member: dict | None


class GuildCreate(NamedTuple):
    guild: GuildInfoRecord
    channels: list[ChannelInfo]
    members: list[tuple[UserInfo, dict]]
    voice: dict[int, int]  # user -> channel
    problems: list[Invalid]  # parts of the guild left out
    roles: list[RoleInfo] = []
    member_roles: dict[int, frozenset[int]] = {}  # user -> roles, for members that say


def user_info(user: dict, member: dict | None = None, field: str = "user") -> UserInfo:
    """Names and bot flag of a user object (and guild member object, for the nickname)."""
    return UserInfo(
        snowflake(user.get("id"), f"{field}.id"),
        text(user.get("username"), NAME_MAX),
        text(user.get("global_name"), NAME_MAX),
        text(member.get("nick"), NAME_MAX) if member else "",
        flag(user.get("bot")) or flag(user.get("system")),
    )


def message(d: dict) -> Message | None:
    """A MESSAGE_CREATE; None for a direct message (no guild)."""
    gid = d.get("guild_id")
    if gid is None:
        return None
    author = obj(d.get("author"), "author")
    cid, uid, mid = d.get("channel_id"), author.get("id"), d.get("id")
    try:  # the hot path: four ids as Discord sends them (strings), checked at once
        g, c, u, m = int(gid), int(cid), int(uid), int(mid)  # type: ignore[arg-type]
        fast = type(gid) is str and type(cid) is str and type(uid) is str and type(mid) is str
    except (TypeError, ValueError, OverflowError):
        fast = False
    if not (
        fast
        and 0 < g <= MAX_SNOWFLAKE
        and 0 < c <= MAX_SNOWFLAKE
        and 0 < u <= MAX_SNOWFLAKE
        and 0 < m <= MAX_SNOWFLAKE
    ):
        g, c, u, m = (
            snowflake(gid, "guild_id"),
            snowflake(cid, "channel_id"),
            snowflake(uid, "author.id"),
            snowflake(mid, "id"),
        )
    ts = d.get("timestamp")
    return Message(
        g,
        c,
        u,
        m,
        timestamp_hour(ts, "timestamp"),
        ts,  # type: ignore[arg-type]  # a string: timestamp_hour() checked it
        flag(author.get("bot")) or flag(author.get("system")) or d.get("webhook_id") is not None,
    )


def message_member(d: dict) -> dict | None:
    """The member object of a message, when it is one."""
    member = d.get("member")
    return member if isinstance(member, dict) else None


def channel_info(data: dict, guild_id: int | None = None, field: str = "") -> ChannelInfo | None:
    """A channel or thread object; None when it belongs to no guild (a DM)."""
    gid = opt_snowflake(data.get("guild_id"), f"{field}guild_id") or guild_id
    if gid is None:
        return None
    return ChannelInfo(
        snowflake(data.get("id"), f"{field}id"),
        gid,
        text(data.get("name"), CHANNEL_NAME_MAX),
        channel_type(data.get("type")),
        opt_snowflake(data.get("parent_id"), f"{field}parent_id"),
        clamped_int(data.get("position"), 0),
    )


def channel_delete(d: dict) -> tuple[int | None, int]:
    """CHANNEL_DELETE / THREAD_DELETE: (guild, channel)."""
    return opt_snowflake(d.get("guild_id"), "guild_id"), snowflake(d.get("id"), "id")


def guild_info(d: dict) -> GuildInfoRecord:
    """The guild fields of GUILD_CREATE and GUILD_UPDATE."""
    count = d.get("member_count")
    return GuildInfoRecord(
        snowflake(d.get("id"), "id"),
        text(d.get("name"), GUILD_NAME_MAX),
        clamped_int(count, 0, 0) if type(count) is int else None,
        opt_snowflake(d.get("afk_channel_id"), "afk_channel_id"),
        text(d.get("icon"), ICON_MAX),
    )


def guild_delete(d: dict) -> tuple[int, bool]:
    """GUILD_DELETE: (guild, whether it is an outage rather than the bot being removed)."""
    return snowflake(d.get("id"), "id"), flag(d.get("unavailable"))


def _items(d: dict, key: str) -> list:
    value = d.get(key)
    return value if isinstance(value, list) else []


def role_info(data: dict, guild_id: int, field: str = "role.") -> RoleInfo:
    """A role object."""
    return RoleInfo(
        snowflake(data.get("id"), f"{field}id"),
        guild_id,
        text(data.get("name"), ROLE_NAME_MAX),
        clamped_int(data.get("color"), 0, 0, COLOR_MAX),
        clamped_int(data.get("position"), 0),
    )


def role_update(d: dict) -> RoleInfo:
    """GUILD_ROLE_CREATE / GUILD_ROLE_UPDATE."""
    gid = snowflake(d.get("guild_id"), "guild_id")
    return role_info(obj(d.get("role"), "role"), gid)


def role_delete(d: dict) -> tuple[int, int]:
    """GUILD_ROLE_DELETE: (guild, role)."""
    return snowflake(d.get("guild_id"), "guild_id"), snowflake(d.get("role_id"), "role_id")


def member_roles(m: dict, field: str = "roles") -> frozenset[int] | None:
    """The role ids of a member object; None when it does not list them. @everyone (the guild's
    own id) is never listed by Discord and needs no row."""
    roles = m.get("roles")
    if roles is None:
        return None
    if not isinstance(roles, list):
        raise Invalid(field, BAD_TYPE, roles)
    return frozenset(snowflake(r, f"{field}[{i}]") for i, r in enumerate(roles))


def guild_create(d: dict) -> GuildCreate:
    """A GUILD_CREATE; a bad channel, member or voice state is left out (and reported), not the
    guild."""
    guild = guild_info(d)
    problems: list[Invalid] = []
    channels: list[ChannelInfo] = []
    for key in ("channels", "threads"):
        for i, ch in enumerate(_items(d, key)):
            try:
                info = channel_info(obj(ch, f"{key}[{i}]"), guild.guild_id, f"{key}[{i}].")
            except Invalid as exc:
                problems.append(exc)
            else:
                if info is not None:
                    channels.append(info._replace(guild_id=guild.guild_id))
    roles = []
    for i, r in enumerate(_items(d, "roles")):
        try:
            roles.append(role_info(obj(r, f"roles[{i}]"), guild.guild_id, f"roles[{i}]."))
        except Invalid as exc:
            problems.append(exc)
    members = []
    held: dict[int, frozenset[int]] = {}
    for i, m in enumerate(_items(d, "members")):
        try:
            m = obj(m, f"members[{i}]")
            info = user_info(obj(m.get("user"), f"members[{i}].user"), m, f"members[{i}].user")
        except Invalid as exc:
            problems.append(exc)
            continue
        members.append((info, m))
        try:
            ids = member_roles(m, f"members[{i}].roles")
        except Invalid as exc:  # the member still counts; only their roles are left out
            problems.append(exc)
        else:
            if ids is not None:
                held[info.user_id] = ids
    voice = {}
    for i, vs in enumerate(_items(d, "voice_states")):
        try:
            vs = obj(vs, f"voice_states[{i}]")
            cid = opt_snowflake(vs.get("channel_id"), f"voice_states[{i}].channel_id")
            uid = snowflake(vs.get("user_id"), f"voice_states[{i}].user_id")
        except Invalid as exc:
            problems.append(exc)
        else:
            if cid is not None:
                voice[uid] = cid
    return GuildCreate(guild, channels, members, voice, problems, roles, held)


def member(d: dict) -> tuple[int, UserInfo]:
    """GUILD_MEMBER_ADD / _UPDATE / _REMOVE: the guild and the user (with the nickname when
    sent)."""
    gid = snowflake(d.get("guild_id"), "guild_id")
    return gid, user_info(obj(d.get("user"), "user"), d)


def joined_at(d: dict) -> datetime | None:
    """GUILD_MEMBER_ADD's join time; None when absent, Invalid when it is not a time."""
    value = d.get("joined_at")
    return None if value is None else timestamp(value, "joined_at")


def voice_state(d: dict) -> VoiceState | None:
    """A VOICE_STATE_UPDATE; None outside a guild."""
    gid = opt_snowflake(d.get("guild_id"), "guild_id")
    if gid is None:
        return None
    uid = snowflake(d.get("user_id"), "user_id")
    cid = opt_snowflake(d.get("channel_id"), "channel_id")
    member = opt_obj(d.get("member"), "member")
    user = opt_obj(member.get("user"), "member.user") if member else None
    info = user_info(user, member, "member.user") if user else None
    if info is not None and info.user_id != uid:
        raise Invalid("member.user.id", "bad_snowflake", user.get("id"))  # type: ignore[union-attr]
    return VoiceState(gid, uid, cid, info, member)
