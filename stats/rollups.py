"""The derived rollups as a whole: a flush's increments, and rebuilds from HourlyStat.

Each table's name, increment and rebuild live in its module of `stats.tables`. A flush adds to
HourlyStat and to every derived table from the same counters, in the collector's transaction
(`add_flush`). DailyMemberStat (and DailyGuildStat, its count per day), HourlyGuildStat and
ChannelMember depend on the guild's timezone or excluded channels, so when either changes the
guild's rows are recomputed from HourlyStat, which is always kept.
"""

from __future__ import annotations

from stats.models import Guild
from stats.tables import (
    channel_hours,
    channel_members,
    guild_days,
    guild_hours,
    hourly,
    keys,
    member_days,
)
from stats.tables.base import channels_not_in, local_day

__all__ = ["add_flush", "channels_not_in", "config_key", "local_day", "rebuild"]


def add_flush(
    cur,
    counters: dict[tuple[int, int, int, int], list[int]],
    timezones: dict[int, str],
    excluded: dict[int, frozenset[int]],
) -> set[tuple[int, int]]:
    """Write a flush's counters, (guild, hour, channel, user) → [messages, voice seconds], to
    HourlyStat and every derived table, one pass over them. Returns the (guild, hour) pairs
    written."""
    members = keys.member_keys((gid, uid) for gid, _, _, uid in counters)
    channels = keys.channel_keys((gid, cid) for gid, _, cid, _ in counters)
    guilds = keys.guild_keys(gid for gid, _, _, _ in counters)
    facts: list[tuple[int, int, int, int, int]] = []  # one per counter: its key maps one to one
    hours: dict[tuple[int, int, int], list[int]] = {}
    days: dict[tuple[int, int, int], list[int]] = {}
    last_days: dict[tuple[int, int, int], int] = {}
    hour_members: dict[tuple[int, int], set[int]] = {}  # outside excluded channels
    for (gid, hour, cid, uid), (m, v) in counters.items():
        member = members[(gid, uid)]
        day = local_day(timezones.get(gid, "UTC"), hour)
        facts.append((member, hour, channels[(gid, cid)], m, v))
        for table, key in ((hours, (gid, hour, cid)), (days, (gid, day, member))):
            row = table.setdefault(key, [0, 0])
            row[0] += m
            row[1] += v
        if last_days.get((gid, cid, uid), -1) < day:
            last_days[(gid, cid, uid)] = day
        if cid not in excluded.get(gid, ()):
            hour_members.setdefault((gid, hour), set()).add(member)
    # Who is new to an hour or a day is read before this flush's own rows land.
    guild_hour_rows = guild_hours.flush_rows(hour_members, hours, excluded)
    new_in_days = guild_days.new_members(days, guilds)
    hourly.increment(cur, facts)
    channel_hours.increment(cur, hours)
    member_days.increment(cur, {(guilds[gid], d, k): v for (gid, d, k), v in days.items()})
    channel_members.increment(cur, last_days)
    guild_hours.increment(cur, guild_hour_rows)
    guild_days.increment(cur, new_in_days)
    return {(gid, hour) for gid, hour, _ in hours}


def config_key(guild: Guild) -> tuple[str, frozenset[int]]:
    """What the configuration-dependent tables follow."""
    return guild.timezone, frozenset(guild.excluded_channels.values_list("id", flat=True))


def rebuild_config_dependent(guild_id: int) -> None:
    """The tables that follow the guild's timezone or exclusions."""
    member_days.rebuild(guild_id)
    guild_days.rebuild(guild_id)
    guild_hours.rebuild(guild_id)
    channel_members.rebuild(guild_id)


def rebuild(guild_id: int) -> None:
    """Every derived table of a guild (admin action, privacy purge)."""
    channel_hours.rebuild(guild_id)
    rebuild_config_dependent(guild_id)
