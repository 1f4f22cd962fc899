"""Websocket consumers: visibility (4403), the tick's shape, feed and leaderboard pushes, the
health stream."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest
from asgiref.sync import sync_to_async
from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.db import connections

from stats import consumers, live, rollups
from stats.models import Channel, Guild, Member, RecentEvent, hour_of
from stats.routing import websocket_urlpatterns
from tests.rows import create_hourly

PUBLIC, PRIVATE = 8001, 8002
app = AuthMiddlewareStack(URLRouter(websocket_urlpatterns))


@pytest.fixture
def hub(monkeypatch, transactional_db) -> live.LiveHub:
    """A fresh hub per test, polling fast so tests take fractions of a second."""
    fresh = live.LiveHub()
    # Connections opened in asgiref's worker threads close after each call, so none outlives the
    # test (PostgreSQL refuses to drop a test database that still has sessions).
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    monkeypatch.setattr(consumers, "hub", fresh)
    monkeypatch.setattr(live, "POLL_S", 0.1)
    monkeypatch.setattr(live, "LEADERBOARD_EVERY_S", 0.0)
    return fresh


@pytest.fixture
def guilds(transactional_db) -> None:
    g = Guild.objects.create(id=PUBLIC, name="Open", visibility="public")
    Guild.objects.create(id=PRIVATE, name="Closed", visibility="private")
    Channel.objects.create(id=31, guild=g, name="general")
    Member.objects.create(guild=g, user_id=501, username="alice", nick="Alice")
    Member.objects.create(guild=g, user_id=502, username="bob")


def run(coro):
    """Run a scenario in its own event loop."""

    async def then_close():
        try:
            return await asyncio.wait_for(coro, 40)
        finally:
            # The ORM ran in asgiref's worker thread; close its connection so the test database can
            # be dropped.
            await sync_to_async(connections.close_all)()

    return asyncio.run(then_close())


async def connect(path: str, user=None) -> tuple[WebsocketCommunicator, bool]:
    comm = WebsocketCommunicator(app, path)
    comm.scope["user"] = user or AnonymousUser()
    connected, _ = await comm.connect()
    return comm, connected


async def receive_until(comm: WebsocketCommunicator, predicate, wait_s: float = 10.0) -> dict:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        msg = json.loads(await comm.receive_from(timeout=max(0.1, deadline - loop.time())))
        if predicate(msg):
            return msg


async def in_thread(fn, *args):
    """Write from a plain thread, as the collector would; its connection closes when done."""

    def call():
        try:
            return fn(*args)
        finally:
            connections.close_all()

    return await asyncio.to_thread(call)


def add_event(kind: str = "message", user_id: int = 501, channel_id: int | None = 31) -> None:
    add_events((kind, user_id, channel_id))


def add_events(*events: tuple[str, int, int | None]) -> None:
    """Insert in one statement, as the collector's flush does, so a poll sees all or none."""
    now = datetime.now(UTC)
    RecentEvent.objects.bulk_create(
        [
            RecentEvent(guild_id=PUBLIC, kind=k, channel_id=c, user_id=u, at=now)
            for k, u, c in events
        ]
    )


@pytest.mark.parametrize("gid", [PRIVATE, 999999, 2**64 - 1])
def test_private_or_unknown_guild_socket_is_closed_with_4403(hub, guilds, gid):
    async def scenario():
        comm, connected = await connect(f"/ws/guilds/{gid}/live/")
        assert connected  # accepted first, so that the close can carry the code
        assert await comm.receive_output(timeout=2) == {"type": "websocket.close", "code": 4403}

    run(scenario())
    assert not hub.watchers


def test_staff_may_watch_a_private_guild(hub, guilds, django_user_model):
    staff = django_user_model.objects.create_user("staff", password="x", is_staff=True)

    async def scenario():
        comm, _ = await connect(f"/ws/guilds/{PRIVATE}/live/", user=staff)
        first = json.loads(await comm.receive_from(timeout=2))
        assert first["type"] == "tick"
        await comm.disconnect()

    run(scenario())


@pytest.mark.parametrize("who", ["stranger", "viewer", "viewer of another guild"])
def test_a_signed_in_user_watches_a_private_guild_only_when_granted(
    hub, guilds, django_user_model, who
):
    user = django_user_model.objects.create_user(who, password="x")  # signed in, not staff
    other = Guild.objects.create(id=8003, name="Elsewhere", visibility="private")
    if who == "viewer":
        Guild.objects.get(pk=PRIVATE).viewers.add(user)
    elif who == "viewer of another guild":
        other.viewers.add(user)

    async def scenario():
        comm, connected = await connect(f"/ws/guilds/{PRIVATE}/live/", user=user)
        assert connected
        if who == "viewer":
            assert json.loads(await comm.receive_from(timeout=5))["type"] == "tick"
            await comm.disconnect()
        else:
            assert await comm.receive_output(timeout=5) == {"type": "websocket.close", "code": 4403}

    run(scenario())
    assert not hub.watchers


