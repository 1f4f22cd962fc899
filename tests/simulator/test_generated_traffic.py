"""Generated traffic: repeatable for a seed, shaped like a real guild, delivered to a stock
Client."""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
from datetime import UTC, datetime, timedelta

import discord.gateway
import discord.http
import pytest

from collector.endpoints import configure_discord
from simulator.generator import DISCORD_EPOCH_MS, TrafficGenerator
from simulator.server import Simulator
from tests.simulator.harness import receive, running

START = datetime(2026, 3, 2, 12, 30, tzinfo=UTC)


def events(gen: TrafficGenerator, live: int = 3000) -> list[dict]:
    """Backfill then the first `live` live events, as parsed dispatches."""
    out = [json.loads('{"s":0' + d.tail) for d in gen.backfill()]
    out += [
        json.loads('{"s":0' + d.tail) for _, d in itertools.islice(gen.live(START, rate=50), live)
    ]
    return out


def test_same_seed_same_stream_other_seed_other_stream():
    make = lambda seed: TrafficGenerator(seed=seed, backfill_days=1, per_day=500, start=START)  # noqa: E731
    a, b, c = events(make(7)), events(make(7)), events(make(8))
    assert a == b
    assert [e["d"].get("id") for e in a[:200]] != [e["d"].get("id") for e in c[:200]]
    assert make(7).guild_creates() == make(7).guild_creates()


def test_backfill_has_a_daily_rhythm_and_past_timestamps():
    gen = TrafficGenerator(seed=1, backfill_days=3, per_day=3000, start=START)
    msgs = [e["d"] for e in events(gen, live=0)]
    assert len(msgs) == gen.backfill_total() and 6000 < len(msgs) < 13000
    stamps = [datetime.fromisoformat(m["timestamp"]) for m in msgs]
    assert all(s < START for s in stamps) and min(stamps) >= START - timedelta(days=3, hours=1)
    by_hour = collections.Counter(s.hour for s in stamps)
    assert by_hour[20] > 3 * by_hour[4]  # evenings are busier than nights


def test_message_ids_are_snowflakes_of_their_timestamps_rising_in_every_channel():
    gen = TrafficGenerator(seed=2, backfill_days=1, per_day=2000, start=START)
    last: dict[str, int] = {}
    for e in events(gen):
        if e["t"] != "MESSAGE_CREATE":
            continue
        d = e["d"]
        mid = int(d["id"])
        ms = int(datetime.fromisoformat(d["timestamp"]).timestamp() * 1000)
        assert (mid >> 22) + DISCORD_EPOCH_MS == ms
        assert mid > last.get(d["channel_id"], 0)
        last[d["channel_id"]] = mid


def test_live_traffic_looks_like_a_guild():
    gen = TrafficGenerator(seed=3, members=300, channels=6, start=START)
    guild = gen.guild_creates()[0]
    assert guild["afk_channel_id"] in {c["id"] for c in guild["channels"] if c["type"] == 2}
    assert len(guild["members"]) == 250 and guild["large"] and guild["member_count"] == 300
    stream = [
        json.loads('{"s":0' + d.tail) for _, d in itertools.islice(gen.live(START, rate=2), 6000)
    ]
    kinds = collections.Counter(e["t"] for e in stream)
    assert kinds["MESSAGE_CREATE"] > 5000
    assert (
        kinds["VOICE_STATE_UPDATE"] > 10
        and kinds["GUILD_MEMBER_ADD"] > 0
        and kinds["GUILD_MEMBER_REMOVE"] > 0
    )
    authors = collections.Counter(
        e["d"]["author"]["id"] for e in stream if e["t"] == "MESSAGE_CREATE"
    )
    top_five = sum(n for _, n in authors.most_common(5))
    assert top_five > 0.25 * kinds["MESSAGE_CREATE"]  # a few heavy talkers
    assert any(e["d"]["author"].get("bot") for e in stream if e["t"] == "MESSAGE_CREATE")
    threads = [e["d"]["id"] for e in stream if e["t"] == "THREAD_CREATE"]
    assert threads
    first_use = {
        e["d"]["channel_id"]: i
        for i, e in reversed(list(enumerate(stream)))
        if e["t"] == "MESSAGE_CREATE"
    }
    created = {e["d"]["id"]: i for i, e in enumerate(stream) if e["t"] == "THREAD_CREATE"}
    assert all(created[t] < first_use[t] for t in threads if t in first_use)
    voice = [e["d"]["channel_id"] for e in stream if e["t"] == "VOICE_STATE_UPDATE"]
    assert None in voice  # leaves
    # 6,000 events at 2/s span most of an hour of live clock, in order.
    clock = [
        o
        for o, _ in itertools.islice(
            TrafficGenerator(seed=3, start=START).live(START, rate=2), 6000
        )
    ]
    assert clock == sorted(clock) and 2400 < clock[-1] < 4000


@pytest.fixture
def restore_discord(monkeypatch):
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket,
        "DEFAULT_GATEWAY",
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
    )


def test_generated_backfill_is_history_served_over_rest_not_dispatched(restore_discord):
    sim = Simulator(
        guilds=2,
        members=40,
        channels=4,
        backfill_days=1,
        seed=4,
        rate=0,
        start_delay=0.05,
        rest_limits=False,
    )
    with running(sim):
        configure_discord(sim.api_base)
        client = receive(sim, 0)
        ids = asyncio.run(read_all(sim))
        status = sim.status()
    assert status["done"] and status["sent"] == status["total"] == 0 and client.ids == []
    assert len(ids) == len(set(ids)) == sim.generator.backfill_total() == status["history"] > 1000
    assert client.events["GUILD_CREATE"] == 2


async def read_all(sim: Simulator) -> list[int]:
    """Every message of every channel of every guild, through discord.py's HTTP client."""
    http = discord.http.HTTPClient(asyncio.get_running_loop())
    await http.static_login("test-token")
    ids: list[int] = []
    try:
        for guild in await http.get_guilds(200):
            for channel in await http.get_all_guild_channels(int(guild["id"])):
                before = None
                while page := await http.logs_from(int(channel["id"]), 100, before=before):
                    ids += [int(m["id"]) for m in page]
                    before = int(page[-1]["id"])
    finally:
        await http.close()
    return ids


def test_burst_sends_exactly_n_messages(restore_discord):
    sim = Simulator(burst=5000, start_delay=0.05)
    with running(sim):
        configure_discord(sim.api_base)
        client = receive(sim, 5000)
    assert len(client.ids) == len(set(client.ids)) == 5000
