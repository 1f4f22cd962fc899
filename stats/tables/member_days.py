"""DailyMemberStat: a member's messages and voice seconds per local day of the guild, outside its
excluded channels: leaderboards, ranks, active members and member pages.

Depends on the guild's timezone and exclusions: rebuilt from HourlyStat when either changes.
"""

from __future__ import annotations

from django.db import connection, transaction

from stats.models import DailyMemberStat, Guild
from stats.tables import hourly, keys
from stats.tables.base import add_sums, local_day, upsert_sql

TABLE = DailyMemberStat._meta.db_table
INCREMENT = upsert_sql(TABLE, ("guild_key", "day", "member_key"), ("messages", "voice_seconds"))


def increment(cur, rows: dict[tuple[int, int, int], list[int]]) -> None:
    """(guild key, local day, member key) → [messages, voice seconds] of one flush."""
    add_sums(cur, INCREMENT, rows)


def guild_where(guild_id: int) -> tuple[str, list]:
    """The guild's rows."""
    return keys.GUILD_KEY, [guild_id]


@transaction.atomic
def rebuild(guild_id: int) -> int:
    """Recompute a guild's rows from HourlyStat with its current timezone and exclusions."""
    guild = Guild.objects.get(pk=guild_id)
    where, params = hourly.counted_where(guild)
    days: dict[tuple[int, int], list[int]] = {}
    with connection.cursor() as cur:
        cur.execute(
            "SELECT hour, member_key, SUM(messages), SUM(voice_seconds) "
            f"FROM {hourly.TABLE} WHERE {where} GROUP BY hour, member_key",
            params,
        )
        for hour, member, messages, voice in cur.fetchall():
            row = days.setdefault((local_day(guild.timezone, hour), member), [0, 0])
            row[0] += messages
            row[1] += voice
    guild_key = keys.guild_keys([guild_id])[guild_id]
    DailyMemberStat.objects.filter(guild_key=guild_key).delete()
    DailyMemberStat.objects.bulk_create(
        [
            DailyMemberStat(guild_key=guild_key, day=d, member_key=k, messages=m, voice_seconds=v)
            for (d, k), (m, v) in days.items()
        ],
        batch_size=2000,
    )
    return len(days)
