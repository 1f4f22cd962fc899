"""Reading message history over REST into an Aggregator: `manage.py backfill` and gap repair.

A channel is read newest first (`before=`), 100 messages a page. Each page's messages go
through the same counting rules as the gateway's, and the span the page covers (from its
oldest message up to where the previous page started) is added to the channel's ranges. When
a page ends inside a span already processed, reading jumps below that span, so an interrupted
import resumes where it stopped and a repair reads only the holes. Reading stops at `floor`:
messages at or below that id are left alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import discord

from collector.aggregate import Aggregator
from collector.ranges import Ranges

log = logging.getLogger("mocha.collector")

DISCORD_EPOCH_MS = 1420070400000
PAGE = 100  # Discord's largest page of messages
MESSAGE_CHANNEL_TYPES = (0, 2, 5, 10, 11, 12, 13)  # text, voice chat, news, threads, stage chat
THREAD_PARENT_TYPES = (
    0,
    5,
    15,
    16,
)  # channels that hold threads (forum and media hold only threads)
RETRIES = 5  # a page that keeps failing (after discord.py's own 429 retries) is given up

Fetch = Callable[[int | None], Awaitable[list[dict]]]


def snowflake_at(when: datetime) -> int:
    """The smallest message id of a moment."""
    return max(int(when.timestamp() * 1000) - DISCORD_EPOCH_MS, 0) << 22


@dataclass
class ReadResult:
    pages: int = 0
    messages: int = 0  # messages read above the floor
    counted: int = 0  # of those, counted now (not processed before, not skipped by a rule)
    complete: bool = False  # read down to the floor


async def read_channel(
    fetch: Fetch,
    agg: Aggregator,
    gid: int,
    source: int,
    floor: int = 0,
    on_page: Callable[[int], None] | None = None,
    limit: int = PAGE,
) -> ReadResult:
    """Read `source`'s history above `floor` into `agg`.

    `fetch(before)` returns one page of at most `limit` messages, newest first (before=None: the
    newest).
    """
    result = ReadResult()
    before: int | None = None
    while before is None or before - 1 > floor:
        page = await fetch(before)
        result.pages += 1
        ids = [int(m["id"]) for m in page]
        batch_events = agg.batch.events
        for message, mid in zip(page, ids, strict=False):
            if mid > floor:
                message["guild_id"] = str(gid)  # REST messages do not always say
                message["channel_id"] = str(source)
                agg.message(message, gateway=False)
                result.messages += 1
        result.counted += agg.batch.events - batch_events
        if not ids:
            result.complete = True
            break
        oldest = min(ids)
        exhausted = len(page) < limit
        # This page covers everything from its oldest message (or the channel's start) up to
        # where the previous page began (or its own newest message on the first page).
        top = before - 1 if before is not None else max(ids)
        agg.cover(gid, source, max(0 if exhausted else oldest, floor + 1), top)
        if on_page is not None:
            on_page(len(ids))
        if exhausted or oldest <= floor:
            result.complete = True
            break
        known = agg.ranges.get(source, Ranges()).covering(oldest - 1)
        before = known[0] if known is not None else oldest
    else:
        result.complete = True
    return result


async def fetch_with_retries(call: Callable[[], Awaitable], what: str):
    """One REST call; discord.py waits out 429s; a call still failing is retried a few times."""
    for attempt in range(RETRIES):
        try:
            return await call()
        except (discord.Forbidden, discord.NotFound):
            raise
        except (TimeoutError, discord.HTTPException, OSError) as exc:
            if attempt == RETRIES - 1:
                raise
            log.info("%s failed (%s); retrying", what, exc)
            await asyncio.sleep(min(2**attempt, 10))


def page_fetcher(http: discord.http.HTTPClient, source: int) -> Fetch:
    async def fetch(before: int | None) -> list[dict]:
        return await fetch_with_retries(
            lambda: http.logs_from(source, PAGE, before=before), f"reading channel {source}"
        )

    return fetch


async def guild_sources(http: discord.http.HTTPClient, gid: int, agg: Aggregator) -> list[int]:
    """Every channel and thread of a guild that holds messages, told to `agg` (threads → parents).

    Excluded channels (and their threads) are left out. Archived threads need one listing per
    parent channel; a parent the bot may not read simply lists none.
    """
    excluded = agg.config[gid].excluded if gid in agg.config else frozenset()
    channels = await fetch_with_retries(
        lambda: http.get_all_guild_channels(gid), "listing channels"
    )
    threads: dict[int, dict] = {}
    active = await fetch_with_retries(lambda: http.get_active_threads(gid), "listing threads")
    for thread in active.get("threads", []):
        threads[int(thread["id"])] = thread
    for channel in channels:
        if channel.get("type") not in THREAD_PARENT_TYPES or int(channel["id"]) in excluded:
            continue
        for listing in (http.get_public_archived_threads, http.get_private_archived_threads):
            before = None
            while True:
                try:
                    data = await fetch_with_retries(
                        lambda listing=listing, channel=channel, before=before: listing(
                            int(channel["id"]), before=before, limit=100
                        ),
                        "listing archived threads",
                    )
                except (discord.Forbidden, discord.NotFound):
                    break
                found = data.get("threads", [])
                for thread in found:
                    threads[int(thread["id"])] = thread
                if not data.get("has_more") or not found:
                    break
                before = found[-1]["thread_metadata"]["archive_timestamp"]
    for channel in [*channels, *threads.values()]:
        agg.channel_update(channel, gid)
    sources = []
    for channel in [*channels, *threads.values()]:
        cid = int(channel["id"])
        parent = agg.thread_parent.get(cid, cid)
        if (
            channel.get("type") in MESSAGE_CHANNEL_TYPES
            and cid not in excluded
            and parent not in excluded
        ):
            sources.append(cid)
    return sources
