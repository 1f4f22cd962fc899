"""The collector process: discord.py client, aggregation, a flush loop and a config loop.

The event loop only counts in memory. All database work happens on one
dedicated thread (`self.db`), so a slow or locked database delays commits,
never the gateway; a failed flush is kept and merged into the next one.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import math
import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import discord
import psutil
from django.conf import settings
from django.db import close_old_connections, connection

from collector import quarantine
from collector.aggregate import DEFAULT_CONFIG, Aggregator, Batch
from collector.client import (
    MEMBERS,
    REFUSED_MEMBERS,
    CountingClient,
    ShardedCountingClient,
    intents_without,
)
from collector.repair import GapRepair
from collector.telemetry import Telemetry
from collector.writer import Writer, bump_versions_of
from mocha.utc import from_epoch
from stats import maintenance, rollups
from stats.retention import apply_daily_retention

log = logging.getLogger("mocha.collector")
STOP_FLUSH_DEADLINE_S = 8.0
OUTAGE_MIN_S = 5.0  # a restart quicker than this is not shown as an outage
# glibc keeps what a flush frees (the batch, its row lists) in its heaps rather than returning
# it, so a burst's peak stayed in RSS: trimming after each database call gave back ~5 MB after
# the 600k bench burst (0.2 ms a call). None where the C library has no malloc_trim.
_malloc_trim = getattr(ctypes.CDLL(None), "malloc_trim", None)


class Collector:
    def __init__(
        self,
        token: str,
        shard_ids: list[int] | None = None,
        shard_count: int | None = None,
        flush_ms: int | None = None,
        public_new_guilds: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.token = token
        self.shard_ids = shard_ids or [0]
        self.shard_count = shard_count or 1
        self.flush_s = (flush_ms if flush_ms is not None else settings.MOCHA_FLUSH_MS) / 1000
        self.now = clock
        self.agg = Aggregator()
        self.writer = Writer(public_new_guilds=public_new_guilds)
        self.db = ThreadPoolExecutor(1, thread_name_prefix="mocha-db")
        self.pending: Batch | None = None
        self.to_erase: set[tuple[int, int]] = (
            set()
        )  # (guild, user): erase once counted events are in
        self.to_rebuild: set[int] = set()  # guilds whose timezone or exclusions changed
        self.received = 0  # MESSAGE_CREATE payloads seen
        self.other_events = 0
        self.telemetry = Telemetry()
        self.errors = 0
        self.gaps = 0
        self.ready_shards: set[int] = set()
        self.last_event_at: float | None = None
        self.last_flush_ms = 0.0
        self.last_flush_at: float | None = None
        self.started_at = self.now()
        self._rate_mark = (self.started_at, 0)
        self.events_per_sec = 0.0
        self.stopping = asyncio.Event()
        self.repair = GapRepair(self)
        self.missing_intents: list[str] = []  # privileged intents Discord refused; counted without
        self.client: discord.Client = self.make_client()

    def make_client(self) -> discord.Client:
        intents = intents_without(self.missing_intents)
        if len(self.shard_ids) > 1:
            return ShardedCountingClient(
                self, intents, shard_ids=self.shard_ids, shard_count=self.shard_count
            )
        return CountingClient(
            self, intents, shard_id=self.shard_ids[0], shard_count=self.shard_count
        )

    # --- called from the client's state ---------------------------------------
    def on_payload(self, dispatch: str) -> None:
        self.other_events += 1
        self.telemetry.received[dispatch] += 1

    def on_ready_payload(self, data: dict) -> None:
        """A READY after the first one for a shard means a new session: what happened in between
        is a gap.

        After any READY (the first after a start too) each channel's history since the last
        message processed there is read again in the background.
        """
        shard = (data.get("shard") or [self.shard_ids[0]])[0]
        if shard in self.ready_shards:
            self.gaps += 1
            log.warning(
                "shard %s started a new session: events between sessions were not replayed", shard
            )
            since = self.last_event_at or self.last_flush_at or self.started_at
            self.agg.batch.outages.append((shard, self.shard_count, since, self.now()))
        self.agg.new_session()
        self.ready_shards.add(shard)
        self.repair.schedule()

    def owns_guild(self, guild_id: int) -> bool:
        return (guild_id >> 22) % self.shard_count in self.shard_ids

    # --- database thread --------------------------------------------------------
    async def in_db(self, fn: Callable, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.db, self._db_call, fn, args)

    @staticmethod
    def _db_call(fn: Callable, args: tuple) -> Any:
        try:
            return fn(*args)
        except Exception:
            connection.close()  # a broken connection must not poison the next flush
            raise
        finally:
            close_old_connections()
            if _malloc_trim is not None:
                _malloc_trim(0)

    async def start_up(self) -> None:
        closed = await self.in_db(self.writer.close_stale_sessions, self.owns_guild)
        if closed:
            log.info("closed %d voice sessions left open by an earlier run", closed)
        now = self.now()
        for shard, at in (await self.in_db(self.writer.last_reports, self.shard_ids)).items():
            if now - at > max(OUTAGE_MIN_S, 3 * self.flush_s):  # the previous run's last word
                self.agg.batch.outages.append((shard, self.shard_count, at, now))
        self.agg.ranges = await self.in_db(self.writer.load_cursors)
        self.agg.source_guild = await self.in_db(self.writer.load_cursor_guilds)
        self.agg.set_config(await self.in_db(self.writer.load_configs), self.now())

    # --- loops ------------------------------------------------------------------
    async def flush(self) -> bool:
        """Commit everything counted so far; on failure keep it for the next flush."""
        now = self.now()
        batch = self.agg.take_batch(now)
        self.telemetry.taken(batch, self.received)
        if self.pending is not None:
            batch = self.pending.merge_newer(batch)
            self.pending = None
        health = self.health(now, batch)
        started = time.perf_counter()
        try:
            left, _ = await self.in_db(quarantine.write, self.writer, batch, health)
        except Exception as exc:  # database stalled or unreachable: keep counting in memory
            left = batch
            reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        else:
            reason = "the database stalled while the rows it refuses were set aside"
        if left is not None:
            self.pending = left
            self.errors += 1
            log.warning(
                "flush failed (%s); %d keys kept for the next flush", reason, len(left.counters)
            )
            return False

        self.last_flush_ms = (time.perf_counter() - started) * 1000
        self.last_flush_at = now
        self.telemetry.flushed(self.last_flush_ms / 1000, batch)
        return True

    async def running_after(self, seconds: float) -> bool:
        """Wait `seconds`, or less if the collector is stopping; True while it is still running."""
        try:
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)
        except TimeoutError:
            pass
        return not self.stopping.is_set()

    async def flush_loop(self) -> None:
        while await self.running_after(self.flush_s):
            if not await self.flush():
                await asyncio.sleep(min(5.0, self.flush_s * 2))

    async def config_loop(self) -> None:
        """Guild configuration edited in the admin reaches counting within MOCHA_CONFIG_POLL_S."""
        while await self.running_after(settings.MOCHA_CONFIG_POLL_S):
            try:
                await self.reload_config()
            except Exception as exc:
                log.warning("could not reload guild configuration (%s)", str(exc).splitlines()[0])

    async def retention_loop(self) -> None:
        """Each guild's retention, applied once a day by whichever process claims the day first."""
        while await self.running_after(settings.MOCHA_RETENTION_CHECK_S):
            try:
                pruned = await self.in_db(apply_daily_retention)
            except Exception as exc:
                log.warning("could not apply retention (%s)", str(exc).splitlines()[0])
            else:
                if pruned is not None:
                    log.info("applied retention: pruned %s", maintenance.describe(pruned))

    async def reload_config(self) -> None:
        """Adopt new settings; per-day rollups of guilds whose timezone or exclusions changed are
        rebuilt.

        The web process rebuilds them when the setting is saved, but events counted under the
        old setting until now may have landed since: flush them, then rebuild once more.
        """
        before = self.agg.config
        configs = await self.in_db(self.writer.load_configs)
        self.agg.set_config(configs, self.now())
        # A guild first seen since the last load was counted under the default configuration.
        was = {gid: before.get(gid, DEFAULT_CONFIG) for gid in configs}
        self.to_rebuild |= {
            gid
            for gid, c in configs.items()
            if self.owns_guild(gid)
            and (was[gid].timezone, was[gid].excluded) != (c.timezone, c.excluded)
        }
        # Members who opted out since the last load: the web erased their rows, but what this
        # process counted of them until now may have been committed since (or still be in memory).
        self.to_erase |= {
            (gid, uid)
            for gid, c in configs.items()
            if self.owns_guild(gid)
            for uid in c.opted_out - was[gid].opted_out
        }
        # Kept until done: a flush that fails now leaves the work for the next reload.
        if (self.to_rebuild or self.to_erase) and await self.flush():
            for gid in sorted(self.to_rebuild):
                await self.in_db(rollups.rebuild_config_dependent, gid)
            await self.in_db(bump_versions_of, sorted(self.to_rebuild))
            self.to_rebuild.clear()
            for gid, uid in sorted(self.to_erase):
                await self.in_db(maintenance.purge_member, gid, uid)
            self.to_erase.clear()

    # --- health ------------------------------------------------------------------
    def health(self, now: float, batch: Batch) -> dict[int, dict]:
        total = self.received + self.other_events
        if total != self._rate_mark[1] or batch.events:
            self.last_event_at = now  # to within one flush: no clock read per event
        mark_t, mark_n = self._rate_mark
        if now - mark_t >= 1.0:
            self.events_per_sec = (total - mark_n) / (now - mark_t)
            self._rate_mark = (now, total)
        window = max(now - (self.last_flush_at or self.started_at), 1e-3)
        rates = {
            str(gid): {
                "messages": c[0] / window,
                "voice_joins": c[1] / window,
                "member_joins": c[2] / window,
            }
            for gid, c in batch.guild_counts.items()
        }
        fields = {
            "shard_count": self.shard_count,
            "pid": os.getpid(),
            "events_processed": total,
            "events_per_sec": round(self.events_per_sec, 2),
            "queue_depth": len(self.agg.batch.counters) + len(batch.counters),
            "last_flush_ms": round(self.last_flush_ms, 3),
            "last_flush_at": from_epoch(self.last_flush_at),
            "last_event_at": from_epoch(self.last_event_at),
            "rss_bytes": psutil.Process().memory_info().rss,
            "errors": self.errors,
            "gaps": self.gaps,
            "skipped": dict(self.agg.skipped),
            **{k: v for k, v in self.repair.health().items() if k != "messages_recovered"},
            "started_at": from_epoch(self.started_at),
            "updated_at": from_epoch(now),
            "rates": rates,
            "missing_intents": self.missing_intents,
            "telemetry": self.telemetry.as_json(),
        }
        return {shard: {**fields, **self.shard_health(shard)} for shard in self.shard_ids}

    def shard_health(self, shard_id: int) -> dict:
        client = self.client
        if isinstance(client, discord.AutoShardedClient):
            shard = client.get_shard(shard_id)
            connected = shard is not None and not shard.is_closed()
            latency = shard.latency if shard is not None else math.nan
        else:
            connected = client.ws is not None and client.is_ready() and not client.is_closed()
            latency = client.latency
        ok = latency is not None and math.isfinite(latency)
        return {"connected": connected, "latency_ms": round(latency * 1000, 3) if ok else None}

    # --- lifecycle -------------------------------------------------------------------
    async def run(self, on_started: Callable[[], None] | None = None) -> None:
        """Run until SIGTERM/SIGINT (or `stop()`), then flush and close voice sessions."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, self.stop)
            except (NotImplementedError, RuntimeError, ValueError):
                pass  # not the main thread (tests): stop() is called directly
        await self.start_up()
        loops = (self.flush_loop(), self.config_loop(), self.repair.run(), self.retention_loop())
        tasks = [asyncio.create_task(loop) for loop in loops]
        client_task = asyncio.create_task(self.client.start(self.token, reconnect=True))
        if on_started:
            on_started()
        stop_task = asyncio.create_task(self.stopping.wait())
        while True:
            done, _ = await asyncio.wait(
                {client_task, stop_task}, return_when=asyncio.FIRST_COMPLETED
            )
            if not self.refused_members(client_task, done):
                break
            log.warning(
                "%s; counting messages and voice without it (MOCHA_ALLOW_MISSING_INTENTS)",
                REFUSED_MEMBERS,
            )
            self.missing_intents = [MEMBERS]
            await self.client.close()
            self.client = self.make_client()
            client_task = asyncio.create_task(self.client.start(self.token, reconnect=True))
        self.stopping.set()
        await self.shutdown(tasks, client_task)
        if client_task in done and client_task.exception() is not None:
            raise client_task.exception()

    def refused_members(self, client_task: asyncio.Task, done: set) -> bool:
        """The client stopped on 4014, and counting without the members intent is allowed."""
        return (
            client_task in done
            and not client_task.cancelled()
            and settings.MOCHA_ALLOW_MISSING_INTENTS
            and isinstance(client_task.exception(), discord.PrivilegedIntentsRequired)
            and MEMBERS not in self.missing_intents
        )

    def stop(self) -> None:
        self.stopping.set()

    async def shutdown(self, tasks: list[asyncio.Task], client_task: asyncio.Task) -> None:
        try:
            await asyncio.wait_for(self.client.close(), timeout=3)
        except Exception:
            pass
        for task in [*tasks, client_task]:
            task.cancel()
        await asyncio.gather(*tasks, client_task, return_exceptions=True)
        self.agg.close_all_voice(self.now())
        deadline = time.monotonic() + STOP_FLUSH_DEADLINE_S
        while not await self.flush():
            if time.monotonic() > deadline:
                log.error("could not commit the last events before the deadline")
                break
            await asyncio.sleep(0.5)
        try:  # bounded: stopping must not hang on a database that is gone
            await asyncio.wait_for(
                self.in_db(self.writer.mark_disconnected, self.shard_ids), timeout=3
            )
        except Exception:
            pass
        self.db.shutdown(wait=False, cancel_futures=True)
