"""`manage.py simulate`: the gateway simulator alone on 127.0.0.1 (a thin command over
simulator.server)."""

from __future__ import annotations

import asyncio
import signal
import sys

from mocha.management.base import MochaCommand


class Command(MochaCommand):
    help = "Run the Discord gateway simulator on 127.0.0.1 (scenario replay or generated traffic)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, required=True)
        parser.add_argument(
            "--scenario", help="JSON-lines scenario file; without it, traffic is generated"
        )
        parser.add_argument(
            "--rate", type=float, help="events per second (generated live traffic, or pacing)"
        )
        parser.add_argument("--guilds", type=int, default=1)
        parser.add_argument("--members", type=int, default=200)
        parser.add_argument("--channels", type=int, default=8)
        parser.add_argument("--backfill-days", type=int, default=0)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--token", help="accept only this bot token (default: any)")
        parser.add_argument(
            "--shards", type=int, default=1, help="shard count /gateway/bot recommends"
        )
        parser.add_argument(
            "--burst",
            type=int,
            default=0,
            help="benchmarks: send N generated MESSAGE_CREATE as fast as possible, then stop",
        )
        parser.add_argument(
            "--disallow-intents",
            metavar="members,presences,message_content",
            help="play an application without these privileged intents: IDENTIFY asking "
            "for one is closed with 4014",
        )
        parser.add_argument(
            "--no-rate-limits",
            action="store_true",
            help="benchmarks: no rate limits on REST requests",
        )

    def handle(self, *args, **opts) -> None:
        from simulator.intents import parse_privileged
        from simulator.scenario import ScenarioError
        from simulator.server import Simulator

        if not 0 < opts["port"] < 65536:
            raise self.fail(f"bad port {opts['port']}: use 1-65535")
        for name in ("guilds", "members", "channels", "shards"):
            if opts[name] < 1:
                raise self.fail(f"--{name} must be at least 1")
        if (
            opts["backfill_days"] < 0
            or opts["burst"] < 0
            or (opts["rate"] is not None and opts["rate"] < 0)
        ):
            raise self.fail("--backfill-days and --rate must not be negative")
        try:
            disallowed = parse_privileged(opts["disallow_intents"])
        except ValueError as exc:
            raise self.fail(f"--disallow-intents: {exc}") from None
        try:
            sim = Simulator(
                opts["scenario"],
                rate=opts["rate"],
                guilds=opts["guilds"],
                members=opts["members"],
                channels=opts["channels"],
                backfill_days=opts["backfill_days"],
                seed=opts["seed"],
                token=opts["token"],
                shards=opts["shards"],
                burst=opts["burst"],
                disallow_intents=disallowed,
                rest_limits=not opts["no_rate_limits"],
            )
        except ScenarioError as exc:
            raise self.fail(str(exc)) from None
        try:
            asyncio.run(self._serve(sim, opts["port"], quiet=opts["verbosity"] == 0))
        except OSError as exc:
            raise self.fail(
                f"cannot listen on 127.0.0.1:{opts['port']}: {exc.strerror or exc}"
            ) from None

    async def _serve(self, sim, port: int, quiet: bool = False) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        port = await sim.start(port=port)
        self.stdout.write(f"DISCORD_API_BASE=http://127.0.0.1:{port}/api/v10")
        self.stdout.flush()
        try:
            if (
                quiet
            ):  # -v 0: no rate line (make run's console belongs to the web server and collector)
                await stop.wait()
            else:
                await self._progress(sim, stop)
        finally:
            await sim.stop()
            if sys.stderr.isatty():
                sys.stderr.write("\n")

    async def _progress(self, sim, stop: asyncio.Event) -> None:
        """A rate line every second (rewritten in place on a terminal) until SIGINT/SIGTERM."""
        last, quiet = 0, 0
        tty = sys.stderr.isatty()
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=1.0)
            except TimeoutError:
                pass
            s = sim.status()
            line = (
                f"sent {s['sent']}/{s['total']} ({s['sent'] - last}/s) done={s['done']} "
                f"connections={s['connections']} open={s['open']} resumes={s['resumes']}"
            )
            quiet = quiet + 1 if s["sent"] == last else 0
            last = s["sent"]
            if not tty and quiet and quiet % 30:
                continue  # in a log, an idle simulator says so twice a minute, not every second
            sys.stderr.write(("\r" + line + "   ") if tty else line + "\n")
            sys.stderr.flush()
