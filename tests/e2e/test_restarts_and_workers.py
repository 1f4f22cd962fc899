"""Serving faults and scale-out: a restarted web server, and two workers delivering the same live
events."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from datetime import UTC, datetime

import pytest
from django.db import connection
from websockets.sync.client import connect

from mocha_site.loopback import free_port
from stats.models import RecentEvent
from tests.e2e.conftest import DEMO_GID, start_gunicorn, stop, wait_listening

pytestmark = [pytest.mark.slow]


def gunicorn(env: dict, port: int, workers: int = 1) -> subprocess.Popen:
    proc = start_gunicorn(env, port, workers)
    wait_listening(port, proc)
    return proc


def insert_events(user_id: int, n: int = 3) -> None:
    now = datetime.now(UTC)
    RecentEvent.objects.bulk_create(
        [
            RecentEvent(guild_id=DEMO_GID, kind="message", channel_id=52, user_id=user_id, at=now)
            for _ in range(n)
        ]
    )


@pytest.mark.browser
def test_browsers_reconnect_by_themselves_after_the_web_server_restarts(e2e_env, page, demo_guild):
    port = free_port()
    web = gunicorn(e2e_env, port)
    try:
        page.goto(f"http://127.0.0.1:{port}/guilds/{DEMO_GID}/")
        connected = (
            '[data-role="live-status"]:is(.on, .warn)'  # warn: live, but no collector in this test
        )
        page.wait_for_selector(connected, timeout=15_000)
        stop(web)
        page.wait_for_selector(
            '[data-role="live-status"].off', timeout=15_000
        )  # "reconnecting in …"
        web = gunicorn(e2e_env, port)
        page.wait_for_selector(
            connected, timeout=30_000
        )  # no reload: the page reconnected by itself
        insert_events(603)  # Carol
        page.wait_for_selector('[data-role="feed"] li >> text=Carol', timeout=15_000)
        assert page.errors == [] or all(
            "WebSocket" in e or "ERR_CONNECTION" in e for e in page.errors
        )
    finally:
        stop(web)


def receive_feed(port: int, out: list, ready: threading.Barrier, done: threading.Event) -> None:
    """One websocket client: collects the user ids of feed items until told to stop.

    Like the page, it drops an item it already has (same event id): a socket's first tick and
    the worker's next poll may both carry an event inserted while the socket was connecting.
    """
    seen: set[int] = set()
    url = f"ws://127.0.0.1:{port}/ws/guilds/{DEMO_GID}/live/"
    with connect(url, origin=f"http://127.0.0.1:{port}", open_timeout=15) as ws:
        ready.wait(30)
        while not done.is_set():
            try:
                msg = json.loads(ws.recv(timeout=0.5))
            except TimeoutError:
                continue
            if msg.get("type") == "tick":
                for item in msg["feed"]:
                    if item["id"] not in seen:
                        seen.add(item["id"])
                        out.append(item["user_id"])


def test_every_worker_delivers_the_same_live_events(e2e_env, demo_guild):
    """Two web workers (here two single-worker servers on one database and cache, so that which
    worker holds which socket is certain rather than up to the kernel's accept order), four sockets
    each."""
    ports = [free_port(), free_port()]
    webs = [gunicorn(e2e_env, port) for port in ports]
    results = [[] for _ in range(8)]
    ready, done = threading.Barrier(len(results) + 1), threading.Event()
    threads = [
        threading.Thread(target=receive_feed, args=(ports[i % 2], results[i], ready, done))
        for i in range(len(results))
    ]
    try:
        for t in threads:
            t.start()
        ready.wait(30)
        insert_events(601, 2)
        insert_events(602, 2)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not all({"601", "602"} <= set(r) for r in results):
            time.sleep(0.2)
    finally:
        done.set()
        for t in threads:
            t.join(10)
        for web in webs:
            stop(web)
        connection.close()
    for got in results:  # every socket, whichever worker holds it, saw each new event exactly once
        assert sorted(got) == ["601", "601", "602", "602"], results
