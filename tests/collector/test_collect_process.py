"""`manage.py collect` as a process: SIGTERM flushes and exits 0, SIGKILL loses at most one flush,
bad args exit 2."""

from __future__ import annotations

import signal
import subprocess

import pytest
from django.db.models import Sum

from stats.models import CollectorState, VoiceSession
from tests.collector.harness import scenario_lines, split_scenario, tallied
from tests.collector.processes import collector_process, sim_status, simulator_process, wait_for
from tests.rows import hourly_stats

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
GUILD = 700000000000000001


def counted() -> int:
    return hourly_stats().filter(guild_id=GUILD).aggregate(m=Sum("messages"))["m"] or 0


def processed() -> int:
    """Dispatches the collector had read when it last committed (its health row, each flush)."""
    return CollectorState.objects.aggregate(n=Sum("events_processed"))["n"] or 0


def play(
    manage_py, env, scenario, tmp_path, name: str, stop_signal: int
) -> subprocess.CompletedProcess:
    path = tmp_path / f"{name}.jsonl"
    path.write_text("\n".join(scenario) + "\n")
    with simulator_process(manage_py, env, path) as port:
        proc = collector_process(manage_py, env, port)
        wait_for(lambda: sim_status(port)["done"], 60, "the scenario")
        # Every dispatch read and committed, as the collector's health row says (no fixed sleep).
        wait_for(
            lambda: proc.poll() is not None or processed() >= tallied(scenario), 60, "the collector"
        )
        proc.send_signal(stop_signal)
        out, err = proc.communicate(timeout=15)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_sigterm_mid_scenario_then_a_restart_on_the_rest(
    basic_scenario, basic_expected, subprocess_env, manage_py, tmp_path
):
    first, rest = split_scenario(scenario_lines(basic_scenario), 0.5)
    done = play(manage_py, subprocess_env, first, tmp_path, "first", signal.SIGTERM)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert not VoiceSession.objects.filter(ended_at__isnull=True).exists()  # closed at stop time
    done = play(manage_py, subprocess_env, rest, tmp_path, "rest", signal.SIGINT)
    assert done.returncode == 0, done.stderr
    assert counted() == basic_expected["messages"]


def test_sigkill_loses_at_most_one_flush_and_a_restart_counts_nothing_twice(
    basic_scenario, basic_expected, subprocess_env, manage_py, tmp_path
):
    lines = scenario_lines(basic_scenario)
    killed = play(manage_py, subprocess_env, lines, tmp_path, "all", signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    # The kill came after everything was read and committed: nothing is lost.
    assert counted() == basic_expected["messages"]
    assert VoiceSession.objects.filter(
        ended_at__isnull=True
    ).exists()  # the killed run could not close them
    again = play(manage_py, subprocess_env, lines, tmp_path, "again", signal.SIGTERM)
    assert again.returncode == 0, again.stderr
    assert counted() == basic_expected["messages"]  # the replay filled the gap, nothing twice
    assert not VoiceSession.objects.filter(ended_at__isnull=True).exists()


@pytest.mark.parametrize(
    "args, env_extra",
    [
        (["--shard-ids", "0"], {}),
        (["--shard-count", "2", "--shard-ids", "2"], {}),
        (["--shard-count", "0"], {}),
        (["--shard-ids", "x"], {}),
        ([], {"DISCORD_TOKEN": ""}),
    ],
)
def test_bad_arguments_and_a_missing_token_are_one_line_with_exit_code_2(
    args, env_extra, subprocess_env, manage_py
):
    env = {**subprocess_env, **env_extra}
    proc = subprocess.run(
        [*manage_py, "collect", *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_sigkill_between_flushes_while_traffic_flows_then_a_restart(
    subprocess_env, manage_py, tmp_path
):
    """Killed mid-traffic, a collector loses nothing: the restart repairs the gap from history."""
    import json

    from tests.collector import payloads as p

    ts = "2026-11-26T18:40:16+00:00"
    guild = p.guild_create(channels=[p.channel(11, "general")], members=[1, 2, 3])
    before, after = 500, 200  # messages before and after the pause in which the collector restarts
    lines = [json.dumps({"t": "GUILD_CREATE", "d": guild})]
    lines += [
        json.dumps({"t": "MESSAGE_CREATE", "d": p.message(1 + i % 3, 11, ts)})
        for i in range(before)
    ]
    # A pause ample for a restart on a loaded machine.
    lines.append(json.dumps({"op": "sleep", "ms": 30_000}))
    lines += [
        json.dumps({"t": "MESSAGE_CREATE", "d": p.message(1 + i % 3, 11, ts)}) for i in range(after)
    ]
    path = tmp_path / "kill.jsonl"
    path.write_text("\n".join(lines) + "\n")
    # 50 messages/s; flushes every 200 ms; the kill lands among the last 100 before the pause.
    with simulator_process(manage_py, subprocess_env, path, "--rate", "50") as port:
        first = collector_process(manage_py, subprocess_env, port)
        wait_for(
            lambda: first.poll() is not None or sim_status(port)["sent"] >= before - 100,
            60,
            "traffic",
        )
        committed = counted()
        first.kill()
        first.wait(15)
        # Every step so far is a message: an upper bound on those the killed collector read.
        sent = sim_status(port)["sent"]
        assert first.returncode == -signal.SIGKILL and 0 < committed and sent < before, (
            committed,
            sent,
        )
        wait_for(lambda: sim_status(port)["sent"] >= before, 60, "the pause")
        second = collector_process(manage_py, subprocess_env, port)
        wait_for(
            lambda: second.poll() is not None or sim_status(port)["identifies"] == 2,
            60,
            "a new session",
        )
        assert sim_status(port)["sent"] == before, "the restart missed the pause"
        wait_for(lambda: sim_status(port)["done"], 90, "the scenario")
        wait_for(
            lambda: second.poll() is not None or counted() >= before + after,
            60,
            "the rest and the repaired gap",
        )
        second.send_signal(signal.SIGTERM)
        _, err = second.communicate(timeout=30)
    assert second.returncode == 0, err
    lost = before + after - counted()
    in_flight = sent - committed  # read (or on the wire) but not yet committed: one flush interval
    unheard = before - sent  # sent while no collector was connected
    # Both would be lost without gap repair: the restart re-reads the channel's history from the
    # last message it committed, so nothing is lost and nothing is counted twice.
    assert lost == 0, (lost, in_flight, unheard)
