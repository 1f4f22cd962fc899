"""The discord.py side of the collector: a stock AutoShardedClient with a counting state.

discord.py builds its dispatch table from the state's `parse_*` methods, so a
subclass can hand raw payloads to the aggregator. MESSAGE_CREATE skips
discord.py's Message objects and message cache entirely: that is most of the
per-event cost of a stock client, and Mocha needs none of it.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord
from discord.state import AutoShardedConnectionState, ConnectionState

if TYPE_CHECKING:
    from collector.service import Collector

log = logging.getLogger("mocha.collector")

INTENTS = discord.Intents.none()
INTENTS.guilds = True
INTENTS.guild_messages = True
INTENTS.voice_states = True
INTENTS.members = True


class CountingMixin:
    """Feeds every payload Mocha counts to the collector before (or instead of) discord.py's caches."""

    collector: "Collector"

    def _also_discord(self, parse, data: dict) -> None:
        """Let discord.py update its own caches; a payload it cannot parse must not stop counting."""
        try:
            parse(data)
        except Exception as exc:
            self.collector.errors += 1
            log.warning("discord.py could not parse a payload (%s: %s); counting goes on", type(exc).__name__, exc)

    def _count(self, count, *args) -> None:
        """Count a payload; a malformed one is logged and skipped, never allowed to stop the collector."""
        try:
            count(*args)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self.collector.errors += 1
            log.warning("skipped a malformed payload (%s: %s)", type(exc).__name__, exc)

    def parse_message_create(self, data: dict) -> None:
        self.collector.received += 1
        try:
            self.collector.agg.message(data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self.collector.errors += 1
            log.warning("skipped a malformed MESSAGE_CREATE (%s: %s)", type(exc).__name__, exc)

    def parse_voice_state_update(self, data: dict) -> None:
        self.collector.on_payload()
        self._count(self.collector.agg.voice_state, data, self.collector.now())

    def parse_guild_member_add(self, data: dict) -> None:
        self.collector.on_payload()
        self._count(self.collector.agg.member_add, data, self.collector.now())

    def parse_guild_member_remove(self, data: dict) -> None:
        self.collector.on_payload()
        self._count(self.collector.agg.member_remove, data, self.collector.now())

    def parse_guild_member_update(self, data: dict) -> None:
        self._count(self.collector.agg.member_update, data)

    def parse_guild_create(self, data: dict) -> None:
        self._count(self.collector.agg.guild_create, data, self.collector.now())
        self._also_discord(super().parse_guild_create, data)

    def parse_guild_update(self, data: dict) -> None:
        self._count(self.collector.agg.guild_update, data)
        self._also_discord(super().parse_guild_update, data)

    def parse_channel_create(self, data: dict) -> None:
        self._count(self.collector.agg.channel_update, data)
        self._also_discord(super().parse_channel_create, data)

    def parse_channel_update(self, data: dict) -> None:
        self._count(self.collector.agg.channel_update, data)
        self._also_discord(super().parse_channel_update, data)

    def parse_thread_create(self, data: dict) -> None:
        self._count(self.collector.agg.channel_update, data)
        self._also_discord(super().parse_thread_create, data)

    def parse_thread_update(self, data: dict) -> None:
        self._count(self.collector.agg.channel_update, data)
        self._also_discord(super().parse_thread_update, data)

    def parse_thread_list_sync(self, data: dict) -> None:
        for thread in data.get("threads", []):
            self._count(self.collector.agg.channel_update, thread, data.get("guild_id"))
        self._also_discord(super().parse_thread_list_sync, data)

    def parse_ready(self, data: dict) -> None:
        self.collector.on_ready_payload(data)
        self._also_discord(super().parse_ready, data)


class CountingState(CountingMixin, ConnectionState):
    pass


class ShardedCountingState(CountingMixin, AutoShardedConnectionState):
    pass


class ClientMixin:
    """Stock client options for counting, and the counting state."""

    state_class: type = CountingState

    def __init__(self, collector: "Collector", **options: Any) -> None:
        self._collector = collector
        super().__init__(  # type: ignore[call-arg]
            intents=INTENTS,
            max_messages=None,
            chunk_guilds_at_startup=False,
            member_cache_flags=discord.MemberCacheFlags.none(),
            **options,
        )

    def _get_state(self, **options: Any) -> ConnectionState:
        state = self.state_class(
            dispatch=self.dispatch, handlers=self._handlers, hooks=self._hooks, http=self.http, **options
        )
        state.collector = self._collector
        return state


class CountingClient(ClientMixin, discord.Client):
    """One shard (or no sharding) in this process."""


class ShardedCountingClient(ClientMixin, discord.AutoShardedClient):
    """Several shards in this process (--shard-ids 0,1)."""

    state_class = ShardedCountingState
