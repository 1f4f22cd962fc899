"""A stock discord.py Client against the simulator: login, ordered delivery, RESUME after drops, op
7, op 9."""

from __future__ import annotations

import json

import discord.gateway
import discord.http
import pytest

from collector.endpoints import configure_discord
from simulator.server import Simulator
from tests.simulator.harness import basic_lines, message_ids, receive, running


@pytest.fixture(autouse=True)
def restore_discord(monkeypatch):
    """configure_discord changes discord.py's class attributes; put them back after each test."""
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket,
        "DEFAULT_GATEWAY",
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
    )


def with_control(control: dict, at: int = 600, extra: list | None = None) -> list[str]:
    """basic.jsonl without sleeps, with a control line (and `extra` lines) before its `at`-th
    dispatch."""
    lines = basic_lines()
    return lines[:at] + [json.dumps(control)] + [json.dumps(e) for e in extra or []] + lines[at:]


def test_configure_discord_points_discord_py_at_the_simulator():
    with running(Simulator(basic_lines())) as sim:
        url = configure_discord(sim.api_base)
    assert url == f"ws://127.0.0.1:{sim.port}/gateway"
    assert discord.http.Route.BASE == sim.api_base
    assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == url
    assert configure_discord(None) is None


def test_basic_scenario_reaches_a_stock_client_in_order():
    lines = basic_lines()
    with running(Simulator(lines, start_delay=0.05)) as sim:
        configure_discord(sim.api_base)
        client = receive(sim, 1191)
        status = sim.status()
    assert client.user is not None and client.user.bot  # login: /users/@me and READY's user
    assert client.events["MESSAGE_CREATE"] == 1191
    assert client.events["VOICE_STATE_UPDATE"] == 5
    assert client.events["GUILD_MEMBER_ADD"] == 4
    assert client.events["GUILD_MEMBER_REMOVE"] == 2
    assert [str(i) for i in client.ids] == message_ids(lines)  # every message, in file order
    assert status["done"] and status["sent"] == status["total"] == len(lines) - 1
    assert status["connections"] == 1 and status["resumes"] == 0


@pytest.mark.parametrize(
    "control", [{"op": "drop"}, {"op": "reconnect"}, {"op": "invalid_session", "resumable": True}]
)
def test_client_resumes_and_gets_every_dispatch_exactly_once(control):
    lines = with_control(control)
    with running(Simulator(lines, start_delay=0.05)) as sim:
        configure_discord(sim.api_base)
        client = receive(sim, 1191)
        status = sim.status()
    assert sorted(client.ids) == sorted(
        int(i) for i in message_ids(lines)
    )  # none missing, none twice
    assert status["resumes"] == 1 and status["connections"] == 2 and status["identifies"] == 1
    assert client.events["RESUMED"] == 1
    if control["op"] == "drop":
        assert (
            status["replayed"] > 0
        )  # dispatches sent while the client was away came back on RESUME


def test_drop_twice_in_quick_succession_still_delivers_everything_once():
    lines = basic_lines()
    lines = (
        lines[:300]
        + ['{"op":"drop"}']
        + lines[300:310]
        # Long enough for the client to be back (its reconnect took over 300 ms on a loaded CI
        # machine, and a drop with no connection drops nothing), short beside a heartbeat.
        + ['{"op":"sleep","ms":1500}', '{"op":"drop"}']
        + lines[310:]
    )
    with running(Simulator(lines, start_delay=0.05)) as sim:
        configure_discord(sim.api_base)
        client = receive(sim, 1191)
        status = sim.status()
    assert sorted(client.ids) == sorted(int(i) for i in message_ids(lines))
    assert status["resumes"] == 2


def test_non_resumable_invalid_session_reidentifies_and_loses_the_gap():
    lines = basic_lines()
    gap = lines[600:610]
    lines = (
        lines[:600]
        + ['{"op":"invalid_session","resumable":false}']
        + gap
        + ['{"op":"sleep","ms":1500}']
        + lines[610:]
    )
    with running(Simulator(lines, start_delay=0.05)) as sim:
        configure_discord(sim.api_base)
        client = receive(sim, 1191 - 10, timeout=25)
        status = sim.status()
    lost = {int(i) for i in message_ids(gap)}
    assert sorted(client.ids) == sorted(int(i) for i in message_ids(lines) if int(i) not in lost)
    assert status["identifies"] == 2 and status["resumes"] == 0 and status["connections"] == 2
    assert client.events["READY"] == 2


def test_token_is_checked_when_given():
    with running(Simulator(basic_lines(), token="right", start_delay=0.05)) as sim:
        configure_discord(sim.api_base)
        with pytest.raises(discord.LoginFailure):
            receive(sim, 1191, timeout=5)


def test_each_shard_gets_only_its_guilds_dispatches():
    lines = basic_lines()
    first = json.loads(lines[0])
    other_id = int(first["d"]["id"]) + (1 << 22)  # the next shard when there are two
    other = json.loads(lines[0].replace(first["d"]["id"], str(other_id)))
    other_msgs = [
        ln.replace(first["d"]["id"], str(other_id)) for ln in lines[1:] if "MESSAGE_CREATE" in ln
    ][:50]
    scenario = [lines[0], json.dumps(other)] + lines[1:] + other_msgs
    shard_of_first = (int(first["d"]["id"]) >> 22) % 2
    with running(Simulator(scenario, start_delay=0.05)) as sim:
        configure_discord(sim.api_base)
        import threading

        results = {}

        def run(shard: int, expected: int) -> None:
            results[shard] = receive(sim, expected, shard_id=shard, shard_count=2)

        threads = [
            threading.Thread(target=run, args=(s, 1191 if s == shard_of_first else 50))
            for s in (0, 1)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert results[shard_of_first].events["MESSAGE_CREATE"] == 1191
    assert results[1 - shard_of_first].events["MESSAGE_CREATE"] == 50
    assert results[0].events["GUILD_CREATE"] == results[1].events["GUILD_CREATE"] == 1
