"""A hand-built guild around the 2025 DST change in Europe/Paris (2025-03-30 01:00 UTC).

Now is 2025-03-31 12:30 UTC = Monday 14:30 in Paris (CEST, +2). Windows are local calendar days,
so `days=2` is Sunday 30 and Monday 31 March in Paris: from Sunday 00:00 local (CET, +1) =
2025-03-29 23:00 UTC through the current hour 2025-03-31 12:00 UTC, 38 hours (Sunday has 23).
The previous period is Friday 28 and Saturday 29 March local: 2025-03-27 23:00 … 2025-03-29 22:00
UTC.
`days=1` is Monday alone: 2025-03-30 22:00 … 2025-03-31 12:00 UTC, 15 hours.
The expected numbers in the tests are worked out by hand from the rows below; the fixture
rebuilds the derived rollups from them as the collector would have written them.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from stats import rollups
from stats.models import Channel, Guild, Member, MemberEvent, hour_of
from tests.rows import add_hourly, hourly

NOW = datetime(2025, 3, 31, 12, 30, tzinfo=UTC)
GID, OTHER_GID = 1001, 2002
GENERAL, RANDOM, SECRET, VOICE = 11, 12, 13, 21
ALICE, BOB, CAROL, DAVE = 501, 502, 503, 504  # Dave has stats but no Member row


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def h(text: str) -> int:
    return hour_of(utc(text))


@pytest.fixture
def activity(db) -> Guild:
    guild = Guild.objects.create(
        id=GID, name="Paris", timezone="Europe/Paris", visibility="public", member_count=40
    )
    other = Guild.objects.create(id=OTHER_GID, name="Hidden", visibility="private", member_count=3)
    Channel.objects.bulk_create(
        [
            Channel(id=GENERAL, guild=guild, name="general"),
            Channel(id=RANDOM, guild=guild, name="random", position=1),
            Channel(id=SECRET, guild=guild, name="secret", position=2),
            Channel(id=VOICE, guild=guild, name="Lounge", type=2, position=3),
            Channel(id=31, guild=other, name="other-general"),
        ]
    )
    guild.excluded_channels.add(SECRET)
    Member.objects.bulk_create(
        [
            Member(
                guild=guild, user_id=ALICE, username="alice", global_name="Alice G", nick="Alice"
            ),
            Member(guild=guild, user_id=BOB, username="bob", global_name="Bob"),
            Member(guild=guild, user_id=CAROL, username="carol"),
            Member(guild=other, user_id=ALICE, username="alice"),
        ]
    )
    rows = [
        # (hour, channel, user, messages, voice_seconds)
        ("2025-03-29T12:00", GENERAL, ALICE, 100, 0),  # Sat 13:00 local: previous period
        (
            "2025-03-29T22:00",
            GENERAL,
            CAROL,
            1,
            0,
        ),  # Sat 23:00 local: the last hour before the 2-day window
        ("2025-03-29T23:00", GENERAL, DAVE, 7, 0),  # Sun 00:00 local: the window's first hour
        ("2025-03-29T23:00", VOICE, ALICE, 0, 600),  # the same hour, in voice
        ("2025-03-30T00:00", RANDOM, ALICE, 2, 0),  # Sun 01:00 local (+1)
        ("2025-03-30T01:00", RANDOM, CAROL, 4, 0),  # Sun 03:00 local (+2 from here on)
        ("2025-03-30T22:00", RANDOM, BOB, 1, 0),  # Mon 00:00 local: a fixed +1 would say Sunday
        ("2025-03-31T10:00", SECRET, CAROL, 50, 0),  # excluded channel: hidden everywhere
        ("2025-03-31T11:00", GENERAL, BOB, 3, 0),
        ("2025-03-31T11:00", VOICE, BOB, 0, 90),
        ("2025-03-31T12:00", GENERAL, ALICE, 5, 0),  # the current hour
    ]
    add_hourly(
        [
            hourly(guild_id=GID, hour=h(t), channel_id=c, user_id=u, messages=m, voice_seconds=v)
            for t, c, u, m, v in rows
        ]
        + [
            hourly(
                guild_id=OTHER_GID,
                hour=h("2025-03-31T11:00"),
                channel_id=31,
                user_id=ALICE,
                messages=1000,
            )
        ]
    )
    MemberEvent.objects.bulk_create(
        [
            MemberEvent(guild_id=GID, user_id=505, kind=1, at=utc("2025-03-31T09:15")),
            MemberEvent(
                guild_id=GID, user_id=507, kind=1, at=utc("2025-03-29T23:00")
            ),  # exactly at start: in
            MemberEvent(
                guild_id=GID, user_id=506, kind=1, at=utc("2025-03-29T22:59")
            ),  # just before: previous
            MemberEvent(guild_id=GID, user_id=CAROL, kind=2, at=utc("2025-03-30T10:00")),
            MemberEvent(guild_id=OTHER_GID, user_id=9, kind=1, at=utc("2025-03-31T10:00")),
        ]
    )
    rollups.rebuild(GID)
    rollups.rebuild(OTHER_GID)
    return Guild.objects.get(pk=GID)


@pytest.fixture
def frozen_now(monkeypatch):
    """Make timezone.now() return NOW for code that asks for the current time."""
    from django.utils import timezone as dj_timezone

    monkeypatch.setattr(dj_timezone, "now", lambda: NOW)
    return NOW
