"""End to end: the basic scenario through simulator and collector, then every endpoint against
basic.expected.json."""

from __future__ import annotations

import time

import pytest
from django.db.models import Sum

from tests.collector.harness import ScenarioClock, moved_to_recent, run_collect, scenario_lines
from tests.rows import hourly_stats

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def api(client, path: str) -> dict:
    response = client.get(path)
    assert response.status_code == 200, (path, response.content[:300])
    return response.json()


# Seconds in voice the basic scenario implies: its sleep lines are 3 s, 3 s and 0.5 s. Member 113
# talks 3 s in one channel, moves, talks 3 s more and leaves; 190 and 197 (in voice when the guild
# is announced) stay to the end, 6.5 s, of which whole seconds are credited; 155 is AFK.
VOICE_SECONDS = {"700000000000100113": 6, "700000000000100190": 6, "700000000000100197": 6}


def test_every_endpoint_agrees_with_the_basic_scenario(
    client, basic_scenario, basic_expected, monkeypatch
):
    # The endpoints count back from today: the scenario's messages and the collector's clock
    # (voice, joins, leaves) are put within the last day, not at the fixture's fixed dates.
    lines = moved_to_recent(scenario_lines(basic_scenario))
    last_hour = (int(time.time()) - 3600) // 3600 * 3600
    clock = ScenarioClock(lines, start=last_hour)  # the collector's time: no real sleeps
    clock.install(monkeypatch)
    run_collect(lines, public_new_guilds=True, clock=clock)
    exp = basic_expected
    gid = exp["guild_id"]
    base = f"/api/guilds/{gid}"

    assert gid in {g["id"] for g in api(client, "/api/guilds")["guilds"]}

    stats = api(client, f"{base}/stats?days=3650")
    totals = stats["totals"]
    assert (totals["messages"], totals["joins"], totals["leaves"]) == (
        exp["messages"],
        exp["joins"],
        exp["leaves"],
    )
    assert totals["active_members"] >= exp["active_members_at_least"]
    seconds = hourly_stats().filter(guild_id=gid, voice_seconds__gt=0).values_list("user_id")
    assert {str(u): v for u, v in seconds.annotate(s=Sum("voice_seconds"))} == VOICE_SECONDS
    assert totals["voice_minutes"] == round(sum(VOICE_SECONDS.values()) / 60, 1)
    assert sum(p["messages"] for p in stats["series"]) == exp["messages"]

    board = api(client, f"{base}/leaderboard?metric=messages&days=3650&limit=100")["entries"]
    assert {e["user_id"]: e["value"] for e in board} == exp["per_user"]
    assert (board[0]["user_id"], board[0]["value"], board[0]["rank"]) == (
        exp["top_user"],
        exp["top_user_messages"],
        1,
    )

    voice = {
        e["user_id"]
        for e in api(client, f"{base}/leaderboard?metric=voice&days=3650&limit=100")["entries"]
    }
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
