"""Scenario parsing errors name the line; the simulate command answers bad input with one line and
exit 2."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from mocha_site.loopback import free_port
from simulator.scenario import Control, Dispatch, ScenarioError, load_scenario, parse_scenario
from tests.simulator.harness import basic_lines


def test_scenario_parses_guilds_dispatches_and_controls(basic_scenario):
    scenario = load_scenario(basic_scenario)
    assert [g["id"] for g in scenario.guilds] == ["700000000000000001"]
    assert sum(isinstance(s, Dispatch) for s in scenario.steps) == 1191 + 5 + 4 + 2
    assert [s.ms for s in scenario.steps if isinstance(s, Control)] == [3000, 3000, 500]
    first = next(s for s in scenario.steps if isinstance(s, Dispatch))
    assert first.guild_id == 700000000000000001
    assert json.loads('{"op":0,"s":1' + first.tail)["t"] == "VOICE_STATE_UPDATE"


@pytest.mark.parametrize(
    "bad",
    [
        '{"t": "MESSAGE_CREATE"',
        '{"op": "explode"}',
        "[1, 2]",
        '{"op": "sleep", "ms": -1}',
        '{"t": "MESSAGE_CREATE", "d": 5}',
    ],
)
def test_unreadable_line_names_file_and_line(tmp_path, bad):
    path = tmp_path / "broken.jsonl"
    lines = basic_lines()[:3] + [bad] + basic_lines()[3:5]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ScenarioError, match=r"broken\.jsonl:4: "):
        load_scenario(path)


@pytest.mark.parametrize("gid", ["abc", None, -5, str(2**64), [1]])
def test_a_dispatch_whose_guild_id_is_not_a_snowflake_is_still_played(gid):
    """Scenarios may hold payloads no well-behaved Discord sends: the collector must meet them."""
    bad = json.dumps({"t": "MESSAGE_CREATE", "d": {"guild_id": gid, "id": "1"}})
    scenario = parse_scenario(basic_lines()[:1] + [bad])
    (dispatch,) = scenario.steps
    assert json.loads('{"op":0,"s":1' + dispatch.tail)["d"]["guild_id"] == gid
    assert dispatch.guild_id in (None, -5, 2**64)  # routed to shard 0, or by its number


@pytest.mark.slow
def test_command_on_a_busy_port_says_so_in_one_line(manage_py, basic_scenario):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        run = subprocess.run(
            [*manage_py, "simulate", "--port", str(port), "--scenario", str(basic_scenario)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert run.returncode == 2
    assert len(run.stderr.strip().splitlines()) == 1 and str(port) in run.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, needle",
    [
        (["--port", "70000"], "port"),
        (["--port", "x"], "port"),
        (["--port", "1", "--scenario", "/nonexistent.jsonl"], "nonexistent"),
        (["--port", "1", "--disallow-intents", "members,typing"], "typing"),
    ],
)
def test_command_bad_arguments_one_line_exit_2(manage_py, args, needle):
    run = subprocess.run(
        [*manage_py, "simulate", *args], capture_output=True, text=True, timeout=60
    )
    assert (
        run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1 and needle in run.stderr
    )


@pytest.mark.slow
def test_command_bad_scenario_line_exit_2(manage_py, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(basic_lines()[0] + "\nnot json\n")
    run = subprocess.run(
        [*manage_py, "simulate", "--port", str(free_port()), "--scenario", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (
        run.returncode == 2 and run.stderr.strip().count("\n") == 0 and "bad.jsonl:2" in run.stderr
    )


@pytest.mark.slow
def test_command_serves_status_and_stops_cleanly_on_sigterm(manage_py, basic_scenario):
    port = free_port()
    proc = subprocess.Popen(
        [*manage_py, "simulate", "--port", str(port), "--scenario", str(basic_scenario)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == f"DISCORD_API_BASE=http://127.0.0.1:{port}/api/v10"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_sim/status", timeout=5) as r:
            status = json.load(r)
        assert r.headers["Content-Type"] == "application/json"
        assert (
            status["total"] == 1191 + 5 + 4 + 2 + 3
            and status["sent"] == 0
            and status["done"] is False
            and status["connections"] == 0
        )
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v10/gateway/bot", timeout=5) as r:
            assert json.load(r)["url"] == f"ws://127.0.0.1:{port}/gateway"
        time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
