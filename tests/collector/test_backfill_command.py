"""`manage.py backfill` as a process: bad arguments, progress, SIGKILL mid-import then resume."""

from __future__ import annotations

import signal
import subprocess

import pytest
from django.db.models import Sum

from tests.collector.processes import sim_status, simulator_process, wait_for
from tests.rows import hourly_stats

pytestmark = [pytest.mark.slow]


@pytest.mark.parametrize(
    "args, token", [(["x"], "t"), (["--days", "0"], "t"), (["--days", "many"], "t"), (["123"], "")]
)
def test_bad_arguments_and_a_missing_token_are_one_line_with_exit_code_2(
    args, token, subprocess_env, manage_py
):
    proc = subprocess.run(
        [*manage_py, "backfill", *args],
        env={**subprocess_env, "DISCORD_TOKEN": token},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_killed_mid_import_then_resumed_counts_every_message_once(subprocess_env, manage_py):
    with simulator_process(
        manage_py,
        subprocess_env,
        None,
        "--backfill-days",
        "3",
        "--rate",
        "0",
        "--guilds",
        "2",
        "--channels",
        "5",
        "--members",
        "60",
    ) as port:
        env = {
            **subprocess_env,
            "DISCORD_API_BASE": f"http://127.0.0.1:{port}/api/v10",
            "DISCORD_TOKEN": "t",
        }
        total = sim_status(port)["history"]
        first = subprocess.Popen(
            [*manage_py, "backfill"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

        def committed() -> int:
            return hourly_stats().aggregate(m=Sum("messages"))["m"] or 0

        wait_for(lambda: committed() > 0 or first.poll() is not None, 120, "a first commit")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        partial = committed()
        assert 0 < partial < total
        second = subprocess.run(
            [*manage_py, "backfill"], env=env, capture_output=True, text=True, timeout=300
        )
        assert second.returncode == 0, second.stderr
        unknown = subprocess.run(
            [*manage_py, "backfill", "42"], env=env, capture_output=True, text=True, timeout=60
        )
    assert committed() == total
    lines = second.stdout.splitlines()
    assert any(
        "channels" in line and "messages" in line and "/s" in line for line in lines
    )  # progress
    assert (
        sum(int(line.split(", ")[2].split()[0]) for line in lines if line.startswith("guild "))
        == total - partial
    )
    assert unknown.returncode == 2 and len(unknown.stderr.strip().splitlines()) == 1, unknown.stderr
