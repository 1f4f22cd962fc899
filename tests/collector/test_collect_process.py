"""`manage.py collect` as a process: SIGTERM flushes and exits 0, SIGKILL loses at most one flush, bad args exit 2."""
from __future__ import annotations

import signal
import subprocess

import pytest
from django.db.models import Sum

from stats.models import HourlyStat, VoiceSession
from tests.collector.harness import scenario_lines, split_scenario
from tests.collector.processes import collector_process, sim_status, simulator_process, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
GUILD = 700000000000000001


def counted() -> int:
    return HourlyStat.objects.filter(guild_id=GUILD).aggregate(m=Sum("messages"))["m"] or 0


def play(manage_py, env, scenario, tmp_path, name: str, stop_signal: int) -> subprocess.CompletedProcess:
    path = tmp_path / f"{name}.jsonl"
    path.write_text("\n".join(scenario) + "\n")
    with simulator_process(manage_py, env, path) as port:
        proc = collector_process(manage_py, env, port)
        wait_for(lambda: sim_status(port)["done"], 60, "the scenario")
        wait_for(lambda: proc.poll() is not None or counted() > 0, 10, "a first flush")
        import time

        time.sleep(1.0)  # let the last dispatches reach the collector
        proc.send_signal(stop_signal)
        out, err = proc.communicate(timeout=15)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_sigterm_mid_scenario_then_a_restart_on_the_rest(basic_scenario, basic_expected, subprocess_env, manage_py,
                                                           tmp_path):
    first, rest = split_scenario(scenario_lines(basic_scenario), 0.5)
    done = play(manage_py, subprocess_env, first, tmp_path, "first", signal.SIGTERM)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert not VoiceSession.objects.filter(ended_at__isnull=True).exists()  # closed at stop time
    done = play(manage_py, subprocess_env, rest, tmp_path, "rest", signal.SIGINT)
    assert done.returncode == 0, done.stderr
    assert counted() == basic_expected["messages"]


def test_sigkill_loses_at_most_one_flush_and_a_restart_counts_nothing_twice(basic_scenario, basic_expected,
                                                                             subprocess_env, manage_py, tmp_path):
    lines = scenario_lines(basic_scenario)
    killed = play(manage_py, subprocess_env, lines, tmp_path, "all", signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    # Everything was sent a second (five flush intervals) before the kill: all of it was committed.
    assert counted() == basic_expected["messages"]
    assert VoiceSession.objects.filter(ended_at__isnull=True).exists()  # the killed run could not close them
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
def test_bad_arguments_and_a_missing_token_are_one_line_with_exit_code_2(args, env_extra, subprocess_env, manage_py):
    env = {**subprocess_env, **env_extra}
    proc = subprocess.run([*manage_py, "collect", *args], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
