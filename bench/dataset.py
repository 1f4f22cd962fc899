"""The 30-day benchmark guild: synthetic traffic through the real aggregator and writer.

Several thousand members with zipf-like activity (a few heavy talkers, a long
tail), each member favouring a few channels, a daily rhythm, voice sessions,
joins and leaves. Written hour by hour exactly as the collector writes
flushes, then VACUUMed: `bytes_per_event` is the database size over the events.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from datetime import UTC, datetime, timedelta

from django.db import connection

from collector.aggregate import Aggregator
from collector.writer import Writer
from stats.models import Guild

GUILD_ID = 900000000000000001
CHANNEL_BASE = 900000000000001000
USER_BASE = 900000000000100000
FULL = {
    "days": 30,
    "members": 5000,
    "channels": 20,
    "voice_channels": 4,
    "messages_per_day": 100_000,
}
# Quick: two weeks of a smaller guild, so that the phase stays well within its time limit on a
# shared machine (each hour is one flush).
QUICK = {
    "days": 14,
    "members": 1000,
    "channels": 12,
    "voice_channels": 2,
    "messages_per_day": 10_000,
}
# Share of a day's messages in each UTC hour: quiet nights, busy evenings.
RHYTHM = [0.5 + 0.5 * math.sin((h - 9) / 24 * 2 * math.pi) + 0.15 for h in range(24)]


def _guild_payload(spec: dict) -> dict:
    text = [
        {"id": str(CHANNEL_BASE + i), "type": 0, "name": f"chat-{i}", "position": i}
        for i in range(spec["channels"])
    ]
    voice = [
        {"id": str(CHANNEL_BASE + 500 + i), "type": 2, "name": f"voice-{i}", "position": 100 + i}
        for i in range(spec["voice_channels"])
    ]
    members = [
        {
            "user": {
                "id": str(USER_BASE + u),
                "username": f"member{u}",
                "global_name": f"Member {u}",
            },
            "nick": None,
        }
        for u in range(spec["members"])
    ]
    return {
        "id": str(GUILD_ID),
        "name": "Benchmark Guild",
        "member_count": spec["members"],
        "afk_channel_id": None,
        "channels": text + voice,
        "members": members,
        "voice_states": [],
    }


def build(quick: bool = False, seed: int = 7) -> dict:
    """Fill the current database with the benchmark guild; returns events and bytes per event."""
    spec = QUICK if quick else FULL
    rng = random.Random(seed)
    started = time.perf_counter()
    agg, writer = Aggregator(), Writer(public_new_guilds=True)
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=spec["days"])
    agg.guild_create(_guild_payload(spec), start.timestamp())
    writer.write(agg.take_batch(start.timestamp()), {})

    members = spec["members"]
    weights = [1 / (u + 1) ** 1.1 for u in range(members)]
    favourite = [
        rng.sample(range(spec["channels"]), k=min(3, spec["channels"])) for _ in range(members)
    ]
    channel_pick = (
        [0] * 6 + [1] * 3 + [2]
    )  # 60 / 30 / 10 % of a member's messages in their three channels
    mid = itertools.count((int(start.timestamp() * 1000) - 1420070400000) << 22)
    per_hour = spec["messages_per_day"] / sum(RHYTHM)
    events = 0
    last_id: dict[int, int] = {}
    for h in range(spec["days"] * 24):
        t = start + timedelta(hours=h)
        hour = int(t.timestamp()) // 3600
        ts = t.strftime("%Y-%m-%dT%H:%M:%S+00:00")
        n = int(per_hour * RHYTHM[t.hour] * rng.uniform(0.8, 1.2))
        authors = rng.choices(range(members), cum_weights=None, weights=weights, k=n)
        picks = rng.choices(channel_pick, k=n)
        count = agg.count_message
        for author, pick in zip(authors, picks, strict=False):
            cid = CHANNEL_BASE + favourite[author][pick]
            m = next(mid)
            # The ids between a channel's consecutive messages belong to other channels: covered
            # as one run, as the gateway path does, the channel's committed ranges stay one range.
            count(GUILD_ID, cid, USER_BASE + author, hour, m, cid, ts, last_id.get(cid, m))
            last_id[cid] = m
        events += n
        events += _voice_hour(agg, rng, spec, t.timestamp(), members, weights)
        events += _membership_hour(agg, rng, spec, t, members)
        writer.write(agg.take_batch(t.timestamp() + 3599), {})
    agg.close_all_voice(end.timestamp())
    writer.write(agg.take_batch(end.timestamp()), {})
    Guild.objects.filter(id=GUILD_ID).update(visibility=Guild.Visibility.PUBLIC)
    size = _vacuumed_size()
    return {
        "guild_id": str(GUILD_ID),
        "events": events,
        "db_bytes": size,
        "bytes_per_event": round(size / events, 2),
        "members": members,
        "days": spec["days"],
        "messages_per_day": spec["messages_per_day"],
        "build_s": round(time.perf_counter() - started, 2),
    }


def _voice_hour(
    agg: Aggregator, rng: random.Random, spec: dict, t0: float, members: int, weights: list
) -> int:
    """A few voice sessions start each hour; each lasts minutes to hours (ended by later hours'
    traffic)."""
    events = 0
    for _ in range(rng.randint(2, 8)):
        uid = USER_BASE + rng.choices(range(members), weights=weights)[0]
        channel = CHANNEL_BASE + 500 + rng.randrange(spec["voice_channels"])
        at = t0 + rng.uniform(0, 3500)
        agg.voice_state(
            {"guild_id": str(GUILD_ID), "user_id": str(uid), "channel_id": str(channel)}, at
        )
        events += 1
    # Sessions end with a probability per hour: lengths of minutes to a few hours.
    for (gid, uid), session in list(agg.voice.items()):
        if rng.random() < 0.5:
            agg.voice_state(
                {"guild_id": str(gid), "user_id": str(uid), "channel_id": None},
                max(session.credited_until, t0) + rng.uniform(60, 3599 - 1),
            )
            events += 1
    return events


def _membership_hour(
    agg: Aggregator, rng: random.Random, spec: dict, t: datetime, members: int
) -> int:
    events = 0
    if rng.random() < 0.3:
        uid = USER_BASE + members + rng.randrange(10**6)
        agg.member_add(
            {
                "guild_id": str(GUILD_ID),
                "user": {"id": str(uid), "username": f"new{uid % 10**6}"},
                "joined_at": t.isoformat(),
            },
            t.timestamp(),
        )
        events += 1
    if rng.random() < 0.1:
        uid = USER_BASE + rng.randrange(members)
        agg.member_remove(
            {"guild_id": str(GUILD_ID), "user": {"id": str(uid), "username": f"member{uid}"}},
            t.timestamp(),
        )
        events += 1
    return events


def _vacuumed_size() -> int:
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cur.execute("VACUUM")
            cur.execute("PRAGMA page_count")
            pages = cur.fetchone()[0]
            cur.execute("PRAGMA page_size")
            return pages * cur.fetchone()[0]
        # FULL, like SQLite's VACUUM: rewrites the tables without the upserts' dead row versions.
        cur.execute("VACUUM FULL")
        cur.execute("SELECT pg_database_size(current_database())")
        return cur.fetchone()[0]
