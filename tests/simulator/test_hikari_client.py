"""A second, independent Discord library against the simulator: a stock hikari GatewayBot.

Only its REST URL points at the simulator; it asks /gateway/bot itself, asks for zlib-stream
transport compression, sends its payloads as binary frames and deserialises every dispatch into
its own models, so a payload Discord would never send (a missing field, a text frame) fails here.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time

import hikari

from simulator.server import BOT_ID, Simulator
from tests.simulator.harness import basic_lines, message_ids, running

# hikari reads the bot id out of the token, as Discord's tokens carry it: base64(id).timestamp.hmac
TOKEN = (
    base64.b64encode(BOT_ID.encode()).decode().rstrip("=")
    + ".GmZqaw.mocha-simulator-token-0123456789abcdef"
)
EVENTS = (
    hikari.ShardReadyEvent,
    hikari.ShardResumedEvent,
    hikari.GuildAvailableEvent,
    hikari.GuildMessageCreateEvent,
    hikari.VoiceStateUpdateEvent,
    hikari.MemberCreateEvent,
    hikari.MemberDeleteEvent,
)


def run_bot(
    sim: Simulator, expected_messages: int, timeout: float = 60.0
) -> tuple[dict[str, int], list[str]]:
    """Start a GatewayBot, wait for the scenario and the messages, stop it; event counts and
    message ids."""
    counts: dict[str, int] = {}
    ids: list[str] = []

    async def main() -> None:
        bot = hikari.GatewayBot(
            TOKEN,
            rest_url=sim.api_base,
            banner=None,
            intents=hikari.Intents.ALL_UNPRIVILEGED | hikari.Intents.GUILD_MEMBERS,
        )

        async def count(event: hikari.Event) -> None:
            counts[type(event).__name__] = counts.get(type(event).__name__, 0) + 1
            if isinstance(event, hikari.GuildMessageCreateEvent):
                ids.append(str(event.message_id))

        for event_type in EVENTS:
            bot.subscribe(event_type, count)
        await bot.start()
        try:
            deadline = time.monotonic() + timeout  # generous: hikari backs off before reconnecting
            while time.monotonic() < deadline:
                if sim.status()["done"] and len(ids) >= expected_messages:
                    await asyncio.sleep(0.3)  # a duplicate would arrive now
                    break
                await asyncio.sleep(0.05)
        finally:
            await bot.close()

    asyncio.run(main())
    return counts, ids


def test_a_stock_hikari_bot_gets_every_dispatch_once_in_order_across_a_drop_and_resume():
    lines = basic_lines()
    lines = lines[:600] + [json.dumps({"op": "drop"})] + lines[600:]
    with running(Simulator(lines, start_delay=0.05)) as sim:
        counts, ids = run_bot(sim, 1191)
        status = sim.status()
    assert ids == message_ids(lines)  # every message, once, in file order
    assert counts == {
        "ShardReadyEvent": 1,
        "ShardResumedEvent": 1,
        "GuildAvailableEvent": 1,
        "GuildMessageCreateEvent": 1191,
        "VoiceStateUpdateEvent": 5,
        "MemberCreateEvent": 4,
        "MemberDeleteEvent": 2,
    }
    assert status["identifies"] == 1 and status["resumes"] == 1 and status["replayed"] > 0
    assert status["transports"] == {"zlib-stream": 2}  # what hikari asks for, on both connections
