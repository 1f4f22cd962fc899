"""Gateway intents as Discord applies them: which dispatches a session receives, what IDENTIFY may
ask.

A dispatch needs one intent bit, chosen by its event name and, for message-like events, by
whether it happened in a guild or a DM. Events not listed here (READY, RESUMED, GUILD_MEMBERS_CHUNK,
INTERACTION_CREATE, ...) reach every session. Privileged intents must be enabled for the
application; the simulator's ``disallow`` set plays an application where they are not.
"""

from __future__ import annotations

GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_MODERATION = 1 << 2
GUILD_EXPRESSIONS = 1 << 3
GUILD_INTEGRATIONS = 1 << 4
GUILD_WEBHOOKS = 1 << 5
GUILD_INVITES = 1 << 6
GUILD_VOICE_STATES = 1 << 7
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
GUILD_MESSAGE_REACTIONS = 1 << 10
GUILD_MESSAGE_TYPING = 1 << 11
DIRECT_MESSAGES = 1 << 12
DIRECT_MESSAGE_REACTIONS = 1 << 13
DIRECT_MESSAGE_TYPING = 1 << 14
MESSAGE_CONTENT = 1 << 15
GUILD_SCHEDULED_EVENTS = 1 << 16
AUTO_MODERATION_CONFIGURATION = 1 << 20
AUTO_MODERATION_EXECUTION = 1 << 21
GUILD_MESSAGE_POLLS = 1 << 24
DIRECT_MESSAGE_POLLS = 1 << 25
KNOWN = (
    (1 << 17) - 1  # bits 0-16
    | AUTO_MODERATION_CONFIGURATION
    | AUTO_MODERATION_EXECUTION
    | GUILD_MESSAGE_POLLS
    | DIRECT_MESSAGE_POLLS
)

# The names a person uses for the privileged intents (the developer portal's switches).
PRIVILEGED = {
    "members": GUILD_MEMBERS,
    "presences": GUILD_PRESENCES,
    "message_content": MESSAGE_CONTENT,
}
PORTAL_NAMES = {
    "members": "Server Members Intent",
    "presences": "Presence Intent",
    "message_content": "Message Content Intent",
}

