"""Gap repair with a real collector against the simulator: what the gateway never delivered
(a session that could not be resumed, a collector killed mid-stream) is read from history,
each message counted once; /metrics reports the gaps."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from datetime import timedelta

import pytest
from discord.utils import snowflake_time
from django.db.models import Sum
from django.utils import timezone

from stats.metrics import snapshot
from stats.models import CollectorOutage, CollectorState, Guild
from tests.collector.history_scenario import (
    GENERAL,
    GID,
    RANDOM,
    THREAD,
    Script,
    counted,
    started,
    with_collector,
)
from tests.collector.processes import collector_process, sim_status, simulator_process, wait_for
from tests.rows import hourly_stats

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
CHANNELS = (GENERAL, RANDOM, THREAD)


async def until(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not await asyncio.to_thread(condition):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


def test_a_session_that_could_not_be_resumed_with_history_only_messages_in_the_gap():
    s = Script()
    for i in range(40):
        s.message(CHANNELS[i % 3])
    s.sleep(400)
    s.lines.append('{"op": "invalid_session", "resumable": false}')
    for i in range(30):
        s.message(CHANNELS[i % 3], history_only=True)  # sent while the collector had no session
    for i in range(10):
        s.message(CHANNELS[i % 3])  # dispatched before it identified again: lost to the gateway
    s.sleep(6000)  # discord.py identifies again within a few seconds
    for i in range(20):
        s.message(CHANNELS[i % 3])

    async def main():
        sim = await started(s.lines)
        try:
            await with_collector(
                sim, during=lambda: until(lambda: counted() == s.expected(), 60, "the repair")
            )
        finally:
            await sim.stop()
        return sim.status()

    status = asyncio.run(main())
    assert status["invalid_sessions"] + status["identifies"] >= 2
    assert counted() == s.expected()
    state = CollectorState.objects.get(shard_id=0)
    assert state.gaps >= 1 and state.gaps_found >= 3 and state.gaps_open == 0
    assert state.gaps_repaired == state.gaps_found


def test_killed_mid_stream_then_restarted_every_message_counted_once(
    tmp_path, subprocess_env, manage_py
):
    s = Script()
    for i in range(400):
        s.message(CHANNELS[i % 3], minutes=0.1)
        s.sleep(15)  # about six seconds of traffic
    scenario = tmp_path / "stream.jsonl"
    scenario.write_text("\n".join(s.lines) + "\n")
    with simulator_process(manage_py, subprocess_env, scenario) as port:
        first = collector_process(manage_py, subprocess_env, port)
        try:
            wait_for(lambda: len(counted()) > 50, 60, "the first commits")
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            killed_at = sim_status(port)["sent"]
            time.sleep(0.5)  # messages keep coming while nobody listens
            second = collector_process(manage_py, subprocess_env, port)
            wait_for(
                lambda: sim_status(port)["done"] and counted() == s.expected(), 90, "every message"
            )
            second.send_signal(signal.SIGTERM)
            assert second.wait(30) == 0
        finally:
            for proc in (first, locals().get("second")):
                if proc is not None and proc.poll() is None:
                    proc.kill()
                    proc.wait()
    assert 0 < killed_at < len(s.lines)
    assert counted() == s.expected()
    gaps = snapshot()["collector"]["gaps"]
    assert gaps["found"] >= 3 and gaps["open"] == 0 and gaps["repaired"] == gaps["found"]


def test_a_guild_down_for_an_hour_shows_that_hours_messages_after_restart(client):
    s = Script()
    for i in range(20):
        s.message(CHANNELS[i % 3])
    s.sleep(1500)  # the collector stops here...
    for i in range(30):
        s.message(
            CHANNELS[i % 3], history_only=True, minutes=2
        )  # ...an hour of chat while it is away...
    s.sleep(1500)
    for i in range(10):
        s.message(CHANNELS[i % 3])  # ...and what comes before it is back

    async def main():
        sim = await started(s.lines)
        try:
            first = len(s.expected()) - 40
            await with_collector(
                sim,
                during=lambda: until(lambda: len(counted()) >= first, 30, "part one"),
                until_done=False,
            )
            # It was away for an hour (as far as its last report says).
            await asyncio.to_thread(
                lambda: CollectorState.objects.update(
                    updated_at=timezone.now() - timedelta(hours=1)
                )
            )
            await with_collector(
                sim, during=lambda: until(lambda: counted() == s.expected(), 60, "the repair")
            )
        finally:
            await sim.stop()

    asyncio.run(main())
    assert counted() == s.expected()
    per_hour = dict(
        hourly_stats()
        .filter(guild_id=GID)
        .values("hour")
        .annotate(m=Sum("messages"))
        .values_list("hour", "m")
    )
    expected_hours = Counter(int(snowflake_time(mid).timestamp()) // 3600 for mid, _, _ in s.sent)
    assert per_hour == dict(expected_hours)
    Guild.objects.filter(id=GID).update(visibility=Guild.Visibility.PUBLIC)
    doc = client.get(f"/api/guilds/{GID}/incomplete", {"days": 3650}).json()
    assert len(doc["incomplete"]) == 1
    span = doc["incomplete"][0]
    assert span["start"] < span["end"] and CollectorOutage.objects.count() == 1
