"""`backfill` against the simulator with a real collector: every message counted exactly once.

History only; history before and after the gateway delivered the same messages; an import while
the collector counts live traffic; 429s mid-import; a channel the bot may not read; threads
(active, archived, forum posts); excluded channels and bots; --days.
"""

from __future__ import annotations

import asyncio
import io
import json
from datetime import timedelta

import pytest
from django.db.models import Sum

from collector.backfill import run_backfill
from collector.history import snowflake_at
from simulator.server import Simulator
from stats.models import Channel, Guild, MemberEvent
from tests.collector.history_scenario import (
    EXCLUDED,
    FORUM,
    GENERAL,
    GID,
    MEMBERS,
    OLD_THREAD,
    POST,
    RANDOM,
    SECRET,
    THREAD,
    Script,
    counted,
    started,
    with_collector,
)
from tests.rows import hourly_stats

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def per_channel() -> dict[int, int]:
    rows = hourly_stats().filter(guild_id=GID).values("channel_id").annotate(m=Sum("messages"))
    return {r["channel_id"]: r["m"] for r in rows if r["m"]}


def full_script(history_only: bool) -> Script:
    s = Script()
    for i in range(130):
        s.message(GENERAL if i % 2 else RANDOM, history_only=history_only)
    s.message(GENERAL, history_only=history_only, bot=True)
    for cid in (SECRET, EXCLUDED, THREAD, OLD_THREAD, POST, THREAD):
        s.message(cid, history_only=history_only)
    s.archive(OLD_THREAD, GENERAL)
    return s


def exclude(cid: int) -> None:
    guild = Guild.objects.create(id=GID, name="History Guild")
    guild.excluded_channels.add(Channel.objects.create(id=cid, guild=guild, name="excluded"))


async def backfill(sim: Simulator, days: int | None = None, guilds=(GID,)) -> tuple[list, str]:
    out = io.StringIO()
    reports = await run_backfill("test-token", list(guilds), days, out)
    return reports, out.getvalue()


def test_history_only_every_message_once_threads_included_403_and_exclusions_noted():
    exclude(EXCLUDED)
    s = full_script(history_only=True)

    async def main():
        sim = await started(s.lines)
        try:
            await with_collector(sim)  # nothing is dispatched: the collector counts nothing
            assert await asyncio.to_thread(counted) == {}
            first = await backfill(sim)
            again = await backfill(sim)
        finally:
            await sim.stop()
        return first, again

    (reports, out), (again, _) = asyncio.run(main())
    assert counted() == s.expected()
    assert per_channel() == {
        GENERAL: 65 + 3,
        RANDOM: 65,
        FORUM: 1,
    }  # threads count for their parents
    assert f"({SECRET}): no permission to read its history; skipped" in out
    assert reports[0].channels == 6 and reports[0].counted == len(
        s.expected()
    )  # excluded: not read
    assert again[0].counted == 0 and counted() == s.expected()
    # Past joins from the member list (joined_at), once however often the import runs.
    joins = MemberEvent.objects.filter(guild_id=GID, kind=MemberEvent.Kind.JOIN)
    assert sorted(j.at.isoformat() for j in joins) == sorted(at for _, at in MEMBERS)


def test_history_after_the_gateway_counted_the_same_messages():
    exclude(EXCLUDED)
    s = full_script(history_only=False)

    async def main():
        sim = await started(s.lines)
        try:
            await with_collector(sim)
            live = await asyncio.to_thread(counted)
            reports, _ = await backfill(sim)
        finally:
            await sim.stop()
        return live, reports

    live, reports = asyncio.run(main())
    expected = s.expected(
        lambda cid: cid != EXCLUDED
    )  # the gateway delivers what REST may not show
    assert live == expected and counted() == expected and reports[0].counted == 0


def test_history_before_the_gateway_delivers_the_same_messages():
    exclude(EXCLUDED)
    s = full_script(history_only=False)

    async def main():
        sim = await started(s.lines)
        for line in s.lines[1:]:  # the messages exist on Discord before anyone reads them
            event = json.loads(line)
            sim.history.record(event["t"], event["d"])
        try:
            reports, _ = await backfill(sim)
            imported = await asyncio.to_thread(counted)
            await with_collector(sim)  # then the gateway delivers every one of them again
        finally:
            await sim.stop()
        return imported

    imported = asyncio.run(main())
    assert imported == s.expected()
    assert counted() == s.expected(
        lambda cid: cid != EXCLUDED
    )  # the gateway also has the 403 channel


def test_an_import_while_live_traffic_arrives_and_429s_mid_import():
    s = Script()
    for i in range(300):
        s.message(GENERAL if i % 3 else THREAD, history_only=i < 200, minutes=1)
        if i >= 200:
            s.sleep(20)

    async def main():
        sim = await started(s.lines)
        try:

            async def importing():
                sim.rate_limits.inject(6, 0.05)
                reports, _ = await backfill(sim)
                while not sim.status()["done"]:  # noqa: ASYNC110 - polls the simulator's status; no event
                    # the live part goes on after the import
                    await asyncio.sleep(0.05)
                return reports

            reports = await with_collector(sim, during=importing, until_done=False)
        finally:
            await sim.stop()
        return reports, sim.status()

    reports, status = asyncio.run(main())
    assert counted() == s.expected()
    assert status["rest"]["limited"] >= 6


def test_days_limits_the_import_to_recent_messages():
    s = Script()
    for _ in range(50):
        s.message(GENERAL, history_only=True, minutes=60)  # one an hour: about two days
    floor = snowflake_at(s.now() - timedelta(days=1))

    async def main():
        sim = await started(s.lines)
        try:
            await with_collector(sim)
            await run_backfill("test-token", [GID], 1, io.StringIO(), now=s.now)
        finally:
            await sim.stop()

    asyncio.run(main())
    assert counted() == {author: 1 for mid, _, author in s.sent if mid >= floor}
    assert len(counted()) == 24
    assert not MemberEvent.objects.filter(
        guild_id=GID
    ).exists()  # every member joined before that day
