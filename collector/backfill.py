"""`manage.py backfill`: import guilds' message history through discord.py's HTTP client.

Channels are read a few at a time (discord.py keeps each route's rate-limit bucket and waits out
429s); what is read is committed at least once a second with the ranges it covers, so an
interrupted import loses at most a second of reading and the next run resumes from there.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

import discord
from django.db import close_old_connections

from collector.aggregate import Aggregator
from collector.events import parse_time
from collector.fields import Invalid
from collector.history import (
    fetch_with_retries,
    guild_sources,
    page_fetcher,
    read_channel,
    snowflake_at,
)
from collector.writer import Writer

CONCURRENT_CHANNELS = 4
FLUSH_EVERY_S = 3.0
FLUSH_EVERY_MESSAGES = 20_000
MEMBERS_PAGE = 1000


class Stopped(Exception):
    """The import was asked to stop (SIGINT/SIGTERM): commit what was read and leave."""


@dataclass
class GuildReport:
    guild_id: int
    name: str = ""
    channels: int = 0
    done: int = 0
    messages: int = 0
    counted: int = 0
    joins: int = 0
    notes: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    @property
    def rate(self) -> float:
        return self.messages / max(time.monotonic() - self.started, 1e-6)


class Progress:
    """One line per guild, redrawn in place on a terminal (a line every few seconds otherwise)."""

    WIDTH = 24

    def __init__(self, out: TextIO, tty: bool | None = None) -> None:
        out = getattr(
            out, "_out", out
        )  # a command's OutputWrapper would end every write with a newline
        self.out = out
        self.tty = out.isatty() if tty is None else tty
        self.last = 0.0

    def line(self, r: GuildReport) -> str:
        filled = self.WIDTH * r.done // max(r.channels, 1)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        return (
            f"{r.name or r.guild_id} [{bar}] {r.done}/{r.channels} channels, "
            f"{r.messages:,} messages, {r.rate:,.0f}/s"
        )

    def update(self, r: GuildReport, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self.last < (0.2 if self.tty else 5.0):
            return
        self.last = now
        if self.tty:
            self.out.write("\r" + self.line(r) + ("\n" if final else ""))
        else:
            self.out.write(self.line(r) + "\n")
        self.out.flush()

    def note(self, r: GuildReport, text: str) -> None:
        r.notes.append(text)
        self.out.write(("\r\033[K" if self.tty else "") + f"note: {text}\n")
        self.out.flush()


class Importer:
    def __init__(
        self,
        http: discord.http.HTTPClient,
        days: int | None,
        progress: Progress,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.http = http
        self.days = days
        self.progress = progress
        self.now = now
        self.writer = Writer()
        self.db = ThreadPoolExecutor(1, thread_name_prefix="mocha-backfill-db")
        self.stopping = asyncio.Event()
        self.flush_lock = asyncio.Lock()

    async def in_db(self, fn: Callable, *args: Any) -> Any:
        def call():
            try:
                return fn(*args)
            finally:
                close_old_connections()

        return await asyncio.get_running_loop().run_in_executor(self.db, call)

    async def guild_ids(self) -> list[int]:
        guilds = await fetch_with_retries(lambda: self.http.get_guilds(200), "listing guilds")
        return [int(g["id"]) for g in guilds]

    async def guild(self, gid: int) -> GuildReport:
        report = GuildReport(gid)
        agg = Aggregator()
        configs = await self.in_db(self.writer.load_configs)
        agg.set_config(configs, time.time())
        if gid in configs and not configs[gid].tracking:
            self.progress.note(report, f"guild {gid}: tracking is off; skipped")
            return report
        info = await fetch_with_retries(lambda: self.http.get_guild(gid), f"reading guild {gid}")
        agg.guild_update(info, time.time())
        report.name = info.get("name") or str(gid)
        sources = await guild_sources(self.http, gid, agg)
        report.channels = len(sources)
        agg.adopt(await self.in_db(self.writer.load_cursors, sources))
        floor = snowflake_at(self.now() - timedelta(days=self.days)) - 1 if self.days else 0
        queue: asyncio.Queue[int] = asyncio.Queue()
        for source in sources:
            queue.put_nowait(source)
        last_flush = [time.monotonic()]

        async def between_pages() -> None:
            if self.stopping.is_set():
                raise Stopped
            if (
                time.monotonic() - last_flush[0] >= FLUSH_EVERY_S
                or agg.batch.events >= FLUSH_EVERY_MESSAGES
            ):
                last_flush[0] = time.monotonic()
                await self.flush(agg)

        async def worker() -> None:
            while not queue.empty() and not self.stopping.is_set():
                source = queue.get_nowait()
                await self.read(agg, gid, source, floor, between_pages, report)
                report.done += 1
                self.progress.update(report)

        try:
            await asyncio.gather(*(worker() for _ in range(CONCURRENT_CHANNELS)))
            if not self.stopping.is_set():
                await self.past_joins(agg, gid, report)
        finally:
            await self.flush(agg)
        self.progress.update(report, final=True)
        return report

    async def past_joins(self, agg: Aggregator, gid: int, report: GuildReport) -> None:
        """Joins of current members (their `joined_at`) within the imported period: the member list
        needs the Server Members intent; without it the note says so."""
        since = self.now() - timedelta(days=self.days) if self.days else None
        after = 0
        while True:
            try:
                page = await fetch_with_retries(
                    lambda after=after: self.http.get_members(gid, MEMBERS_PAGE, after),
                    "listing members",
                )
            except discord.Forbidden:
                self.progress.note(
                    report, f"guild {gid}: member list not available; past joins not imported"
                )
                return
            for member in page:
                try:
                    agg.listed_member(gid, member)
                except Invalid as problem:
                    agg.skip("member list", problem)
                at = parse_time(member.get("joined_at"))
                if at is not None and (since is None or at >= since) and "user" in member:
                    agg.past_join(gid, member, at)
                    report.joins += 1
            if len(page) < MEMBERS_PAGE:
                return
            after = max(int(m["user"]["id"]) for m in page)

    async def read(
        self,
        agg: Aggregator,
        gid: int,
        source: int,
        floor: int,
        between_pages: Callable[[], Any],
        report: GuildReport,
    ) -> None:
        fetch = page_fetcher(self.http, source)

        async def guarded(before: int | None) -> list[dict]:
            await between_pages()
            return await fetch(before)

        def counted(n: int) -> None:
            report.messages += n
            self.progress.update(report)

        name = agg.batch.channels.get(source)
        label = f"#{name.name}" if name is not None and name.name else str(source)
        try:
            result = await read_channel(guarded, agg, gid, source, floor, on_page=counted)
            report.counted += result.counted
        except discord.Forbidden:
            self.progress.note(
                report, f"{label} ({source}): no permission to read its history; skipped"
            )
        except discord.NotFound:
            self.progress.note(report, f"{label} ({source}): gone; skipped")
        except Stopped:
            pass

    async def flush(self, agg: Aggregator) -> None:
        async with self.flush_lock:
            batch = agg.take_batch(time.time())
            batch.feed.clear()  # history is not live activity
            batch.guild_counts.clear()
            agg.adopt(await self.in_db(self.writer.write, batch, {}))

    def close(self) -> None:
        self.db.shutdown(wait=True)


async def run_backfill(
    token: str,
    guild_ids: list[int],
    days: int | None,
    out: TextIO = sys.stdout,
    on_importer: Callable[[Importer], None] | None = None,
    now: Callable[[], datetime] | None = None,
) -> list[GuildReport]:
    """Import these guilds (all the bot is in when empty); returns one report per guild."""
    http = discord.http.HTTPClient(asyncio.get_running_loop())
    await http.static_login(token)
    importer = Importer(http, days, Progress(out), **({"now": now} if now else {}))
    if on_importer is not None:
        on_importer(importer)
    try:
        reports = []
        for gid in guild_ids or await importer.guild_ids():
            if importer.stopping.is_set():
                break
            reports.append(await importer.guild(gid))
        return reports
    finally:
        await http.close()
        importer.close()
