"""Cached closed days plus today's tail give exactly the from-scratch documents, through random
flushes, late messages (hours and days old), joins and leaves, and configuration changes."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.db.models import Count, Sum
from django.utils import timezone

from collector.aggregate import Batch
from collector.writer import Writer
from stats import api_results, cache, guild_config, queries
from stats.models import (
    Channel,
    DailyGuildStat,
    Guild,
    HourlyGuildStat,
    Member,
    MemberEvent,
    hour_of,
)
from stats.rollups import local_day
from stats.windows import EPOCH, Period
from tests.rows import hourly_stats, member_days

pytestmark = pytest.mark.django_db
GID = 1515
TEXT = [151, 152, 153]
VOICE = 159
USERS = list(range(700, 730))


@pytest.fixture
def busy(db) -> Guild:
    guild = Guild.objects.create(
        id=GID, name="Busy", timezone="America/New_York", visibility="public"
    )
    Channel.objects.bulk_create(
        [Channel(id=cid, guild=guild, name=f"chat-{cid}") for cid in TEXT]
        + [Channel(id=VOICE, guild=guild, name="voice", type=2)]
    )
    Member.objects.bulk_create(
        [Member(guild=guild, user_id=uid, username=f"user{uid}") for uid in USERS[:20]]
    )
    return guild


def random_batch(rng: random.Random, now_hour: int, late: bool) -> Batch:
    batch = Batch()
    for _ in range(rng.randint(1, 12)):
        hour = now_hour - rng.randint(1, 80) if late and rng.random() < 0.5 else now_hour
        cid = rng.choice([*TEXT, VOICE])
        counts = [0, rng.randint(1, 900)] if cid == VOICE else [rng.randint(1, 4), 0]
        row = batch.counters.setdefault((GID, hour, cid, rng.choice(USERS)), [0, 0])
        row[0] += counts[0]
        row[1] += counts[1]
    if rng.random() < 0.3:
        kind = rng.choice([MemberEvent.Kind.JOIN, MemberEvent.Kind.LEAVE])
        at = timezone.now() - timedelta(hours=rng.randint(0, 50) if late else 0)
        batch.member_events.append((kind, GID, rng.choice(USERS), at))
    return batch


# Endpoint functions through the cache beside their from-scratch twins (same signatures).
PAIRS = {
    "stats": (api_results.stats, queries.guild_stats),
    "compare": (api_results.totals_compared, queries.guild_totals_compared),
    "leaderboard": (api_results.leaderboard, queries.leaderboard),
    "member": (api_results.member, queries.member_stats),
    "channels": (api_results.channels, queries.top_channels),
    "heatmap": (api_results.heatmap, queries.heatmap),
}


def periods(guild: Guild, now) -> list:
    """Windows ending today, a date range ending today and one wholly in the past."""
    today = EPOCH + timedelta(days=local_day(guild.timezone, hour_of(now)))
    return [
        1,
        2,
        3,
        7,
        Period(3, today - timedelta(days=2), today),
        Period(2, today - timedelta(days=3), today - timedelta(days=2)),
    ]


def documents(guild: Guild, now, cached: bool) -> list:
    """Every endpoint's document for a few windows, through the cache or from scratch."""
    f = {name: pair[0 if cached else 1] for name, pair in PAIRS.items()}
    docs = []
    for days in periods(guild, now):
        docs += [
            f["stats"](guild, days, "day", now),
            f["stats"](guild, days, "hour", now, True),
            f["compare"](guild, days, now),
            f["leaderboard"](guild, "messages", days, 5, 0, now, True),
            f["leaderboard"](guild, "voice", days, 5, 2, now),
            f["channels"](guild, days, now),
            f["heatmap"](guild, days, now),
            *(f["member"](guild, uid, days, now) for uid in (700, 725, 999)),
        ]
    return docs


def guild_rollups(guild: Guild) -> tuple[tuple, tuple]:
    """The guild's per-day active members and per-hour members and sums as the flushes kept them
    (DailyGuildStat, HourlyGuildStat) and as counted from scratch from the rows they sum up."""
    gid = guild.id
    kept_days = DailyGuildStat.objects.filter(guild_id=gid).values_list("day", "active_members")
    day_rows = member_days().filter(guild_id=gid).values_list("day")
    kept_hours = HourlyGuildStat.objects.filter(guild_id=gid).values_list(
        "hour", "active_members", "messages", "voice_seconds"
    )
    counted = (
        hourly_stats()
        .filter(guild_id=gid)
        .exclude(channel_id__in=guild.excluded_channels.values("id"))
    )
    hours = counted.values_list("hour").annotate(
        Count("user_id", distinct=True), Sum("messages"), Sum("voice_seconds")
    )
    return (
        (dict(kept_days), sorted(kept_hours)),
        (dict(day_rows.annotate(n=Count("member_key"))), sorted(hours)),
    )


def test_documents_match_a_from_scratch_computation_through_busy_flushes(busy):
    rng = random.Random(15)
    now = timezone.now()
    writer = Writer()
    writer.load_configs()
    configs = [
        ({"timezone": "Asia/Kolkata"}, [TEXT[0]], []),
        ({"timezone": "UTC"}, [], [TEXT[0]]),
        ({"timezone": "America/New_York"}, [VOICE], []),
    ]
    for step in range(24):
        writer.write(random_batch(rng, hour_of(now), late=step % 3 == 2), {})
        if step % 8 == 7:
            fields, exclude, include = configs[step // 8]
            guild_config.update(Guild.objects.get(pk=GID), fields, exclude, include)
            writer.load_configs()
        guild = Guild.objects.get(pk=GID)
        kept, counted = guild_rollups(guild)
        assert kept == counted, step
        cached = documents(guild, now, cached=True)
        assert cached == documents(Guild.objects.get(pk=GID), now, cached=False), step


def test_a_flush_into_today_keeps_closed_days_and_a_late_one_drops_them(busy):
    writer = Writer()
    writer.load_configs()
    now_hour = hour_of(timezone.now())
    writer.write(Batch(counters={(GID, now_hour - 60, TEXT[0], 700): [1, 0]}), {})
    before = cache.closed_version(GID)
    data = cache.data_version(GID)
    writer.write(Batch(counters={(GID, now_hour, TEXT[0], 700): [1, 0]}), {})
    assert cache.closed_version(GID) == before and cache.data_version(GID) != data
    writer.write(Batch(counters={(GID, now_hour - 48, TEXT[1], 701): [1, 0]}), {})
    assert cache.closed_version(GID) != before
