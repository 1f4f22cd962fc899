"""The collector's cumulative figures for Prometheus: flush histograms and events by type.

The collector process keeps them in memory and writes them with its status row
(CollectorState.telemetry) at every flush; the web server turns them into
Prometheus metric families (stats/prometheus.py). Like any Prometheus counter
they start from zero when the process starts. Shape of `as_json()`:

    {"flush_seconds": HISTOGRAM, "flush_events": HISTOGRAM,
     "received": {"MESSAGE_CREATE": n, ...}, "counted": {"message": n, ...},
     "skipped": {"message": n, ...}}

with HISTOGRAM = {"bounds": [upper bounds], "counts": [per bucket, one more for +Inf], "sum":
total}.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter

from collector.aggregate import Batch

FLUSH_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
FLUSH_EVENTS = (0, 10, 100, 1_000, 10_000, 100_000, 1_000_000)
# A payload of these types counts as at most one event of that kind: what was received and not
# counted was skipped (a bot, an excluded channel, a direct message, a replay, an untracked guild).
COUNTS_AS = {
    "MESSAGE_CREATE": "message",
    "GUILD_MEMBER_ADD": "member_join",
    "GUILD_MEMBER_REMOVE": "member_leave",
}


class Histogram:
    """Observations per bucket (not yet cumulative), plus their sum."""

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def as_json(self) -> dict:
        return {"bounds": list(self.bounds), "counts": list(self.counts), "sum": self.sum}


def counted_in(batch: Batch) -> Counter:
    """Events of each kind the aggregator counted into a fresh batch."""
    counted = Counter()
    for messages, voice_joins, _member_joins in batch.guild_counts.values():
        counted["message"] += messages
        counted["voice_join"] += voice_joins
    for kind, *_ in batch.member_events:
        counted["member_join" if kind == 1 else "member_leave"] += 1
    return counted


class Telemetry:
    def __init__(self) -> None:
        self.flush_seconds = Histogram(FLUSH_SECONDS)
        self.flush_events = Histogram(FLUSH_EVENTS)
        self.received: Counter = Counter()  # dispatch type -> payloads
        self.counted: Counter = Counter()  # event kind -> events counted

    def taken(self, batch: Batch, received_messages: int) -> None:
        """A fresh batch left the aggregator (before any merge with a failed one): its counts are
        final."""
        self.counted.update(counted_in(batch))
        self.received["MESSAGE_CREATE"] = received_messages

    def flushed(self, seconds: float, batch: Batch) -> None:
        self.flush_seconds.observe(seconds)
        self.flush_events.observe(batch.events)

    def as_json(self) -> dict:
        skipped = {
            kind: max(0, self.received[kind_type] - self.counted[kind])
            for kind_type, kind in COUNTS_AS.items()
        }
        return {
            "flush_seconds": self.flush_seconds.as_json(),
            "flush_events": self.flush_events.as_json(),
            "received": dict(self.received),
            "counted": dict(self.counted),
            "skipped": skipped,
        }
