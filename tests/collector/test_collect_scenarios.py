"""The real collector against the simulator: exact totals, whatever happens to the socket or the
process."""

from __future__ import annotations

import json

import pytest
from django.db.models import Sum

from stats.models import CollectorState, MemberEvent
from tests.collector.harness import run_collect, scenario_lines, split_scenario
from tests.rows import hourly_stats

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
GUILD = 700000000000000001


def totals() -> dict:
    rows = hourly_stats().filter(guild_id=GUILD)
    per_user = {
        str(u): m
        for u, m in rows.values_list("user_id")
        .annotate(m=Sum("messages"))
        .values_list("user_id", "m")
        if m
    }
    per_channel = {
        str(c): m
        for c, m in rows.values_list("channel_id")
        .annotate(m=Sum("messages"))
        .values_list("channel_id", "m")
        if m
    }
    voice = {
        str(u): v
        for u, v in rows.values_list("user_id")
        .annotate(v=Sum("voice_seconds"))
        .values_list("user_id", "v")
        if v
    }
    return {
        "messages": rows.aggregate(m=Sum("messages"))["m"] or 0,
        "joins": MemberEvent.objects.filter(guild_id=GUILD, kind=1).count(),
        "leaves": MemberEvent.objects.filter(guild_id=GUILD, kind=2).count(),
        "per_user": per_user,
        "per_channel": per_channel,
        "voice": voice,
    }


def assert_expected(expected: dict, got: dict, voice: bool = True) -> None:
    assert got["messages"] == expected["messages"]
    assert got["joins"] == expected["joins"]
    assert got["leaves"] == expected["leaves"]
    assert got["per_user"] == expected["per_user"]
    assert got["per_channel"] == expected["per_channel"]
    if voice:
        assert set(expected["voice_users_counted"]) <= set(got["voice"])
        assert expected["voice_user_afk"] not in got["voice"]


def test_basic_scenario_gives_the_expected_totals(basic_scenario, basic_expected):
    collector = run_collect(scenario_lines(basic_scenario))
    assert_expected(basic_expected, totals())
    state = CollectorState.objects.get(shard_id=0)
    assert state.events_processed >= basic_expected["messages"]
    assert state.connected is False  # stopped cleanly
    assert collector.errors == 0


def with_control(lines: list[str], control: dict, at: float = 0.5) -> list[str]:
    first, rest = split_scenario(lines, at)
    head = [line for line in first if json.loads(line).get("t") == "GUILD_CREATE"]
    return first + [json.dumps(control)] + rest[len(head) :]


@pytest.mark.parametrize(
    "control",
    [{"op": "drop"}, {"op": "reconnect"}, {"op": "invalid_session", "resumable": True}],
    ids=["drop", "reconnect", "resumable-invalid-session"],
)
def test_a_socket_event_mid_stream_changes_no_total(basic_scenario, basic_expected, control):
    run_collect(with_control(scenario_lines(basic_scenario), control), sleep_scale=0.5)
    assert_expected(basic_expected, totals(), voice=False)


def test_many_drops_in_a_row_change_no_total(basic_scenario, basic_expected):
    lines = scenario_lines(basic_scenario)
    for at in (0.2, 0.4, 0.6, 0.8):
        lines = with_control(lines, {"op": "drop"}, at)
    run_collect(lines, sleep_scale=0.2)
    assert_expected(basic_expected, totals(), voice=False)


def test_a_stop_and_a_restart_on_the_rest_give_the_same_totals(basic_scenario, basic_expected):
    first, rest = split_scenario(scenario_lines(basic_scenario), 0.5)
    run_collect(first, sleep_scale=0.5)
    run_collect(rest, sleep_scale=0.5)
    assert_expected(basic_expected, totals(), voice=False)


def test_replaying_the_whole_scenario_after_a_restart_counts_nothing_twice(
    basic_scenario, basic_expected
):
    lines = scenario_lines(basic_scenario)
    run_collect(lines, sleep_scale=0)
    run_collect(lines, sleep_scale=0)
    assert_expected(basic_expected, totals(), voice=False)


def test_a_lost_session_is_reported_as_a_gap_and_repaired_from_history(
    basic_scenario, basic_expected
):
    lines = with_control(
        scenario_lines(basic_scenario), {"op": "invalid_session", "resumable": False}
    )
    collector = run_collect(
        lines, sleep_scale=0.2, until=lambda c: c.gaps == 1 and c.repair.found and not c.repair.open
    )
    got = totals()
    assert collector.gaps == 1
    # What the gateway never delivered was read from history: each message counted once, none made
    # up.
    assert got["messages"] == basic_expected["messages"]
    assert got["per_user"] == basic_expected["per_user"]
    state = CollectorState.objects.get(shard_id=0)
    assert state.gaps == 1 and state.gaps_open == 0 and state.gaps_repaired == state.gaps_found > 0


def test_an_opt_out_stored_before_start_holds_across_restarts(basic_scenario, basic_expected):
    from stats.models import Guild, Member, OptOut

    quiet = max(
        basic_expected["per_user"], key=basic_expected["per_user"].get
    )  # the busiest member
    Guild.objects.create(id=GUILD, name="Scenario Guild 1")
    OptOut.objects.create(guild_id=GUILD, user_id=int(quiet))
    run_collect(scenario_lines(basic_scenario))
    got = totals()
    assert quiet not in got["per_user"] and quiet not in got["voice"]
    assert got["messages"] == basic_expected["messages"] - basic_expected["per_user"][quiet]
    assert not Member.objects.filter(guild_id=GUILD, user_id=int(quiet)).exists()
