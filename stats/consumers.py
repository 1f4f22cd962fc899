"""Websocket consumers: they check visibility and register an outbox with the hub; no logic here."""
from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from stats.access import can_view
from stats.live import Outbox, hub

REFUSED = 4403  # CONTRACT section 6: a socket the viewer may not open


class PassThroughConsumer(AsyncWebsocketConsumer):
    """Server-to-browser only: the hub writes its pre-encoded frames (one encode per tick) into our outbox."""

    # No channel layer: the hub reaches this worker's sockets directly (stats/live.py), so a socket
    # needs no layer channel, and no layer message (with its per-message thread hop) per frame.
    channel_layer_alias = None
    outbox: Outbox | None = None

    async def dispatch(self, message: dict) -> None:
        # Channels runs its database clean-up on the single sync thread before every handler;
        # frames from the browser are ignored and touch no database, so skip that hop for them.
        if message["type"] == "websocket.receive":
            return
        await super().dispatch(message)

    async def push(self, text: str) -> None:
        await self.send(text_data=text)


class GuildLiveConsumer(PassThroughConsumer):
    """/ws/guilds/<gid>/live/: ticks with rates and feed, leaderboard changes."""

    guild_id: int | None = None

    async def connect(self) -> None:
        # Accept first: a close before accept cannot carry the 4403 code.
        await self.accept()
        guild_id = int(self.scope["url_route"]["kwargs"]["gid"])
        if not await database_sync_to_async(can_view)(self.scope.get("user"), guild_id):
            await self.close(code=REFUSED)
            return
        self.guild_id, self.outbox = guild_id, Outbox(self.push)
        hub.watch(guild_id, self.outbox)  # held: ticks from now on queue behind the hello
        self.outbox.open(await hub.hello(guild_id))

    async def disconnect(self, code: int) -> None:
        if self.guild_id is not None:
            hub.unwatch(self.guild_id, self.outbox)
            self.guild_id = None


class HealthConsumer(PassThroughConsumer):
    """/ws/health/: the /metrics document plus rendered panels, once a second."""

    async def connect(self) -> None:
        await self.accept()
        self.outbox = Outbox(self.push)
        hub.watch_health(self.outbox)
        self.outbox.open()

    async def disconnect(self, code: int) -> None:
        if self.outbox is not None:
            hub.unwatch_health(self.outbox)
            self.outbox = None
