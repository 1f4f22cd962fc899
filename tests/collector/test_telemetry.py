"""The collector's Prometheus figures: events counted and skipped by kind, flush histograms."""

from __future__ import annotations

from datetime import UTC, datetime

from collector.aggregate import Aggregator
from collector.telemetry import FLUSH_EVENTS, FLUSH_SECONDS, Telemetry
from tests.collector import payloads as p

T0 = datetime(2026, 11, 26, 18, 0, tzinfo=UTC).timestamp()


def test_received_but_not_counted_is_skipped_by_kind():
    agg, telemetry = Aggregator(), Telemetry()
    first = p.message(1, 11)
    payloads = [
        first,
        dict(first),
        p.message(2, 11),
        p.message(3, 11, guild=None),
        p.message(4, 11, bot=True),
    ]
    for payload in payloads:
        agg.message(payload)
    agg.member_add(p.member_add(7), T0)
    telemetry.received["GUILD_MEMBER_ADD"] += 1
    batch = agg.take_batch(T0)
    telemetry.taken(batch, received_messages=len(payloads))
    telemetry.flushed(0.004, batch)
    doc = telemetry.as_json()
    assert doc["counted"] == {"message": 2, "voice_join": 0, "member_join": 1}
    # A replayed message, a direct message and a bot's: received, not counted.
    assert doc["skipped"] == {"message": 3, "member_join": 0, "member_leave": 0}
    assert doc["received"] == {"MESSAGE_CREATE": 5, "GUILD_MEMBER_ADD": 1}


def test_flush_histograms_bucket_each_observation_once():
    agg, telemetry = Aggregator(), Telemetry()
    for seconds, messages in ((0.0005, 0), (0.03, 3), (12.0, 40)):
        for i in range(messages):
            agg.message(p.message(i + 1, 11))  # user ids start at 1
        batch = agg.take_batch(T0)
        telemetry.taken(batch, received_messages=0)
        telemetry.flushed(seconds, batch)
    doc = telemetry.as_json()
    durations, sizes = doc["flush_seconds"], doc["flush_events"]
    assert durations["bounds"] == list(FLUSH_SECONDS) and sum(durations["counts"]) == 3
    assert durations["counts"][0] == 1  # 0.5 ms ≤ 1 ms
    assert durations["counts"][FLUSH_SECONDS.index(0.05)] == 1  # 30 ms in (25, 50] ms
    assert durations["counts"][FLUSH_SECONDS.index(30.0)] == 1  # 12 s in (10, 30] s
    assert abs(durations["sum"] - 12.0305) < 1e-9
    assert sizes["bounds"] == list(FLUSH_EVENTS)
    assert [sizes["counts"][FLUSH_EVENTS.index(b)] for b in (0, 10, 100)] == [
        1,
        1,
        1,
    ]  # 0, 3 and 40 events
