"""HourlyGuildStat: distinct active members of a guild per UTC hour, outside excluded channels.

A distinct count cannot be summed from other rollups: a flush adds the members it saw in an hour
who had no counted row in that hour before it. Rebuilt from HourlyStat when exclusions change.
"""

from __future__ import annotations

from django.db import connection, transaction

from stats.models import Guild, HourlyGuildStat, HourlyStat
from stats.tables import hourly
from stats.tables.base import upsert_sql

TABLE = HourlyGuildStat._meta.db_table
INCREMENT = upsert_sql(TABLE, ("guild_id", "hour"), ("active_members",))
IN_CHUNK = 500  # members per IN (...) list


def new_members(
    hour_users: dict[tuple[int, int], set[int]], excluded: dict[int, frozenset[int]]
) -> list[tuple[int, int, int]]:
    """(guild, hour, members of the flush not active in that hour before it); read before the
    flush's own HourlyStat rows are written."""
    rows = []
    for (gid, hour), users in hour_users.items():
        new = len(users - already_active(gid, hour, users, excluded.get(gid, frozenset())))
        if new:
            rows.append((gid, hour, new))
    return rows


def increment(cur, rows: list[tuple[int, int, int]]) -> None:
    """Add new_members' counts."""
    cur.executemany(INCREMENT, rows)


def already_active(gid: int, hour: int, users: set[int], excluded: frozenset[int]) -> set[int]:
    """Members of `users` with a counted row in that hour (outside excluded channels)."""
    found: set[int] = set()
    ids = list(users)
    for i in range(0, len(ids), IN_CHUNK):
        chunk = ids[i : i + IN_CHUNK]
        rows = HourlyStat.objects.filter(guild_id=gid, hour=hour, user_id__in=chunk)
        if excluded:
            rows = rows.exclude(channel_id__in=excluded)
        found.update(rows.values_list("user_id", flat=True).distinct())
    return found


@transaction.atomic
def rebuild(guild_id: int) -> int:
    """Recompute a guild's distinct active members per hour from HourlyStat (exclusions applied)."""
    where, params = hourly.counted_where(Guild.objects.get(pk=guild_id))
    HourlyGuildStat.objects.filter(guild_id=guild_id).delete()
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {TABLE} (guild_id, hour, active_members) "
            "SELECT guild_id, hour, COUNT(DISTINCT user_id) "
            f"FROM {hourly.TABLE} WHERE {where} GROUP BY guild_id, hour",
            params,
        )
        return cur.rowcount
