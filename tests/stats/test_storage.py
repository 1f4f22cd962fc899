"""The storage layer: SQLite pragmas in force, indexes used by the queries the endpoints run."""

from __future__ import annotations

import re

import pytest
from django.db import connection

from stats.cache import bump_versions
from tests.query_plans import explain, full_scans, growing_reads
from tests.rows import add_hourly, add_member_days, hourly

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


ENDPOINTS = [
    "stats?days=30&interval=day",
    "stats?days=7&interval=hour",
    "leaderboard?metric=messages&days=30",
    "leaderboard?metric=voice&days=30",
    "channels?days=30",
    "heatmap?days=30",
    "members/{user}?days=30",
]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_every_query_an_endpoint_runs_reaches_growing_tables_by_index(client, activity, endpoint):
    """The SQL is captured from real requests, so the test follows the query layer as it changes."""
    from tests.stats.conftest import ALICE, GID

    reads = growing_reads(client, f"/api/guilds/{GID}/" + endpoint.format(user=ALICE))
    assert reads, "the endpoint read no rollup: the test would prove nothing"
    for sql in reads:
        plan = explain(sql, [])
        assert not full_scans(plan), (sql, plan)


# Tables whose rows accumulate day after day: what a flush makes a dashboard read again must be
# bounded by today, not by the guild's whole history.
WINDOWED = (
    "stats_hourlystat",
    "stats_hourlychannelstat",
    "stats_dailymemberstat",
    "stats_hourlyguildstat",
    "stats_dailyguildstat",
)
# (HourlyStat is keyed by member: its guild's rows are each member's rows, every hour of them.)
GUILD_ALONE = re.compile(
    r"SEARCH (\w+)(?: \w+)? USING (?:PRIMARY KEY|(?:COVERING )?INDEX \w+)"
    r" \((?:guild_id|guild_key|member_key)=\?\)"
)


@pytest.mark.sqlite_only
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_after_a_flush_only_todays_rows_are_read_again(client, activity, endpoint):
    """A busy guild's dashboard recomputes its documents after every flush: those reads must
    search by today's days or hours (or by one member), never by the guild alone, or a year of
    history would make every flush a year's scan."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite plans")
    from tests.stats.conftest import ALICE, GID

    path = f"/api/guilds/{GID}/" + endpoint.format(user=ALICE)
    growing_reads(client, path)  # closed days computed and cached
    bump_versions([GID], closed=[])  # a flush that wrote into today only
    for sql in growing_reads(client, path):
        plan = explain(sql, [])
        unbounded = [t for t in GUILD_ALONE.findall(plan) if t in WINDOWED]
        assert not unbounded, (sql, plan)


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("history_days", "window_days", "by_day"), [(120, 7, True), (30, 30, False)]
)
def test_member_sums_read_only_the_windows_days_of_a_long_history(
    history_days, window_days, by_day
):
    """A guild with months of member-days: a week's sums search its days by the key instead of
    streaming the guild's whole history in member order (which pays only when the window holds
    most of it)."""
    from django.test.utils import CaptureQueriesContext

    from stats import queries
    from stats.models import Guild
    from stats.windows import Window

    guild = Guild.objects.create(id=77, name="old guild")
    today = 20_800
    add_member_days(
        dict(guild_id=77, day=today - d, user_id=u, messages=1, voice_seconds=0)
        for d in range(history_days)
        for u in range(3)
    )
    win = Window(window_days, "UTC", today - window_days + 1, today, 0, 0)
    with CaptureQueriesContext(connection) as ctx:
        sums = queries.member_sums(guild, win)
    assert sums == {u: (window_days, 0) for u in range(3)}
    plan = explain(ctx.captured_queries[-1]["sql"], [])
    assert ("USING PRIMARY KEY (guild_key=? AND day>? AND day<?)" in plan) is by_day, plan


@pytest.mark.sqlite_only
def test_a_past_ranges_channel_members_seek_the_ranges_members_not_the_history():
    """HourlyStat is keyed member first: the channel list of a range in the past reads the
    range's hours of the members active in it, not the guild's whole history."""
    from django.test.utils import CaptureQueriesContext

    from stats import queries, rollups
    from stats.models import Guild
    from stats.windows import Window

    guild = Guild.objects.create(id=78, name="old guild")
    today = 20_800
    add_hourly(
        hourly(guild_id=78, hour=(today - d) * 24 + 12, channel_id=c, user_id=u, messages=1)
        for d in range(60)
        for c in (1, 2)
        for u in range(3 if c == 1 else 1)
    )
    rollups.rebuild(78)
    first_day = today - 10
    win = Window(2, "UTC", first_day, first_day + 1, first_day * 24, first_day * 24 + 47, False)
    with CaptureQueriesContext(connection) as ctx:
        assert queries.channel_members(guild, win) == {1: 3, 2: 1}
    plan = explain(ctx.captured_queries[-1]["sql"], [])
    assert "PRIMARY KEY (member_key=? AND hour>? AND hour<?)" in plan, plan
    assert "PRIMARY KEY (guild_key=? AND day>? AND day<?)" in plan, plan
