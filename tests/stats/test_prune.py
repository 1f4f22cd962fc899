"""`manage.py prune`: each guild's retention applied to the live feed and ended voice sessions."""

from __future__ import annotations

import io
from datetime import UTC, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from stats.models import Guild, RecentEvent, ScheduledTask, VoiceSession
from stats.retention import RETENTION, apply_daily_retention
from tests.rows import create_hourly, hourly_stats

pytestmark = pytest.mark.django_db
SHORT, LONG, UNKNOWN = 1, 2, 3  # guild ids: retention 7 days, 60 days, no Guild row


@pytest.fixture
def events(db):
    now = timezone.now()
    Guild.objects.create(id=SHORT, name="short", retention_days=7)
    Guild.objects.create(id=LONG, name="long", retention_days=60)
    rows = []
    for gid in (SHORT, LONG, UNKNOWN):
        for age in (1, 10, 45, 90):  # days
            rows.append(
                RecentEvent(
                    guild_id=gid,
                    kind="message",
                    channel_id=1,
                    user_id=age,
                    at=now - timedelta(days=age),
                )
            )
            VoiceSession.objects.create(
                guild_id=gid,
                user_id=age,
                channel_id=2,
                started_at=now - timedelta(days=age, hours=1),
                credited_until=now - timedelta(days=age),
                ended_at=now - timedelta(days=age),
            )
        VoiceSession.objects.create(
            guild_id=gid,
            user_id=500,
            channel_id=2,
            started_at=now - timedelta(days=100),
            credited_until=now,
            ended_at=None,
        )  # still open: kept whatever its age
    RecentEvent.objects.bulk_create(rows)
    create_hourly(guild_id=SHORT, hour=1, channel_id=1, user_id=1, messages=3)
    return now


def ages(model, gid: int, field: str) -> list[int]:
    return sorted(
        model.objects.filter(guild_id=gid, **{f"{field}__isnull": False}).values_list(
            "user_id", flat=True
        )
    )


def run(*args) -> str:
    out = io.StringIO()
    call_command("prune", *args, stdout=out)
    return out.getvalue()


def test_each_guild_keeps_its_own_retention(events):
    out = run()
    assert ages(RecentEvent, SHORT, "at") == [1]
    assert ages(RecentEvent, LONG, "at") == [1, 10, 45]
    assert ages(RecentEvent, UNKNOWN, "at") == [1, 10]  # the default 30 days
    assert ages(VoiceSession, SHORT, "ended_at") == [1]
    assert ages(VoiceSession, LONG, "ended_at") == [1, 10, 45]
    assert VoiceSession.objects.filter(ended_at__isnull=True).count() == 3
    assert hourly_stats().count() == 1  # totals are never pruned
    assert out.strip().splitlines() == [
        "pruned 6 recent events and 6 voice sessions across 2 guild(s)"
    ]


def test_dry_run_deletes_nothing(events):
    out = run("--dry-run")
    assert RecentEvent.objects.count() == 12 and VoiceSession.objects.count() == 15
    assert out.strip() == "would prune 6 recent events and 6 voice sessions across 2 guild(s)"


def test_one_guild(events):
    out = run("--guild", str(SHORT))
    assert ages(RecentEvent, SHORT, "at") == [1] and ages(RecentEvent, LONG, "at") == [
        1,
        10,
        45,
        90,
    ]
    assert ages(RecentEvent, UNKNOWN, "at") == [1, 10, 45, 90]
    assert out.strip() == "pruned 3 recent events and 3 voice sessions across 1 guild(s)"


def test_a_second_run_finds_nothing(events):
    run()
    assert run().strip() == "pruned 0 recent events and 0 voice sessions across 2 guild(s)"


@pytest.mark.parametrize(
    "args",
    [
        ["--guild", "nope"],
        ["--guild", "99"],
        ["--guild", "99999999999999999999"],
        ["--bogus"],
        ["--daily", "--dry-run"],
        ["--daily", "--guild", str(SHORT)],
    ],
)
def test_bad_arguments_exit_2(events, args):
    with pytest.raises(CommandError) as err:
        call_command("prune", *args)
    assert err.value.returncode == 2
    assert "\n" not in str(err.value).strip()
    assert RecentEvent.objects.count() == 12


def test_daily_prunes_once_per_utc_day(events):
    assert run("--daily").strip() == "pruned 6 recent events and 6 voice sessions across 2 guild(s)"
    task = ScheduledTask.objects.get(name=RETENTION)
    assert task.last_day == events.astimezone(UTC).date()
    assert task.last_result["recent events"] == 6
    old = events - timedelta(days=50)
    RecentEvent.objects.create(guild_id=SHORT, kind="message", channel_id=1, user_id=50, at=old)
    assert run("--daily").strip() == "retention was already applied today"
    assert 50 in ages(RecentEvent, SHORT, "at")
    assert apply_daily_retention(events + timedelta(days=1))["recent events"] == 1  # the next day
    assert apply_daily_retention(events + timedelta(days=1)) is None


def test_a_failed_prune_leaves_the_day_unclaimed(events, monkeypatch):
    from stats import maintenance

    def broken(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(maintenance, "prune_recent", broken)
    with pytest.raises(RuntimeError):
        apply_daily_retention()
    monkeypatch.undo()
    assert apply_daily_retention()["recent events"] == 6  # the failure rolled the claim back
