"""`manage.py run` (what `make run` calls): migrate, admin on first run, static files, then
supervise the processes.

Demo mode (no DISCORD_TOKEN): simulator + collector pointed at it + web, and the simulator's 30 days
of history imported by `backfill` once the collector has seen the demo guild (with progress).
With DISCORD_TOKEN: collector + web. Ctrl-C / SIGTERM stops the children in
order (web, collector, simulator) with SIGTERM and waits, so the collector
flushes every counted event; then exits 0.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from cachalot.api import cachalot_disabled
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command

from mocha.management.base import MochaCommand
from mocha_site.loopback import free_port
from stats.models import Guild

ROOT = Path(settings.BASE_DIR)
STOP_TIMEOUT_S = 20
DEMO_DAYS = 30


def port_free(host: str, port: int) -> bool:
    """Whether gunicorn could bind there (SO_REUSEADDR like gunicorn, so TIME_WAIT leftovers don't
    count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def wait_for_port(host: str, port: int, timeout: float, alive) -> bool:
    """True once something listens on host:port; False on timeout or when alive() says the process
    died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def ensure_admin() -> str | None:
    """Create the `admin` superuser with a generated password when the database has no account at
    all.

    Returns the password only then. The database itself is the record: a fresh or deleted
    database gets a new admin, while one whose accounts were managed by hand is left alone.
    """
    User = get_user_model()
    if User.objects.exists():
        return None
    password = secrets.token_urlsafe(12)
    User.objects.create_superuser("admin", "", password)
    return password


def demo_guild_seen() -> bool:
    """The collector created the demo guild (public in the demo): time to import its history."""
    with cachalot_disabled():  # written by another process
        return Guild.objects.exists()


class Supervisor:
    """A thin list of child processes, each in its own session so a terminal's Ctrl-C reaches only
    us."""

    def __init__(self, out) -> None:
        self.out = out
        self.children: list[tuple[str, subprocess.Popen]] = []
        self.finite: set[str] = set()  # children that may finish (with exit code 0)

    def start(
        self, name: str, args: list[str], env: dict, finite: bool = False
    ) -> subprocess.Popen:
        proc = subprocess.Popen(args, env=env, cwd=ROOT, start_new_session=True)
        self.children.append((name, proc))
        if finite:
            self.finite.add(name)
        return proc

    def dead(self) -> str | None:
        ended = [(name, p) for name, p in self.children if p.poll() is not None]
        return next(
            (name for name, p in ended if not (name in self.finite and p.returncode == 0)), None
        )

    def stop(self) -> None:
        """SIGTERM each child in start-reverse order and wait for it (the collector flushes on
        SIGTERM)."""
        for name, proc in reversed(self.children):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    self.out.write(f"{name} did not stop in {STOP_TIMEOUT_S} s; killing it")
                    proc.kill()
                    proc.wait()


class Command(MochaCommand):
    help = (
        "Run Mocha: web server and collector "
        "(plus the simulator in demo mode, without DISCORD_TOKEN)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--workers", type=int, default=None, help="web workers (default: gunicorn.conf.py)"
        )

    def handle(self, *args, host: str, port: int, workers: int | None, **options) -> None:
        if not 0 < port < 65536:
            raise self.fail(f"--port must be 1–65535, not {port}")
        if not port_free(host, port):
            raise self.fail(f"{host}:{port} is already in use (choose another with --port)")
        call_command("migrate", interactive=False, verbosity=0)
        password = ensure_admin()
        call_command("collectstatic", interactive=False, verbosity=0)

        stopping = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda signum, frame: stopping.append(signum))
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        manage = [sys.executable, str(ROOT / "manage.py")]
        sup = Supervisor(self.stdout)
        try:
            demo = not settings.DISCORD_TOKEN
            if demo:
                sim_port = free_port()
                # The loopback simulator accepts any token; the collector just needs one to log in
                # with.
                token = "demo-" + secrets.token_urlsafe(12)
                sim_args = [
                    "simulate",
                    "--port",
                    str(sim_port),
                    "--backfill-days",
                    str(DEMO_DAYS),
                    "--rate",
                    "20",
                    "-v",
                    "0",
                ]
                sim = sup.start("simulator", manage + sim_args, env)
                if not wait_for_port("127.0.0.1", sim_port, 60, lambda: sim.poll() is None):
                    raise self.fail("the simulator did not start")
                api_base = f"http://127.0.0.1:{sim_port}/api/v10"
                collector_env = {**env, "DISCORD_API_BASE": api_base, "DISCORD_TOKEN": token}
                # "Sign in with Discord" against the simulator, which accepts any client id and
                # secret.
                env = {
                    **env,
                    "DISCORD_API_BASE": api_base,
                    "DISCORD_CLIENT_ID": env.get("DISCORD_CLIENT_ID") or "mocha-demo",
                    "DISCORD_CLIENT_SECRET": env.get("DISCORD_CLIENT_SECRET")
                    or secrets.token_urlsafe(16),
                }
            else:
                collector_env = env
            # The web server has no DISCORD_TOKEN in demo mode: it says "demo".
            sup.start(
                "collector", manage + ["collect"] + (["--public"] if demo else []), collector_env
            )
            web_args = [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                str(ROOT / "gunicorn.conf.py"),
                "--bind",
                f"{host}:{port}",
            ]
            web = sup.start("web", web_args + (["--workers", str(workers)] if workers else []), env)
            if not wait_for_port(host, port, 30, lambda: web.poll() is None):
                raise self.fail(f"the web server did not start on {host}:{port}")
            self.announce(host, port, demo, password)
            importing = demo
            while not stopping:
                if importing and demo_guild_seen():
                    importing = False
                    backfill = ["backfill", "--days", str(DEMO_DAYS)]
                    sup.start("history import", manage + backfill, collector_env, finite=True)
                dead = sup.dead()
                if dead:
                    raise self.fail(f"{dead} exited unexpectedly; stopping")
                time.sleep(0.5)
            self.stdout.write("Stopping…")
        finally:
            sup.stop()
        self.stdout.write("Stopped.")

    def announce(self, host: str, port: int, demo: bool, password: str | None) -> None:
        self.stdout.write(self.style.SUCCESS(f"Mocha is running on http://{host}:{port}/"))
        self.stdout.write(
            "Demo mode: a simulated guild with live traffic." if demo else "Connected to Discord."
        )
        if password:
            self.stdout.write(f"Admin sign-in (shown once): user admin, password {password}")
        self.stdout.write("Press Ctrl-C to stop.")
