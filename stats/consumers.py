"""Websocket consumers: they check visibility, join the hub's groups and pass frames through; no logic here."""
from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from stats.live import hub
from stats.models import Guild

REFUSED = 4403  # CONTRACT section 6: a socket the viewer may not open
MAX_SNOWFLAKE = 2**63 - 1


def can_view(user, guild_id: int) -> bool:
    """The pages' rule: public guilds, granted private ones, all for staff; unknown guilds are refused."""
    return guild_id <= MAX_SNOWFLAKE and Guild.objects.visible_to(user).filter(pk=guild_id).exists()


class PassThroughConsumer(AsyncWebsocketConsumer):
    """Relays the hub's pre-encoded frames (encoded once per guild, not once per socket)."""

    async def live_message(self, event: dict) -> None:
        await self.send(text_data=event["text"])

    async def receive(self, text_data=None, bytes_data=None) -> None:
        """Clients have nothing to say; ignore anything they send."""


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
        self.guild_id = guild_id
        await hub.watch(guild_id, self.channel_name)
        await self.send(text_data=await hub.hello(guild_id))

    async def disconnect(self, code: int) -> None:
        if self.guild_id is not None:
            await hub.unwatch(self.guild_id, self.channel_name)
            self.guild_id = None


class HealthConsumer(PassThroughConsumer):
    """/ws/health/: the /metrics document plus rendered panels, once a second."""

    watching = False

    async def connect(self) -> None:
        await self.accept()
        await hub.watch_health(self.channel_name)
        self.watching = True

    async def disconnect(self, code: int) -> None:
        if self.watching:
            await hub.unwatch_health(self.channel_name)
            self.watching = False
