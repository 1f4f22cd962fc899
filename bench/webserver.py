"""The real web stack for a benchmark phase: gunicorn + one uvicorn worker on a free loopback
port."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
from django.conf import settings

from mocha_site.loopback import free_port

READY_TIMEOUT_S = 30.0


class WebServer:
    """`gunicorn mocha_site.asgi:application -c gunicorn.conf.py` with MOCHA_WEB_WORKERS=1, as
    `make run` starts it.

    The child inherits this phase's environment, so it shares the phase's
    database and file cache (MOCHA_VAR_DIR): the bench process can bump data
    versions and write rows that the server sees.
    """

    def __init__(self, workers: int = 1) -> None:
        self.port = free_port()
        self.workers = workers
        self.proc: subprocess.Popen | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> WebServer:
        base = Path(settings.BASE_DIR)
        env = dict(
            os.environ,
            MOCHA_BIND=f"127.0.0.1:{self.port}",
            MOCHA_WEB_WORKERS=str(self.workers),
            MOCHA_LOG_LEVEL="error",
            PYTHONUNBUFFERED="1",
        )
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "mocha_site.asgi:application",
                "-c",
                str(base / "gunicorn.conf.py"),
            ],
            cwd=base,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sys.stderr,
            start_new_session=True,
        )
        self.wait_ready()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def wait_ready(self) -> None:
        """Poll until the worker answers HTTP; fail if gunicorn died or never answered."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with code {self.proc.returncode}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/api/guilds")
                conn.getresponse().read()
                conn.close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not answer within {READY_TIMEOUT_S:.0f} s")

    def worker_pids(self) -> list[int]:
        """The worker processes (children of the gunicorn master)."""
        try:
            return [p.pid for p in psutil.Process(self.proc.pid).children()]
        except psutil.NoSuchProcess:
            return []

    def worker_memory_mb(self) -> dict[str, float | None]:
        """Memory of the (largest) worker in MiB: resident set, and its anonymous part.

        RSS also counts file pages the worker maps (SQLite's mmap of the database,
        shared libraries): page cache the kernel can drop, shared with other
        processes. "anon" (RSS − shared) is the worker's own heap.
        """
        best = None
        for pid in self.worker_pids():
            try:
                info = psutil.Process(pid).memory_info()
            except psutil.NoSuchProcess:
                continue
            if best is None or info.rss > best.rss:
                best = info
        if best is None:
            return {"rss": None, "anon": None}
        return {
            "rss": round(best.rss / 2**20, 1),
            "anon": round((best.rss - best.shared) / 2**20, 1),
        }

    def stop(self) -> None:
        """SIGTERM the master (it stops its worker), SIGKILL the group if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, 9)
            self.proc.wait()
