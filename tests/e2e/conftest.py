"""Browser end-to-end fixtures: a real gunicorn + uvicorn server on a free port, Debian's Chromium
via Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mocha_site.loopback import free_port
from stats import rollups
from stats.models import Channel, Guild, Member, hour_of
from tests.rows import add_hourly, hourly

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
DEMO_GID, PRIVATE_GID = 424242, 434343
CHANNELS = {51: "general", 52: "memes", 53: "Lounge"}
MEMBERS = {601: "Alice", 602: "Bob", 603: "Carol", 604: "Dan"}


def wait_listening(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def e2e_env(subprocess_env, monkeypatch) -> dict:
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are still
    # plain sync code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    return {
        **subprocess_env,
        "DJANGO_SETTINGS_MODULE": "tests.e2e.settings",
        "MOCHA_LOG_LEVEL": "warning",
    }


def start_gunicorn(env: dict, port: int, workers: int = 1) -> subprocess.Popen:
    """gunicorn with the project's config (uvicorn worker) on `port`; not waited for."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            str(ROOT / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
        ],
        cwd=ROOT,
        env=env,
    )


@contextmanager
def gunicorn_server(env: dict, workers: int = 1) -> Iterator[str]:
    """gunicorn with the project's config (uvicorn worker) on a free port; yields its base URL."""
    port = free_port()
    proc = start_gunicorn(env, port, workers)
    try:
        wait_listening(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


@pytest.fixture
def server(e2e_env) -> str:
    """One worker under the browser tests' settings."""
    with gunicorn_server(e2e_env) as url:
        yield url


@pytest.fixture(scope="module")
def chromium():
    """One browser per module: Playwright's sync API keeps an event loop in this thread while it
    runs, which Django's async-safety check would hold against every ORM call of the tests that
    follow."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: run `make browser` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, e2e_env):
    """A fresh page that records console errors and uncaught exceptions in page.errors."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.errors = []
    pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    yield pg
    context.close()


@pytest.fixture
def demo_guild(transactional_db) -> Guild:
    """A public guild with two weeks of rollups, so every chart has something to draw, and a
    private one."""
    guild = Guild.objects.create(
        id=DEMO_GID, name="Espresso Lounge", visibility="public", member_count=1480
    )
    Guild.objects.create(
        id=PRIVATE_GID, name="Private Roastery", visibility="private", member_count=12
    )
    Channel.objects.bulk_create(
        [
            Channel(id=cid, guild=guild, name=name, type=2 if cid == 53 else 0)
            for cid, name in CHANNELS.items()
        ]
    )
    Member.objects.bulk_create(
        [
            Member(guild=guild, user_id=uid, username=name.lower(), nick=name)
            for uid, name in MEMBERS.items()
        ]
    )
    now = hour_of(datetime.now(UTC))
    rows = []
    for back in range(14 * 24):
        hour = now - back
        busy = 1 + (hour % 24 in range(17, 23)) * 3
        for i, uid in enumerate(MEMBERS):
            if (hour + i) % 3:
                rows.append(
                    hourly(
                        guild_id=DEMO_GID,
                        hour=hour,
                        channel_id=51 + (hour + i) % 2,
                        user_id=uid,
                        messages=busy * (4 - i),
                    )
                )
        if hour % 5 == 0:
            rows.append(
                hourly(guild_id=DEMO_GID, hour=hour, channel_id=53, user_id=602, voice_seconds=2400)
            )
    add_hourly(rows)
    rollups.rebuild(DEMO_GID)  # the coarser rollups the collector's flush would have written
    return guild


def artifact(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name


def publish_screenshot(src: Path, name: str) -> None:
    """Refresh the README's screenshot when asked (MOCHA_UPDATE_SCREENSHOT=1), never by default."""
    if os.environ.get("MOCHA_UPDATE_SCREENSHOT") == "1":
        shutil.copy(src, ROOT / "docs" / name)
