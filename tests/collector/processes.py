"""The simulator and the collector as real processes, for signal and restart tests."""

from __future__ import annotations

import subprocess
from contextlib import contextmanager
from pathlib import Path

from mocha_site.loopback import free_port, wait_for
from mocha_site.loopback import simulator_status as sim_status

__all__ = ["collector_process", "free_port", "sim_status", "simulator_process", "wait_for"]


@contextmanager
def simulator_process(manage_py: list[str], env: dict, scenario: Path | None = None, *extra: str):
    port = free_port()
    args = [
        *manage_py,
        "simulate",
        "--port",
        str(port),
        *(["--scenario", str(scenario)] if scenario else []),
        *extra,
    ]
    proc = subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:

        def up() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"simulator exited: {proc.stderr.read()}")
            try:
                sim_status(port)
                return True
            except OSError:
                return False

        wait_for(up, 30, "the simulator")
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def collector_process(manage_py: list[str], env: dict, port: int, *extra: str) -> subprocess.Popen:
    env = {
        **env,
        "DISCORD_API_BASE": f"http://127.0.0.1:{port}/api/v10",
        "DISCORD_TOKEN": "test-token",
        "MOCHA_FLUSH_MS": "200",
    }
    return subprocess.Popen(
        [*manage_py, "collect", *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
