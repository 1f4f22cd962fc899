"""The live hub's reads: feed rows with names joined in bulk, rates from the collector or from feed
rows."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from cachalot.api import cachalot_disabled
from django.db import connection
from django.test.utils import CaptureQueriesContext

from stats import live
from stats.models import Channel, CollectorState, Guild, Member, RecentEvent

GID, OTHER = 7001, 7002
NOW = datetime.now(UTC)


@pytest.fixture
def live_guild(db) -> Guild:
    guild = Guild.objects.create(id=GID, name="Live", visibility="public")
    other = Guild.objects.create(id=OTHER, name="Other", visibility="public")
    Channel.objects.create(id=11, guild=guild, name="general")
    Channel.objects.create(id=12, guild=guild, name="Lounge", type=2)
    Member.objects.create(guild=guild, user_id=501, username="alice", nick="Alice")
    Member.objects.create(guild=guild, user_id=502, username="bob")
    Member.objects.create(guild=other, user_id=501, username="alice-elsewhere")
    return guild


def add_events(
    guild_id: int, n: int, kind: str = "message", channel_id: int | None = 11, user_id: int = 501
) -> None:
    RecentEvent.objects.bulk_create(
        [
            RecentEvent(
                guild_id=guild_id, kind=kind, channel_id=channel_id, user_id=user_id, at=NOW
            )
            for _ in range(n)
        ]
    )


def test_feed_items_join_names_per_guild_and_keep_ids_as_strings(live_guild):
    add_events(GID, 1, user_id=501)
    add_events(GID, 1, kind="voice_join", channel_id=12, user_id=502)
    add_events(GID, 1, kind="member_join", channel_id=None, user_id=999)  # no Member row yet
    items = live.recent_feed(GID)
    assert [(i["kind"], i["name"], i["channel"]) for i in items] == [
        ("message", "Alice", "general"),
        ("voice_join", "bob", "Lounge"),
        ("member_join", "999", None),
    ]
    assert (
        items[0]["user_id"] == "501"
        and items[0]["channel_id"] == "11"
        and items[0]["t"].endswith("Z")
    )
    assert set(items[0]) >= {"kind", "user_id", "name", "channel_id", "channel", "t"}


def test_read_batch_query_count_does_not_grow_with_rows(live_guild):
    add_events(GID, 3)
    with cachalot_disabled(), CaptureQueriesContext(connection) as few:
        live.read_batch([GID], 0)
    add_events(GID, 200, user_id=502)
    with cachalot_disabled(), CaptureQueriesContext(connection) as many:
        batch = live.read_batch([GID], 0)
    assert (
        len(many) == len(few) == 7
    )  # collector state, last hour (2), counts, newest rows, members, channels
    assert batch.counts[GID]["message"] == 203
    assert len(batch.feed[GID]) == live.FEED_MAX  # the newest ones only
    assert batch.feed[GID][-1]["id"] == batch.max_id


def test_read_batch_only_reads_watched_guilds_after_the_last_id(live_guild):
    add_events(GID, 2)
    first = live.read_batch([GID], 0)
    add_events(OTHER, 5)
    add_events(GID, 1, kind="member_join", channel_id=None)
    second = live.read_batch([GID], first.max_id)
    assert second.counts == {GID: Counter({"member_join": 1})}
    assert OTHER not in second.feed


def test_rates_use_the_collectors_exact_counts_when_it_reports(live_guild):
    CollectorState.objects.create(
        shard_id=0,
        connected=True,
        updated_at=datetime.now(UTC),
        rates={str(GID): {"messages": 120.0, "voice_joins": 0.5, "member_joins": 0}},
    )
    add_events(GID, 3)  # the feed is a sample; its row count must not be the rate
    hub = live.LiveHub()
    batch = live.read_batch([GID], 0)
    hub.windows[GID] = live.deque([(0.0, hub.sample(GID, batch, 1.0))])
    assert hub.rates(GID, 0.0) == {"messages": 120.0, "voice_joins": 0.5, "member_joins": 0.0}


def test_rates_fall_back_to_feed_rows_when_the_collector_is_stale(live_guild):
    CollectorState.objects.create(
        shard_id=0,
        connected=True,
        updated_at=datetime.now(UTC) - timedelta(minutes=5),
        rates={str(GID): {"messages": 999.0}},
    )
    add_events(GID, 10)
    add_events(GID, 2, kind="voice_join", channel_id=12)
    hub = live.LiveHub()
    batch = live.read_batch([GID], 0)
    assert batch.rates is None
    hub.windows[GID] = live.deque(
        [(0.0, hub.sample(GID, batch, 2.0)), (1.0, hub.sample(GID, live.Batch(0), 2.0))]
    )
    assert hub.rates(GID, 1.0) == {"messages": 2.5, "voice_joins": 0.5, "member_joins": 0.0}


def test_a_stalled_socket_neither_delays_the_others_nor_grows_without_bound():
    async def scenario():
        stuck = asyncio.Event()
        received: dict[str, list[str]] = {"fast": [], "stalled": []}

        async def fast(text: str) -> None:
            received["fast"].append(text)

        async def stalled(text: str) -> None:
            received["stalled"].append(text)
            await stuck.wait()  # a browser that stopped reading: the write never completes

        boxes = {name: live.Outbox(send) for name, send in (("fast", fast), ("stalled", stalled))}
        boxes["fast"].put("early")  # held until the hello goes first
        for box in boxes.values():
            box.open("hello")
        frames = [f"tick {i}" for i in range(live.OUTBOX_MAX + 10)]
        for text in frames:
            live.broadcast(set(boxes.values()), text)
            await asyncio.sleep(0)
        await asyncio.sleep(0.01)
        backlog = len(boxes["stalled"].backlog)
        for box in boxes.values():
            box.discard()
        return received, backlog

    received, backlog = asyncio.run(scenario())
    assert received["fast"] == [
        "hello",
        "early",
        *[f"tick {i}" for i in range(live.OUTBOX_MAX + 10)],
    ]
    assert received["stalled"] == ["hello"]
    assert backlog == live.OUTBOX_MAX  # the oldest frames were dropped
