"""A simulator on its own thread and event loop, and a stock discord.py Client that counts what it
gets."""

from __future__ import annotations

import asyncio
import collections
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import discord

from simulator.server import Simulator

BASIC = Path(__file__).resolve().parent.parent / "fixtures" / "basic.jsonl"


def basic_lines(strip_sleeps: bool = True) -> list[str]:
    lines = BASIC.read_text().splitlines()
    return [ln for ln in lines if not (strip_sleeps and '"op":"sleep"' in ln.replace(" ", ""))]


def message_ids(lines: list[str]) -> list[str]:
    return [json.loads(ln)["d"]["id"] for ln in lines if '"MESSAGE_CREATE"' in ln]


@contextmanager
def running(sim: Simulator) -> Iterator[Simulator]:
    """Run `sim` on a background thread (its own loop), like a separate process would."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(sim.start(), loop).result(10)
    try:
        yield sim
    finally:
        asyncio.run_coroutine_threadsafe(sim.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


class CountingClient(discord.Client):
    """A plain Client with Mocha's settings; it only counts dispatch types and message ids."""

    def __init__(self, intents: discord.Intents | None = None, **kwargs) -> None:
        if intents is None:
            intents = discord.Intents.none()
            intents.guilds = intents.guild_messages = intents.voice_states = intents.members = True
        super().__init__(
            intents=intents, max_messages=None, chunk_guilds_at_startup=False, **kwargs
        )
        self.events: collections.Counter[str] = collections.Counter()
        self.ids: list[int] = []

    async def before_identify_hook(self, shard_id, *, initial: bool = False) -> None:
        pass  # discord.py waits 5 s before a re-IDENTIFY; the tests need not

    async def on_socket_event_type(self, event: str) -> None:
        self.events[event] += 1

    async def on_message(self, message: discord.Message) -> None:
        self.ids.append(message.id)


def receive(
    sim: Simulator, expected_messages: int, timeout: float = 20.0, **client_kwargs
) -> CountingClient:
    """Connect a CountingClient until the simulator is done and `expected_messages` arrived (or
    timeout)."""
    client = CountingClient(**client_kwargs)

    async def main() -> None:
        async with client:
            task = asyncio.create_task(client.start("test-token"))
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and not task.done():
                if sim.status()["done"] and len(client.ids) >= expected_messages:
                    await asyncio.sleep(0.2)  # a duplicate would arrive now
                    break
                await asyncio.sleep(0.05)
            await client.close()
            if task.done() and task.exception():
                raise task.exception()

    asyncio.run(main())
    return client
