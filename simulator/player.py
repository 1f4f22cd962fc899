"""Playback: waits for the clients to identify, then plays scenario steps or generated traffic."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from simulator.scenario import Control, Dispatch, HistoryOnly

if TYPE_CHECKING:
    from simulator.server import Simulator

BATCH = 512  # dispatches queued between two flushes (and two chances for other tasks to run)


async def run(sim: Simulator) -> None:
    """The simulator's playback task."""
    await wait_until_ready(sim)
    if sim.scenario is not None:
        await play(sim, sim.scenario.steps, rate=sim.rate)
        sim.stats["done"] = True
        return
    gen = sim.generator
    assert gen is not None
    if sim.burst:
        await play(sim, gen.burst(sim.burst), rate=sim.rate)
        sim.stats["done"] = True
        return
    sim.stats["done"] = True  # generated backfill is history (loaded at start), not dispatched
    if sim.rate is None or sim.rate > 0:
        start = gen.start if gen.fixed_start else datetime.now(UTC)
        await play_live(sim, gen.live(start, rate=sim.rate or 20.0))


async def wait_until_ready(sim: Simulator) -> None:
    """First IDENTIFY, then every shard of its shard count (bounded), then a short grace."""
    await sim.first_identify.wait()
    try:
        await asyncio.wait_for(sim.all_identified.wait(), timeout=sim.ready_timeout)
    except TimeoutError:
        pass
    await asyncio.sleep(sim.start_delay)


async def play(
    sim: Simulator, steps: Iterable[Dispatch | Control | HistoryOnly], rate: float | None
) -> None:
    """Send steps in order; flush every BATCH dispatches, before every control line and when
    pacing."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    pending = sent = 0
    stats = sim.stats
    route = sim.route
    record = sim.history.record
    for step in steps:
        if type(step) is Dispatch:
            route(step)
            if step.record is not None:
                record(*step.record)
            pending += 1
            sent += 1
            if rate:
                ahead = t0 + sent / rate - loop.time()
                if ahead > 0.005:
                    stats["sent"] += pending
                    pending = 0
                    await sim.flush()
                    await asyncio.sleep(ahead)
                    continue
            if pending >= BATCH:
                stats["sent"] += pending
                pending = 0
                await sim.flush()
                await asyncio.sleep(0)  # let heartbeats (and an in-process client) run
            continue
        if type(step) is HistoryOnly:
            record(*step.record)
            stats["sent"] += 1
            continue
        stats["sent"] += pending
        pending = 0
        await sim.flush()
        await control(sim, step)
        stats["sent"] += 1
    stats["sent"] += pending
    await sim.flush()


async def play_live(sim: Simulator, events: Iterable[tuple[float, Dispatch]]) -> None:
    """Generated live traffic: each event at its offset (seconds) from now, batched when close
    together."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    pending = 0
    for offset, dispatch in events:
        delay = t0 + offset - loop.time()
        if delay > 0.002 or pending >= BATCH:
            sim.stats["sent"] += pending
            pending = 0
            await sim.flush()
            await asyncio.sleep(max(delay, 0))
        sim.route(dispatch)
        if dispatch.record is not None:
            sim.history.record(*dispatch.record)
        pending += 1


async def control(sim: Simulator, step: Control) -> None:
    """Apply a control line to every connected session."""
    if step.op == "sleep":
        await asyncio.sleep(step.ms / 1000 * sim.sleep_scale)
        return
    for session in list(sim.by_shard.values()):
        link = session.link
        if step.op == "drop":
            if link is not None:
                session.link = None
                link.abort()
        elif step.op == "reconnect":
            if link is not None:
                link.send_now('{"op":7,"d":null}')
        elif step.op == "invalid_session":
            if link is not None:
                link.send_now('{"op":9,"d":%s}' % ("true" if step.resumable else "false"))
            if not step.resumable:
                # The session is gone: what is dispatched before the client identifies again is
                # lost.
                sim.sessions.pop(session.id, None)
                if sim.by_shard.get(session.shard_id) is session:
                    del sim.by_shard[session.shard_id]
                session.link = None
