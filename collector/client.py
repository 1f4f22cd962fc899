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

from collector.fields import Invalid

if TYPE_CHECKING:
    from collector.service import Collector

log = logging.getLogger("mocha.collector")

INTENTS = discord.Intents.none()
INTENTS.guilds = True
INTENTS.guild_messages = True
INTENTS.voice_states = True
INTENTS.members = True
# The one privileged intent Mocha asks for, and what is lost without it.
MEMBERS = "members"
REFUSED_MEMBERS = "Discord refused the Server Members intent (close code 4014)"
MISSING_MEMBERS = (
    REFUSED_MEMBERS + ': turn on "Server Members Intent" under '
    "Privileged Gateway Intents on your application's Bot page in the Discord developer portal "
    "(https://discord.com/developers/applications), or set MOCHA_ALLOW_MISSING_INTENTS=1 to count "
    "without joins and leaves"
)

# discord.py dispatches this for every gateway payload; the collector takes it only if asked.
SOCKET_EVENT_TYPE = "socket_event_type"
SOCKET_EVENT_TYPE_HANDLER = "on_" + SOCKET_EVENT_TYPE


def intents_without(missing: list[str]) -> discord.Intents:
    """Mocha's intents less the privileged ones Discord refused."""
    return discord.Intents(**{name: value for name, value in INTENTS if name not in missing})


