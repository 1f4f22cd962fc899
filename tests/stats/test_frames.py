"""Each websocket frame type, received from a live socket, matches its schema in stats/frames.py."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from stats import frames, rollups
from stats.cache import bump_versions
from stats.models import MemberEvent, VoiceSession, hour_of
from tests.rows import create_hourly
from tests.stats.test_consumers import (  # noqa: F401 (hub and guilds are fixtures)
    PUBLIC,
    add_events,
    connect,
    guilds,
    hub,
    in_thread,
    receive_until,
    run,
)


@pytest.mark.usefixtures("hub", "guilds")
def test_tick_frame_matches_its_schema_and_counts_rare_events_over_the_last_hour():
    now = datetime.now(UTC)
    MemberEvent.objects.create(guild_id=PUBLIC, user_id=501, kind=MemberEvent.Kind.JOIN, at=now)
    MemberEvent.objects.create(
        guild_id=PUBLIC, user_id=503, kind=MemberEvent.Kind.JOIN, at=now - timedelta(hours=2)
    )
    VoiceSession.objects.create(
        guild_id=PUBLIC,
        user_id=502,
        channel_id=31,
        started_at=now - timedelta(minutes=5),
        credited_until=now,
    )

    async def scenario():
        comm, _ = await connect(f"/ws/guilds/{PUBLIC}/live/")
        hello = await comm.receive_from(timeout=5)
        await asyncio.sleep(0.3)
        await in_thread(add_events, ("member_join", 501, None))
        tick = await receive_until(comm, lambda m: m["type"] == "tick" and m["feed"])
        await comm.disconnect()
        return hello, tick

    hello, tick = run(scenario())
    parsed = frames.Tick.model_validate_json(hello)
    # One join in the last hour reads as 1, not as a per-minute extrapolation of a 5-second window.
    assert parsed.last_hour == frames.LastHour(voice_joins=1, member_joins=1)
    assert frames.Tick.model_validate(tick).feed[0].kind == "member_join"
    with pytest.raises(ValidationError):
        frames.encode(frames.Tick, **{k: v for k, v in tick.items() if k != "last_hour"})


@pytest.mark.usefixtures("hub", "guilds")
def test_leaderboard_frame_matches_its_schema():
    def score() -> None:
        create_hourly(
            guild_id=PUBLIC,
            hour=hour_of(datetime.now(UTC)),
            channel_id=31,
            user_id=501,
            messages=4,
        )
        rollups.rebuild(PUBLIC)
        bump_versions([PUBLIC])
        add_events(("message", 501, 31))

    async def scenario():
        comm, _ = await connect(f"/ws/guilds/{PUBLIC}/live/")
        await comm.receive_from(timeout=5)
        await asyncio.sleep(0.3)
        await in_thread(score)
        board = await receive_until(
            comm, lambda m: m["type"] == "leaderboard" and m["metric"] == "messages"
        )
        await comm.disconnect()
        return board

    board = frames.Leaderboard.model_validate(run(scenario()))
    assert (board.guild_id, board.days) == (str(PUBLIC), 30)
    assert [(e.rank, e.user_id, e.name, e.value) for e in board.entries] == [(1, "501", "Alice", 4)]
    with pytest.raises(ValidationError):
        frames.encode(frames.Leaderboard, guild_id=str(PUBLIC), metric="words", days=30, entries=[])


@pytest.mark.usefixtures("hub", "guilds")
def test_health_frame_matches_its_schema(django_user_model):
    staff = django_user_model.objects.create_user("staff", password="x", is_staff=True)

    async def scenario():
        comm, _ = await connect("/ws/health/", user=staff)
        text = await comm.receive_from(timeout=5)
        await comm.disconnect()
        return text

    health = frames.Health.model_validate_json(run(scenario()))
    assert health.type == "health" and health.uptime_s > 0
    assert [p.id for p in health.panels] == ["memory", "cache", "collector", "database"]
    assert health.collector.connected is False  # no collector in this test
    broken = json.loads(health.model_dump_json())
    del broken["collector"]["connected"]
    with pytest.raises(ValidationError):
        frames.encode(frames.Health, **broken)
