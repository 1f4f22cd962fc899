"""Normalise Discord payloads into the few facts Mocha counts.

Functions here take the raw gateway `d` dicts (as Discord sends them) and
return small tuples or None; no Django, no I/O, so the hot path stays cheap
and every rule is testable on plain dicts.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import NamedTuple

_hour_cache: dict[str, int] = {}


def hour_from_timestamp(ts: str) -> int:
    """Whole hours since the epoch (UTC) of an ISO-8601 timestamp, memoised by its hour prefix."""
    # Discord always sends UTC ("+00:00"); any other offset takes the slow, exact path.
    if ts.endswith("+00:00") or ts.endswith("Z"):
        key = ts[:13]
        hour = _hour_cache.get(key)
        if hour is None:
            hour = int(datetime.fromisoformat(key + ":00:00+00:00").timestamp()) // 3600
            if len(_hour_cache) > 100_000:
                _hour_cache.clear()
            _hour_cache[key] = hour
        return hour
    return int(datetime.fromisoformat(ts).timestamp()) // 3600


def parse_time(ts: str | None) -> datetime | None:
    """An aware datetime from a Discord timestamp, or None."""
    if not ts:
        return None
    try:
        dt = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


class UserInfo(NamedTuple):
    user_id: int
    username: str
    global_name: str
    nick: str
    bot: bool


def user_info(user: dict, member: dict | None = None) -> UserInfo:
    """Names and bot flag of a user object (and guild member object, for the nickname)."""
    return UserInfo(
        int(user["id"]),
        (user.get("username") or "")[:64],
        (user.get("global_name") or "")[:64],
        ((member or {}).get("nick") or "")[:64],
        bool(user.get("bot")) or bool(user.get("system")),
    )


class ChannelInfo(NamedTuple):
    channel_id: int
    guild_id: int
    name: str
    type: int
    parent_id: int | None
    position: int


def channel_info(data: dict, guild_id: int | None = None) -> ChannelInfo | None:
    """A channel or thread object; None when it belongs to no guild (a DM)."""
    gid = data.get("guild_id") or guild_id
    if gid is None:
        return None
    parent = data.get("parent_id")
    return ChannelInfo(
        int(data["id"]),
        int(gid),
        (data.get("name") or "")[:100],
        int(data.get("type") or 0),
        int(parent) if parent else None,
        int(data.get("position") or 0),
    )