def test_tick_shape_and_new_events_arrive_in_the_feed(hub, guilds):
    add_event(user_id=502)  # history: shown in the first tick

    async def scenario():
        comm, _ = await connect(f"/ws/guilds/{PUBLIC}/live/")
        hello = json.loads(await comm.receive_from(timeout=2))
        assert set(hello) >= {"type", "t", "rates", "feed"}
        assert set(hello["rates"]) == {"messages", "voice_joins", "member_joins"}
        assert [(f["name"], f["channel"]) for f in hello["feed"]] == [("bob", "general")]
        await asyncio.sleep(0.3)  # the poller has started from the current last id
        await in_thread(add_events, ("message", 501, 31), ("member_join", 501, None))
        tick = await receive_until(comm, lambda m: m["type"] == "tick" and m["feed"])
        assert [
            (f["kind"], f["user_id"], f["name"], f["channel_id"], f["channel"])
            for f in tick["feed"]
        ] == [
            ("message", "501", "Alice", "31", "general"),
            ("member_join", "501", "Alice", None, None),
        ]
        assert tick["rates"]["messages"] > 0 and tick["rates"]["member_joins"] > 0
        quiet = await receive_until(
            comm, lambda m: m["type"] == "tick"
        )  # ticks go on without traffic
        assert quiet["feed"] == []
        await comm.disconnect()

    run(scenario())
    assert not hub.watchers  # the last socket leaving drops the guild


def test_two_sockets_get_each_event_once(hub, guilds):
    async def scenario():
        a, _ = await connect(f"/ws/guilds/{PUBLIC}/live/")
        b, _ = await connect(f"/ws/guilds/{PUBLIC}/live/")
        for comm in (a, b):
            await comm.receive_from(timeout=2)
        await asyncio.sleep(0.3)
        await in_thread(add_event)
        for comm in (a, b):
            await receive_until(comm, lambda m: m["type"] == "tick" and m["feed"])
            later = [json.loads(await comm.receive_from(timeout=2)) for _ in range(3)]
            assert all(m["feed"] == [] for m in later if m["type"] == "tick")
        await a.disconnect()
        await b.disconnect()

    run(scenario())


def test_leaderboard_is_pushed_when_the_top_ten_changes(hub, guilds):
    def score(user_id: int, messages: int) -> None:
        create_hourly(
            guild_id=PUBLIC,
            hour=hour_of(datetime.now(UTC)),
            channel_id=31,
            user_id=user_id,
            messages=messages,
        )
        rollups.rebuild(PUBLIC)  # as the collector's flush would have
        from stats.cache import bump_versions

        bump_versions([PUBLIC])
        add_event(user_id=user_id)

    async def scenario():
        comm, _ = await connect(f"/ws/guilds/{PUBLIC}/live/")
        await comm.receive_from(timeout=2)
        await asyncio.sleep(0.3)
        await in_thread(score, 501, 5)
        board = await receive_until(
            comm, lambda m: m["type"] == "leaderboard" and m["metric"] == "messages"
        )
        assert [(e["user_id"], e["value"]) for e in board["entries"]] == [("501", 5)]
        await in_thread(score, 502, 9)
        board = await receive_until(
            comm, lambda m: m["type"] == "leaderboard" and m["metric"] == "messages"
        )
        assert [(e["name"], e["value"]) for e in board["entries"]] == [("bob", 9), ("Alice", 5)]
        await comm.disconnect()

    run(scenario())


def test_health_socket_streams_the_metrics_document_with_panels(hub, guilds, django_user_model):
    staff = django_user_model.objects.create_user("staff", password="x", is_staff=True)

    async def scenario():
        comm, _ = await connect("/ws/health/", user=staff)
        first = json.loads(await comm.receive_from(timeout=5))
        second = json.loads(await comm.receive_from(timeout=5))
        await comm.disconnect()
        return first, second

    first, second = run(scenario())
    assert {"events_per_sec", "memory", "cache", "collector", "db", "uptime_s"} <= set(first)
    assert [p["title"] for p in first["panels"]] == ["Memory", "Cache", "Collector", "Database"]
    assert second["uptime_s"] >= first["uptime_s"]
    assert hub.health_watchers == 0


def test_a_tick_reaches_fifty_sockets_encoded_once(hub, guilds, monkeypatch):
    encodes = []
    real_encode = live.frames.encode

    def counting_encode(model, **fields):
        encodes.append(model.__name__)
        return real_encode(model, **fields)

    async def scenario():
        comms = [(await connect(f"/ws/guilds/{PUBLIC}/live/"))[0] for _ in range(50)]
        for comm in comms:
            assert json.loads(await comm.receive_from(timeout=5))["type"] == "tick"  # the hello
        hub.task.cancel()  # drive one poll by hand, so exactly one tick is in flight
        await asyncio.sleep(0.2)  # frames of the poller's last ticks still being written
        for comm in comms:
            while not await comm.receive_nothing(timeout=0):
                await comm.receive_output()
        monkeypatch.setattr(live.frames, "encode", counting_encode)
        await hub.poll()
        monkeypatch.setattr(live.frames, "encode", real_encode)
        frames = [await comm.receive_output(timeout=5) for comm in comms]
        for comm in comms:
            await comm.disconnect()
        return frames

    frames = run(scenario())
    assert encodes == ["Tick"]
    assert all(
        f["type"] == "websocket.send" and json.loads(f["text"])["type"] == "tick" for f in frames
    )
    assert all(
        f["text"] is frames[0]["text"] for f in frames
    )  # the very same string, not 50 encodes
    assert not hub.watchers
