"""The JSON API: contract shapes and numbers, CSV, visibility, malformed input, the cache."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth.models import User

from stats.models import Guild
from tests.stats.conftest import ALICE, BOB, DAVE, GID, OTHER_GID

pytestmark = pytest.mark.django_db

BASE = f"/api/guilds/{GID}"


def get_json(client, url: str, status: int = 200) -> dict:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    return response.json()


def test_guild_list_hides_private_guilds_from_anonymous(client, activity):
    assert get_json(client, "/api/guilds") == {
        "guilds": [{"id": str(GID), "name": "Paris", "member_count": 40}]
    }


def test_stats_document(client, activity, frozen_now):
    doc = get_json(client, f"{BASE}/stats?days=2")
    assert set(doc) == {"guild_id", "days", "start", "end", "interval", "totals", "series"}
    assert doc["guild_id"] == str(GID) and doc["days"] == 2 and doc["interval"] == "day"
    assert (doc["start"], doc["end"]) == (
        "2025-03-29T23:00:00Z",
        "2025-03-31T13:00:00Z",
    )  # Sunday and Monday in Paris
    assert doc["totals"] == {
        "messages": 22,
        "voice_minutes": 11.5,
        "active_members": 4,
        "joins": 2,
        "leaves": 1,
    }
    assert [p["messages"] for p in doc["series"]] == [13, 9]
    assert len(get_json(client, f"{BASE}/stats?days=2&interval=hour")["series"]) == 38


def test_stats_days_default_to_the_guild_default(client, activity, frozen_now):
    assert get_json(client, f"{BASE}/stats")["days"] == 30
    Guild.objects.filter(pk=GID).update(default_days=7)
    assert get_json(client, f"{BASE}/stats")["days"] == 7
    assert get_json(client, f"{BASE}/heatmap")["days"] == 28


def test_leaderboard(client, activity, frozen_now):
    doc = get_json(client, f"{BASE}/leaderboard?metric=messages&days=2&limit=2&offset=1")
    assert doc == {
        "guild_id": str(GID),
        "metric": "messages",
        "days": 2,
        "entries": [
            {"rank": 2, "user_id": str(DAVE), "name": str(DAVE), "value": 7},
            {"rank": 3, "user_id": str(BOB), "name": "Bob", "value": 4},
        ],
    }
    voice = get_json(client, f"{BASE}/leaderboard?metric=voice&days=2")["entries"]
    assert [(e["user_id"], e["value"]) for e in voice] == [(str(ALICE), 10.0), (str(BOB), 1.5)]


def test_member(client, activity, frozen_now):
    doc = get_json(client, f"{BASE}/members/{BOB}?days=2")
    assert doc["name"] == "Bob" and doc["messages"] == 4 and doc["voice_minutes"] == 1.5
    assert doc["rank"] == {"messages": 3, "voice": 2}  # tied with Carol, ahead by user id
    assert {c["channel_id"] for c in doc["channels"]} == {"11", "12", "21"}
    assert get_json(client, f"{BASE}/members/999?days=2", 404) == {"error": "unknown member"}


def test_channels_and_heatmap(client, activity, frozen_now):
    channels = get_json(client, f"{BASE}/channels?days=2")["channels"]
    assert [(c["channel_id"], c["messages"], c["active_members"]) for c in channels] == [
        ("11", 15, 3),
        ("12", 7, 3),
        ("21", 0, 2),
    ]
    cells = get_json(client, f"{BASE}/heatmap?days=2")["cells"]
    assert cells[6][0] == 7 and cells[0][14] == 5 and sum(map(sum, cells)) == 22


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_csv_export(client, activity, frozen_now):
    rows = csv_rows(client.get(f"{BASE}/leaderboard?days=2&format=csv"))
    assert rows[0] == ["rank", "user_id", "name", "value"]
    assert rows[1:3] == [["1", str(ALICE), "Alice", "7"], ["2", str(DAVE), str(DAVE), "7"]]
    series = csv_rows(client.get(f"{BASE}/stats?days=2&format=csv"))
    assert series[0] == ["t", "messages", "voice_minutes", "active_members"]
    assert series[1] == ["2025-03-29T23:00:00Z", "13", "10.0", "3"]
    channels = csv_rows(client.get(f"{BASE}/channels?days=2&format=csv"))
    assert channels[1] == ["11", "general", "15", "0.0", "3"]
    heat = csv_rows(client.get(f"{BASE}/heatmap?days=2&format=csv"))
    assert len(heat) == 8 and heat[7][0] == "Sunday" and heat[7][1] == "7"
    member = csv_rows(client.get(f"{BASE}/members/{ALICE}?days=2&format=csv"))
    assert member[1] == ["11", "general", "5", "0.0"]
    assert csv_rows(client.get("/api/guilds?format=csv"))[1] == [str(GID), "Paris", "40"]


ENDPOINTS = ["stats", "leaderboard", "channels", "heatmap", f"members/{ALICE}"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_private_guild_is_invisible_to_anonymous(client, activity, endpoint):
    assert get_json(client, f"/api/guilds/{OTHER_GID}/{endpoint}", 404) == {
        "error": "unknown guild"
    }
    # the same answer as a guild that does not exist
    assert get_json(client, f"/api/guilds/31337/{endpoint}", 404) == {"error": "unknown guild"}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_private_guild_is_visible_to_staff_and_granted_viewers(client, activity, endpoint):
    staff = User.objects.create_user("staff", password="x", is_staff=True)
    viewer = User.objects.create_user("viewer", password="x")
    stranger = User.objects.create_user("stranger", password="x")
    Guild.objects.get(pk=OTHER_GID).viewers.add(viewer)
    for user, status in ((staff, 200), (viewer, 200), (stranger, 404)):
        client.force_login(user)
        get_json(client, f"/api/guilds/{OTHER_GID}/{endpoint}?days=3650", status)
        listed = {g["id"] for g in get_json(client, "/api/guilds")["guilds"]}
        assert (str(OTHER_GID) in listed) == (status == 200)


MALFORMED = [
    "stats?days=0",
    "stats?days=3651",
    "stats?days=-1",
    "stats?days=1.5",
    "stats?days=30.0",
    "stats?days=abc",
    "stats?days=",
    "stats?days=%2B30",
    "stats?days=%2030",
    "stats?days=3_0",
    "stats?days=1e3",
    "stats?days=0x10",
    "stats?days=99999999999999999999999999",
    "stats?days=NaN",
    "stats?days=%D9%A3%D9%A0",
    "stats?days=30;DROP TABLE x",
    "stats?days=1%27%20OR%20%271%27=%271",
    "stats?interval=week",
    "stats?interval=",
    "stats?interval=DAY",
    "stats?format=xml",
    "stats?format=",
    "leaderboard?metric=bytes",
    "leaderboard?metric=",
    "leaderboard?limit=0",
    "leaderboard?limit=101",
    "leaderboard?limit=-5",
    "leaderboard?limit=ten",
    "leaderboard?offset=-1",
    "leaderboard?offset=1.0",
    "leaderboard?offset=99999999999999999999",
    "leaderboard?days=4000",
    "leaderboard?metric=messages%00",
    "channels?days=0",
    "channels?days=%00",
    "channels?format=pdf",
    "heatmap?days=0",
    "heatmap?days=x",
    "heatmap?days=3651",
    "members/abc",
    "members/-1",
    "members/1.5",
    "members/99999999999999999999",
    "members/9223372036854775808",
    "members/%27%3B--",
    f"members/{ALICE}?days=0",
    f"members/{ALICE}?format=html",
]


@pytest.mark.parametrize("query", MALFORMED)
def test_malformed_parameters_are_400_json(client, activity, query):
    doc = get_json(client, f"{BASE}/{query}", 400)
    assert set(doc) == {"error"} and doc["error"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/guilds/abc/stats",
        "/api/guilds/-5/stats",
        "/api/guilds/1.5/stats",
        "/api/guilds/18446744073709551616/stats",
        "/api/guilds/9223372036854775808/leaderboard",
        "/api/guilds/%27%20OR%201=1--/channels",
    ],
)
def test_malformed_guild_ids_are_400_json(client, activity, path):
    doc = get_json(client, path, 400)
    assert set(doc) == {"error"}


@pytest.mark.parametrize(
    "path",
    [
        "/api/nope",
        "/api/guilds/1/nope",
        f"{BASE}/stats/",
        "/api/guilds/1/members/",
        "/metrics/nope",
    ],
)
def test_unknown_paths_are_404_json(client, activity, path):
    assert set(get_json(client, path, 404)) == {"error"}


@pytest.mark.parametrize("url", ["/api/guilds", f"{BASE}/stats", "/metrics"])
def test_wrong_method_is_405_json(client, activity, url):
    for method in (client.post, client.put, client.delete):
        response = method(url)
        assert response.status_code in (403, 405), (
            response.status_code
        )  # CSRF may answer a POST first
        assert set(response.json()) == {"error"}


def test_cached_request_touches_no_database(client, activity, django_assert_num_queries):
    first = client.get(f"{BASE}/stats?days=2")
    assert first.status_code == 200
    with django_assert_num_queries(0):
        second = client.get(f"{BASE}/stats?days=2")
    assert second.status_code == 200 and second.json() == first.json()


@pytest.mark.parametrize(
    "endpoint", ["leaderboard?metric=voice", "channels", "heatmap", f"members/{ALICE}"]
)
def test_every_cached_endpoint_touches_no_database(
    client, activity, endpoint, django_assert_num_queries
):
    assert client.get(f"{BASE}/{endpoint}").status_code == 200
    with django_assert_num_queries(0):
        assert client.get(f"{BASE}/{endpoint}").status_code == 200


def test_openapi_document_lists_the_endpoints(client):
    doc = get_json(client, "/api/openapi.json")
    paths = set(doc["paths"])
    assert {
        "/api/guilds",
        "/api/guilds/{gid}/stats",
        "/api/guilds/{gid}/leaderboard",
        "/api/guilds/{gid}/members/{uid}",
        "/api/guilds/{gid}/channels",
        "/api/guilds/{gid}/heatmap",
    } <= paths