_GUILD_EVENTS: dict[str, int] = {
    **dict.fromkeys(
        (
            "GUILD_CREATE",
            "GUILD_UPDATE",
            "GUILD_DELETE",
            "GUILD_ROLE_CREATE",
            "GUILD_ROLE_UPDATE",
            "GUILD_ROLE_DELETE",
            "CHANNEL_CREATE",
            "CHANNEL_UPDATE",
            "CHANNEL_DELETE",
            "THREAD_CREATE",
            "THREAD_UPDATE",
            "THREAD_DELETE",
            "THREAD_LIST_SYNC",
            "THREAD_MEMBER_UPDATE",
            "STAGE_INSTANCE_CREATE",
            "STAGE_INSTANCE_UPDATE",
            "STAGE_INSTANCE_DELETE",
        ),
        GUILDS,
    ),
    # THREAD_MEMBERS_UPDATE needs GUILD_MEMBERS for other members; the simulator sends it whole.
    **dict.fromkeys(
        ("GUILD_MEMBER_ADD", "GUILD_MEMBER_UPDATE", "GUILD_MEMBER_REMOVE", "THREAD_MEMBERS_UPDATE"),
        GUILD_MEMBERS,
    ),
    **dict.fromkeys(
        ("GUILD_AUDIT_LOG_ENTRY_CREATE", "GUILD_BAN_ADD", "GUILD_BAN_REMOVE"), GUILD_MODERATION
    ),
    **dict.fromkeys(
        (
            "GUILD_EMOJIS_UPDATE",
            "GUILD_STICKERS_UPDATE",
            "GUILD_SOUNDBOARD_SOUND_CREATE",
            "GUILD_SOUNDBOARD_SOUND_UPDATE",
            "GUILD_SOUNDBOARD_SOUND_DELETE",
            "GUILD_SOUNDBOARD_SOUNDS_UPDATE",
        ),
        GUILD_EXPRESSIONS,
    ),
    **dict.fromkeys(
        (
            "GUILD_INTEGRATIONS_UPDATE",
            "INTEGRATION_CREATE",
            "INTEGRATION_UPDATE",
            "INTEGRATION_DELETE",
        ),
        GUILD_INTEGRATIONS,
    ),
    "WEBHOOKS_UPDATE": GUILD_WEBHOOKS,
    **dict.fromkeys(("INVITE_CREATE", "INVITE_DELETE"), GUILD_INVITES),
    **dict.fromkeys(("VOICE_STATE_UPDATE", "VOICE_CHANNEL_EFFECT_SEND"), GUILD_VOICE_STATES),
    "PRESENCE_UPDATE": GUILD_PRESENCES,
    **dict.fromkeys(
        (
            "GUILD_SCHEDULED_EVENT_CREATE",
            "GUILD_SCHEDULED_EVENT_UPDATE",
            "GUILD_SCHEDULED_EVENT_DELETE",
            "GUILD_SCHEDULED_EVENT_USER_ADD",
            "GUILD_SCHEDULED_EVENT_USER_REMOVE",
        ),
        GUILD_SCHEDULED_EVENTS,
    ),
    **dict.fromkeys(
        (
            "AUTO_MODERATION_RULE_CREATE",
            "AUTO_MODERATION_RULE_UPDATE",
            "AUTO_MODERATION_RULE_DELETE",
        ),
        AUTO_MODERATION_CONFIGURATION,
    ),
    "AUTO_MODERATION_ACTION_EXECUTION": AUTO_MODERATION_EXECUTION,
}
# Events of one name that need a guild intent in a guild and a DM intent outside one.
_SPLIT_EVENTS: dict[str, tuple[int, int]] = {
    **dict.fromkeys(
        ("MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE"), (GUILD_MESSAGES, DIRECT_MESSAGES)
    ),
    "MESSAGE_DELETE_BULK": (GUILD_MESSAGES, GUILD_MESSAGES),
    "CHANNEL_PINS_UPDATE": (GUILDS, DIRECT_MESSAGES),
    **dict.fromkeys(
        (
            "MESSAGE_REACTION_ADD",
            "MESSAGE_REACTION_REMOVE",
            "MESSAGE_REACTION_REMOVE_ALL",
            "MESSAGE_REACTION_REMOVE_EMOJI",
        ),
        (GUILD_MESSAGE_REACTIONS, DIRECT_MESSAGE_REACTIONS),
    ),
    "TYPING_START": (GUILD_MESSAGE_TYPING, DIRECT_MESSAGE_TYPING),
    **dict.fromkeys(
        ("MESSAGE_POLL_VOTE_ADD", "MESSAGE_POLL_VOTE_REMOVE"),
        (GUILD_MESSAGE_POLLS, DIRECT_MESSAGE_POLLS),
    ),
}


def required_intent(event: str, in_guild: bool) -> int:
    """The intent bit a session needs to receive this dispatch; 0 when every session gets it."""
    split = _SPLIT_EVENTS.get(event)
    if split is not None:
        return split[0] if in_guild else split[1]
    return _GUILD_EVENTS.get(event, 0)


def parse_privileged(names: str | None) -> int:
    """``members,presences`` → their intent bits; ValueError naming an unknown name."""
    mask = 0
    for name in (names or "").split(","):
        name = name.strip().lower().replace("-", "_")
        if not name:
            continue
        if name not in PRIVILEGED:
            raise ValueError(
                f"unknown privileged intent {name!r}: choose from {', '.join(PRIVILEGED)}"
            )
        mask |= PRIVILEGED[name]
    return mask


def guild_create_for(guild: dict, intents: int, bot_id: str) -> dict:
    """GUILD_CREATE as a session with `intents` receives it.

    Without GUILD_PRESENCES, Discord lists no presences and, of the members, only the bot itself and
    the members in a voice channel.
    """
    if intents & GUILD_PRESENCES:
        return guild
    in_voice = {vs.get("user_id") for vs in guild.get("voice_states", [])} | {bot_id}
    members = [m for m in guild.get("members", []) if (m.get("user") or {}).get("id") in in_voice]
    return {**guild, "members": members, "presences": []}
