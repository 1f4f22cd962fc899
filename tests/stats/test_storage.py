"""The storage layer: SQLite pragmas in force, indexes used by the queries the endpoints run."""
from __future__ import annotations

import re

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


@pytest.mark.sqlite_only
def test_sqlite_pragmas_are_in_force_on_a_real_connection():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    connection.ensure_connection()
    with connection.cursor() as cur:
        def pragma(name: str):
            cur.execute(f"PRAGMA {name}")
            return cur.fetchone()[0]

        assert pragma("journal_mode").lower() == "wal"
        assert pragma("synchronous") == 1  # NORMAL
        assert pragma("cache_size") == 10000
        assert pragma("temp_store") == 2  # MEMORY
        assert pragma("mmap_size") == 268435456
        assert pragma("busy_timeout") >= 5000


@pytest.mark.sqlite_only
def test_sqlite_transactions_are_immediate():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    assert connection.settings_dict["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


def explain(sql: str, params: list) -> str:
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute("EXPLAIN QUERY PLAN " + sql, params)
            return " ".join(str(row[-1]) for row in cur.fetchall())
        cur.execute("SET enable_seqscan = off")
        cur.execute("EXPLAIN " + sql, params)
        plan = " ".join(row[0] for row in cur.fetchall())
        cur.execute("SET enable_seqscan = on")
        return plan


# Tables that grow with traffic: a query of an endpoint must reach them through an index.
GROWING = ("stats_hourlystat", "stats_hourlychannelstat", "stats_dailymemberstat", "stats_hourlyguildstat",
           "stats_channelmember", "stats_voicesession", "stats_memberevent", "stats_recentevent")
ENDPOINTS = [
    "stats?days=30&interval=day", "stats?days=7&interval=hour", "leaderboard?metric=messages&days=30",
    "leaderboard?metric=voice&days=30", "channels?days=30", "heatmap?days=30", "members/{user}?days=30",
]


def full_scans(plan: str) -> list[str]:
    """The growing tables a plan reads whole (SQLite: SCAN without an index; PostgreSQL: Seq Scan)."""
    if connection.vendor == "sqlite":
        scanned = re.findall(r"\bSCAN (\w+)(?! USING (?:COVERING )?INDEX)", plan)
    else:
        scanned = re.findall(r"Seq Scan on (\w+)", plan)
    return [t for t in scanned if t in GROWING]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_every_query_an_endpoint_runs_reaches_growing_tables_by_index(client, activity, endpoint):
    """The SQL is captured from real requests, so the test follows the query layer as it changes."""
    from django.test.utils import CaptureQueriesContext

    from tests.stats.conftest import ALICE, GID

    with CaptureQueriesContext(connection) as ctx:
        response = client.get(f"/api/guilds/{GID}/" + endpoint.format(user=ALICE))
    assert response.status_code == 200, response.content[:300]
    reads = [q["sql"] for q in ctx.captured_queries
             if q["sql"].lstrip().upper().startswith(("SELECT", "WITH")) and any(t in q["sql"] for t in GROWING)]
    assert reads, "the endpoint read no rollup: the test would prove nothing"
    for sql in reads:
        plan = explain(sql, [])
        assert not full_scans(plan), (sql, plan)
