"""`manage.py collect` against an application whose Server Members intent is off (close 4014)."""

from __future__ import annotations

import signal

import pytest
from django.db.models import Sum

from stats.models import CollectorState, MemberEvent, VoiceSession
from stats.panels import health_document
from tests.collector.processes import collector_process, sim_status, simulator_process, wait_for
from tests.rows import hourly_stats

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
GUILD = 700000000000000001


def counted() -> int:
    return hourly_stats().filter(guild_id=GUILD).aggregate(m=Sum("messages"))["m"] or 0


def test_4014_stops_the_collector_with_one_line_naming_the_intent_and_where(
    basic_scenario, subprocess_env, manage_py
):
    with simulator_process(
        manage_py, subprocess_env, basic_scenario, "--disallow-intents", "members"
    ) as port:
        proc = collector_process(manage_py, subprocess_env, port)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "4014" in lines[0] and '"Server Members Intent"' in lines[0]
    assert "Bot page" in lines[0] and "developer portal" in lines[0]
    assert "MOCHA_ALLOW_MISSING_INTENTS" in lines[0]
    assert counted() == 0


def test_with_the_setting_it_counts_messages_and_voice_and_says_joins_are_missing(
    basic_scenario, basic_expected, subprocess_env, manage_py
):
    env = {**subprocess_env, "MOCHA_ALLOW_MISSING_INTENTS": "1"}
    with simulator_process(manage_py, env, basic_scenario, "--disallow-intents", "members") as port:
        proc = collector_process(manage_py, env, port)
        try:
            wait_for(lambda: sim_status(port)["done"], 60, "the scenario")
            wait_for(
                lambda: proc.poll() is not None or counted() >= basic_expected["messages"],
                30,
                "every message committed",
            )
            wait_for(
                lambda: CollectorState.objects.filter(missing_intents=["members"]).exists(),
                10,
                "the health row",
            )
            status = sim_status(port)
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert counted() == basic_expected["messages"]
    assert VoiceSession.objects.filter(
        guild_id=GUILD
    ).exists()  # voice is counted without the intent
    assert not MemberEvent.objects.exists()  # Discord sends no joins or leaves without it
    assert status["identifies"] == 1  # the refused IDENTIFY was closed before it became a session
    assert "Server Members intent" in err and "Traceback" not in err
    collector = next(p for p in health_document()["panels"] if p["id"] == "collector")
    assert any(
        "joins and leaves are not counted" in w and "Server Members Intent" in w
        for w in collector["warnings"]
    ), collector
