"""The storage layer: SQLite pragmas in force, indexes used by the hot queries."""
from __future__ import annotations

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


def uses_index(plan: str, name: str = "") -> bool:
    """SQLite says 'USING INDEX x' / 'USING COVERING INDEX x'; PostgreSQL 'Index Scan using x'."""
    found = "USING INDEX" in plan or "USING COVERING INDEX" in plan or "Index Scan" in plan or "Index Only Scan" in plan
    return found and (not name or name in plan or (connection.vendor == "sqlite" and "autoindex" in plan))


def test_leaderboard_query_uses_an_index():
    from django.db.models import Sum

    from stats.models import HourlyStat

    qs = (
        HourlyStat.objects.filter(guild_id=1, hour__gte=100, hour__lt=200)
        .values("user_id")
        .annotate(total=Sum("messages"))
    )
    sql, params = qs.query.sql_with_params()
    plan = explain(sql, list(params))
    assert uses_index(plan), plan


def test_time_series_query_uses_an_index():
    from django.db.models import Sum

    from stats.models import HourlyStat

    qs = HourlyStat.objects.filter(guild_id=1, hour__gte=100).values("hour").annotate(m=Sum("messages"))
    sql, params = qs.query.sql_with_params()
    plan = explain(sql, list(params))
    assert uses_index(plan, "hourly_key"), plan


def test_member_query_uses_the_user_index():
    from django.db.models import Sum

    from stats.models import HourlyStat

    qs = HourlyStat.objects.filter(guild_id=1, user_id=5, hour__gte=100).values("channel_id").annotate(m=Sum("messages"))
    sql, params = qs.query.sql_with_params()
    plan = explain(sql, list(params))
    assert uses_index(plan, "hourly_user"), plan
