"""Websocket consumers: they check access and register an outbox with the hub; no logic here."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from stats import operational
from stats.access import can_view
from stats.clients import scope_client
from stats.live import Outbox, hub

REFUSED = 4403  # a socket the viewer may not open, or may no longer keep open
TOO_MANY = 4429  # this client already holds MOCHA_WS_PER_CLIENT sockets on this worker


class PassThroughConsumer(AsyncWebsocketConsumer):
    """Server-to-browser only: the hub writes its pre-encoded frames (one encode per tick) into our
    outbox."""

    # No channel layer: the hub reaches this worker's sockets directly (stats/live.py), so a socket
    # needs no layer channel, and no layer message (with its per-message thread hop) per frame.
    channel_layer_alias = None
    outbox: Outbox | None = None
    client: str | None = None

    async def dispatch(self, message: dict) -> None:
        # Channels runs its database clean-up on the single sync thread before every handler;
        # frames from the browser are ignored and touch no database, so skip that hop for them.
        # (uvicorn refuses frames over WS_MAX_FRAME before they get here: mocha_site/workers.py.)
        if message["type"] == "websocket.receive":
            return
        await super().dispatch(message)

    async def push(self, text: str) -> None:
        await self.send(text_data=text)

    async def admit(self) -> bool:
        """Accept, then count the socket against its client; False (closed) over the cap."""
        # Accept first: a close before accept cannot carry a code.
        await self.accept()
        client = scope_client(self.scope)
        if (
            not client or client in settings.MOCHA_API_RATE_EXEMPT
        ):  # no address: a unix socket, a test
            return True
        if hub.clients[client] >= settings.MOCHA_WS_PER_CLIENT:
            await self.close(code=TOO_MANY)
            return False
        self.client = client
        hub.clients[client] += 1
        return True

    async def websocket_disconnect(self, message: dict) -> None:
        if self.client is not None:
            hub.clients[self.client] -= 1
            if hub.clients[self.client] <= 0:
                del hub.clients[self.client]
            self.client = None
        await super().websocket_disconnect(message)

    async def refuse(self) -> None:
        await self.close(code=REFUSED)


class GuildLiveConsumer(PassThroughConsumer):
    """/ws/guilds/<gid>/live/: ticks with rates and feed, leaderboard changes."""

    guild_id: int | None = None

    async def connect(self) -> None:
        if not await self.admit():
            return
        guild_id = int(self.scope["url_route"]["kwargs"]["gid"])
        if not await database_sync_to_async(can_view)(self.scope.get("user"), guild_id):
            await self.refuse()
            return
        session = self.scope.get("session")
        viewer = session.session_key if session is not None else None
        self.guild_id, self.outbox = guild_id, Outbox(self.push, viewer=viewer, revoke=self.refuse)
        hub.watch(guild_id, self.outbox)  # held: ticks from now on queue behind the hello
        self.outbox.open(await hub.hello(guild_id))

    async def disconnect(self, code: int) -> None:
        if self.guild_id is not None:
            hub.unwatch(self.guild_id, self.outbox)
            self.guild_id = None


class HealthConsumer(PassThroughConsumer):
    """/ws/health/: the /metrics document plus rendered panels, once a second; staff or token
    only."""

    async def connect(self) -> None:
        if not await self.admit():
            return
        if not operational.allowed(
            self.scope.get("user"), operational.scope_authorization(self.scope)
        ):
            await self.refuse()
            return
        self.outbox = Outbox(self.push)
        hub.watch_health(self.outbox)
        self.outbox.open()

    async def disconnect(self, code: int) -> None:
        if self.outbox is not None:
            hub.unwatch_health(self.outbox)
            self.outbox = None
