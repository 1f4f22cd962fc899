"""An admin change reaches a running collector process within 10 s, without a restart.

The collector runs as its own process (`manage.py collect --simulate --scenario`),
so its configuration comes through the database and cachalot's shared cache,
exactly as in production; the test process edits the guild through the admin
change form, as a server owner would.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User
from django.db.models import Sum
from django.urls import reverse

from stats.models import Guild
from tests.collector import payloads as p
from tests.rows import hourly_stats

pytestmark = pytest.mark.slow
GENERAL, NOISY = 11, 12
PAIRS, PAIR_SLEEP_MS = 320, 40  # ~13 s of traffic: one message in each channel per step
# "Within 10 s" measured in the scenario's own traffic, which slows down with a loaded machine as
# the collector does: 10 s of pairs at the scenario's pace (a stopwatch would fail on shared CI).
DEADLINE_PAIRS = 10_000 // PAIR_SLEEP_MS


def write_scenario(path) -> None:
    ts = datetime.now(UTC).replace(microsecond=0).isoformat()
    guild = p.guild_create(
        channels=[p.channel(GENERAL, "general"), p.channel(NOISY, "noisy")], members=[1, 2]
    )
    lines = [{"t": "GUILD_CREATE", "d": guild}]
    for i in range(PAIRS):
        lines.append({"t": "MESSAGE_CREATE", "d": p.message(1, GENERAL, ts=ts)})
        lines.append({"t": "MESSAGE_CREATE", "d": p.message(2, NOISY, ts=ts)})
        lines.append({"op": "sleep", "ms": PAIR_SLEEP_MS})
        if (
            i == PAIRS * 3 // 4
        ):  # Discord re-announces the guild: the collector must not reset its configuration
            lines.append(
                {
                    "t": "GUILD_UPDATE",
                    "d": {k: v for k, v in guild.items() if k not in ("channels", "members")},
                }
            )
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")


def counts() -> tuple[int, int]:
    rows = dict(
        hourly_stats()
        .filter(guild_id=p.GUILD)
        .values_list("channel_id")
        .annotate(m=Sum("messages"))
        .values_list("channel_id", "m")
    )
    return rows.get(GENERAL, 0), rows.get(NOISY, 0)


def wait_for(predicate, timeout: float, proc: subprocess.Popen):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read()
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_exclusion_visibility_and_viewers_apply_to_a_running_collector(
    tmp_path, subprocess_env, manage_py, admin_client, client
):
    scenario = tmp_path / "live.jsonl"
    write_scenario(scenario)
    env = {**subprocess_env, "MOCHA_FLUSH_MS": "200"}
    proc = subprocess.Popen(
        [*manage_py, "collect", "--simulate", "--scenario", str(scenario)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(lambda: counts()[1] >= 10, 30, proc)  # counting both channels
        guild = Guild.objects.get(pk=p.GUILD)
        assert guild.visibility == "public"  # --simulate: the demo guild starts public
        viewer = User.objects.create_user("viewer", password="pw-123456789")
        response = admin_client.post(
            reverse("admin:stats_guild_change", args=[p.GUILD]),
            {
                "tracking": "on",
                "track_voice": "on",
                "excluded_channels": [str(NOISY)],
                "timezone": "UTC",
                "default_days": "30",
                "visibility": "private",
                "viewers": [str(viewer.pk)],
                "retention_days": "30",
            },
        )
        assert response.status_code == 302
        changed_at, general_at_change = time.monotonic(), counts()[0]
        assert client.get(f"/api/guilds/{p.GUILD}/stats").status_code == 404  # private now
        client.force_login(viewer)
        assert client.get(f"/api/guilds/{p.GUILD}/stats").status_code == 200  # granted

        # (seconds since the change, general, noisy) until the scenario has been played
        samples = []
        while True:
            assert proc.poll() is None
            general, noisy = counts()
            samples.append((time.monotonic() - changed_at, general, noisy))
            if general >= PAIRS:
                break
            assert samples[-1][0] < 120, samples[-1]  # backstop for a hung collector only
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out

    general, noisy = counts()
    assert general == PAIRS  # the collector kept counting the other channel, every message
    assert noisy < PAIRS - 20  # the excluded channel's later messages were not counted
    frozen_at = next(t for t, _, n in samples if n == noisy)
    general_when_frozen = next(g for t, g, _ in samples if t == frozen_at)
    took = general_when_frozen - general_at_change
    assert took <= DEADLINE_PAIRS, f"the exclusion applied after {took} pairs ({frozen_at:.1f} s)"
    assert general - general_when_frozen >= 20  # and it stayed excluded while traffic went on
    guild = Guild.objects.get(pk=p.GUILD)
    assert guild.visibility == "private" and list(guild.viewers.all()) == [
        viewer
    ]  # the GUILD_UPDATE reset nothing
    assert list(guild.excluded_channels.values_list("id", flat=True)) == [NOISY]
