"""ChannelMember: the last local day each member was active in each channel, so a channel's
active members in a window ending today are its rows with last_day in range.

Depends on the guild's timezone: rebuilt from HourlyStat when it changes.
"""

from __future__ import annotations

from django.db import connection, transaction

from stats.models import ChannelMember, Guild
from stats.tables import hourly, keys
from stats.tables.base import LATEST, local_day, upsert_sql

TABLE = ChannelMember._meta.db_table
INCREMENT = upsert_sql(TABLE, ("guild_id", "channel_id", "user_id"), ("last_day",), LATEST)


def increment(cur, rows: dict[tuple[int, int, int], int]) -> None:
    """(guild, channel, user) → latest local day active in one flush; a later stored day stays."""
    cur.executemany(INCREMENT, [(*k, day) for k, day in rows.items()])


@transaction.atomic
def rebuild(guild_id: int) -> int:
    """Recompute each member's last active local day per channel from HourlyStat."""
    guild = Guild.objects.get(pk=guild_id)
    with connection.cursor() as cur:
        where, params = hourly.guild_where(guild_id)
        cur.execute(
            f"SELECT {keys.channel_id_of(hourly.TABLE)}, {keys.user_id_of(hourly.TABLE)}, MAX(hour)"
            f" FROM {hourly.TABLE} "
            f"WHERE {where} GROUP BY channel_key, member_key",
            params,
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
