"""Run the real collector against the in-process simulator, as tests need it."""
from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Callable

from collector.endpoints import configure_discord
from collector.service import Collector
from simulator.server import Simulator


def scenario_lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip()]


def split_scenario(lines: list[str], at: float) -> tuple[list[str], list[str]]:
    """Two scenarios: the guild definitions plus the first part, and the guild definitions plus the rest."""
    head = [line for line in lines if json.loads(line).get("t") == "GUILD_CREATE"]
    body = [line for line in lines if json.loads(line).get("t") != "GUILD_CREATE"]
    cut = int(len(body) * at)
    return head + body[:cut], head + body[cut:]


# Dispatches the collector tallies one by one (Collector.received + Collector.other_events).
TALLIED = {"MESSAGE_CREATE", "VOICE_STATE_UPDATE", "GUILD_MEMBER_ADD", "GUILD_MEMBER_REMOVE"}


def tallied(lines: list[str]) -> int:
    """How many of the scenario's dispatches the collector tallies (its health's events_processed)."""
    return sum(1 for line in lines if json.loads(line).get("t") in TALLIED)


def read_everything(lines: list[str]) -> Callable[[Collector], bool]:
    """True once the collector has read every tallied dispatch of the scenario off its socket."""
    sent = tallied(lines)
    return lambda c: c.received + c.other_events >= sent


async def collect(lines: list[str], *, flush_ms: int = 100, sleep_scale: float = 1.0, timeout: float = 60,
                  until: Callable[[Collector], bool] | None = None, **collector_options) -> Collector:
    """Play a scenario into a fresh collector; stop it (as SIGTERM would) once everything was sent
    and `until` holds: by default, once the collector has read every dispatch the scenario sent.
    `timeout` is only a backstop for a hung run (generous: the suite shares 2-core machines)."""
    sim = Simulator(lines, sleep_scale=sleep_scale, start_delay=0.1)
    await sim.start()
    await asyncio.to_thread(configure_discord, sim.api_base)
    collector = Collector("test-token", flush_ms=flush_ms, **collector_options)
    run = asyncio.create_task(collector.run())
    until = until or read_everything(lines)
    deadline = time.monotonic() + timeout
    try:
        while not (sim.status()["done"] and until(collector)):
            if run.done():
                run.result()
            assert time.monotonic() < deadline, f"scenario not done or collector short: {sim.status()}"
            await asyncio.sleep(0.05)
        collector.stop()
        await asyncio.wait_for(run, timeout=15)
    finally:
        await sim.stop()
    return collector


def run_collect(lines: list[str], **options) -> Collector:
    return asyncio.run(collect(lines, **options))
