"""Coarser rollups derived from HourlyStat, and their rebuild.

The collector adds to every table here in each flush (collector.writer).
DailyMemberStat, HourlyGuildStat and ChannelMember depend on the guild's
timezone or excluded channels, so when either changes the guild's rows are
recomputed from HourlyStat, which is always kept.
"""

from __future__ import annotations

import zoneinfo
from functools import lru_cache

from django.db import connection, transaction

from mocha.utc import from_epoch
from stats.models import (
    ChannelMember,
    DailyMemberStat,
    Guild,
    HourlyChannelStat,
    HourlyGuildStat,
    HourlyStat,
)

HOURLY = HourlyStat._meta.db_table
DAILY = DailyMemberStat._meta.db_table
CHANNEL_HOURLY = HourlyChannelStat._meta.db_table


@lru_cache(maxsize=65536)
def local_day(tz_name: str, hour: int) -> int:
    """The guild-local day (days since 1970-01-01) that a UTC hour starts in."""
    start = from_epoch(hour * 3600)
    offset = start.astimezone(zoneinfo.ZoneInfo(tz_name)).utcoffset()
    return (hour * 3600 + int(offset.total_seconds())) // 86400


def channels_not_in(channel_ids) -> tuple[str, list]:
    """SQL leaving out the given (excluded) channels: `(" AND channel_id NOT IN (...)", ids)`, or
    nothing."""
    ids = list(channel_ids)
    if not ids:
        return "", []
    return f" AND channel_id NOT IN ({', '.join(['%s'] * len(ids))})", ids


def config_key(guild: Guild) -> tuple[str, frozenset[int]]:
    """What DailyMemberStat rows depend on."""
    return guild.timezone, frozenset(guild.excluded_channels.values_list("id", flat=True))


@transaction.atomic
def rebuild_daily(guild_id: int) -> int:
    """Recompute a guild's DailyMemberStat from HourlyStat with its current timezone and
    exclusions."""
    guild = Guild.objects.get(pk=guild_id)
    where, params = _hourly_where(guild)
    sql = (
        "SELECT hour, user_id, SUM(messages), SUM(voice_seconds) "
        f"FROM {HOURLY} WHERE {where} GROUP BY hour, user_id"
    )
    days: dict[tuple[int, int], list[int]] = {}
    with connection.cursor() as cur:
        cur.execute(sql, params)
        for hour, user_id, messages, voice in cur.fetchall():
            row = days.setdefault((local_day(guild.timezone, hour), user_id), [0, 0])
            row[0] += messages
            row[1] += voice
    DailyMemberStat.objects.filter(guild_id=guild_id).delete()
    DailyMemberStat.objects.bulk_create(
        [
            DailyMemberStat(guild_id=guild_id, day=d, user_id=u, messages=m, voice_seconds=v)
            for (d, u), (m, v) in days.items()
        ],
        batch_size=2000,
    )
    return len(days)


@transaction.atomic
def rebuild_channel_hours(guild_id: int) -> int:
    """Recompute a guild's HourlyChannelStat from HourlyStat."""
    HourlyChannelStat.objects.filter(guild_id=guild_id).delete()
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {CHANNEL_HOURLY} (guild_id, hour, channel_id, messages, voice_seconds) "
            f"SELECT guild_id, hour, channel_id, SUM(messages), SUM(voice_seconds) FROM {HOURLY} "
            f"WHERE guild_id = %s GROUP BY guild_id, hour, channel_id",
            [guild_id],
        )
        return cur.rowcount


def _hourly_where(guild: Guild) -> tuple[str, list]:
    """The guild's HourlyStat rows outside its excluded channels."""
    not_in, ids = channels_not_in(guild.excluded_channels.values_list("id", flat=True))
    return "guild_id = %s" + not_in, [guild.id, *ids]


@transaction.atomic
def rebuild_guild_hours(guild_id: int) -> int:
    """Recompute a guild's distinct active members per hour from HourlyStat (exclusions applied)."""
    where, params = _hourly_where(Guild.objects.get(pk=guild_id))
    HourlyGuildStat.objects.filter(guild_id=guild_id).delete()
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {HourlyGuildStat._meta.db_table} (guild_id, hour, active_members) "
            "SELECT guild_id, hour, COUNT(DISTINCT user_id) "
            f"FROM {HOURLY} WHERE {where} GROUP BY guild_id, hour",
            params,
        )
        return cur.rowcount


@transaction.atomic
def rebuild_channel_members(guild_id: int) -> int:
    """Recompute each member's last active local day per channel from HourlyStat."""
    guild = Guild.objects.get(pk=guild_id)
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT channel_id, user_id, MAX(hour) FROM {HOURLY} "
            "WHERE guild_id = %s GROUP BY channel_id, user_id",
            [guild_id],
        )
        rows = cur.fetchall()
    ChannelMember.objects.filter(guild_id=guild_id).delete()
    ChannelMember.objects.bulk_create(
        [
            ChannelMember(
                guild_id=guild_id, channel_id=c, user_id=u, last_day=local_day(guild.timezone, h)
            )
            for c, u, h in rows
        ],
        batch_size=2000,
    )
    return len(rows)


def rebuild_config_dependent(guild_id: int) -> None:
    """The rollups that follow the guild's timezone or exclusions."""
    rebuild_daily(guild_id)
    rebuild_guild_hours(guild_id)
    rebuild_channel_members(guild_id)


def rebuild(guild_id: int) -> None:
    """Every derived rollup of a guild (admin action, privacy purge)."""
    rebuild_channel_hours(guild_id)
    rebuild_config_dependent(guild_id)
