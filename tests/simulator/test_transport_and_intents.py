"""What Discord does that a lenient client would not notice: transport compression and intents.

Raw websocket clients check the frames themselves; stock discord.py clients, made to ask for each
compression in turn, check that every dispatch arrives once, in order, across a dropped socket.
"""

from __future__ import annotations

import asyncio
import json
import time
import zlib

import aiohttp
import discord
import discord.gateway
import discord.http
import discord.utils
import pytest
import zstandard

from collector.endpoints import configure_discord, use_transport_compression
from simulator import intents as bits
from simulator.server import Simulator
from tests.simulator.harness import basic_lines, message_ids, receive, running

COMPRESSIONS = ["zlib-stream", "zstd-stream", None]
MOCHA_INTENTS = bits.GUILDS | bits.GUILD_MEMBERS | bits.GUILD_VOICE_STATES | bits.GUILD_MESSAGES
EVERY = {
    "MESSAGE_CREATE": 1191,
    "VOICE_STATE_UPDATE": 5,
    "GUILD_MEMBER_ADD": 4,
    "GUILD_MEMBER_REMOVE": 2,
}


@pytest.fixture(autouse=True)
def restore_discord(monkeypatch):
    """configure_discord and use_transport_compression change discord.py's globals: put them
    back."""
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    ws = discord.gateway.DiscordWebSocket
    monkeypatch.setattr(ws, "DEFAULT_GATEWAY", ws.DEFAULT_GATEWAY)
    monkeypatch.setattr(ws, "from_client", ws.__dict__["from_client"])
    monkeypatch.setattr(
        discord.utils, "_ActiveDecompressionContext", discord.utils._ActiveDecompressionContext
    )


class Decoder:
    """Decodes one connection's frames as a Discord client must: one stream, one message per
    frame."""

    def __init__(self, compression: str | None) -> None:
        self.compression = compression
        self.zlib = zlib.decompressobj()
        self.zstd = zstandard.ZstdDecompressor().decompressobj()

    def __call__(self, msg: aiohttp.WSMessage) -> dict:
        if self.compression is None:
            assert msg.type == aiohttp.WSMsgType.TEXT, msg.type
            return json.loads(msg.data)
        assert msg.type == aiohttp.WSMsgType.BINARY, msg.type
        if self.compression == "zlib-stream":
            assert msg.data.endswith(b"\x00\x00\xff\xff")  # every message ends with a sync flush
            return json.loads(self.zlib.decompress(msg.data))
        return json.loads(self.zstd.decompress(msg.data))


async def raw_session(
    sim: Simulator, compression: str | None, intents: int
) -> tuple[list[dict], list[bytes]]:
    """IDENTIFY with `intents`, read until the simulator is done and quiet; the payloads and raw
    frames."""
    query = "?v=10&encoding=json" + (f"&compress={compression}" if compression else "")
    decode = Decoder(compression)
    payloads, frames = [], []
    async with aiohttp.ClientSession() as http, http.ws_connect(sim.gateway_url + query) as ws:

        async def read(wait_s: float) -> None:
            msg = await ws.receive(timeout=wait_s)
            frames.append(msg.data)
            payloads.append(decode(msg))

        await read(10)
        assert payloads[0]["op"] == 10
        await ws.send_json({"op": 2, "d": {"token": "t", "intents": intents, "properties": {}}})
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                await read(0.5)
            except TimeoutError:
                if sim.status()["done"]:
                    break
    return payloads, frames


def dispatches(payloads: list[dict]) -> list[dict]:
    return [p for p in payloads if p["op"] == 0]


