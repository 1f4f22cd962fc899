"""History import benchmark: `backfill_eps` beside the REST client's own ceiling, in the same run.

A simulator process (rate limits off) serves generated history; `backfill_eps` is messages/s of
the whole import (REST pages through discord.py's HTTP client, counting rules, committed rows),
`rest_ceiling_eps` the same pages read by the same client doing nothing with them.
"""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db.models import Sum

from stats.models import HourlyStat

CONCURRENCY = 4  # channels at once, as the import reads them


def _simulator(days: int, guilds: int):
    from mocha_site.loopback import free_port, simulator_answers, simulator_status, wait_for

    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(Path(settings.BASE_DIR) / "manage.py"),
            "simulate",
            "--port",
            str(port),
            "--rate",
            "0",
            "--backfill-days",
            str(days),
            "--guilds",
            str(guilds),
            "--channels",
            "12",
            "--no-rate-limits",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=os.environ.copy(),
    )

    wait_for(lambda: simulator_answers(port), 60, "the simulator")
    return proc, port, simulator_status(port)["history"]


async def _rest_ceiling() -> tuple[int, float]:
    """Every page of every channel through discord.py's HTTPClient, nothing done with them."""
    import discord

    http = discord.http.HTTPClient(asyncio.get_running_loop())
    await http.static_login("bench-token")
    channels = [
        int(c["id"])
        for g in await http.get_guilds(200)
        for c in await http.get_all_guild_channels(int(g["id"]))
        if c.get("type") in (0, 5)
    ]
    total = 0

    async def read(queue: list[int]) -> None:
        nonlocal total
        while queue:
            cid, before = queue.pop(), None
            while page := await http.logs_from(cid, 100, before=before):
                total += len(page)
                before = int(page[-1]["id"])

    started = time.perf_counter()
    try:
        await asyncio.gather(*(read(channels) for _ in range(CONCURRENCY)))
    finally:
        elapsed = time.perf_counter() - started
        await http.close()
    return total, elapsed


def run(quick: bool = False) -> dict:
    from collector.backfill import run_backfill
    from collector.endpoints import configure_discord

    proc, port, total = _simulator(days=3 if quick else 30, guilds=1 if quick else 2)
    try:
        configure_discord(f"http://127.0.0.1:{port}/api/v10")
        ceiling_n, ceiling_s = asyncio.run(_rest_ceiling())
        started = time.perf_counter()
        asyncio.run(run_backfill("bench-token", [], None, io.StringIO()))
        backfill_s = time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(10)
    committed = HourlyStat.objects.aggregate(m=Sum("messages"))["m"] or 0
    assert committed == total == ceiling_n, (committed, total, ceiling_n)
    eps, ceiling = total / backfill_s, ceiling_n / ceiling_s
    return {
        "backfill_eps": round(eps),
        "rest_ceiling_eps": round(ceiling),
        "backfill_vs_rest": round(eps / ceiling, 3),
        "backfill_messages": total,
    }
