"""Loopback helpers shared by `manage.py run`, the benchmarks and the tests."""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from collections.abc import Callable


def free_port() -> int:
    """A TCP port nothing listens on at 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def simulator_status(port: int) -> dict:
    """GET /_sim/status of a simulator on this machine."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_sim/status", timeout=5) as response:
        return json.load(response)


def wait_for(predicate: Callable[[], bool], timeout: float = 60, what: str = "condition") -> None:
    """Poll until predicate() is true; TimeoutError after `timeout` seconds.

    The predicate reads the database directly, not through cachalot: what it waits for is written
    by another process, and a read that races that write could cache the old answer until the
    table's next write (cachalot stamps a result after running its query).
    """
    from cachalot.api import cachalot_disabled

    deadline = time.monotonic() + timeout
    while True:
        with cachalot_disabled():
            if predicate():
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.1)


def simulator_answers(port: int) -> bool:
    """True once a simulator on this machine answers its status endpoint."""
    try:
        simulator_status(port)
        return True
    except OSError:
        return False
