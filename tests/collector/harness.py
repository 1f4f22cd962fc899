"""Run the real collector against the in-process simulator, as tests need it."""
from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

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


async def collect(lines: list[str], *, flush_ms: int = 100, sleep_scale: float = 1.0, settle_s: float = 0.5,
                  timeout: float = 60, until=None, **collector_options) -> Collector:
    """Play a scenario into a fresh collector; stop it (as SIGTERM would) once everything was sent."""
    sim = Simulator(lines, sleep_scale=sleep_scale, start_delay=0.1)
    await sim.start()
    await asyncio.to_thread(configure_discord, sim.api_base)
    collector = Collector("test-token", flush_ms=flush_ms, **collector_options)
    run = asyncio.create_task(collector.run())
    deadline = time.monotonic() + timeout
    try:
        while not sim.status()["done"]:
            if run.done():
                run.result()
            assert time.monotonic() < deadline, f"scenario not done: {sim.status()}"
            await asyncio.sleep(0.05)
        while until is not None and not until(collector):
            assert time.monotonic() < deadline, "collector never reached the expected state"
            await asyncio.sleep(0.05)
        await asyncio.sleep(settle_s)  # the client reads what is still on the socket
        collector.stop()
        await asyncio.wait_for(run, timeout=15)
    finally:
        await sim.stop()
    return collector


def run_collect(lines: list[str], **options) -> Collector:
    return asyncio.run(collect(lines, **options))
