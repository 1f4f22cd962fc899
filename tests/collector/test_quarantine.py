"""Flushes a bad row cannot poison: refused rows are set aside, everything else is written once.

The bad rows here are put into the batch directly, past the collector's edge (which would have
refused them): they stand for whatever a future bug lets through.
"""

from __future__ import annotations

import asyncio
import itertools
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.models import Sum

from collector import quarantine
from collector.aggregate import Aggregator, Batch
from collector.events import ChannelInfo, UserInfo
from collector.service import Collector
from collector.writer import Writer
from stats.models import Channel, MessageCursor, QuarantinedRow
from tests.collector import payloads as p
from tests.collector.dblock import short_lock_waits, write_lock
from tests.rows import hourly_stats

pytestmark = pytest.mark.django_db(transaction=True)
T0 = datetime(2026, 11, 26, 18, 0, tzinfo=UTC).timestamp()
HEALTH = {0: {"connected": True}}
HOUR = int(T0) // 3600
G = p.GUILD


def messages_per_user() -> dict[int, int]:
    rows = hourly_stats().filter(guild_id=G).values_list("user_id").annotate(m=Sum("messages"))
    return {uid: m for uid, m in rows if m}


def batch_with_traffic(users: int = 6, per_user: int = 3) -> Batch:
    """A guild, its channels and members, and `per_user` messages by each of `users` members."""
    agg = Aggregator()
    agg.guild_create(
        p.guild_create(
            channels=[p.channel(11, "general"), p.channel(12, "random")],
            members=range(1, users + 1),
        ),
        T0,
    )
    for uid, _ in itertools.product(range(1, users + 1), range(per_user)):
        agg.message(p.message(uid, 11 + uid % 2))
    return agg.take_batch(T0)


def test_rows_the_database_refuses_are_quarantined_and_the_rest_is_written():
    batch = batch_with_traffic()
    batch.counters[(G, HOUR, 11, 2**64)] = [
        1,
        0,
    ]  # SQLite: OverflowError; PostgreSQL: bigint out of range
    batch.members[(G, 99)] = (
        UserInfo(99, "\ud800x", "", "", False),
        None,
    )  # not encodable as UTF-8
    left, quarantined = quarantine.write(Writer(), batch, HEALTH)
    assert (left, quarantined) == (None, 2)
    assert messages_per_user() == {uid: 3 for uid in range(1, 7)}
    assert set(MessageCursor.objects.values_list("channel_id", flat=True)) == {11, 12}
    assert sorted(QuarantinedRow.objects.values_list("kind", flat=True)) == ["counters", "members"]
    row = QuarantinedRow.objects.get(kind="counters")
    assert str(2**64) in row.row and row.error
    # The next flush is not held back by the refused rows.
    agg = Aggregator()
    agg.message(p.message(1, 11))
    assert quarantine.write(Writer(), agg.take_batch(T0), HEALTH) == (None, 0)
    assert messages_per_user()[1] == 4


def test_a_too_long_name_is_refused_by_postgresql_and_kept_by_sqlite():
    batch = batch_with_traffic()
    batch.channels[13] = ChannelInfo(13, G, "x" * 300, 0, None, 0)
    writer = Writer()
    writer.known_guilds = {G}
    left, quarantined = quarantine.write(writer, batch, HEALTH)
    assert left is None
    assert messages_per_user() == {uid: 3 for uid in range(1, 7)}
    if connection.vendor == "postgresql":  # varchar(100): a DataError
        assert quarantined == 1 and not Channel.objects.filter(id=13).exists()
        assert QuarantinedRow.objects.get().kind == "channels"
    else:  # SQLite does not enforce lengths
        assert quarantined == 0 and len(Channel.objects.get(id=13).name) == 300


class LockedAfter(Writer):
    """A writer whose database becomes locked (by another connection) from its n-th write on."""

    def __init__(self, n: int, locks: ExitStack) -> None:
        super().__init__()
        self.n, self.calls, self.locks = n, 0, locks

    def write(self, batch: Batch, health: dict) -> None:
        self.calls += 1
        if self.calls == self.n:
            self.locks.enter_context(write_lock())
        super().write(batch, health)


@pytest.mark.parametrize("lock_at", [2, 3, 5])
def test_a_stall_while_isolating_keeps_exactly_what_is_not_written(lock_at):
    batch = batch_with_traffic()
    batch.counters[(G, HOUR, 11, 2**64)] = [1, 0]
    with short_lock_waits():
        with ExitStack() as locks:
            left, quarantined = quarantine.write(LockedAfter(lock_at, locks), batch, HEALTH)
        assert left is not None  # the stall happened mid-way: the rest waits for the next flush
        left, more = quarantine.write(Writer(), left, HEALTH)
    assert left is None and quarantined + more == 1
    assert messages_per_user() == {uid: 3 for uid in range(1, 7)}  # nothing twice, nothing lost
    assert QuarantinedRow.objects.count() == 1


def test_memory_stays_bounded_by_distinct_keys_while_the_database_is_down():
    ids = itertools.count(900_000_000_000_000_000)
    locker = ThreadPoolExecutor(1)  # the lock's connection lives on one thread of its own
    locks = ExitStack()

    async def run() -> Collector:
        collector = Collector("test-token", flush_ms=100)
        await collector.start_up()
        collector.agg.guild_create(
            p.guild_create(
                channels=[p.channel(11, "a"), p.channel(12, "b"), p.channel(13, "c")],
                members=range(1, 11),
            ),
            T0,
        )
        locker.submit(locks.enter_context, write_lock()).result()
        for _ in range(4):
            for i in range(2000):  # 10 members × 3 channels, one hour
                collector.agg.message(p.message(1 + i % 10, 11 + i % 3, mid=next(ids)))
            assert not await collector.flush()
            kept = collector.pending
            assert len(kept.counters) == 30
            assert len(kept.members) <= 10 and len(kept.claims) == 3 and len(kept.channels) == 3
            assert sum(len(items) for items in kept.feed.values()) <= 50
        locker.submit(locks.close).result()
        assert await collector.flush()
        await collector.in_db(lambda: connection.close())  # looked up on the database thread
        collector.db.shutdown()
        return collector

    try:
        with short_lock_waits():
            collector = asyncio.run(run())
    finally:
        locker.submit(locks.close).result()
        locker.shutdown()
    assert collector.pending is None
    assert sum(messages_per_user().values()) == 8000
