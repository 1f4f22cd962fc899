"""The generated demo guild has roles worth filtering by, and members who joined during the
backfilled days and (mostly) talked soon after: what the role picker and retention table show."""

from __future__ import annotations

import collections
import itertools
import json
from datetime import UTC, datetime

from simulator.generator import TrafficGenerator

START = datetime(2026, 3, 2, 12, 30, tzinfo=UTC)
DAY_MS = 86_400_000


def ms_of(ts: str) -> int:
    return int(datetime.fromisoformat(ts).timestamp() * 1000)


def test_roles_and_recent_joiners_with_follow_up_activity():
    gen = TrafficGenerator(seed=3, members=200, backfill_days=14, per_day=800, start=START)
    (guild,) = gen.guild_creates()
    names = {r["id"]: r["name"] for r in guild["roles"]}
    assert {"Regulars", "Gamers", "Artists", "Newcomers", "Moderators"} <= set(names.values())
    assert all(r["color"] for r in guild["roles"] if r["name"] in ("Regulars", "Gamers"))
    held = collections.Counter(names[r] for m in guild["members"] for r in m["roles"])
    assert held["Regulars"] >= 20 and held["Gamers"] >= 40 and held["Newcomers"] >= 20
    end = int(START.timestamp() * 1000)
    joined = {
        m["user"]["id"]: ms_of(m["joined_at"])
        for m in guild["members"]
        if ms_of(m["joined_at"]) >= end - 14 * DAY_MS
    }
    assert len(joined) >= 20
    first: dict[str, int] = {}
    total = 0
    for d in gen.backfill():
        total += 1
        e = json.loads('{"s":0' + d.tail)["d"]
        uid, at = e["author"]["id"], ms_of(e["timestamp"])
        assert at >= joined.get(uid, 0), "nobody talks before joining"
        first.setdefault(uid, at)
        # Messages carry the author's roles, as Discord's member object does.
        assert e["member"]["roles"] == next(
            m["roles"] for m in guild["members"] if m["user"]["id"] == uid
        )
    assert total == gen.backfill_total()
    within_day = sum(1 for uid, at in joined.items() if uid in first and first[uid] - at < DAY_MS)
    never = sum(1 for uid in joined if uid not in first)
    assert within_day >= len(joined) // 3 and never >= 1


def test_live_newcomers_speak_and_some_change_roles():
    gen = TrafficGenerator(seed=5, members=60, start=START)
    kinds = collections.Counter()
    added: set[str] = set()
    spoke: set[str] = set()
    for _, d in itertools.islice(gen.live(START, rate=5), 20_000):
        e = json.loads('{"s":0' + d.tail)
        kinds[e["t"]] += 1
        if e["t"] == "GUILD_MEMBER_ADD":
            added.add(e["d"]["user"]["id"])
            assert e["d"]["roles"], "a newcomer has the Newcomers role"
        elif e["t"] == "MESSAGE_CREATE" and e["d"]["author"]["id"] in added:
            spoke.add(e["d"]["author"]["id"])
    assert added and len(spoke) >= len(added) // 3
    assert kinds["GUILD_MEMBER_UPDATE"] >= 1
