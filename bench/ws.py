"""The "ws" phase: fan-out of live ticks to many websocket clients on one gunicorn + uvicorn worker.

A tick's "t" is stamped by the worker's poller (stats/live.py) immediately
before the tick is encoded and sent to the guild's group, so "arrival − t" is
the fan-out delay: channel layer, consumer, per-socket deflate, kernel, and the
client's own event loop. All clients live in this one asyncio process, so the
figure includes the client side reading up to ws_clients frames in a row (a
pessimistic bias). Traffic is written the way the collector does after each
flush: RecentEvent rows, the shard's CollectorState, and a data-version bump.
"""

from __future__ import annotations

import asyncio
import json
import random
import resource
import time
from collections import defaultdict
from datetime import UTC, datetime

import psutil

from bench.api import bench_guild
from bench.report import ms, percentile
from bench.webserver import WebServer
from stats.models import Channel, CollectorState, Guild, Member, RecentEvent

CLIENTS_QUICK, CLIENTS_FULL = 150, 1000
MEASURE_S_QUICK, MEASURE_S_FULL = 3.0, 15.0
CONNECT_CONCURRENCY = 50
EVENTS_PER_FLUSH = 20  # ~20 messages/s in the feed: a busy guild as the live dashboard sees it
SETTLE_S = 1.0
GRACE_S_QUICK, GRACE_S_FULL = 1.0, 3.0


