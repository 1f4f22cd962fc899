"""Run the real collector against the in-process simulator, as tests need it."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from collector.endpoints import configure_discord
from collector.service import Collector
from simulator import player
from simulator.server import Simulator


def scenario_lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip()]


# A Discord timestamp as the scenario files write them, in quotes (a JSON string value).
DISCORD_TIME = re.compile(r'"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?\+00:00)"')


def moved_to_recent(lines: list[str], now: datetime | None = None) -> list[str]:
    """The scenario with all its times moved by the same whole number of days, so that the newest
    lies within the day before `now`: API windows counted back from today (and retention) then
    hold it whatever today is, and each time keeps its hour. Ids stay: the collector counts a
    gateway message at its `timestamp`, not at the time its snowflake id encodes."""
    found = [datetime.fromisoformat(t) for line in lines for t in DISCORD_TIME.findall(line)]
    if not found:
        return list(lines)
    shift = timedelta(days=((now or datetime.now(UTC)) - max(found)).days)  # rounded down

    def moved(match: re.Match) -> str:
        return json.dumps((datetime.fromisoformat(match[1]) + shift).isoformat())

    return [DISCORD_TIME.sub(moved, line) for line in lines]


def split_scenario(lines: list[str], at: float) -> tuple[list[str], list[str]]:
    """Two scenarios: the guild definitions plus the first part, and the guild definitions plus the
    rest."""
    head = [line for line in lines if json.loads(line).get("t") == "GUILD_CREATE"]
    body = [line for line in lines if json.loads(line).get("t") != "GUILD_CREATE"]
    cut = int(len(body) * at)
    return head + body[:cut], head + body[cut:]


# Dispatches the collector tallies one by one (Collector.received + Collector.other_events).
TALLIED = {"MESSAGE_CREATE", "VOICE_STATE_UPDATE", "GUILD_MEMBER_ADD", "GUILD_MEMBER_REMOVE"}


def tallied(lines: list[str]) -> int:
    """How many of the scenario's dispatches the collector tallies (health: events_processed)."""
    return sum(1 for line in lines if json.loads(line).get("t") in TALLIED)


def read_everything(lines: list[str], quiet_s: float = 1.0) -> Callable[[Collector], bool]:
    """True once the collector has read every tallied dispatch of the scenario off its socket, or,
    for dispatches the simulator filters out (intents, DMs), once its tallies stood still
    quiet_s."""
    sent = tallied(lines)
    last = {"n": -1, "at": time.monotonic()}

    def done(c: Collector) -> bool:
        n = c.received + c.other_events
        if n != last["n"]:
            last.update(n=n, at=time.monotonic())
        return n >= sent or time.monotonic() - last["at"] >= quiet_s

    return done


class ScenarioClock:
    """A collector clock that moves only by the scenario's sleep lines, by their full length and at
    once. A sleep first waits until the collector has read every dispatch sent before it, so the
    time between two dispatches is exactly what the scenario says, however loaded the machine."""

    def __init__(self, lines: list[str], start: float) -> None:
        self.now = start
        self.collector: Collector | None = None
        self._read_before = deque(
            tallied(lines[:i])
            for i, line in enumerate(lines)
            if json.loads(line).get("op") == "sleep"
        )

    def __call__(self) -> float:
        return self.now

    def install(self, monkeypatch) -> None:
        """Take over the simulator's sleep lines (pytest's monkeypatch undoes it after the test)."""
        original = player.control

        async def control(sim, step) -> None:
            if step.op != "sleep":
                return await original(sim, step)
            wanted = self._read_before.popleft()
            while (  # noqa: ASYNC110 - polls the collector's counters; nothing signals them
                self.collector is None
                or self.collector.received + self.collector.other_events < wanted
            ):
                await asyncio.sleep(0.01)
            self.now += step.ms / 1000

        monkeypatch.setattr(player, "control", control)


async def collect(
    lines: list[str],
    *,
    flush_ms: int = 100,
    sleep_scale: float = 1.0,
    backstop_s: float = 60,
    until: Callable[[Collector], bool] | None = None,
    **collector_options,
) -> Collector:
    """Play a scenario into a fresh collector; stop it (as SIGTERM would) once everything was sent
    and `until` holds: by default, once the collector has read every dispatch the scenario sent.
    `backstop_s` is only a backstop for a hung run (generous: the suite shares 2-core machines)."""
    sim = Simulator(lines, sleep_scale=sleep_scale, start_delay=0.1)
    await sim.start()
    await asyncio.to_thread(configure_discord, sim.api_base)
    collector = Collector("test-token", flush_ms=flush_ms, **collector_options)
    if isinstance(collector.now, ScenarioClock):
        collector.now.collector = collector
    run = asyncio.create_task(collector.run())
    until = until or read_everything(lines)
    deadline = time.monotonic() + backstop_s
    try:
        while not (sim.status()["done"] and until(collector)):
            if run.done():
                run.result()
            assert time.monotonic() < deadline, (
                f"scenario not done or collector short: {sim.status()}"
            )
            await asyncio.sleep(0.05)
        collector.stop()
        await asyncio.wait_for(run, timeout=15)
    finally:
        await sim.stop()
    return collector


def run_collect(lines: list[str], **options) -> Collector:
    return asyncio.run(collect(lines, **options))
