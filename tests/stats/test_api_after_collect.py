"""End to end: the basic scenario through simulator and collector, then every endpoint against basic.expected.json."""
from __future__ import annotations

import pytest

from tests.collector.harness import run_collect, scenario_lines

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def api(client, path: str) -> dict:
    response = client.get(path)
    assert response.status_code == 200, (path, response.content[:300])
    return response.json()


def test_every_endpoint_agrees_with_the_basic_scenario(client, basic_scenario, basic_expected):
    run_collect(scenario_lines(basic_scenario), public_new_guilds=True)
    exp = basic_expected
    gid = exp["guild_id"]
    base = f"/api/guilds/{gid}"

    assert gid in {g["id"] for g in api(client, "/api/guilds")["guilds"]}

    stats = api(client, f"{base}/stats?days=3650")
    totals = stats["totals"]
    assert (totals["messages"], totals["joins"], totals["leaves"]) == (exp["messages"], exp["joins"], exp["leaves"])
    assert totals["active_members"] >= exp["active_members_at_least"]
    assert totals["voice_minutes"] > 0
    assert sum(p["messages"] for p in stats["series"]) == exp["messages"]

    board = api(client, f"{base}/leaderboard?metric=messages&days=3650&limit=100")["entries"]
    assert {e["user_id"]: e["value"] for e in board} == exp["per_user"]
    assert (board[0]["user_id"], board[0]["value"], board[0]["rank"]) == (exp["top_user"], exp["top_user_messages"], 1)

    voice = {e["user_id"] for e in api(client, f"{base}/leaderboard?metric=voice&days=3650&limit=100")["entries"]}
    assert set(exp["voice_users_counted"]) <= voice and exp["voice_user_afk"] not in voice

    for uid, messages in exp["per_user"].items():
        member = api(client, f"{base}/members/{uid}?days=3650")
        assert member["messages"] == messages
        assert sum(c["messages"] for c in member["channels"]) == messages
    assert api(client, f"{base}/members/{exp['top_user']}?days=3650")["rank"]["messages"] == 1

    channels = api(client, f"{base}/channels?days=3650")["channels"]
    assert {c["channel_id"]: c["messages"] for c in channels if c["messages"]} == exp["per_channel"]

    cells = api(client, f"{base}/heatmap?days=3650")["cells"]
    assert sum(map(sum, cells)) == exp["messages"]
