"""Date ranges (`start`/`end`, guild-local, inclusive) and `compare=previous`, on the hand-built
rollups of tests/stats/conftest.py (Paris, across the spring DST change) and an autumn day of
25 hours. Every number below is worked out by hand from those rows."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from mocha.utc import iso
from stats import queries
from stats.windows import Period, PeriodError, Window
from tests.stats.conftest import ALICE, BOB, CAROL, DAVE, GENERAL, NOW
from tests.stats.test_api import BASE, get_json
from tests.stats.test_queries import AUTUMN_NOW, autumn  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def test_a_range_of_one_spring_day_has_23_hours():
    win = Window.between(date(2025, 3, 30), date(2025, 3, 30), "Europe/Paris", NOW)
    assert (iso(win.start), iso(win.end)) == ("2025-03-29T23:00:00Z", "2025-03-30T22:00:00Z")
    assert win.last - win.first + 1 == 23 and win.days == 1 and not win.ends_now


def test_a_range_ending_today_is_the_days_window():
    win = Window.between(date(2025, 3, 30), date(2025, 3, 31), "Europe/Paris", NOW)
    assert win == Window.ending(2, "Europe/Paris", NOW)
    assert win.ends_now


def test_the_autumn_range_holds_the_25_hour_day(autumn):  # noqa: F811
    period = Period.parse(None, date(2025, 10, 26), date(2025, 10, 26), 30)
    win = queries.window(autumn, period, AUTUMN_NOW)
    assert (iso(win.start), iso(win.end)) == ("2025-10-25T22:00:00Z", "2025-10-26T23:00:00Z")
    assert win.last - win.first + 1 == 25
    doc = queries.guild_stats(autumn, period, "day", AUTUMN_NOW)
    assert doc["totals"]["messages"] == 2 + 4 + 8 + 16  # not Saturday's 1, not Monday's 32
    assert doc["series"] == [
        {"t": "2025-10-25T22:00:00Z", "messages": 30, "voice_minutes": 10.0, "active_members": 3}
    ]
    assert len(queries.guild_stats(autumn, period, "hour", AUTUMN_NOW)["series"]) == 25


def test_stats_of_the_dst_sunday(client, activity, frozen_now):
    doc = get_json(client, f"{BASE}/stats?start=2025-03-30&end=2025-03-30")
    assert (doc["days"], doc["start"], doc["end"]) == (
        1,
        "2025-03-29T23:00:00Z",
        "2025-03-30T22:00:00Z",
    )
    # Dave 7 and Alice 10 voice minutes at 00:00, Alice 2 at 01:00 (+1), Carol 4 at 03:00 (+2);
    # 507 joined at 00:00 local; Carol left at 12:00 local.
    assert doc["totals"] == {
        "messages": 13,
        "voice_minutes": 10.0,
        "active_members": 3,
        "joins": 1,
        "leaves": 1,
    }
    assert [p["messages"] for p in doc["series"]] == [13]
    hours = get_json(client, f"{BASE}/stats?start=2025-03-30&end=2025-03-30&interval=hour")
    assert len(hours["series"]) == 23 and sum(p["messages"] for p in hours["series"]) == 13


def test_a_past_range_is_the_previous_period(client, activity, frozen_now):
    past = get_json(client, f"{BASE}/stats?start=2025-03-28&end=2025-03-29")
    compared = get_json(client, f"{BASE}/stats?days=2&compare=previous")
    assert (
        past["totals"]
        == compared["previous"]
        == {
            "messages": 101,  # Alice 100 on Saturday 13:00, Carol 1 at 23:00 (secret's 50 is later)
            "voice_minutes": 0.0,
            "active_members": 2,
            "joins": 1,  # 506 at 23:59 local on Saturday
            "leaves": 0,
        }
    )
    assert compared["totals"] == get_json(client, f"{BASE}/stats?days=2")["totals"]
    assert "previous" not in get_json(client, f"{BASE}/stats?days=2")
    ranged = get_json(client, f"{BASE}/stats?start=2025-03-30&end=2025-03-31&compare=previous")
    assert ranged["previous"] == compared["previous"]


def test_channels_leaderboard_member_and_heatmap_of_a_past_range(client, activity, frozen_now):
    q = "start=2025-03-28&end=2025-03-29"
    channels = get_json(client, f"{BASE}/channels?{q}")["channels"]
    assert [(c["channel_id"], c["messages"], c["active_members"]) for c in channels] == [
        (str(GENERAL), 101, 2)  # Alice and Carol, counted from the hours of the range
    ]
    board = get_json(client, f"{BASE}/leaderboard?{q}")
    assert [(e["user_id"], e["value"]) for e in board["entries"]] == [
        (str(ALICE), 100),
        (str(CAROL), 1),
    ]
    member = get_json(client, f"{BASE}/members/{ALICE}?{q}")
    assert (member["days"], member["messages"], member["rank"]["messages"]) == (2, 100, 1)
    cells = get_json(client, f"{BASE}/heatmap?{q}")["cells"]
    assert cells[5][13] == 100 and cells[5][23] == 1 and sum(map(sum, cells)) == 101


def test_range_csv(client, activity, frozen_now):
    response = client.get(f"{BASE}/stats?start=2025-03-29&end=2025-03-30&format=csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[1:] == [
        ["2025-03-28T23:00:00Z", "101", "0.0", "2"],
        ["2025-03-29T23:00:00Z", "13", "10.0", "3"],
    ]


def test_leaderboard_rank_changes(client, activity, frozen_now):
    # Monday: Alice 5, Bob 1 + 3. Sunday: Dave 7, Carol 4, Alice 2; Bob nothing.
    doc = get_json(client, f"{BASE}/leaderboard?days=1&compare=previous")
    assert [(e["user_id"], e["rank"], e["previous_rank"]) for e in doc["entries"]] == [
        (str(ALICE), 1, 3),
        (str(BOB), 2, None),
    ]
    assert "previous_rank" not in get_json(client, f"{BASE}/leaderboard?days=1")["entries"][0]
    sunday = get_json(
        client, f"{BASE}/leaderboard?start=2025-03-30&end=2025-03-30&compare=previous"
    )
    assert [(e["user_id"], e["previous_rank"]) for e in sunday["entries"]] == [
        (str(DAVE), None),
        (str(CAROL), 2),  # Saturday: Alice 100, Carol 1
        (str(ALICE), 1),
    ]
    csv_text = client.get(f"{BASE}/leaderboard?days=1&compare=previous&format=csv").content
    assert csv_text.decode().splitlines()[0] == "rank,user_id,name,value,previous_rank"


@pytest.mark.parametrize(
    "query, message",
    [
        ("start=2025-03-30&end=2025-03-29", "end is before start"),
        ("start=2025-03-30", "start and end go together"),
        ("end=2025-03-30", "start and end go together"),
        ("days=3&start=2025-03-30&end=2025-03-30", "give either days or start and end"),
        ("start=2025-04-01&end=2025-04-01", "end is after today (2025-03-31"),
        ("start=2014-12-31&end=2015-01-01", "start is before 2015-01-01"),
        ("start=2015-01-01&end=2025-03-01", "a range is at most 3650 days"),
        ("start=2025-3-1&end=2025-03-02", "must be a date YYYY-MM-DD"),
        ("start=2025-02-30&end=2025-03-02", "must be a date YYYY-MM-DD"),
        ("start=2025-03-01T00:00&end=2025-03-02", "must be a date YYYY-MM-DD"),
        ("start=20250301&end=2025-03-02", "must be a date YYYY-MM-DD"),
        ("start=&end=2025-03-02", "must be a date YYYY-MM-DD"),
    ],
)
@pytest.mark.parametrize("endpoint", ["stats", "leaderboard", "channels", "heatmap", "incomplete"])
def test_bad_ranges_are_400_json(client, activity, frozen_now, query, message, endpoint):
    doc = get_json(client, f"{BASE}/{endpoint}?{query}", status=400)
    assert message in doc["error"], doc


def test_a_range_of_3650_days_is_accepted(client, activity, frozen_now):
    doc = get_json(client, f"{BASE}/stats?start=2015-04-04&end=2025-03-31")
    assert doc["days"] == 3650 and doc["totals"]["messages"] == 123


def test_period_text_keys_the_cache():
    assert str(Period(30)) == "30"
    assert str(Period.parse(None, date(2025, 3, 1), date(2025, 3, 31), 30)) == (
        "2025-03-01..2025-03-31"
    )
    with pytest.raises(PeriodError):
        Period.parse(None, date(2025, 3, 2), date(2025, 3, 1), 30)


@pytest.mark.parametrize("endpoint", ["stats", "leaderboard"])
def test_compare_takes_only_previous(client, activity, endpoint):
    assert "compare" in get_json(client, f"{BASE}/{endpoint}?compare=next", status=400)["error"]
