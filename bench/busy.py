"""The "api_busy" phase: dashboard page loads of the benchmark guild while it is quiet, and while a
collector writes to it every second.

A page load is what a browser does for /guilds/<gid>/: the HTML, then the API calls of
static/js/guild.js (stats and incomplete for the chart and cards, both leaderboards, channels,
heatmap, retention), here one after another on one keep-alive connection. Concurrent viewers
load pages back to back for a while through gunicorn with its default two workers: first
quiet, then while a process of its own commits a flush of 100, then of 1,000 messages every
second through the collector's own Aggregator and Writer (each flush makes the guild's
cached documents stale, as in production). A cold page load (every cache made stale before it,
one viewer) is timed too. Each window also reports the cores that processes outside the phase
took meanwhile (`…_others_cores`): the machine is shared, and they move pages/s.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import threading
import time
from contextlib import contextmanager

import psutil
from django.core.management import call_command
from django.db import connections

from bench import dataset
from bench.api import Client, bench_guild, make_cold
from bench.report import ms, percentile
from bench.webserver import WebServer
from collector.aggregate import Aggregator
from collector.writer import Writer
from mocha.utc import from_epoch, iso
from stats.models import Guild

DAYS = 30
RATES = (100, 1000)
QUICK = {"viewers": 4, "seconds": 1.0, "cold": 2}
FULL = {"viewers": 30, "seconds": 15.0, "cold": 30}
DISCORD_EPOCH_MS = 1420070400000


def page(gid: int, days: int = DAYS) -> list[str]:
    """The requests of one dashboard page load."""
    base = f"/api/guilds/{gid}"
    return [
        f"/guilds/{gid}/",
        f"{base}/stats?days={days}&interval=day",
        f"{base}/incomplete?days={days}",
        f"{base}/leaderboard?days={days}&metric=messages&limit=10",
        f"{base}/leaderboard?days={days}&metric=voice&limit=10",
        f"{base}/channels?days={days}",
        f"{base}/heatmap?days={days}",
        f"{base}/retention?weeks=8",
    ]


def load_pages(client: Client, paths: list[str]) -> float:
    started = time.perf_counter()
    for path in paths:
        client.get(path)
    return time.perf_counter() - started


def viewers(port: int, paths: list[str], count: int, seconds: float) -> dict:
    """`count` viewers loading pages back to back for `seconds`: pages/s and page latency."""
    timings: list[float] = []
    errors: list[BaseException] = []
    stop_at = time.monotonic() + seconds

    def view() -> None:
        client = Client(port)
        try:
            while time.monotonic() < stop_at:
                timings.append(load_pages(client, paths))  # list.append is atomic
        except BaseException as exc:  # reported after the join
            errors.append(exc)

    started = time.monotonic()
    threads = [threading.Thread(target=view) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    elapsed = time.monotonic() - started
    return {
        "per_s": round(len(timings) / elapsed, 1),
        "p50_ms": ms(percentile(timings, 50)),
        "p99_ms": ms(percentile(timings, 99)),
    }


@contextmanager
def others_cpu(pids: list[int], into: dict, name: str):
    """Cores that processes outside the phase (`pids`) took during the block, as `into[name]`:
    on a shared 2-core machine they move pages/s from one window to the next."""

    def cpu() -> tuple[float, float]:
        t = psutil.cpu_times()
        everyone = t.user + t.nice + t.system + getattr(t, "irq", 0) + getattr(t, "softirq", 0)
        own = 0.0
        for pid in pids:
            try:
                p = psutil.Process(pid).cpu_times()
            except psutil.NoSuchProcess:
                continue
            own += p.user + p.system
        return everyone, own

    started, (everyone, own) = time.monotonic(), cpu()
    yield
    everyone2, own2 = cpu()
    into[name] = round(((everyone2 - everyone) - (own2 - own)) / (time.monotonic() - started), 2)


class Flusher:
    """Commits a flush of `rate` new messages every second from its own process, as a collector
    does (in this process, its Python work would take the GIL from the viewers' threads)."""

    def __init__(self, guild_id: int, rate: int, spec: dict) -> None:
        ctx = multiprocessing.get_context("fork")
        self.stopping = ctx.Event()
        self.results, child = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(
            target=flush_every_second, args=(guild_id, rate, spec, self.stopping, child)
        )
        self.flush_s: list[float] = []

    def __enter__(self) -> Flusher:
        connections.close_all()  # the child must not share this process's database connection
        self.proc.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        error = None
        if self.results.poll(30):
            error, self.flush_s = self.results.recv()
        else:
            error = "the flusher process did not report"
        self.proc.join(10)
        if error:
            raise RuntimeError(f"flusher: {error}")


def flush_every_second(guild_id: int, rate: int, spec: dict, stopping, results) -> None:
    """The flusher process: count `rate` messages of the guild's members, write them, each
    second; sends (error or None, flush durations) when told to stop."""
    connections.close_all()
    rng = random.Random(rate)
    channels = [dataset.CHANNEL_BASE + i for i in range(spec["channels"])]
    users = [dataset.USER_BASE + u for u in range(spec["members"])]
    weights = [1 / (u + 1) ** 1.1 for u in range(spec["members"])]
    agg, writer = Aggregator(), Writer()
    last_id: dict[int, int] = {}
    flush_s: list[float] = []
    error = None
    try:
        writer.load_configs()
        due = time.monotonic()
        while not stopping.is_set():
            now = time.time()
            hour, ts = int(now) // 3600, iso(from_epoch(now))
            first_id = (int(now * 1000) - DISCORD_EPOCH_MS) << 22
            for i, uid in enumerate(rng.choices(users, weights=weights, k=rate)):
                cid, mid = rng.choice(channels), first_id + i
                lo = last_id.get(cid, mid)  # one run per channel, as the gateway path covers
                agg.count_message(guild_id, cid, uid, hour, mid, cid, ts, lo)
                last_id[cid] = mid
            started = time.perf_counter()
            agg.adopt(writer.write(agg.take_batch(now), {}))
            flush_s.append(time.perf_counter() - started)
            due += 1.0
            stopping.wait(max(0.0, due - time.monotonic()))
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    finally:
        connections.close_all()
        results.send((error, flush_s))


def run(quick: bool) -> dict:
    knobs = QUICK if quick else FULL
    spec = dataset.QUICK if quick else dataset.FULL
    guild = bench_guild()
    Guild.objects.filter(pk=guild.pk).update(visibility=Guild.Visibility.PUBLIC)
    paths = page(guild.pk)
    call_command("collectstatic", interactive=False, verbosity=0)  # the page's {% static %} names
    doc: dict = {"page_viewers": knobs["viewers"], "page_requests": len(paths)}
    with WebServer(workers=2) as server:
        client = Client(server.port)
        # The new server's first page pays for its own start (imports, templates, connections):
        # not what a cold cache costs, and it would be every run's slowest cold load.
        load_pages(client, paths)
        cold = []
        for _ in range(knobs["cold"]):
            make_cold(guild.pk)
            cold.append(load_pages(client, paths))
        doc["page_cold_p50_ms"] = ms(percentile(cold, 50))
        doc["page_cold_p99_ms"] = ms(percentile(cold, 99))
        load_pages(client, paths)  # warm
        own = [os.getpid(), server.proc.pid, *server.worker_pids()]
        with others_cpu(own, doc, "page_quiet_others_cores"):
            quiet = viewers(server.port, paths, knobs["viewers"], knobs["seconds"])
        doc.update({f"page_quiet_{k}": v for k, v in quiet.items()})
        for rate in RATES:
            name = "page_busy" if rate == max(RATES) else f"page_busy_{rate}"
            with Flusher(guild.pk, rate, spec) as flusher:
                with others_cpu([*own, flusher.proc.pid], doc, f"{name}_others_cores"):
                    busy = viewers(server.port, paths, knobs["viewers"], knobs["seconds"])
            doc.update({f"{name}_{k}": v for k, v in busy.items()})
            doc[f"{name}_flushes"] = len(flusher.flush_s)
            doc[f"{name}_flush_p50_ms"] = ms(percentile(flusher.flush_s, 50))
    doc["page_busy_vs_quiet"] = round(doc["page_busy_per_s"] / doc["page_quiet_per_s"], 2)
    doc["page_busy_rate_mps"] = max(RATES)
    return doc
