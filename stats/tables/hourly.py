"""HourlyStat, the source of truth: messages and voice seconds per (member, UTC hour, channel),
keyed by member and channel keys (stats.tables.keys).

Never rebuilt from anything (no per-message row is kept); the derived tables are rebuilt from it.
Its voice seconds can be recomputed from stored sessions (stats.maintenance.rebuild_voice).
"""

from __future__ import annotations

from stats.models import Guild, HourlyStat
from stats.tables import keys
from stats.tables.base import upsert_sql

TABLE = HourlyStat._meta.db_table
INCREMENT = upsert_sql(TABLE, ("member_key", "hour", "channel_key"), ("messages", "voice_seconds"))


def increment(cur, rows: list[tuple[int, int, int, int, int]]) -> None:
    """Add a flush's counters: (member key, hour, channel key, messages, voice seconds), one row
    per key."""
    cur.executemany(INCREMENT, rows)


def guild_where(guild_id: int) -> tuple[str, list]:
    """The guild's rows."""
    return keys.GUILD, [guild_id]


def counted_where(guild: Guild) -> tuple[str, list]:
    """The guild's rows outside its excluded channels (what the dashboard counts)."""
    excluded = guild.excluded_channels.values_list("id", flat=True)
    not_in, params = keys.channels_not_in(guild.id, excluded)
    return keys.GUILD + not_in, [guild.id, *params]
