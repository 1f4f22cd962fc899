"""New-member retention cohorts on hand-built joins and leaves (Paris, local Monday weeks)."""

from __future__ import annotations

import pytest

from stats import cohorts
from stats.models import Guild, MemberEvent
from tests.stats.conftest import NOW, utc
from tests.stats.test_api import get_json

pytestmark = pytest.mark.django_db
JOIN, LEAVE = MemberEvent.Kind.JOIN, MemberEvent.Kind.LEAVE


@pytest.fixture
def joins(db) -> Guild:
    guild = Guild.objects.create(id=77, name="Paris", timezone="Europe/Paris", visibility="public")
    Guild.objects.create(id=78, name="Elsewhere", visibility="public")
    rows = [
        # (user, kind, at, first active)
        (1, JOIN, "2025-02-09T23:30", "2025-02-10T10:00"),  # Monday 10 Feb 00:30 local
        (2, JOIN, "2025-02-12T12:00", "2025-02-15T12:00"),  # active on day 3
        (2, LEAVE, "2025-02-20T00:00", None),
        (3, JOIN, "2025-02-16T22:30", None),  # Sunday 23:30 local: still the week of 10 Feb
        (3, LEAVE, "2025-02-20T00:00", None),
        (3, JOIN, "2025-03-01T00:00", None),  # back before day 30: a member then
        (4, JOIN, "2025-02-16T23:30", "2025-02-17T23:30"),  # Monday 17 Feb; active after 24 h
        (4, LEAVE, "2025-03-18T23:30", None),  # left exactly 30 days later
        (5, JOIN, "2025-03-30T22:30", "2025-03-31T10:00"),  # Monday 31 March 00:30 CEST
        (6, JOIN, "2025-03-30T21:30", None),  # Sunday 30 March 23:30 CEST
    ]
    MemberEvent.objects.bulk_create(
        [
            MemberEvent(
                guild_id=77,
                user_id=u,
                kind=k,
                at=utc(at),
                first_active_at=utc(first) if first else None,
            )
            for u, k, at, first in rows
        ]
        + [MemberEvent(guild_id=78, user_id=9, kind=JOIN, at=utc("2025-03-20T10:00"))]
    )
    return guild


def cohort(week, joined, day, week_, still):
    return {
        "week_start": week,
        "joined": joined,
        "active_first_day": day,
        "active_first_week": week_,
        "still_member_after_30_days": still,
    }


def test_cohorts_by_local_week(joins):
    doc = cohorts.cohorts(joins, 8, NOW)
    assert doc["cohorts"] == [
        cohort("2025-02-10", 3, 1, 2, 2),  # 1 stayed; 2 left; 3 left and came back
        cohort("2025-02-17", 1, 0, 1, 0),
        cohort("2025-02-24", 1, 0, 0, None),  # 30 days have not passed for all of that week
        cohort("2025-03-03", 0, 0, 0, None),
        cohort("2025-03-10", 0, 0, 0, None),
        cohort("2025-03-17", 0, 0, 0, None),
        cohort("2025-03-24", 1, 0, 0, None),
        cohort("2025-03-31", 1, 1, 1, None),
    ]
    assert (doc["weeks"], doc["timezone"]) == (8, "Europe/Paris")


def test_retention_endpoint(client, joins, frozen_now):
    doc = get_json(client, "/api/guilds/77/retention?weeks=2")
    assert [c["week_start"] for c in doc["cohorts"]] == ["2025-03-24", "2025-03-31"]
    assert get_json(client, "/api/guilds/77/retention")["weeks"] == 8
    response = client.get("/api/guilds/77/retention?weeks=2&format=csv")
    assert response.content.decode().splitlines() == [
        "week_start,joined,active_first_day,active_first_week,still_member_after_30_days",
        "2025-03-24,1,0,0,",
        "2025-03-31,1,1,1,",
    ]


@pytest.mark.parametrize("weeks", ["0", "53", "-1", "1.5", "x", ""])
def test_retention_weeks_out_of_range_is_400(client, joins, weeks):
    assert "weeks" in get_json(client, f"/api/guilds/77/retention?weeks={weeks}", 400)["error"]


def test_retention_of_a_private_guild_is_404(client, joins):
    Guild.objects.filter(pk=77).update(visibility="private")
    assert get_json(client, "/api/guilds/77/retention", 404) == {"error": "unknown guild"}
