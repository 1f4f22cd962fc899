"""Retention applies itself: running collectors prune once a day; racing processes prune once."""

from __future__ import annotations

import shlex
import signal
import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone

from stats.models import CollectorState, Guild, RecentEvent, ScheduledTask, VoiceSession
from stats.retention import RETENTION
from tests.collector import payloads as p
from tests.collector.processes import collector_process, simulator_process, wait_for
from tests.collector.test_shards_and_outages import SHARD0_GUILD, SHARD1_GUILD, two_guild_scenario
from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
APPLIED = "applied retention"  # what the collector that claimed the day logs


def old_rows(days_ago: int) -> None:
    """A feed event and an ended voice session of each guild, older than its 7-day retention."""
    at = timezone.now() - timedelta(days=days_ago)
    for gid in (SHARD0_GUILD, SHARD1_GUILD):
        RecentEvent.objects.create(
            guild_id=gid, kind="message", channel_id=gid + 10, user_id=1, at=at
        )
        VoiceSession.objects.create(
            guild_id=gid,
            user_id=1,
            channel_id=gid + 10,
            started_at=at - timedelta(hours=1),
            credited_until=at,
            ended_at=at,
        )


def test_running_collectors_apply_retention_once_a_day_without_a_command(
    subprocess_env, manage_py, tmp_path
):
    for gid in (SHARD0_GUILD, SHARD1_GUILD):
        Guild.objects.create(id=gid, name=str(gid), retention_days=7)
    old_rows(days_ago=20)
    path = tmp_path / "scenario.jsonl"
    # Messages of the last hour: the scenario's fixed date would fall out of the 7-day window.
    path.write_text("\n".join(two_guild_scenario(20, p.recent())) + "\n")
    env = {**subprocess_env, "MOCHA_RETENTION_CHECK_S": "0.3"}
    with simulator_process(manage_py, env, path, "--shards", "2") as port:
        procs = [
            collector_process(manage_py, env, port, "--shard-count", "2", "--shard-ids", shard)
            for shard in ("0", "1")
        ]
        try:
            wait_for(
                lambda: (
                    not RecentEvent.objects.filter(
                        at__lt=timezone.now() - timedelta(days=7)
                    ).exists()
                    and not VoiceSession.objects.filter(ended_at__isnull=False).exists()
                ),
                60,
                "retention",
            )
            claimed_at = ScheduledTask.objects.get(name=RETENTION).last_run_at
            # Older rows arrive after today's run; both collectors go on checking (their health rows
            # show each alive 2 s, several check intervals, later) and leave them for tomorrow.
            old_rows(days_ago=30)
            wait_for(
                lambda: (
                    CollectorState.objects.filter(
                        updated_at__gt=claimed_at + timedelta(seconds=2)
                    ).count()
                    == 2
                ),
                60,
                "both collectors to run on",
            )
            assert (
                RecentEvent.objects.filter(at__lt=timezone.now() - timedelta(days=7)).count() == 2
            )
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            results = [proc.communicate(timeout=30) + (proc.returncode,) for proc in procs]
    for _, err, code in results:
        assert code == 0, err
    assert sum(err.count(APPLIED) for _, err, _ in results) == 1, [err for _, err, _ in results]
    task = ScheduledTask.objects.get(name=RETENTION)
    assert task.last_day == timezone.now().date() and task.last_result["recent events"] == 2


def timer_command() -> list[str]:
    """What deploy/mocha-retention.timer runs (via its service), this checkout for /srv/mocha."""
    timer = (ROOT / "deploy" / "mocha-retention.timer").read_text()
    assert "OnCalendar=" in timer and "Persistent=true" in timer
    service = (ROOT / "deploy" / "mocha-retention.service").read_text()
    line = next(line for line in service.splitlines() if line.startswith("ExecStart="))
    args = shlex.split(line.removeprefix("ExecStart="))
    assert args[:2] == ["/srv/mocha/.venv/bin/python", "manage.py"]
    return [sys.executable, str(ROOT / "manage.py"), *args[2:]]


def test_racing_timer_runs_prune_once(subprocess_env):
    """Four runs of the timer's command at once (racing collectors, or itself): one prunes."""
    for gid in (SHARD0_GUILD, SHARD1_GUILD):
        Guild.objects.create(id=gid, name=str(gid), retention_days=7)
    old_rows(days_ago=20)
    procs = [
        subprocess.Popen(
            timer_command(),
            env=subprocess_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [proc.communicate(timeout=120) + (proc.returncode,) for proc in procs]
    assert [code for _, _, code in results] == [0] * 4, [err for _, err, _ in results]
    outputs = sorted(out.strip() for out, _, _ in results)
    assert (
        outputs
        == ["pruned 2 recent events and 2 voice sessions across 2 guild(s)"]
        + ["retention was already applied today"] * 3
    )
