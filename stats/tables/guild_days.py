"""DailyGuildStat: distinct active members of a guild per local day, outside excluded channels.

It counts the guild's DailyMemberStat rows of each day: a flush adds the members whose row of
the day does not exist yet (read before the flush's own member-days land). Rebuilt from
DailyMemberStat whenever that table is.
"""

from __future__ import annotations

from django.db import connection, transaction

from stats.models import DailyGuildStat
from stats.tables import member_days
from stats.tables.base import upsert_sql

TABLE = DailyGuildStat._meta.db_table
INCREMENT = upsert_sql(TABLE, ("guild_id", "day"), ("active_members",))
IN_CHUNK = 500  # members per IN (...) list


def new_members(
    days: dict[tuple[int, int, int], list[int]], guild_keys: dict[int, int]
) -> list[tuple[int, int, int]]:
    """(guild, day, members of the flush without a member-day row of that day yet), from the
    flush's (guild, day, member key) increments."""
    day_users: dict[tuple[int, int], list[int]] = {}
    for gid, day, member in days:
        day_users.setdefault((gid, day), []).append(member)
    rows = []
    with connection.cursor() as cur:
        for (gid, day), ids in day_users.items():
            known = 0
            for i in range(0, len(ids), IN_CHUNK):
                chunk = ids[i : i + IN_CHUNK]
                cur.execute(
                    f"SELECT COUNT(*) FROM {member_days.TABLE} WHERE guild_key = %s AND day = %s"
                    f" AND member_key IN ({', '.join(['%s'] * len(chunk))})",
                    [guild_keys[gid], day, *chunk],
                )
                known += cur.fetchone()[0]
            if len(ids) > known:
                rows.append((gid, day, len(ids) - known))
    return rows


def increment(cur, rows: list[tuple[int, int, int]]) -> None:
    """Add new_members' counts."""
    cur.executemany(INCREMENT, rows)


@transaction.atomic
def rebuild(guild_id: int) -> int:
    """Recount a guild's active members per day from its member-days."""
    DailyGuildStat.objects.filter(guild_id=guild_id).delete()
    where, params = member_days.guild_where(guild_id)
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {TABLE} (guild_id, day, active_members) "
            f"SELECT CAST(%s AS BIGINT), day, COUNT(*) FROM {member_days.TABLE} WHERE {where}"
            " GROUP BY day",
            [guild_id, *params],
        )
        return cur.rowcount
