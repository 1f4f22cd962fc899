"""The simulator's history over REST: pagination as Discord's, threads, 403, rate limits and
429s."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import discord.http
import pytest

from collector.endpoints import configure_discord
from simulator.server import Simulator
from tests.collector.history_scenario import (
    FORUM,
    GENERAL,
    GID,
    OLD_THREAD,
    POST,
    RANDOM,
    SECRET,
    THREAD,
    Script,
)
from tests.simulator.harness import receive, running


@pytest.fixture
def restore_discord(monkeypatch):
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)


def script() -> Script:
    s = Script()
    for i in range(250):
        s.message(GENERAL, history_only=i % 3 == 0, minutes=1)
    s.message(SECRET)
    s.message(THREAD, history_only=True)
    s.message(OLD_THREAD, history_only=True)
    s.message(POST)
    s.archive(OLD_THREAD, GENERAL)
    return s


def test_pages_are_newest_first_with_before_after_around_and_limit(restore_discord):
    s = script()
    general = [mid for mid, cid, _ in s.sent if cid == GENERAL]
    sim = Simulator(s.lines, start_delay=0.05, rest_limits=False)
    with running(sim):
        configure_discord(sim.api_base)
        receive(sim, 0)  # playback starts once a client identified; history_only lines are not sent

        async def get(path: str, **params) -> tuple[int, object]:
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{sim.api_base}/{path}", params=params) as r:
                    return r.status, await r.json()

        async def checks() -> None:
            ids = lambda page: [int(m["id"]) for m in page]  # noqa: E731
            status, page = await get(f"channels/{GENERAL}/messages")
            assert status == 200 and ids(page) == general[::-1][:50]
            _, page = await get(f"channels/{GENERAL}/messages", limit=100, before=general[120])
            assert ids(page) == general[20:120][::-1]
            _, page = await get(f"channels/{GENERAL}/messages", limit=10, after=general[5])
            assert ids(page) == general[6:16][::-1]
            _, page = await get(f"channels/{GENERAL}/messages", limit=10, around=general[100])
            assert ids(page) == general[95:105][::-1]
            for bad in ({"limit": 0}, {"limit": 101}, {"before": "x"}, {"before": 1, "after": 2}):
                status, body = await get(f"channels/{GENERAL}/messages", **bad)
                assert status == 400 and body["code"] == 50035
            status, body = await get(f"channels/{SECRET}/messages")
            assert status == 403 and body["code"] == 50001
            status, _ = await get("channels/1234/messages")
            assert status == 404
            _, active = await get(f"guilds/{GID}/threads/active")
            assert {int(t["id"]) for t in active["threads"]} == {THREAD, POST}
            _, archived = await get(f"channels/{GENERAL}/threads/archived/public")
            assert [int(t["id"]) for t in archived["threads"]] == [OLD_THREAD] and not archived[
                "has_more"
            ]
            _, archived = await get(f"channels/{FORUM}/threads/archived/public")
            assert archived["threads"] == []
            for cid in (THREAD, OLD_THREAD, POST):
                _, page = await get(f"channels/{cid}/messages")
                assert len(page) == 1

        asyncio.run(checks())
        assert sim.status()["history"] == 254


def test_rate_limits_answer_429_with_retry_after_and_discord_py_honours_them(restore_discord):
    s = Script()
    for _ in range(5):
        s.message(RANDOM)
    sim = Simulator(s.lines, start_delay=0.05)
    sim.rate_limits.limit, sim.rate_limits.window = 5, 0.5
    with running(sim):
        configure_discord(sim.api_base)
        receive(sim, 5)

        async def raw() -> list[tuple[int, dict, dict]]:
            out = []
            async with aiohttp.ClientSession() as http:
                for _ in range(7):
                    async with http.get(f"{sim.api_base}/channels/{RANDOM}/messages") as r:
                        out.append((r.status, dict(r.headers), await r.json()))
            return out

        answers = asyncio.run(raw())
        assert [a[0] for a in answers[:5]] == [200] * 5 and answers[5][0] == 429
        assert (
            answers[0][1]["X-RateLimit-Limit"] == "5"
            and answers[0][1]["X-RateLimit-Remaining"] == "4"
        )
        assert 0 < answers[5][2]["retry_after"] <= 0.5 and "X-RateLimit-Bucket" in answers[0][1]
        time.sleep(0.5)

        async def through_discord_py() -> int:
            http = discord.http.HTTPClient(asyncio.get_running_loop())
            await http.static_login("test-token")
            try:
                pages = [await http.logs_from(RANDOM, 100) for _ in range(12)]
            finally:
                await http.close()
            return sum(len(p) for p in pages)

        before = sim.status()["rest"]["limited"]
        sim.rate_limits.inject(
            2, 0.05
        )  # Discord's shared limits: 429s the headers did not announce
        assert asyncio.run(through_discord_py()) == 12 * 5
        assert sim.status()["rest"]["limited"] >= before + 2


def test_payloads_without_usable_ids_are_not_recorded_and_do_not_stop_playback():
    from simulator.history import History

    history = History([], bot_id="1")
    for event, data in [
        ("THREAD_DELETE", {"id": None, "guild_id": "1"}),
        ("THREAD_CREATE", {"id": "x", "guild_id": "1"}),
        ("CHANNEL_UPDATE", {"id": None, "guild_id": "1"}),
        ("MESSAGE_CREATE", {"id": "5", "channel_id": [1]}),
    ]:
        history.record(event, data)
    history.record("THREAD_CREATE", {"id": "9", "type": "eleven", "parent_id": [], "guild_id": "1"})
    history.record(
        "CHANNEL_CREATE", {"id": "8", "guild_id": "1", "permission_overwrites": ["junk", {"id": 1}]}
    )
    assert history.count == 0 and set(history.threads) == {9} and set(history.channels) == {8}
    assert history.readable(9) and history.readable(8)  # and reading them does not raise
