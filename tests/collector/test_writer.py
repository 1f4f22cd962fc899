"""Flushing batches into a real database: increments add up, replays and restarts never double
count."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from collector.aggregate import Aggregator
from collector.writer import Writer
from stats.models import (
    Channel,
    Guild,
    Member,
    MemberEvent,
    MessageCursor,
    RecentEvent,
    VoiceSession,
)
from tests.collector import payloads as p
from tests.rows import hourly_stats, member_days

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 26, 18, 0, tzinfo=UTC).timestamp()
HEALTH = {0: {"connected": True}}


def setup_guild(agg: Aggregator, writer: Writer) -> None:
    agg.guild_create(
        p.guild_create(
            channels=[p.channel(11, "general"), p.channel(51, "voice", 2)], members=[1, 2]
        ),
        T0,
    )
    writer.write(agg.take_batch(T0), HEALTH)


def test_dimensions_are_created_and_new_guilds_are_private():
    agg, writer = Aggregator(), Writer()
    setup_guild(agg, writer)
    guild = Guild.objects.get()
    assert guild.visibility == "private"
    assert set(Channel.objects.values_list("id", flat=True)) == {11, 51}
    assert Member.objects.count() == 2


def test_flushes_add_to_stored_counts_instead_of_overwriting():
    agg, writer = Aggregator(), Writer()
    setup_guild(agg, writer)
    for _ in range(3):
        agg.message(p.message(1, 11))
        writer.write(agg.take_batch(T0), HEALTH)
    assert hourly_stats().get(user_id=1).messages == 3
    assert MessageCursor.objects.get(channel_id=11).last_message_id > 0
    assert RecentEvent.objects.filter(kind="message").count() == 3


def test_a_restarted_collector_does_not_count_old_messages_again():
    agg, writer = Aggregator(), Writer()
    setup_guild(agg, writer)
    messages = [p.message(1, 11) for _ in range(5)]
    for m in messages[:3]:
        agg.message(m)
    writer.write(agg.take_batch(T0), HEALTH)
    restarted = Aggregator(cursors=writer.load_cursors())
    for m in messages:  # the gateway sends everything again
        restarted.message(m)
    writer.write(restarted.take_batch(T0), HEALTH)
    assert hourly_stats().get(user_id=1).messages == 5


def test_a_message_older_than_the_sessions_newest_is_counted_once_even_after_a_flush():
    """Scenarios (and, rarely, Discord) deliver a channel's messages out of id order."""
    agg, writer = Aggregator(), Writer()
    setup_guild(agg, writer)
    for mid in (1000, 5000):
        agg.message(p.message(1, 11, mid=mid))
    writer.write(agg.take_batch(T0), HEALTH)  # the run [1000, 5000] is committed
    late = p.message(2, 11, mid=3000)
    agg.message(late)
    agg.message(late)  # a replay of the late one
    agg.message(p.message(1, 11, mid=5000))  # a replay of the newest
    writer.write(agg.take_batch(T0), HEALTH)
    counts = dict(hourly_stats().values_list("user_id", "messages"))
    assert counts == {1: 2, 2: 1}
    restarted = Aggregator(cursors=writer.load_cursors())
    for mid in (1000, 3000, 5000):  # everything again after a restart
        restarted.message(p.message(1, 11, mid=mid))
    writer.write(restarted.take_batch(T0), HEALTH)
    assert dict(hourly_stats().values_list("user_id", "messages")) == counts


def test_a_leave_counts_once_and_a_join_is_unique_by_its_time():
    agg, writer = Aggregator(), Writer()
    setup_guild(agg, writer)
    for _ in range(2):
        agg.member_add(p.member_add(5), T0)
        writer.write(agg.take_batch(T0), HEALTH)
    for _ in range(2):
        agg.member_remove(p.member_remove(5), T0 + 10)
        writer.write(agg.take_batch(T0 + 10), HEALTH)
    assert MemberEvent.objects.filter(kind=1).count() == 1
    assert MemberEvent.objects.filter(kind=2).count() == 1
    assert Member.objects.get(user_id=5).present is False


def test_voice_sessions_are_stored_and_closed_at_stop():
    agg, writer = Aggregator(), Writer()
    setup_guild(agg, writer)
    agg.voice_state(p.voice(1, 51), T0)
    writer.write(agg.take_batch(T0 + 30), HEALTH)
    session = VoiceSession.objects.get()
    assert (
        session.ended_at is None
        and (session.credited_until - session.started_at).total_seconds() == 30
    )
    agg.close_all_voice(T0 + 40)
    writer.write(agg.take_batch(T0 + 40), HEALTH)
    session.refresh_from_db()
    assert session.ended_at is not None
    assert hourly_stats().get(user_id=1, channel_id=51).voice_seconds == 40


def test_sessions_left_open_by_a_killed_collector_end_where_they_were_credited():
    agg, writer = Aggregator(), Writer()
    setup_guild(agg, writer)
    agg.voice_state(p.voice(1, 51), T0)
    writer.write(agg.take_batch(T0 + 30), HEALTH)
    assert Writer().close_stale_sessions(lambda gid: True) == 1
    session = VoiceSession.objects.get()
    assert session.ended_at == session.credited_until


def test_distinct_counters_match_the_hourly_rows_and_their_rebuild():
    from django.db.models import Count

    from stats import rollups
    from stats.models import ChannelMember, DailyGuildStat, HourlyGuildStat

    agg, writer = Aggregator(), Writer()
    setup_guild(agg, writer)
    writer.load_configs()
    for flush in range(3):  # the same members come back in later flushes of the same hour
        for uid in (1, 2, 3)[: flush + 1]:
            agg.message(p.message(uid, 11))
            agg.message(p.message(uid, 12))
        writer.write(agg.take_batch(T0), HEALTH)
    per_hour = dict(hourly_stats().values_list("hour").annotate(n=Count("user_id", distinct=True)))
    assert (
        dict(HourlyGuildStat.objects.values_list("hour", "active_members"))
        == per_hour
        == {int(T0) // 3600: 3}
    )
    assert ChannelMember.objects.filter(channel_id=11).count() == 3
    per_day = dict(member_days().values_list("day").annotate(n=Count("user_id")))
    assert dict(DailyGuildStat.objects.values_list("day", "active_members")) == per_day
    assert sum(per_day.values()) == 3
    written = sorted(ChannelMember.objects.values_list("channel_id", "user_id", "last_day"))
    rollups.rebuild(p.GUILD)
    assert dict(HourlyGuildStat.objects.values_list("hour", "active_members")) == per_hour
    assert dict(DailyGuildStat.objects.values_list("day", "active_members")) == per_day
    assert sorted(ChannelMember.objects.values_list("channel_id", "user_id", "last_day")) == written