class CountingMixin:
    """Feeds every payload Mocha counts to the collector before (or instead of) discord.py's
    caches."""

    collector: Collector

    def _also_discord(self, parse, data: dict) -> None:
        """Let discord.py update its own caches; a payload it cannot parse must not stop
        counting."""
        try:
            parse(data)
        except Exception as exc:
            self.collector.errors += 1
            log.warning(
                "discord.py could not parse a payload (%s: %s); counting goes on",
                type(exc).__name__,
                exc,
            )

    def _count(self, event: str, count, *args) -> None:
        """Count a payload; an invalid one is skipped (one line, one count), never allowed to stop
        the collector."""
        try:
            count(*args)
        except Invalid as problem:
            self.collector.agg.skip(event, problem)
        except Exception as exc:  # a rule's own bug: counted as an error, the gateway goes on
            self.collector.errors += 1
            log.warning("could not count %s (%s: %s)", event, type(exc).__name__, exc)

    def parse_message_create(self, data: dict) -> None:
        self.collector.received += 1
        try:
            self.collector.agg.message(data)
        except Invalid as problem:
            self.collector.agg.skip("MESSAGE_CREATE", problem)
        except Exception as exc:
            self.collector.errors += 1
            log.warning("could not count MESSAGE_CREATE (%s: %s)", type(exc).__name__, exc)

    def parse_voice_state_update(self, data: dict) -> None:
        self.collector.on_payload("VOICE_STATE_UPDATE")
        self._count(
            "VOICE_STATE_UPDATE", self.collector.agg.voice_state, data, self.collector.now()
        )

    def parse_guild_member_add(self, data: dict) -> None:
        self.collector.on_payload("GUILD_MEMBER_ADD")
        self._count("GUILD_MEMBER_ADD", self.collector.agg.member_add, data, self.collector.now())

    def parse_guild_member_remove(self, data: dict) -> None:
        self.collector.on_payload("GUILD_MEMBER_REMOVE")
        self._count(
            "GUILD_MEMBER_REMOVE", self.collector.agg.member_remove, data, self.collector.now()
        )

    def parse_guild_member_update(self, data: dict) -> None:
        self._count("GUILD_MEMBER_UPDATE", self.collector.agg.member_update, data)

    def parse_guild_role_create(self, data: dict) -> None:
        self._count("GUILD_ROLE_CREATE", self.collector.agg.role_update, data)
        self._also_discord(super().parse_guild_role_create, data)

    def parse_guild_role_update(self, data: dict) -> None:
        self._count("GUILD_ROLE_UPDATE", self.collector.agg.role_update, data)
        self._also_discord(super().parse_guild_role_update, data)

    def parse_guild_role_delete(self, data: dict) -> None:
        self._count("GUILD_ROLE_DELETE", self.collector.agg.role_delete, data)
        self._also_discord(super().parse_guild_role_delete, data)

    def parse_guild_create(self, data: dict) -> None:
        self._count("GUILD_CREATE", self.collector.agg.guild_create, data, self.collector.now())
        self._also_discord(super().parse_guild_create, data)

    def parse_guild_update(self, data: dict) -> None:
        self._count("GUILD_UPDATE", self.collector.agg.guild_update, data, self.collector.now())
        self._also_discord(super().parse_guild_update, data)

    def parse_guild_delete(self, data: dict) -> None:
        self._count("GUILD_DELETE", self.collector.agg.guild_delete, data, self.collector.now())
        self._also_discord(super().parse_guild_delete, data)

    def parse_channel_create(self, data: dict) -> None:
        self._count("CHANNEL_CREATE", self.collector.agg.channel_update, data)
        self._also_discord(super().parse_channel_create, data)

    def parse_channel_update(self, data: dict) -> None:
        self._count("CHANNEL_UPDATE", self.collector.agg.channel_update, data)
        self._also_discord(super().parse_channel_update, data)

    def parse_channel_delete(self, data: dict) -> None:
        self._count("CHANNEL_DELETE", self.collector.agg.channel_delete, data, self.collector.now())
        self._also_discord(super().parse_channel_delete, data)

    def parse_thread_create(self, data: dict) -> None:
        self._count("THREAD_CREATE", self.collector.agg.channel_update, data)
        self._also_discord(super().parse_thread_create, data)

    def parse_thread_update(self, data: dict) -> None:
        self._count("THREAD_UPDATE", self.collector.agg.channel_update, data)
        self._also_discord(super().parse_thread_update, data)

    def parse_thread_delete(self, data: dict) -> None:
        self._count("THREAD_DELETE", self.collector.agg.channel_delete, data, self.collector.now())
        self._also_discord(super().parse_thread_delete, data)

    def parse_thread_list_sync(self, data: dict) -> None:
        threads = data.get("threads")
        for thread in threads if isinstance(threads, list) else []:
            if isinstance(thread, dict):
                self._count(
                    "THREAD_LIST_SYNC",
                    self.collector.agg.channel_update,
                    thread,
                    data.get("guild_id"),
                )
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
    _handles_socket_event_type = False  # set per subclass by __init_subclass__

    def __init__(
        self, collector: Collector, intents: discord.Intents = INTENTS, **options: Any
    ) -> None:
        self._collector = collector
        super().__init__(  # type: ignore[call-arg]
            intents=intents,
            max_messages=None,
            chunk_guilds_at_startup=False,
            member_cache_flags=discord.MemberCacheFlags.none(),
            **options,
        )

    def dispatch(self, event: str, /, *args: Any, **kwargs: Any) -> None:
        """discord.py's dispatch, less the "socket_event_type" it sends for every payload when
        nothing here takes it: its debug log call, listener lookup and failed getattr of
        on_socket_event_type were 6 % of the collector's time in a gateway burst (py-spy)."""
        if (
            event == SOCKET_EVENT_TYPE
            and not self._listeners.get(event)  # type: ignore[attr-defined]  # wait_for()
            and SOCKET_EVENT_TYPE_HANDLER not in self.__dict__  # @client.event
            and not self._handles_socket_event_type
        ):
            return
        super().dispatch(event, *args, **kwargs)  # type: ignore[misc]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._handles_socket_event_type = hasattr(cls, SOCKET_EVENT_TYPE_HANDLER)

    def _get_state(self, **options: Any) -> ConnectionState:
        state = self.state_class(
            dispatch=self.dispatch,
            handlers=self._handlers,
            hooks=self._hooks,
            http=self.http,
            **options,
        )
        state.collector = self._collector
        return state


class CountingClient(ClientMixin, discord.Client):
    """One shard (or no sharding) in this process."""


class ShardedCountingClient(ClientMixin, discord.AutoShardedClient):
    """Several shards in this process (--shard-ids 0,1)."""

    state_class = ShardedCountingState
