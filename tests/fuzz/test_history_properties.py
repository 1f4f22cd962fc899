"""Exactly once with history: gateway deliveries, history imports and gap repairs in any order.

Hypothesis draws an interleaving of messages posted to two channels, a collector that receives
them over the gateway while it is up (and may be SIGKILLed, stopped, or lose its session), a
separate import process that reads history pages (and may be killed mid-import), the collector's
own gap repair, and flushes of either process. Every message has its own author, so the stored
rows say which messages were counted. Invariants: no message is counted twice; the messages
counted are exactly the posted ones inside the committed ranges; after a final full import every
posted message is counted exactly once.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.aggregate import Aggregator
from collector.history import read_channel
from collector.ranges import Ranges
from collector.writer import Writer
from stats.models import MessageCursor
from tests.collector import payloads as p
from tests.rows import hourly_stats

pytestmark = pytest.mark.django_db
G = p.GUILD
CHANNELS = (11, 12)
PAGE = 3  # small pages, so histories span several
TS = datetime(2026, 11, 26, 18, 0, tzinfo=UTC).isoformat()
HEALTH = {0: {"connected": True}}

step = st.one_of(
    st.tuples(st.just("post"), st.sampled_from(CHANNELS), st.integers(1, 8)),
    st.tuples(st.just("post"), st.sampled_from(CHANNELS), st.integers(1, 8)),
    st.tuples(
        st.just("collector"),
        st.sampled_from(["kill", "stop", "lose_session", "start", "flush", "repair"]),
    ),
    st.tuples(st.just("import"), st.sampled_from(CHANNELS), st.integers(1, 6), st.booleans()),
)


class Interrupted(Exception):
    pass


class World:
    def __init__(self) -> None:
        self.posted: dict[int, list[int]] = {c: [] for c in CHANNELS}
        self.next_id = 1000
        self.collector: Aggregator | None = None
        self.writer = Writer()
        self.up = False  # the collector's gateway session is live

    def start_collector(self) -> None:
        self.collector = Aggregator(cursors=self.writer.load_cursors())
        self.collector.new_session()
        self.up = True

    def post(self, channel: int, n: int) -> None:
        for _ in range(n):
            self.next_id += 1 + self.next_id % 3  # ids with gaps, as snowflakes have
            self.posted[channel].append(self.next_id)
            if self.up:
                self.collector.message(self.payload(self.next_id, channel))

    @staticmethod
    def payload(mid: int, channel: int) -> dict:
        return p.message(mid, channel, ts=TS, mid=mid)

    def fetcher(self, channel: int, pages: int | None):
        """History as Discord serves it: newest first, `PAGE` at most, strictly before `before`."""
        calls = [0]

        async def fetch(before: int | None) -> list[dict]:
            if pages is not None and calls[0] >= pages:
                raise Interrupted
            calls[0] += 1
            older = [m for m in self.posted[channel] if before is None or m < before]
            return [self.payload(m, channel) for m in reversed(older[-PAGE:])]

        return fetch

    def read(self, agg: Aggregator, channel: int, pages: int | None, floor: int = 0) -> None:
        try:
            asyncio.run(
                read_channel(self.fetcher(channel, pages), agg, G, channel, floor=floor, limit=PAGE)
            )
        except Interrupted:
            pass

    def flush(self, agg: Aggregator) -> None:
        agg.adopt(self.writer.write(agg.take_batch(0), HEALTH))

    def run(self, plan) -> None:
        self.start_collector()
        for s in plan:
            if s[0] == "post":
                self.post(s[1], s[2])
            elif (
                s[0] == "import"
            ):  # a separate process: loads the ranges, reads, maybe dies unflushed
                _, channel, pages, flushed = s
                agg = Aggregator(cursors=self.writer.load_cursors())
                self.read(agg, channel, pages)
                if flushed:
                    self.flush(agg)
            elif self.collector is None:
                if s[1] == "start":
                    self.start_collector()
            elif s[1] == "kill":
                self.collector, self.up = None, False
            elif s[1] == "stop":
                self.flush(self.collector)
                self.collector, self.up = None, False
            elif s[1] == "lose_session":
                self.up = False
            elif s[1] == "start" and not self.up:
                self.collector.new_session()
                self.up = True
            elif s[1] == "flush":
                self.flush(self.collector)
            elif s[1] == "repair":  # in-process, from each channel's top when it started
                for channel in CHANNELS:
                    floor = self.collector.ranges.get(channel, Ranges()).top
                    self.read(self.collector, channel, None, floor=floor)
        if self.collector is not None:
            self.flush(self.collector)

    def counted(self) -> dict[int, int]:
        return dict(hourly_stats().filter(guild_id=G).values_list("user_id", "messages"))


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=st.lists(step, min_size=3, max_size=30))
def test_every_message_is_counted_once_whatever_the_order(plan):
    with transaction.atomic():
        world = World()
        world.run(plan)
        counted = world.counted()
        assert set(counted.values()) <= {1}, "a message was counted twice"
        committed = {
            cid: Ranges.from_json(r)
            for cid, r in MessageCursor.objects.values_list("channel_id", "ranges")
        }
        inside = {m for c in CHANNELS for m in world.posted[c] if m in committed.get(c, Ranges())}
        assert set(counted) == inside
        for channel in CHANNELS:  # a complete import afterwards leaves nothing out
            agg = Aggregator(cursors=world.writer.load_cursors())
            world.read(agg, channel, None)
            world.flush(agg)
        assert world.counted() == {m: 1 for c in CHANNELS for m in world.posted[c]}
        transaction.set_rollback(True)
