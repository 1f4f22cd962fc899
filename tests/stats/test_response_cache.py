"""Whole responses of public guilds served before Django (stats.response_cache), through the real
ASGI application: what may be answered without Django, and everything that must not be."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from asgiref.sync import sync_to_async
from channels.testing import HttpCommunicator
from django.core.asgi import get_asgi_application
from django.db import connections
from django.test import override_settings
from django.utils import timezone

from stats import rollups
from stats.cache import bump_versions
from stats.models import Channel, Guild, hour_of
from stats.response_cache import ServeResponses
from tests.rows import create_hourly

PUBLIC, PRIVATE = 8101, 8102
HOST = [(b"host", b"127.0.0.1")]


class CountingDjango:
    """Django's ASGI application, counting the requests that reach it."""

    def __init__(self) -> None:
        self.django = get_asgi_application()
        self.calls = 0

    async def __call__(self, scope, receive, send):
        self.calls += 1
        await self.django(scope, receive, send)


@pytest.fixture
def app(monkeypatch, transactional_db) -> ServeResponses:
    # Django runs each request's ORM work in asgiref's thread: close those connections after each
    # call so the test database can be dropped.
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    public = Guild.objects.create(id=PUBLIC, name="Open", visibility="public")
    Guild.objects.create(id=PRIVATE, name="Closed", visibility="private")
    Channel.objects.create(id=31, guild=public, name="general")
    return ServeResponses(CountingDjango())


def get(app, path: str, headers=HOST, client=("127.0.0.1", 5000)) -> tuple[int, dict, bytes]:
    async def go():
        comm = HttpCommunicator(app, "GET", path, headers=headers)
        comm.scope["client"] = client
        try:
            response = await comm.get_response(timeout=20)
        finally:
            await sync_to_async(connections.close_all)()
        return response

    r = asyncio.run(go())
    return r["status"], dict(r["headers"]), r["body"]


def messages(body: bytes) -> int:
    return orjson.loads(body)["totals"]["messages"]


def add_messages(n: int) -> None:
    """What a flush writes: the hourly row and the guild's rollups."""
    create_hourly(
        guild_id=PUBLIC, hour=hour_of(timezone.now()), channel_id=31, user_id=7, messages=n
    )
    rollups.rebuild(PUBLIC)


STATS = f"/api/guilds/{PUBLIC}/stats?days=7"


def test_a_repeated_anonymous_request_is_answered_without_django(app):
    first = get(app, STATS)
    assert app.app.calls == 1
    second = get(app, STATS)
    assert app.app.calls == 1
    assert second == first  # status, every header (security headers included) and body
    assert first[0] == 200 and b"Content-Security-Policy" in first[1]


def test_a_flush_makes_the_kept_response_stale(app):
    assert messages(get(app, STATS)[2]) == 0
    add_messages(5)
    bump_versions([PUBLIC])  # what the collector does after each flush
    assert messages(get(app, STATS)[2]) == 5
    assert app.app.calls == 2


def test_a_guild_made_private_is_no_longer_served(app):
    assert get(app, STATS)[0] == 200
    Guild.objects.filter(id=PUBLIC).update(visibility="private")
    assert get(app, STATS)[0] == 404


def test_signed_in_viewers_and_private_guilds_always_reach_django(app):
    signed_in = [
        [*HOST, (b"cookie", b"theme=dark; sessionid=abc")],
        [*HOST, (b"cookie", b'theme="dark; sessionid=abc')],  # malformed, as Django reads it
        [*HOST, (b"cookie", b"theme=dark"), (b"cookie", b"sessionid=abc")],
    ]
    for _ in range(2):
        for headers in signed_in:
            get(app, STATS, headers=headers)
        get(app, f"/api/guilds/{PRIVATE}/stats")
    assert app.app.calls == 8


def test_host_and_query_are_part_of_the_key(app):
    get(app, STATS)
    assert get(app, STATS, headers=[(b"host", b"evil.example")])[0] == 400  # Django's answer
    get(app, STATS + "&interval=hour")
    assert app.app.calls == 3


@override_settings(MOCHA_API_RATE=0.001, MOCHA_API_BURST=3, MOCHA_API_RATE_EXEMPT=frozenset())
def test_kept_answers_are_charged_and_an_empty_bucket_gets_django_429(app):
    client = ("203.0.113.9", 5000)
    statuses = [get(app, STATS, client=client)[0] for _ in range(8)]
    # 3 tokens: the computed answer costs 1 (and a little for its size), each kept one 0.2 while
    # a whole request's worth (1.0) is left: five of them; then Django's throttle refuses.
    assert statuses == [200] * 6 + [429] * 2
    assert app.app.calls == 3


def test_the_guild_list_is_kept_until_the_guild_table_changes(app):
    names = [g["name"] for g in orjson.loads(get(app, "/api/guilds")[2])["guilds"]]
    assert names == ["Open"]
    get(app, "/api/guilds")
    assert app.app.calls == 1
    Guild.objects.filter(id=PRIVATE).update(visibility="public")
    names = [g["name"] for g in orjson.loads(get(app, "/api/guilds")[2])["guilds"]]
    assert names == ["Closed", "Open"]


def test_concurrent_requests_for_a_stale_answer_enter_django_once(app):
    class SlowDjango(CountingDjango):
        async def __call__(self, scope, receive, send):
            await asyncio.sleep(0.3)  # a recomputation after a flush
            await super().__call__(scope, receive, send)

    get(app, STATS)  # kept once; then a flush makes it stale for every viewer at once
    add_messages(5)
    bump_versions([PUBLIC])
    app.app = SlowDjango()

    async def together():
        async def one():
            comm = HttpCommunicator(app, "GET", STATS, headers=HOST)
            comm.scope["client"] = ("127.0.0.1", 5000)
            return await comm.get_response(timeout=20)

        try:
            return await asyncio.gather(*(one() for _ in range(5)))
        finally:
            await sync_to_async(connections.close_all)()

    answers = asyncio.run(together())
    assert app.app.calls == 1
    assert [(a["status"], messages(a["body"])) for a in answers] == [(200, 5)] * 5