def raise_fd_limit(needed: int) -> None:
    """Raise the soft open-files limit to the hard one; the gunicorn child inherits it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Traffic:
    """What one collector flush writes for the guild: feed rows, shard health with rates, a version
    bump."""

    def __init__(self, guild_id: int) -> None:
        self.guild_id = guild_id
        self.users = list(
            Member.objects.filter(guild_id=guild_id).values_list("user_id", flat=True)[:500]
        ) or [1]
        self.channels = list(
            Channel.objects.filter(guild_id=guild_id).values_list("id", flat=True)[:50]
        ) or [None]
        self.started = datetime.now(UTC)
        self.events = 0

    def flush(self) -> None:
        from stats.cache import bump_versions

        now = datetime.now(UTC)
        RecentEvent.objects.bulk_create(
            RecentEvent(
                guild_id=self.guild_id,
                kind="message",
                channel_id=random.choice(self.channels),
                user_id=random.choice(self.users),
                at=now,
            )
            for _ in range(EVENTS_PER_FLUSH)
        )
        self.events += EVENTS_PER_FLUSH
        rate = {"messages": float(EVENTS_PER_FLUSH), "voice_joins": 0.0, "member_joins": 0.0}
        CollectorState.objects.update_or_create(
            shard_id=0,
            defaults={
                "connected": True,
                "updated_at": now,
                "last_event_at": now,
                "last_flush_at": now,
                "started_at": self.started,
                "events_processed": self.events,
                "events_per_sec": float(EVENTS_PER_FLUSH),
                "rates": {str(self.guild_id): rate},
            },
        )
        bump_versions([self.guild_id])


class Arrivals:
    """Arrival times of every tick frame, grouped by the tick's "t"; feed-item delays as a
    by-product."""

    def __init__(self) -> None:
        self.recording = False
        # The window is defined on the ticks' own stamps: a tick stamped before it opened may have
        # reached some clients unrecorded; one stamped before it closed still gets a grace period to
        # arrive.
        self.since = 0.0
        self.until = float("inf")
        self.stamps: dict[str, float] = {}
        self.ticks: dict[str, list[float]] = defaultdict(list)
        self.receivers: set[int] = set()
        self.feed_delays: list[float] = []

    def record(self, client: int, arrived: float, text: str) -> None:
        if not self.recording:
            return
        message = json.loads(text)
        if (
            message.get("type") != "tick"
            or not self.since <= self.stamp(message["t"]) <= self.until
        ):
            return
        self.ticks[message["t"]].append(arrived)
        self.receivers.add(client)
        if client == 0:  # event → browser, sampled on one client (every client sees the same feed)
            self.feed_delays.extend(
                arrived - parse_time(item["t"]) for item in message.get("feed", [])
            )

    def start(self) -> None:
        self.since = time.time()
        self.recording = True

    def stamp(self, iso: str) -> float:
        if iso not in self.stamps:
            self.stamps[iso] = parse_time(iso)
        return self.stamps[iso]


def parse_time(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


async def reader(ws, client: int, arrivals: Arrivals) -> None:
    try:
        async for text in ws:
            arrivals.record(client, time.time(), text)
    except Exception:  # a dropped client shows up as missing ticks, not as a crash
        pass


async def connect_all(url: str, origin: str, n: int) -> list:
    """Open n sockets, at most CONNECT_CONCURRENCY handshakes at a time; failures are left out."""
    from websockets.asyncio.client import connect

    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one():
        async with gate:
            try:
                # Browsers negotiate permessage-deflate; so do we (it costs the server CPU per
                # socket).
                return await connect(
                    url,
                    origin=origin,
                    proxy=None,
                    open_timeout=30,
                    ping_interval=None,
                    max_size=None,
                    max_queue=None,
                )
            except Exception:
                return None

    sockets = await asyncio.gather(*(one() for _ in range(n)))
    return [s for s in sockets if s is not None]


async def drive(traffic: Traffic, stop: asyncio.Event) -> None:
    """One flush a second, written off the event loop so the readers keep reading."""
    while not stop.is_set():
        started = time.monotonic()
        await asyncio.to_thread(traffic.flush)
        try:
            await asyncio.wait_for(
                stop.wait(), timeout=max(0.05, 1.0 - (time.monotonic() - started))
            )
        except TimeoutError:
            pass


async def session(
    server: WebServer, traffic: Traffic, clients: int, measure_s: float, grace_s: float
) -> dict:
    guild_id = traffic.guild_id
    arrivals = Arrivals()
    stop = asyncio.Event()
    driver = asyncio.create_task(drive(traffic, stop))
    url = f"ws://127.0.0.1:{server.port}/ws/guilds/{guild_id}/live/"
    started = time.monotonic()
    sockets = await connect_all(url, server.origin, clients)
    connect_s = time.monotonic() - started
    readers = [asyncio.create_task(reader(ws, i, arrivals)) for i, ws in enumerate(sockets)]
    await asyncio.sleep(SETTLE_S)  # let the hello frames drain
    worker, me = psutil.Process(server.worker_pids()[0]), psutil.Process()
    worker.cpu_percent(), me.cpu_percent()
    arrivals.start()
    await asyncio.sleep(measure_s)
    cpu = {"ws_worker_cpu_pct": worker.cpu_percent(), "ws_clients_cpu_pct": me.cpu_percent()}
    memory = server.worker_memory_mb()
    arrivals.until = (
        time.time()
    )  # ticks sent in the window may still be on their way: wait for them
    await asyncio.sleep(grace_s)
    arrivals.recording = False
    stop.set()
    await driver
    await asyncio.wait(
        [asyncio.create_task(ws.close()) for ws in sockets] or [asyncio.sleep(0)], timeout=10
    )
    for task in readers:
        task.cancel()
    return {**summarize(arrivals, clients, len(sockets), connect_s, memory), **cpu}


def summarize(arrivals: Arrivals, target: int, opened: int, connect_s: float, memory: dict) -> dict:
    """Delay and spread percentiles over the window's ticks; a tick a receiving client never got
    counts as missing."""
    complete = sorted(arrivals.ticks.items(), key=lambda kv: parse_time(kv[0]))
    delays, spreads = [], []
    missing = 0
    for t, arrived in complete:
        sent = parse_time(t)
        delays.extend(a - sent for a in arrived)
        first = min(arrived)
        spreads.extend(a - first for a in arrived)
        missing += max(0, len(arrivals.receivers) - len(arrived))
    return {
        "ws_clients": len(arrivals.receivers),
        "ws_clients_target": target,
        "ws_clients_opened": opened,
        "ws_connect_s": round(connect_s, 2),
        "ws_ticks": len(complete),
        "ws_tick_deliveries": len(delays),
        "ws_tick_missing": missing,
        "ws_tick_fewest_receivers": min((len(a) for _, a in complete), default=0),
        "ws_tick_p50_ms": ms(percentile(delays, 50)),
        "ws_tick_p99_ms": ms(percentile(delays, 99)),
        "ws_tick_max_ms": ms(max(delays)) if delays else None,
        "ws_tick_spread_p99_ms": ms(percentile(spreads, 99)),
        "ws_feed_event_p95_ms": ms(percentile(arrivals.feed_delays, 95)),
        "ws_web_rss_mb": memory["rss"],
        "ws_web_rss_anon_mb": memory["anon"],
    }


def run(quick: bool) -> dict:
    clients = CLIENTS_QUICK if quick else CLIENTS_FULL
    raise_fd_limit(2 * clients + 256)
    guild = bench_guild()
    Guild.objects.filter(pk=guild.pk).update(visibility=Guild.Visibility.PUBLIC)
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    with WebServer() as server:
        timing = (MEASURE_S_QUICK, GRACE_S_QUICK) if quick else (MEASURE_S_FULL, GRACE_S_FULL)
        return runner(session(server, Traffic(guild.pk), clients, *timing))
