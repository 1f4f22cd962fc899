"""A member against the guild (the member page): the median active member per local day, the
member's hours, the previous period; on the hand-built Paris rollups across the DST change."""

from __future__ import annotations

import pytest

from tests.stats.conftest import ALICE, BOB, GID
from tests.stats.test_api import BASE, get_json

pytestmark = pytest.mark.django_db
BASE_UNKNOWN_USER = 999999


def test_median_member_hours_and_previous_period(client, activity, frozen_now):
    doc = get_json(client, f"{BASE}/members/{ALICE}/context?days=2&compare=previous")
    # Sunday: Dave 7, Alice 2 (and 10 voice minutes), Carol 4. Monday: Bob 4 (1.5 min), Alice 5.
    assert doc["median"] == [
        {"t": "2025-03-29T23:00:00Z", "messages": 4, "voice_minutes": 0.0},
        {"t": "2025-03-30T22:00:00Z", "messages": 4.5, "voice_minutes": 0.75},
    ]
    hours = doc["hours"]
    assert (hours[1], hours[14], sum(hours)) == (2, 5, 7)  # 01:00 CET, 14:00 CEST local
    assert doc["previous"] == {
        "messages": 100,
        "voice_minutes": 0.0,
        "rank": {"messages": 1, "voice": None},
    }
    # Sunday 30 March closes the week of the 24th (Dave 7, Carol 4, Alice 2); Monday opens the
    # next (Alice 5, Bob 4).
    assert doc["rank_history"] == [
        {"week_start": "2025-03-24", "rank": 3},
        {"week_start": "2025-03-31", "rank": 1},
    ]
    bob = get_json(client, f"{BASE}/members/{BOB}/context?days=2")["rank_history"]
    assert [w["rank"] for w in bob] == [None, 2]
    plain = get_json(client, f"{BASE}/members/{ALICE}/context?start=2025-03-30&end=2025-03-30")
    assert "previous" not in plain and len(plain["median"]) == 1


def test_long_windows_have_no_median_and_unknown_members_are_404(client, activity, frozen_now):
    year = get_json(client, f"{BASE}/members/{ALICE}/context?days=365")
    assert year["median"] is None and len(year["rank_history"]) == 53
    assert get_json(client, f"{BASE}/members/{ALICE}/context?days=400")["rank_history"] is None
    get_json(client, f"{BASE}/members/{BASE_UNKNOWN_USER}/context", 404)
    get_json(
        client, f"/api/guilds/{GID}/members/{ALICE}/context?start=2025-04-01&end=2025-04-02", 400
    )
