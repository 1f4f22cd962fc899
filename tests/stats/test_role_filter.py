"""`role=<id>`: stats, leaderboards, channels and heatmap of the members holding a role now, on
the hand-built rollups of tests/stats/conftest.py (Moderators: Alice and Bob)."""

from __future__ import annotations

import pytest

from stats.models import MemberRole, Role
from tests.stats.conftest import ALICE, BOB, GENERAL, GID, OTHER_GID, RANDOM, VOICE
from tests.stats.test_api import BASE, get_json

pytestmark = pytest.mark.django_db
MOD, GONE, ELSEWHERE = 801, 802, 803


@pytest.fixture
def roles(activity):
    Role.objects.create(id=MOD, guild_id=GID, name="Moderator", color=0x3498DB, position=3)
    Role.objects.create(id=GONE, guild_id=GID, name="Old", deleted=True)
    Role.objects.create(id=ELSEWHERE, guild_id=OTHER_GID, name="Other guild's")
    Role.objects.create(id=GID, guild_id=GID, name="@everyone")  # everyone: not a filter
    MemberRole.objects.bulk_create(
        [
            MemberRole(guild_id=GID, role_id=MOD, user_id=ALICE),
            MemberRole(guild_id=GID, role_id=MOD, user_id=BOB),
            MemberRole(guild_id=OTHER_GID, role_id=ELSEWHERE, user_id=ALICE),
        ]
    )
    return activity


def test_stats_of_a_role(client, roles, frozen_now):
    doc = get_json(client, f"{BASE}/stats?days=2&role={MOD}&compare=previous")
    # Sunday: Alice 2 and 10 voice minutes; Monday: Bob 1 + 3 and 1.5 voice minutes, Alice 5.
    assert doc["totals"] == {
        "messages": 11,
        "voice_minutes": 11.5,
        "active_members": 2,
        "joins": 0,
        "leaves": 0,
    }
    assert [(p["messages"], p["voice_minutes"], p["active_members"]) for p in doc["series"]] == [
        (2, 10.0, 1),
        (9, 1.5, 2),
    ]
    assert doc["previous"]["messages"] == 100 and doc["previous"]["active_members"] == 1
    hours = get_json(client, f"{BASE}/stats?days=2&interval=hour&role={MOD}")["series"]
    assert len(hours) == 38 and sum(p["messages"] for p in hours) == 11
    assert max(p["active_members"] for p in hours) == 1


def test_leaderboard_channels_and_heatmap_of_a_role(client, roles, frozen_now):
    board = get_json(client, f"{BASE}/leaderboard?days=2&role={MOD}")["entries"]
    assert [(e["user_id"], e["rank"], e["value"]) for e in board] == [
        (str(ALICE), 1, 7),
        (str(BOB), 2, 4),
    ]
    channels = get_json(client, f"{BASE}/channels?days=2&role={MOD}")["channels"]
    assert [
        (c["channel_id"], c["messages"], c["voice_minutes"], c["active_members"]) for c in channels
    ] == [(str(GENERAL), 8, 0.0, 2), (str(RANDOM), 3, 0.0, 2), (str(VOICE), 0, 11.5, 2)]
    cells = get_json(client, f"{BASE}/heatmap?days=2&role={MOD}")["cells"]
    found = {(d, hr): v for d, row in enumerate(cells) for hr, v in enumerate(row) if v}
    assert found == {(6, 1): 2, (0, 0): 1, (0, 13): 3, (0, 14): 5}


def test_a_role_without_holders_counts_nothing(client, roles, frozen_now):
    MemberRole.objects.filter(role_id=MOD).delete()
    doc = get_json(client, f"{BASE}/stats?days=2&role={MOD}")
    assert doc["totals"]["messages"] == 0 and len(doc["series"]) == 2
    assert get_json(client, f"{BASE}/channels?days=2&role={MOD}")["channels"] == []


@pytest.mark.parametrize("role", [str(GONE), str(ELSEWHERE), str(GID), "999", "abc", "-1", ""])
@pytest.mark.parametrize("endpoint", ["stats", "leaderboard", "channels", "heatmap"])
def test_unknown_roles_are_400(client, roles, endpoint, role):
    assert "role" in get_json(client, f"{BASE}/{endpoint}?role={role}", 400)["error"]


def test_roles_list(client, roles):
    assert get_json(client, f"{BASE}/roles") == {
        "guild_id": str(GID),
        "roles": [
            {"id": str(MOD), "name": "Moderator", "color": "#3498db", "position": 3, "members": 2}
        ],
    }
