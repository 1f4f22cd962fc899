"""HourlyStat, the source of truth: messages and voice seconds per (guild, member, UTC hour,
channel).

Never rebuilt from anything (no per-message row is kept); the derived tables are rebuilt from it.
Its voice seconds can be recomputed from stored sessions (stats.maintenance.rebuild_voice).
"""

from __future__ import annotations

from stats.models import Guild, HourlyStat
from stats.tables.base import add_sums, channels_not_in, upsert_sql

TABLE = HourlyStat._meta.db_table
INCREMENT = upsert_sql(
    TABLE, ("guild_id", "hour", "channel_id", "user_id"), ("messages", "voice_seconds")
)


def increment(cur, counters: dict[tuple[int, int, int, int], list[int]]) -> None:
    """Add a flush's counters: (guild, hour, channel, user) → [messages, voice seconds]."""
    add_sums(cur, INCREMENT, counters)


def counted_where(guild: Guild) -> tuple[str, list]:
    """The guild's rows outside its excluded channels (what the dashboard counts)."""
    not_in, ids = channels_not_in(guild.excluded_channels.values_list("id", flat=True))
    return "guild_id = %s" + not_in, [guild.id, *ids]
