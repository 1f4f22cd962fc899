"""Ingestion benchmarks, each beside its baseline in the same run.

- pipeline: normalised events → Aggregator.count_message → Writer flushes → committed rows
  (`ingest_pipeline_eps`), against one ORM create() per event (`naive_orm_eps`, the
  obvious first implementation) and a raw sqlite3 executemany of one row per event
  (`sqlite_floor_eps`).
- gateway: the simulator (its own process) → unmodified discord.py → the collector → rows
  counted in the database (`ingest_gateway_eps`), against a bare discord.py Client that only
  counts on_message, fed the same burst by a fresh simulator (`stock_client_eps`). Both with
  zlib-stream transport compression, as discord.py asks Discord by default, so the figures include
  the inflate every real gateway frame costs; the same pair over plain text frames is kept beside
  them (`*_uncompressed_eps`).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psutil
from django.conf import settings
from django.db import connection
from django.db.models import Sum

from collector.aggregate import Aggregator
from collector.writer import Writer
from mocha.utc import from_epoch
from stats.maintenance import rows_of
from stats.models import Guild, HourlyStat, RecentEvent

GUILD_ID = 910000000000000001
# A burst slower than this overall, or that moves not at all for STALL_S, fails the phase.
MIN_GATEWAY_EPS, STALL_S, STOP_S = 5_000, 30.0, 15.0
COMPRESSION = (
    "zlib-stream"  # what discord.py asks Discord for unless the zstandard package is installed
)


def _events(n: int, seed: int = 3) -> list[tuple]:
    """n normalised messages: (guild, channel, user, hour, message id, source channel, timestamp,
    start of the span the gateway covers with it)."""
    rng = random.Random(seed)
    users = rng.choices(range(5000), weights=[1 / (u + 1) ** 1.1 for u in range(5000)], k=n)
    channels = rng.choices(range(20), weights=[1 / (c + 1) for c in range(20)], k=n)
    now = datetime.now(UTC)
    base_hour = int(now.timestamp()) // 3600 - 4
    mid = itertools.count(((int(now.timestamp() * 1000) - 1420070400000) << 22) - (n << 1))
    out = []
    last: dict[int, int] = {}  # per channel, the previous id: one gateway session covers the span
    for i, (u, c) in enumerate(zip(users, channels, strict=False)):
        hour = (
            base_hour + i * 4 // n
        )  # at these rates a whole flush falls in one hour; the stream spans four
        cid = GUILD_ID + 100 + c
        m = next(mid)
        out.append(
            (
                GUILD_ID,
                cid,
                GUILD_ID + 10_000 + u,
                hour,
                m,
                cid,
                "2026-01-01T00:00:00+00:00",
                last.get(cid, m),
            )
        )
        last[cid] = m
    return out


def pipeline(quick: bool = False) -> dict:
    n = 300_000 if quick else 2_000_000
    events = _events(n)
    Guild.objects.get_or_create(id=GUILD_ID, defaults={"name": "Pipeline bench"})
    agg, writer = Aggregator(), Writer()
    writer.load_configs()
    started = time.perf_counter()
    last_flush = started
    count = agg.count_message
    for i, e in enumerate(events):
        count(*e)
        if not i & 4095 and time.perf_counter() - last_flush >= settings.MOCHA_FLUSH_MS / 1000:
            writer.write(agg.take_batch(time.time()), {})
            last_flush = time.perf_counter()
    writer.write(agg.take_batch(time.time()), {})
    pipeline_s = time.perf_counter() - started
    committed = rows_of(HourlyStat, GUILD_ID).aggregate(m=Sum("messages"))["m"]
    assert committed == n, (committed, n)

    naive_n = 3_000 if quick else 20_000
    started = time.perf_counter()
    for gid, cid, uid, hour, _mid, _source, _ts, _ in events[:naive_n]:
        RecentEvent.objects.create(
            guild_id=gid, kind="message", channel_id=cid, user_id=uid, at=from_epoch(hour * 3600)
        )
    naive_s = time.perf_counter() - started

    floor_n = min(n, 1_000_000)
    floor_s = _sqlite_floor(events[:floor_n])
    eps = n / pipeline_s
    naive_eps = naive_n / naive_s
    return {
        "ingest_pipeline_eps": round(eps),
        "naive_orm_eps": round(naive_eps),
        "sqlite_floor_eps": round(floor_n / floor_s),
        "pipeline_vs_naive": round(eps / naive_eps, 1),
        "pipeline_events": n,
        "pipeline_rows": rows_of(HourlyStat, GUILD_ID).count(),
    }


def _sqlite_floor(events: list[tuple]) -> float:
    """Raw executemany of one row per event into a table with the same pragmas: the storage
    floor."""
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(Path(tmp) / "floor.sqlite3", isolation_level=None)
        for name, value in settings.SQLITE_PRAGMAS.items():
            db.execute(f"PRAGMA {name}={value}")
        db.execute(
            "CREATE TABLE event"
            " (guild_id INTEGER, channel_id INTEGER, user_id INTEGER, hour INTEGER)"
        )
        rows = [(g, c, u, h) for g, c, u, h, *_ in events]
        started = time.perf_counter()
        db.execute("BEGIN")
        db.executemany("INSERT INTO event VALUES (?, ?, ?, ?)", rows)
        db.execute("COMMIT")
        elapsed = time.perf_counter() - started
        db.close()
    return elapsed


# --- gateway ---------------------------------------------------------------------


@contextmanager
def _burst_simulator(burst: int, compression: str | None):
    """A fresh simulator process sending `burst` messages, with discord.py pointed at it and asking
    for `compression`; afterwards, check that the simulator served exactly that."""
    from collector.endpoints import configure_discord, use_transport_compression
    from mocha_site.loopback import free_port, simulator_answers, simulator_status, wait_for

    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(Path(settings.BASE_DIR) / "manage.py"),
            "simulate",
            "--port",
            str(port),
            "--burst",
            str(burst),
            "--members",
            "2000",
            "--channels",
            "20",
            "--seed",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=os.environ.copy(),
    )

    try:
        wait_for(lambda: simulator_answers(port), 30, "the simulator")
        configure_discord(f"http://127.0.0.1:{port}/api/v10")
        use_transport_compression(compression)
        yield
        served = simulator_status(port)["transports"]
        if served != {compression or "text": 1}:
            raise RuntimeError(
                f"measured over {served}, not one {compression or 'text'} connection"
            )
    finally:
        proc.terminate()
        proc.wait(10)


async def _collector_rate(burst: int) -> tuple[float, float]:
    """Seconds from the first message received to the last one committed, and RSS afterwards.

    A stall is an error, not a hang (see _BurstWatch); the collector's SIGTERM handler stops it,
    so the phase ends on SIGTERM too.
    """
    from collector.service import Collector

    before = await asyncio.to_thread(_committed_messages)  # an earlier burst in the same database
    collector = Collector("bench-token")
    run = asyncio.create_task(collector.run())
    watch = _BurstWatch(burst, run)
    try:
        while collector.received == 0:
            watch.check(0, 0)
            await asyncio.sleep(0.005)
        first = time.perf_counter()
        # Nothing can be all committed before it is all received: until then the watch follows
        # `received` alone. Summing the counts every 50 ms from the start (a query and a new
        # connection in this process) was 1.5-2 % of the collector's samples in py-spy.
        while collector.received < burst:
            watch.check(collector.received, watch.progress[1])
            await asyncio.sleep(0.05)
        while True:
            committed = await asyncio.to_thread(_committed_messages) - before
            if committed >= burst:
                break
            watch.check(collector.received, committed)
            await asyncio.sleep(0.05)
    except RuntimeError:
        collector.stop()
        await asyncio.wait((run,), timeout=STOP_S)
        raise
    elapsed = time.perf_counter() - first
    rss = psutil.Process().memory_info().rss
    collector.stop()
    await run
    return elapsed, rss


class _BurstWatch:
    """Fails a burst that overruns its deadline, moves not at all for STALL_S, or whose collector
    stopped."""

    def __init__(self, burst: int, run: asyncio.Task) -> None:
        self.burst, self.run = burst, run
        self.deadline = time.monotonic() + STALL_S + burst / MIN_GATEWAY_EPS
        self.progress, self.moved_at = (0, 0), time.monotonic()

    def check(self, received: int, committed: int) -> None:
        now = time.monotonic()
        if (received, committed) != self.progress:
            self.progress, self.moved_at = (received, committed), now
        if self.run.done():
            failure = None if self.run.cancelled() else self.run.exception()
            problem = "the collector stopped" + (f" ({failure!r})" if failure else "")
        elif now - self.moved_at > STALL_S:
            problem = f"nothing moved for {STALL_S:.0f} s"
        elif now > self.deadline:
            problem = "past its deadline"
        else:
            return
        raise RuntimeError(
            f"gateway burst: {problem} at {received:,} received, "
            f"{committed:,} committed of {self.burst:,}"
        )


def _committed_messages() -> int:
    try:
        return HourlyStat.objects.aggregate(m=Sum("messages"))["m"] or 0
    finally:
        connection.close()


async def _stock_rate(burst: int) -> tuple[float, int]:
    """A bare discord.py Client that only counts on_message: the ceiling of what discord.py
    delivers.

    Returns the seconds from its first message to its last, and how many it got: a client that
    falls far behind can miss its heartbeat ACK, reconnect and lose part of the burst.
    """
    import discord

    intents = discord.Intents.none()
    intents.guilds = intents.guild_messages = intents.voice_states = intents.members = True
    client = discord.Client(intents=intents, max_messages=None, chunk_guilds_at_startup=False)
    seen = {"n": 0, "first": 0.0, "last": 0.0}

    @client.event
    async def on_message(message) -> None:
        seen["n"] += 1
        seen["last"] = time.perf_counter()
        if seen["n"] == 1:
            seen["first"] = seen["last"]

    task = asyncio.create_task(client.start("bench-token"))
    deadline = time.monotonic() + 600
    while seen["n"] < burst and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        if seen["n"] and time.perf_counter() - seen["last"] > 5:
            break  # the stream stopped short of the burst
    await client.close()
    task.cancel()
    return seen["last"] - seen["first"], seen["n"]


def gateway(quick: bool = False) -> dict:
    burst = 25_000 if quick else 600_000
    doc: dict = {
        "gateway_compression": COMPRESSION,
        "gateway_events": burst,
        "flush_ms": settings.MOCHA_FLUSH_MS,
    }
    for compression, suffix in ((COMPRESSION, ""), (None, "_uncompressed")):
        with _burst_simulator(burst, compression):
            collector_s, rss = asyncio.run(_collector_rate(burst))
        with _burst_simulator(burst, compression):  # the same stream again, for the stock client
            stock_s, stock_n = asyncio.run(_stock_rate(burst))
        eps, stock = burst / collector_s, stock_n / stock_s
        doc[f"ingest_gateway{suffix}_eps"] = round(eps)
        doc[f"stock_client{suffix}_eps"] = round(stock)
        doc[f"gateway_vs_stock{suffix}"] = round(eps / stock, 3)
        doc[f"stock_client{suffix}_received"] = stock_n
        if not suffix:
            doc["collector_rss_mb"] = round(rss / 2**20, 1)
    return doc
