"""The bot token never reaches stdout or stderr of `manage.py collect`, even with every logger at
DEBUG."""

from __future__ import annotations

import secrets
import signal
import subprocess
import time
from pathlib import Path

import pytest
from django.db.models import Sum

from tests.collector.processes import sim_status, simulator_process, wait_for
from tests.rows import hourly_stats

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
GUILD = 700000000000000001


def distinctive_token() -> str:
    """Shaped like a Discord bot token, unique to this run."""
    return f"MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.{secrets.token_urlsafe(27)}"


def collect(manage_py, env: dict, port: int, token: str, logs: Path) -> subprocess.Popen:
    """`manage.py collect` writing its output to files: DEBUG logs would fill and block a pipe."""
    env = {
        **env,
        "DJANGO_SETTINGS_MODULE": "tests.security.debug_logging_settings",
        "DISCORD_TOKEN": token,
        "DISCORD_API_BASE": f"http://127.0.0.1:{port}/api/v10",
        "MOCHA_FLUSH_MS": "200",
    }
    return subprocess.Popen(
        [*manage_py, "collect"],
        env=env,
        stdout=(logs / "out").open("w"),
        stderr=(logs / "err").open("w"),
    )


def outputs(logs: Path) -> tuple[str, str]:
    return (logs / "out").read_text(), (logs / "err").read_text()


def assert_secret_absent(token: str, *outputs: str) -> None:
    secret = token.rsplit(".", 1)[-1]  # the part that matters, in case the rest is logged as an id
    for out in outputs:
        assert token not in out and secret not in out


def test_the_token_is_not_logged_while_collecting(
    basic_scenario, subprocess_env, manage_py, tmp_path
):
    token = distinctive_token()
    with simulator_process(manage_py, subprocess_env, basic_scenario, "--token", token) as port:
        proc = collect(manage_py, subprocess_env, port, token, tmp_path)
        try:
            wait_for(
                lambda: proc.poll() is not None or sim_status(port)["done"], 60, "the scenario"
            )
            wait_for(
                lambda: (
                    proc.poll() is not None
                    or (
                        hourly_stats().filter(guild_id=GUILD).aggregate(m=Sum("messages"))["m"] or 0
                    )
                    > 0
                ),
                10,
                "a flush",
            )
            time.sleep(0.5)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
    out, err = outputs(tmp_path)
    assert proc.returncode == 0, err[-2000:]
    assert (
        " DEBUG discord" in err
    )  # the logs really were at DEBUG (so their silence means something)
    assert_secret_absent(token, out, err)


def test_a_refused_token_is_not_echoed_in_the_error(
    basic_scenario, subprocess_env, manage_py, tmp_path
):
    accepted, refused = distinctive_token(), distinctive_token()
    with simulator_process(manage_py, subprocess_env, basic_scenario, "--token", accepted) as port:
        proc = collect(manage_py, subprocess_env, port, refused, tmp_path)
        try:
            proc.wait(timeout=30)
        finally:
            proc.kill()
    out, err = outputs(tmp_path)
    assert proc.returncode == 2, err[-2000:]
    assert "collector stopped" in err.strip().splitlines()[-1]
    assert_secret_absent(refused, out, err)
    assert_secret_absent(accepted, out, err)
