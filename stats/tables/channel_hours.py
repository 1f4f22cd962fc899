"""HourlyChannelStat: messages and voice seconds per (guild, UTC hour, channel), for series,
heatmap and channel totals. Independent of the guild's configuration."""

from __future__ import annotations

from django.db import connection, transaction

from stats.models import HourlyChannelStat
from stats.tables import hourly, keys
from stats.tables.base import add_sums, upsert_sql

TABLE = HourlyChannelStat._meta.db_table
INCREMENT = upsert_sql(TABLE, ("guild_id", "hour", "channel_id"), ("messages", "voice_seconds"))


def increment(cur, rows: dict[tuple[int, int, int], list[int]]) -> None:
    """(guild, hour, channel) → [messages, voice seconds] of one flush."""
    add_sums(cur, INCREMENT, rows)


@transaction.atomic
def rebuild(guild_id: int) -> int:
    """Recompute a guild's rows from HourlyStat."""
    HourlyChannelStat.objects.filter(guild_id=guild_id).delete()
    with connection.cursor() as cur:
        where, params = hourly.guild_where(guild_id)
        cur.execute(
            f"INSERT INTO {TABLE} (guild_id, hour, channel_id, messages, voice_seconds) "
            f"SELECT CAST(%s AS BIGINT), hour, {keys.channel_id_of(hourly.TABLE)}, SUM(messages),"
            " SUM(voice_seconds) "
            f"FROM {hourly.TABLE} WHERE {where} GROUP BY hour, channel_key",
            [guild_id, *params],
        )
        return cur.rowcount