def event_counts(payloads: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for p in dispatches(payloads):
        counts[p["t"]] = counts.get(p["t"], 0) + 1
    return counts


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_frames_are_binary_when_asked_and_text_otherwise_and_each_decodes_in_turn(compression):
    with running(Simulator(basic_lines(), start_delay=0.05)) as sim:
        payloads, frames = asyncio.run(raw_session(sim, compression, MOCHA_INTENTS))
    sent = dispatches(payloads)
    assert [p["s"] for p in sent] == list(range(1, len(sent) + 1))
    assert {k: v for k, v in event_counts(payloads).items() if k in EVERY} == EVERY
    ids = [p["d"]["id"] for p in sent if p["t"] == "MESSAGE_CREATE"]
    assert ids == message_ids(basic_lines())
    if compression is not None:
        # One stream per connection: a later message cannot be decoded on its own.
        later = frames[-1]
        with pytest.raises((zlib.error, zstandard.ZstdError)):
            if compression == "zlib-stream":
                zlib.decompressobj().decompress(later)
            else:
                zstandard.ZstdDecompressor().decompressobj().decompress(later)
        assert sum(map(len, frames)) < sum(len(json.dumps(p)) for p in payloads) / 3


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_a_stock_client_asking_each_compression_gets_everything_once_across_a_drop(compression):
    lines = basic_lines()
    lines = lines[:600] + ['{"op":"drop"}'] + lines[600:]
    with running(Simulator(lines, start_delay=0.05)) as sim:
        configure_discord(sim.api_base)
        use_transport_compression(compression)
        client = receive(sim, 1191)
        status = sim.status()
    assert sorted(client.ids) == sorted(int(i) for i in message_ids(lines))
    assert dict((k, client.events[k]) for k in EVERY) == EVERY
    assert status["resumes"] == 1 and client.events["RESUMED"] == 1
    assert status["transports"] == {compression or "text": 2}


def test_discord_py_asks_zstd_stream_itself_when_zstandard_is_installed():
    assert discord.utils._ActiveDecompressionContext.COMPRESSION_TYPE == "zstd-stream"


@pytest.mark.parametrize(
    "without, lost",
    [
        ("members", {"GUILD_MEMBER_ADD", "GUILD_MEMBER_REMOVE"}),
        ("guild_messages", {"MESSAGE_CREATE"}),
        ("voice_states", {"VOICE_STATE_UPDATE"}),
    ],
)
def test_dispatches_are_filtered_by_the_identified_intents(without, lost):
    intents = discord.Intents.none()
    intents.guilds = intents.guild_messages = intents.voice_states = intents.members = True
    setattr(intents, without, False)
    lines = basic_lines()
    lines = lines[:600] + ['{"op":"drop"}'] + lines[600:]  # the replay log holds only what was sent
    with running(Simulator(lines, start_delay=0.05)) as sim:
        configure_discord(sim.api_base)
        client = receive(sim, 0 if "MESSAGE_CREATE" in lost else 1191, intents=intents)
        status = sim.status()
    assert {k: client.events[k] for k in EVERY} == {
        k: 0 if k in lost else n for k, n in EVERY.items()
    }
    assert status["resumes"] == 1 and client.events["RESUMED"] == 1


def test_guild_create_lists_only_the_bot_and_voice_members_without_presences():
    guild = json.loads(basic_lines()[0])["d"]
    in_voice = {vs["user_id"] for vs in guild["voice_states"]}
    assert in_voice and len(guild["members"]) > len(in_voice)
    for wanted, expect_all in ((bits.GUILDS, False), (bits.GUILDS | bits.GUILD_PRESENCES, True)):
        with running(Simulator(basic_lines()[:1], start_delay=0.05)) as sim:
            payloads, _ = asyncio.run(raw_session(sim, None, wanted))
        (created,) = [p["d"] for p in dispatches(payloads) if p["t"] == "GUILD_CREATE"]
        listed = {m["user"]["id"] for m in created["members"]}
        assert listed == (
            {m["user"]["id"] for m in guild["members"]}
            if expect_all
            else in_voice & {m["user"]["id"] for m in guild["members"]}
        )


def test_nothing_but_ready_without_the_guilds_intent():
    with running(Simulator(basic_lines(), start_delay=0.05)) as sim:
        payloads, _ = asyncio.run(raw_session(sim, "zlib-stream", 0))
    assert event_counts(payloads) == {"READY": 1}


async def identify_closes(sim: Simulator, intents: object) -> int | None:
    async with aiohttp.ClientSession() as http, http.ws_connect(sim.gateway_url + "?v=10") as ws:
        await ws.receive(timeout=10)
        await ws.send_json({"op": 2, "d": {"token": "t", "intents": intents, "properties": {}}})
        while (await ws.receive(timeout=10)).type not in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSED,
        ):
            pass
        return ws.close_code


def test_disallowed_privileged_intent_is_4014_and_unknown_bits_are_4013():
    with running(
        Simulator(basic_lines(), start_delay=0.05, disallow_intents=bits.GUILD_MEMBERS)
    ) as sim:
        assert asyncio.run(identify_closes(sim, MOCHA_INTENTS)) == 4014
        assert asyncio.run(identify_closes(sim, 1 << 30)) == 4013
        assert asyncio.run(identify_closes(sim, "all")) == 4013
        configure_discord(sim.api_base)
        with pytest.raises(discord.PrivilegedIntentsRequired):
            receive(sim, 1191, timeout=10)
        assert sim.status()["identifies"] == 0
        intents = discord.Intents.none()
        intents.guilds = intents.guild_messages = intents.voice_states = True
        client = receive(
            sim, 1191, intents=intents
        )  # the same application without that intent is fine
    assert client.events["MESSAGE_CREATE"] == 1191 and client.events["GUILD_MEMBER_ADD"] == 0


@pytest.mark.parametrize("query", ["compress=lz4", "encoding=etf"])
def test_unsupported_transport_is_refused_before_the_upgrade(query):
    async def connect(sim: Simulator) -> None:
        async with aiohttp.ClientSession() as http:
            await http.ws_connect(f"{sim.gateway_url}?v=10&{query}")

    with running(Simulator(basic_lines(), start_delay=0.05)) as sim:
        with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
            asyncio.run(connect(sim))
    assert caught.value.status == 400
