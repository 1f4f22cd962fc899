"""Query plans of what the endpoints run: captured from real requests, then EXPLAINed."""

from __future__ import annotations

import re

from django.db import connection
from django.test.utils import CaptureQueriesContext

# Tables that grow with traffic: a query of an endpoint must reach them through an index.
GROWING = (
    "stats_hourlystat",
    "stats_hourlychannelstat",
    "stats_dailymemberstat",
    "stats_hourlyguildstat",
    "stats_dailyguildstat",
    "stats_channelmember",
    "stats_voicesession",
    "stats_memberevent",
    "stats_recentevent",
    "stats_key_member",
    "stats_key_channel",
)


def explain(sql: str, params: list) -> str:
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute("EXPLAIN QUERY PLAN " + sql, params or None)
            return " ".join(str(row[-1]) for row in cur.fetchall())
        cur.execute("SET enable_seqscan = off")
        cur.execute("EXPLAIN " + sql, params or None)  # None: a captured query's % is literal
        plan = " ".join(row[0] for row in cur.fetchall())
        cur.execute("SET enable_seqscan = on")
        return plan


def full_scans(plan: str) -> list[str]:
    """The growing tables a plan reads whole (SQLite: SCAN without an index; PostgreSQL: Seq
    Scan)."""
    if connection.vendor == "sqlite":
        scanned = re.findall(r"\bSCAN (\w+)(?! USING (?:COVERING )?INDEX)", plan)
    else:
        scanned = re.findall(r"Seq Scan on (\w+)", plan)
    return [t for t in scanned if t in GROWING]


def growing_reads(client, path: str) -> list[str]:
    """The SELECTs on growing tables that one request to `path` ran (it must answer 200)."""
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200, (path, response.content[:300])
    return [
        q["sql"]
        for q in ctx.captured_queries
        if q["sql"].lstrip().upper().startswith(("SELECT", "WITH"))
        and any(t in q["sql"] for t in GROWING)
    ]
