"""Gap repair: after a start, and after a gateway session that could not be resumed, the collector
reads each channel's history since the last message it had processed there, in the background.

Counting goes on meanwhile: the repair awaits REST pages on the collector's loop and feeds each
page to the same Aggregator as the gateway (so a message that both deliver counts once), and the
normal flushes commit it. Every channel with a stored range is checked (threads included); a
channel the collector never counted in is left to `manage.py backfill`. A gap is one channel's
span to check: found when scheduled, repaired once read down to where it starts, open until then
(or for good, when the bot may no longer read the channel).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import discord

from collector.history import page_fetcher, read_channel

if TYPE_CHECKING:
    from collector.service import Collector

log = logging.getLogger("mocha.collector")
WORKERS = 2  # channels read at once: leaves room in the rate limits for anything else


class GapRepair:
    def __init__(self, collector: Collector) -> None:
        self.collector = collector
        self.pending: dict[
            int, int
        ] = {}  # source channel -> floor (last id processed before the gap)
        self.wakeup = asyncio.Event()
        self.found = 0
        self.repaired = 0
        self.recovered = 0  # messages counted by repairs
        self.unreadable: set[int] = set()

    @property
    def open(self) -> int:
        return self.found - self.repaired

    def schedule(self) -> None:
        """Check every channel this collector owns from the top of what it has processed so far."""
        agg = self.collector.agg
        for source, ranges in agg.ranges.items():
            gid = agg.source_guild.get(source)
            if gid is None or not ranges or not self.collector.owns_guild(gid):
                continue
            if source in self.pending:
                self.pending[source] = min(self.pending[source], ranges.top)
                continue
            self.pending[source] = ranges.top
            self.found += 1
        self.wakeup.set()

    async def run(self) -> None:
        """The background task: waits for work, reads channels a few at a time."""
        while True:
            await self.wakeup.wait()
            self.wakeup.clear()
            await self.collector.client.wait_until_ready()
            await asyncio.gather(*(self._worker() for _ in range(WORKERS)))

    async def _worker(self) -> None:
        while self.pending:
            source, floor = self.pending.popitem()
            try:
                await self.repair(source, floor)
            except Exception as exc:  # a transient failure: the gap stays open, logged
                log.warning(
                    "gap repair of channel %s failed (%s)",
                    source,
                    str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                )

    async def repair(self, source: int, floor: int) -> None:
        agg = self.collector.agg
        gid = agg.source_guild[source]
        cfg = agg.config.get(gid)
        parent = agg.thread_parent.get(source, source)
        if cfg is not None and (
            not cfg.tracking or source in cfg.excluded or parent in cfg.excluded
        ):
            self.repaired += 1  # nothing of it would count
            return
        try:
            result = await read_channel(
                page_fetcher(self.collector.client.http, source), agg, gid, source, floor
            )
        except discord.NotFound:  # deleted meanwhile: nothing left to read
            self.repaired += 1
            return
        except discord.Forbidden:
            if source not in self.unreadable:
                self.unreadable.add(source)
                log.warning(
                    "gap in channel %s cannot be repaired: no permission to read its history",
                    source,
                )
            return
        self.recovered += result.counted
        if result.complete:
            self.repaired += 1
        if result.counted:
            log.info("gap repair: %d missed messages counted in channel %s", result.counted, source)

    def health(self) -> dict:
        return {
            "gaps_found": self.found,
            "gaps_repaired": self.repaired,
            "gaps_open": self.open,
            "messages_recovered": self.recovered,
        }
