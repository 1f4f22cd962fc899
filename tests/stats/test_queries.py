"""The query layer on hand-built rollups: exact numbers, DST-correct local days, bounded queries."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

import pytest

from mocha.utc import iso
from stats import queries, rollups
from stats.models import Channel, Guild, hour_of
from stats.rollups import local_day
from tests.rows import add_hourly, hourly, hourly_stats
from tests.stats.conftest import ALICE, BOB, CAROL, DAVE, GENERAL, GID, NOW, RANDOM, VOICE, h

pytestmark = pytest.mark.django_db


def test_window_is_local_calendar_days_ending_today():
    win = queries.Window.ending(2, "Europe/Paris", NOW)
    assert win.last == h("2025-03-31T12:00")
    assert win.last - win.first + 1 == 38  # Sunday 30 March had 23 hours in Paris, Monday so far 15
    assert iso(win.start) == "2025-03-29T23:00:00Z"  # Sunday 00:00 CET
    assert iso(win.end) == "2025-03-31T13:00:00Z"
    assert (
        win.last_day - win.first_day == 1 and local_day("Europe/Paris", win.first) == win.first_day
    )
    prev = win.previous()
    assert (prev.last, prev.last_day) == (win.first - 1, win.first_day - 1)
    assert iso(prev.start) == "2025-03-27T23:00:00Z" and prev.last - prev.first + 1 == 48
    utc = queries.Window.ending(1, "UTC", NOW)
    assert (iso(utc.start), utc.last - utc.first + 1) == ("2025-03-31T00:00:00Z", 13)


@pytest.mark.parametrize(
    "tz_name, start",
    [
        (
            "Asia/Kolkata",
            "2025-03-29T18:30:00Z",
        ),  # +5:30: local midnight is mid-hour; 19:00 UTC is 00:30 local
        ("America/St_Johns", "2025-03-30T02:30:00Z"),  # -2:30 (DST), the other side
        ("America/New_York", "2025-03-30T04:00:00Z"),
        ("Pacific/Kiritimati", "2025-03-30T10:00:00Z"),  # +14: "today" is already 1 April there
    ],
)
def test_window_starts_with_the_first_whole_hour_of_the_local_day(tz_name, start):
    win = queries.Window.ending(2, tz_name, NOW)
    first = iso(win.start)
    expected = hour_of(datetime.fromisoformat(start.replace("Z", "+00:00")) + timedelta(minutes=59))
    assert win.first == expected, (tz_name, first)
    assert (
        local_day(tz_name, win.first) == win.first_day
        and local_day(tz_name, win.first - 1) == win.first_day - 1
    )
    assert local_day(tz_name, win.last) == win.last_day == win.first_day + 1


def test_offset_segments_split_at_the_dst_change():
    tz = zoneinfo.ZoneInfo("Europe/Paris")
    segments = queries.offset_segments(tz, h("2025-03-25T00:00"), h("2025-04-05T00:00"))
    assert segments == [(h("2025-03-25T00:00"), 3600), (h("2025-03-30T01:00"), 7200)]
    assert queries.offset_segments(zoneinfo.ZoneInfo("UTC"), 0, 1000) == [(0, 0)]


def test_guild_totals_hide_excluded_channels_and_other_guilds(
    activity, django_assert_max_num_queries
):
    with django_assert_max_num_queries(3):  # excluded channels, rollups, member events
        totals = queries.guild_totals(activity, 2, NOW)
    assert totals == {
        "messages": 22,
        "voice_minutes": 11.5,
        "active_members": 4,
        "joins": 2,
        "leaves": 1,
    }


def test_totals_compared_with_the_previous_period(activity, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        doc = queries.guild_totals_compared(activity, 2, NOW)
    assert doc["current"] == {
        "messages": 22,
        "voice_minutes": 11.5,
        "active_members": 4,
        "joins": 2,
        "leaves": 1,
    }
    assert doc["previous"] == {
        "messages": 101,
        "voice_minutes": 0.0,
        "active_members": 2,
        "joins": 1,
        "leaves": 0,
    }
    assert doc["change"]["messages"] == pytest.approx((22 - 101) / 101)
    assert doc["change"]["active_members"] == pytest.approx(1.0)
    assert doc["change"]["leaves"] is None  # nothing to compare with
    assert doc["start"] == "2025-03-29T23:00:00Z"


def test_daily_series_uses_local_days_across_the_dst_change(
    activity, django_assert_max_num_queries
):
    with django_assert_max_num_queries(
        5
    ):  # excluded channels, totals, member events, series sums and members
        doc = queries.guild_stats(activity, 2, "day", NOW)
    assert doc["start"] == "2025-03-29T23:00:00Z" and doc["end"] == "2025-03-31T13:00:00Z"
    assert doc["series"] == [  # Sunday starts at 00:00 CET, Monday at 00:00 CEST
        {"t": "2025-03-29T23:00:00Z", "messages": 13, "voice_minutes": 10.0, "active_members": 3},
        {"t": "2025-03-30T22:00:00Z", "messages": 9, "voice_minutes": 1.5, "active_members": 2},
    ]
    assert doc["totals"]["messages"] == sum(p["messages"] for p in doc["series"])
    assert doc["totals"]["voice_minutes"] == sum(p["voice_minutes"] for p in doc["series"])


def test_day_bars_are_whole_local_days_in_a_half_hour_zone(db):
    """Kolkata (+5:30): each UTC hour belongs to the day its first instant falls on, in every
    rollup."""
    guild = Guild.objects.create(id=77, name="Kolkata", timezone="Asia/Kolkata")
    # 2025-03-30T18:00 UTC is 23:30 on the 30th; 19:00 UTC is 00:30 on the 31st (today: 18:00 local
    # now).
    add_hourly(
        [
            hourly(guild_id=77, hour=h("2025-03-30T18:00"), channel_id=1, user_id=1, messages=4),
            hourly(guild_id=77, hour=h("2025-03-30T19:00"), channel_id=1, user_id=2, messages=6),
            hourly(guild_id=77, hour=h("2025-03-31T12:00"), channel_id=1, user_id=2, messages=1),
        ]
    )
    rollups.rebuild(77)
    today = queries.guild_stats(guild, 1, "day", NOW)
    assert today["start"] == "2025-03-30T19:00:00Z"
    assert today["totals"]["messages"] == 7 and today["totals"]["active_members"] == 1
    assert [(p["messages"], p["active_members"]) for p in today["series"]] == [(7, 1)]
    two = queries.guild_stats(guild, 2, "day", NOW)
    assert [(p["t"], p["messages"], p["active_members"]) for p in two["series"]] == [
        ("2025-03-29T18:30:00Z", 4, 1),
        ("2025-03-30T18:30:00Z", 7, 1),
    ]
    board = queries.leaderboard(guild, "messages", 1, 10, 0, NOW)["entries"]
    assert [(e["user_id"], e["value"]) for e in board] == [("2", 7)]


def test_hourly_series_is_zero_filled(activity):
    doc = queries.guild_stats(activity, 1, "hour", NOW)
    series = doc["series"]
    assert len(series) == 15  # Monday in Paris so far
    assert series[0] == {
        "t": "2025-03-30T22:00:00Z",
        "messages": 1,
        "voice_minutes": 0.0,
        "active_members": 1,
    }
    assert series[-1] == {
        "t": "2025-03-31T12:00:00Z",
        "messages": 5,
        "voice_minutes": 0.0,
        "active_members": 1,
    }
    assert series[-2] == {
        "t": "2025-03-31T11:00:00Z",
        "messages": 3,
        "voice_minutes": 1.5,
        "active_members": 1,
    }
    assert sum(p["messages"] for p in series) == doc["totals"]["messages"] == 9
    two = queries.guild_stats(activity, 2, "hour", NOW)["series"]
    assert len(two) == 38 and two[0] == {
        "t": "2025-03-29T23:00:00Z",
        "messages": 7,
        "voice_minutes": 10.0,
        "active_members": 2,
    }


def test_leaderboard_by_messages_breaks_ties_by_user_id(activity, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        doc = queries.leaderboard(activity, "messages", 2, 10, 0, NOW)
    assert doc["entries"] == [
        {"rank": 1, "user_id": str(ALICE), "name": "Alice", "value": 7},
        {"rank": 2, "user_id": str(DAVE), "name": str(DAVE), "value": 7},
        {"rank": 3, "user_id": str(BOB), "name": "Bob", "value": 4},
        {"rank": 4, "user_id": str(CAROL), "name": "carol", "value": 4},
    ]
    assert (
        sum(e["value"] for e in doc["entries"])
        == queries.guild_totals(activity, 2, NOW)["messages"]
    )


def test_leaderboard_pages_with_limit_and_offset(activity):
    doc = queries.leaderboard(activity, "messages", 2, 2, 1, NOW)
    assert [(e["rank"], e["user_id"]) for e in doc["entries"]] == [(2, str(DAVE)), (3, str(BOB))]


def test_voice_leaderboard_is_in_unrounded_minutes(activity):
    doc = queries.leaderboard(activity, "voice", 2, 10, 0, NOW)
    assert doc["entries"] == [
        {"rank": 1, "user_id": str(ALICE), "name": "Alice", "value": 10.0},
        {"rank": 2, "user_id": str(BOB), "name": "Bob", "value": 1.5},
    ]


def test_member_stats_with_ranks_channels_and_series(activity, django_assert_max_num_queries):
    with django_assert_max_num_queries(7):
        doc = queries.member_stats(activity, ALICE, 2, NOW)
    assert doc["name"] == "Alice" and doc["user_id"] == str(ALICE)
    assert doc["messages"] == 7 and doc["voice_minutes"] == 10.0
    assert doc["rank"] == {"messages": 1, "voice": 1}
    assert doc["channels"] == [
        {
            "channel_id": str(GENERAL),
            "name": "general",
            "deleted": False,
            "messages": 5,
            "voice_minutes": 0.0,
        },
        {
            "channel_id": str(RANDOM),
            "name": "random",
            "deleted": False,
            "messages": 2,
            "voice_minutes": 0.0,
        },
        {
            "channel_id": str(VOICE),
            "name": "Lounge",
            "deleted": False,
            "messages": 0,
            "voice_minutes": 10.0,
        },
    ]
    assert [(p["messages"], p["voice_minutes"], p["active_members"]) for p in doc["series"]] == [
        (2, 10.0, 1),
        (5, 0.0, 1),
    ]


def test_member_ranks_match_the_leaderboard(activity):
    assert queries.member_stats(activity, DAVE, 2, NOW)["rank"] == {"messages": 2, "voice": None}
    assert queries.member_stats(activity, BOB, 2, NOW)["rank"] == {"messages": 3, "voice": 2}
    carol = queries.member_stats(
        activity, CAROL, 2, NOW
    )  # her #secret and Saturday messages are outside
    assert carol["messages"] == 4 and carol["rank"] == {"messages": 4, "voice": None}
    assert [c["channel_id"] for c in carol["channels"]] == [str(RANDOM)]
    assert [c["channel_id"] for c in queries.member_stats(activity, CAROL, 3, NOW)["channels"]] == [
        str(RANDOM),
        str(GENERAL),
    ]


def test_unknown_member_is_none(activity):
    assert queries.member_stats(activity, 999, 2, NOW) is None


def test_top_channels_keep_the_counts_of_a_deleted_channel_and_say_so(
    activity, django_assert_max_num_queries
):
    Channel.objects.filter(id=RANDOM).update(deleted=True)
    with django_assert_max_num_queries(4):  # excluded channels, sums, names, distinct members
        doc = queries.top_channels(activity, 2, NOW)
    assert doc["channels"] == [
        {
            "channel_id": str(GENERAL),
            "name": "general",
            "deleted": False,
            "messages": 15,
            "voice_minutes": 0.0,
            "active_members": 3,
        },
        {
            "channel_id": str(RANDOM),
            "name": "random",
            "deleted": True,
            "messages": 7,
            "voice_minutes": 0.0,
            "active_members": 3,
        },
        {
            "channel_id": str(VOICE),
            "name": "Lounge",
            "deleted": False,
            "messages": 0,
            "voice_minutes": 11.5,
            "active_members": 2,
        },
    ]


def test_heatmap_is_monday_first_in_the_guild_timezone(activity, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        cells = queries.heatmap(activity, 2, NOW)["cells"]
    assert len(cells) == 7 and all(len(row) == 24 for row in cells)
    expected = {
        (6, 0): 7,
        (6, 1): 2,
        (6, 3): 4,
        (0, 0): 1,
        (0, 13): 3,
        (0, 14): 5,
    }  # no Saturday: outside
    found = {(d, hr): v for d, row in enumerate(cells) for hr, v in enumerate(row) if v}
    assert found == expected


def test_heatmap_in_utc(activity):
    Guild.objects.filter(pk=GID).update(timezone="UTC")
    cells = queries.heatmap(Guild.objects.get(pk=GID), 2, NOW)["cells"]
    # UTC days: Sunday 2025-03-30 00:00 UTC holds Alice's 2 messages, Monday 12:00 UTC 5;
    # Dave's 7 at Saturday 23:00 UTC are now before the window.
    assert (
        cells[6][0] == 2 and cells[0][12] == 5 and cells[5][23] == 0 and sum(map(sum, cells)) == 15
    )


def test_visible_guilds_for_anonymous():
    from django.contrib.auth.models import AnonymousUser

    Guild.objects.create(id=1, name="B", visibility="public")
    Guild.objects.create(id=2, name="A", visibility="private")
    assert queries.visible_guilds(AnonymousUser()) == [{"id": "1", "name": "B", "member_count": 0}]


def test_empty_guild_gives_zeros():
    guild = Guild.objects.create(id=77, name="Empty", timezone="Asia/Kolkata")
    doc = queries.guild_stats(guild, 3, "day", NOW)
    assert doc["totals"] == {
        "messages": 0,
        "voice_minutes": 0.0,
        "active_members": 0,
        "joins": 0,
        "leaves": 0,
    }
    assert len(doc["series"]) == 3 and all(p["messages"] == 0 for p in doc["series"])
    assert queries.leaderboard(guild, "voice", 3, 10, 0, NOW)["entries"] == []
    assert sum(map(sum, queries.heatmap(guild, 3, NOW)["cells"])) == 0
    assert not hourly_stats().exists()


AUTUMN_NOW = datetime(2025, 10, 27, 12, 30, tzinfo=zoneinfo.ZoneInfo("UTC"))  # Monday 13:30 CET


@pytest.fixture
def autumn(db) -> Guild:
    """Paris on Sunday 26 October 2025: 03:00 CEST became 02:00 CET, a 25-hour day whose local
    02:00 came twice (00:00 and 01:00 UTC)."""
    guild = Guild.objects.create(id=78, name="Paris in autumn", timezone="Europe/Paris")
    add_hourly(
        [
            hourly(guild_id=78, hour=h(t), channel_id=1, user_id=u, messages=m, voice_seconds=v)
            for t, u, m, v in [
                ("2025-10-25T21:00", 1, 1, 0),  # Saturday 23:00 CEST: before the window
                ("2025-10-25T22:00", 1, 2, 0),  # Sunday 00:00 CEST: the day's first hour
                ("2025-10-26T00:00", 2, 4, 0),  # 02:00 CEST
                ("2025-10-26T01:00", 3, 8, 600),  # 02:00 CET, the same local hour again
                ("2025-10-26T22:00", 1, 16, 0),  # Sunday 23:00 CET: the day's 25th hour
                ("2025-10-26T23:00", 2, 32, 0),  # Monday 00:00 CET
            ]
        ]
    )
    rollups.rebuild(78)
    return guild


def test_autumn_window_holds_the_25_hour_day(autumn):
    win = queries.Window.ending(2, "Europe/Paris", AUTUMN_NOW)
    assert (queries.iso(win.start), queries.iso(win.end)) == (
        "2025-10-25T22:00:00Z",
        "2025-10-27T13:00:00Z",
    )
    assert win.last - win.first + 1 == 25 + 14  # Sunday, then Monday 00:00-13:00 CET
    assert local_day("Europe/Paris", win.first) == win.first_day
    assert (
        local_day("Europe/Paris", h("2025-10-26T22:00")) == win.first_day
    )  # the 25th hour is Sunday's
    prev = win.previous()
    assert queries.iso(prev.start) == "2025-10-23T22:00:00Z" and prev.last - prev.first + 1 == 48
    assert queries.guild_totals(autumn, 2, AUTUMN_NOW)["messages"] == 62


def test_autumn_daily_and_hourly_series_count_both_repeated_hours(autumn):
    days = queries.guild_stats(autumn, 2, "day", AUTUMN_NOW)
    assert days["series"] == [  # Sunday starts at 00:00 CEST, Monday at 00:00 CET
        {"t": "2025-10-25T22:00:00Z", "messages": 30, "voice_minutes": 10.0, "active_members": 3},
        {"t": "2025-10-26T23:00:00Z", "messages": 32, "voice_minutes": 0.0, "active_members": 1},
    ]
    hours = queries.guild_stats(autumn, 2, "hour", AUTUMN_NOW)["series"]
    assert len(hours) == 39
    by_t = {p["t"]: p["messages"] for p in hours}
    assert (by_t["2025-10-26T00:00:00Z"], by_t["2025-10-26T01:00:00Z"]) == (
        4,
        8,
    )  # two 02:00s, apart
    assert sum(by_t.values()) == 62


def test_autumn_heatmap_puts_both_0200s_in_one_local_hour(autumn):
    cells = queries.heatmap(autumn, 2, AUTUMN_NOW)["cells"]
    found = {(d, hr): v for d, row in enumerate(cells) for hr, v in enumerate(row) if v}
    assert found == {
        (6, 0): 2,
        (6, 2): 4 + 8,
        (6, 23): 16,
        (0, 0): 32,
    }  # Sunday is row 6, Monday row 0
