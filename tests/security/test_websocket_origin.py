"""The ASGI application refuses websockets from foreign origins (cross-site websocket hijacking)."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections

from stats.models import Guild

pytestmark = pytest.mark.django_db(transaction=True)


def handshake(path: str, origin: bytes | None) -> bool:
    """Whether mocha_site.asgi.application accepts a socket on `path` sent from `origin`."""
    from mocha_site.asgi import application

    headers = [(b"host", b"127.0.0.1:8000")] + ([(b"origin", origin)] if origin is not None else [])

    async def scenario() -> bool:
        comm = WebsocketCommunicator(application, path, headers=headers)
        try:
            connected, _ = await comm.connect(timeout=5)
            return connected
        finally:
            await comm.disconnect()
            # The consumers' ORM calls ran in asgiref's thread: close its connection (PostgreSQL
            # drop).
            await sync_to_async(connections.close_all)()

    return asyncio.run(scenario())


@pytest.fixture(autouse=True)
def fresh_hub(monkeypatch):
    """A hub of this test's own, so no poller outlives the test's event loop."""
    from stats import consumers, live

    monkeypatch.setattr(consumers, "hub", live.LiveHub())


@pytest.fixture
def public_guild(transactional_db) -> int:
    return Guild.objects.create(id=6160, name="Open", visibility="public").pk


@pytest.mark.parametrize("path", ["/ws/health/", "/ws/guilds/6160/live/"])
@pytest.mark.parametrize(
    "origin", [b"http://evil.example", b"https://127.0.0.1.evil.example", b"null"]
)
def test_a_foreign_origin_is_refused(public_guild, path, origin):
    assert handshake(path, origin) is False


@pytest.mark.parametrize("path", ["/ws/health/", "/ws/guilds/6160/live/"])
def test_the_site_own_origin_is_accepted(public_guild, path):
    """The control: the same handshake from the site's own origin connects."""
    assert handshake(path, b"http://127.0.0.1:8000") is True
