"""The collector's shortcuts around discord.py's per-payload work take nothing from anyone who asks.

The zlib-stream decoder inflates a one-frame message without copying it and still joins a message
sent in several frames; the dispatch of "socket_event_type" is skipped only when nothing takes it.
"""

from __future__ import annotations

import asyncio
import zlib

import discord

from collector.client import CountingClient
from collector.endpoints import ZlibStream


def sync_flushed(stream, text: str) -> bytes:
    return stream.compress(text.encode()) + stream.flush(zlib.Z_SYNC_FLUSH)


def test_zlib_stream_decodes_whole_and_split_messages_of_one_stream():
    sender, decoder = zlib.compressobj(1), ZlibStream()
    assert decoder.decompress(sync_flushed(sender, '{"op":0,"s":1}')) == '{"op":0,"s":1}'
    split = sync_flushed(sender, '{"op":0,"s":2,"d":"' + "x" * 500 + '"}')
    parts = [split[:3], split[3:-6], split[-6:]]  # only the last frame ends with the marker
    assert [decoder.decompress(p) for p in parts[:2]] == [None, None]
    assert decoder.decompress(parts[2]) == '{"op":0,"s":2,"d":"' + "x" * 500 + '"}'
    assert decoder.decompress(sync_flushed(sender, '{"op":0,"s":3}')) == '{"op":0,"s":3}'


def test_socket_event_type_is_dispatched_only_when_something_takes_it(monkeypatch):
    seen: list[str] = []
    stock = discord.Client.dispatch

    def recording(self, event, /, *args, **kwargs):
        seen.append(event)
        stock(self, event, *args, **kwargs)

    monkeypatch.setattr(discord.Client, "dispatch", recording)

    async def main() -> tuple[str, list[str]]:
        client = CountingClient(collector=None)  # type: ignore[arg-type]
        await client._async_setup_hook()  # what login() does first: the client's loop
        client.dispatch("socket_event_type", "MESSAGE_CREATE")
        client.dispatch("guild_available", None)
        waited = asyncio.ensure_future(client.wait_for("socket_event_type"))
        await asyncio.sleep(0)
        client.dispatch("socket_event_type", "READY")
        got = await asyncio.wait_for(waited, 1)

        handled: list[str] = []

        @client.event
        async def on_socket_event_type(event: str) -> None:
            handled.append(event)

        client.dispatch("socket_event_type", "GUILD_CREATE")
        await asyncio.sleep(0.01)
        await client.close()
        return got, handled

    got, handled = asyncio.run(main())
    assert got == "READY" and handled == ["GUILD_CREATE"]
    assert seen == ["guild_available", "socket_event_type", "socket_event_type"]


def test_a_subclass_with_its_own_handler_gets_socket_event_type():
    class Listening(CountingClient):
        async def on_socket_event_type(self, event: str) -> None:
            pass

    assert Listening._handles_socket_event_type and not CountingClient._handles_socket_event_type
