"""The collector keeps each join's first activity (for retention cohorts) as it writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from collector.aggregate import Aggregator
from collector.writer import Writer
from stats.models import MemberEvent
from tests.collector import payloads as p
from tests.collector.test_writer import HEALTH

pytestmark = pytest.mark.django_db
# Relative to the real clock: the writer only waits a week for a join's first activity.
JOINED = (datetime.now(UTC) - timedelta(hours=5)).replace(minute=40, second=0, microsecond=0)


def stamp(at: datetime) -> str:
    return at.isoformat()


def hour_floor(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def started(agg: Aggregator, writer: Writer) -> float:
    now = datetime.now(UTC).timestamp()
    agg.guild_create(p.guild_create(channels=[p.channel(11, "general")], members=[1]), now)
    writer.write(agg.take_batch(now), HEALTH)
    return now


def first_active(uid: int):
    return MemberEvent.objects.get(user_id=uid, kind=MemberEvent.Kind.JOIN).first_active_at


def test_first_message_after_the_join_is_kept_once():
    agg, writer = Aggregator(), Writer()
    now = started(agg, writer)
    agg.member_add(p.member_add(5, stamp(JOINED)), now)
    writer.write(agg.take_batch(now), HEALTH)
    assert first_active(5) is None
    later = JOINED + timedelta(hours=2)
    agg.message(p.message(5, 11, ts=stamp(later)))
    writer.write(agg.take_batch(now), HEALTH)
    assert first_active(5) == hour_floor(later)
    agg.message(p.message(5, 11, ts=stamp(later + timedelta(hours=1))))
    writer.write(agg.take_batch(now), HEALTH)
    assert first_active(5) == hour_floor(later)


def test_a_message_in_the_join_hour_is_kept_at_the_join_time():
    agg, writer = Aggregator(), Writer()
    now = started(agg, writer)
    agg.member_add(p.member_add(5, stamp(JOINED)), now)
    agg.message(p.message(5, 11, ts=stamp(JOINED + timedelta(minutes=10))))
    writer.write(agg.take_batch(now), HEALTH)  # one flush: the join's own lookup finds it
    assert first_active(5) == JOINED


def test_activity_written_before_its_join_is_found():
    """A history import may commit a member's messages before reading the member list."""
    agg, writer = Aggregator(), Writer()
    now = started(agg, writer)
    agg.message(p.message(6, 11, ts=stamp(JOINED - timedelta(hours=2))))  # before joining
    agg.message(p.message(6, 11, ts=stamp(JOINED + timedelta(hours=3))))
    writer.write(agg.take_batch(now), HEALTH)
    agg.past_join(p.GUILD, {"user": p.user(6), "roles": []}, JOINED)
    writer.write(agg.take_batch(now), HEALTH)
    assert first_active(6) == hour_floor(JOINED + timedelta(hours=3))


def test_a_restarted_writer_still_waits_for_the_first_activity():
    agg, writer = Aggregator(), Writer()
    now = started(agg, writer)
    agg.member_add(p.member_add(7, stamp(JOINED)), now)
    writer.write(agg.take_batch(now), HEALTH)
    restarted = Writer()
    restarted.load_configs()
    agg.message(p.message(7, 11, ts=stamp(JOINED + timedelta(hours=4))))
    restarted.write(agg.take_batch(now), HEALTH)
    assert first_active(7) == hour_floor(JOINED + timedelta(hours=4))
    assert restarted.awaiting == {}


def test_a_join_older_than_a_week_is_not_waited_for():
    agg, writer = Aggregator(), Writer()
    now = started(agg, writer)
    old = JOINED - timedelta(days=8)
    agg.member_add(p.member_add(8, stamp(old)), now)
    writer.write(agg.take_batch(now), HEALTH)
    assert (p.GUILD, 8) not in writer.awaiting and first_active(8) is None
