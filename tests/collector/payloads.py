"""Builders of Discord gateway payloads, in Discord's own format, for collector tests."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

GUILD = 700000000000000001
_ids = itertools.count(800000000000000000)


def recent(hours: float = 1) -> str:
    """A Discord timestamp `hours` ago: for messages a test reads back through a window counted
    from today (API lookbacks, retention), which a fixed date would one day fall out of."""
    return (datetime.now(UTC) - timedelta(hours=hours)).isoformat()


def user(uid: int, bot: bool = False, name: str | None = None) -> dict:
    u = {
        "id": str(uid),
        "username": name or f"user{uid % 1000}",
        "discriminator": "0",
        "global_name": (name or f"User {uid % 1000}"),
        "avatar": None,
    }
    if bot:
        u["bot"] = True
    return u


def message(
    uid: int,
    channel: int,
    ts: str = "2026-11-26T18:40:16+00:00",
    guild: int | None = GUILD,
    bot: bool = False,
    webhook: bool = False,
    mid: int | None = None,
    content: str = "",
) -> dict:
    d = {
        "id": str(mid or next(_ids)),
        "channel_id": str(channel),
        "author": user(uid, bot=bot),
        "content": content,
        "timestamp": ts,
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": False,
        "type": 0,
        "flags": 0,
    }
    if guild is not None:
        d["guild_id"] = str(guild)
        d["member"] = {
            "roles": [],
            "joined_at": "2025-01-01T00:00:00+00:00",
            "deaf": False,
            "mute": False,
            "flags": 0,
        }
    if webhook:
        d["webhook_id"] = str(uid)
    return d


def channel(
    cid: int, name: str, type_: int = 0, parent: int | None = None, guild: int = GUILD
) -> dict:
    return {
        "id": str(cid),
        "type": type_,
        "name": name,
        "position": 0,
        "parent_id": str(parent) if parent else None,
        "guild_id": str(guild),
    }


def guild_create(
    guild: int = GUILD, channels=(), members=(), voice=(), afk: int | None = None, threads=()
) -> dict:
    return {
        "id": str(guild),
        "name": f"Guild {guild % 1000}",
        "icon": None,
        "afk_channel_id": str(afk) if afk else None,
        "member_count": len(members),
        "channels": list(channels),
        "threads": list(threads),
        "members": [
            {"user": user(m), "roles": [], "joined_at": "2025-01-01T00:00:00+00:00", "nick": None}
            for m in members
        ],
        "voice_states": [
            {"guild_id": str(guild), "channel_id": str(c), "user_id": str(u), "session_id": "s"}
            for u, c in voice
        ],
    }


def voice(uid: int, channel: int | None, guild: int = GUILD, bot: bool = False) -> dict:
    return {
        "guild_id": str(guild),
        "channel_id": str(channel) if channel else None,
        "user_id": str(uid),
        "member": {
            "user": user(uid, bot=bot),
            "roles": [],
            "joined_at": "2025-01-01T00:00:00+00:00",
        },
        "session_id": "s",
        "deaf": False,
        "mute": False,
        "self_deaf": False,
        "self_mute": False,
    }


def member_add(uid: int, joined_at: str = "2026-11-26T18:47:52+00:00", guild: int = GUILD) -> dict:
    return {
        "guild_id": str(guild),
        "user": user(uid),
        "roles": [],
        "joined_at": joined_at,
        "nick": None,
    }


def member_remove(uid: int, guild: int = GUILD) -> dict:
    return {"guild_id": str(guild), "user": user(uid)}
