"""HourlyGuildStat: a guild's distinct active members, messages and voice seconds per UTC hour,
outside excluded channels.

A distinct count cannot be summed from other rollups: a flush adds the members it saw in an hour
who had no counted row in that hour before it. Its sums are the flush's counters outside the
guild's excluded channels. Rebuilt from HourlyStat when exclusions change.
"""

from __future__ import annotations

from django.db import connection, transaction

from stats.models import Guild, HourlyGuildStat
from stats.tables import hourly, keys
from stats.tables.base import upsert_sql

TABLE = HourlyGuildStat._meta.db_table
INCREMENT = upsert_sql(TABLE, ("guild_id", "hour"), ("active_members", "messages", "voice_seconds"))
IN_CHUNK = 500  # members per IN (...) list


def flush_rows(
    hour_members: dict[tuple[int, int], set[int]],
    channel_hours: dict[tuple[int, int, int], list[int]],
    excluded: dict[int, frozenset[int]],
) -> list[tuple[int, int, int, int, int]]:
    """(guild, hour, members of the flush not active in that hour before it, messages, voice
    seconds); read before the flush's own HourlyStat rows are written. The sums are the flush's
    (guild, hour, channel) sums outside excluded channels: a channel's, not a member's, rows."""
    sums: dict[tuple[int, int], list[int]] = {}
    for (gid, hour, cid), (m, v) in channel_hours.items():
        if cid not in excluded.get(gid, ()):
            row = sums.setdefault((gid, hour), [0, 0])
            row[0] += m
            row[1] += v
    rows = []
    for (gid, hour), users in hour_members.items():
        new = len(users - already_active(gid, hour, users, excluded.get(gid, frozenset())))
        m, v = sums.get((gid, hour), (0, 0))
        if new or m or v:
            rows.append((gid, hour, new, m, v))
    return rows


def increment(cur, rows: list[tuple[int, int, int, int, int]]) -> None:
    """Add flush_rows' counts and sums."""
    cur.executemany(INCREMENT, rows)


def already_active(gid: int, hour: int, members: set[int], excluded: frozenset[int]) -> set[int]:
    """Member keys of `members` with a counted row in that hour (outside excluded channels)."""
    found: set[int] = set()
    not_in, excluded_ids = keys.channels_not_in(gid, excluded)
    ids = list(members)
    with connection.cursor() as cur:
        for i in range(0, len(ids), IN_CHUNK):
            chunk = ids[i : i + IN_CHUNK]
            cur.execute(
                f"SELECT DISTINCT member_key FROM {hourly.TABLE} WHERE hour = %s"
                f" AND member_key IN ({', '.join(['%s'] * len(chunk))}){not_in}",
                [hour, *chunk, *excluded_ids],
            )
            found.update(k for (k,) in cur.fetchall())
    return found


@transaction.atomic
def rebuild(guild_id: int) -> int:
    """Recompute a guild's hours from HourlyStat (exclusions applied)."""
    where, params = hourly.counted_where(Guild.objects.get(pk=guild_id))
    HourlyGuildStat.objects.filter(guild_id=guild_id).delete()
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {TABLE} (guild_id, hour, active_members, messages, voice_seconds) "
            "SELECT CAST(%s AS BIGINT), hour, COUNT(DISTINCT member_key), SUM(messages),"
            " SUM(voice_seconds) "
            f"FROM {hourly.TABLE} WHERE {where} GROUP BY hour",
            [guild_id, *params],
        )
        return cur.rowcount
