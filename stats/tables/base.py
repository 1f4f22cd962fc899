"""What the rollup tables share: local days, exclusions as SQL and the increment upsert."""

from __future__ import annotations

import zoneinfo
from functools import lru_cache

from mocha.utc import from_epoch


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


ADD = "{table}.{column} + excluded.{column}"
LATEST = (
    "CASE WHEN excluded.{column} > {table}.{column} "
    "THEN excluded.{column} ELSE {table}.{column} END"
)


def upsert_sql(table: str, key: tuple[str, ...], values: tuple[str, ...], merge: str = ADD) -> str:
    """`INSERT … ON CONFLICT (key) DO UPDATE`: a stored row takes the new values through `merge`
    (added, by default: an increment, never an overwrite). The same statement runs on SQLite and
    PostgreSQL."""
    columns = key + values
    sets = ", ".join(f"{c} = " + merge.format(table=table, column=c) for c in values)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {sets}"
    )


def add_sums(cur, sql: str, rows: dict[tuple, list[int]]) -> None:
    """Run an increment of (key…) → [messages, voice seconds] rows."""
    cur.executemany(sql, [(*k, v[0], v[1]) for k, v in rows.items()])
