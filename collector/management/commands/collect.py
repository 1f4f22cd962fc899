"""`manage.py collect`: run the discord.py collector until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging

from django.conf import settings

from mocha.management.base import MochaCommand

log = logging.getLogger("mocha.collector")


def shard_list(value: str) -> list[int]:
    ids = [int(v) for v in value.split(",") if v.strip()]
    if not ids or min(ids) < 0:
        raise ValueError(value)
    return ids


shard_list.__name__ = "shard id list"


class Command(MochaCommand):
    help = "Run the Discord collector: count messages, voice minutes, joins and leaves."
    # The checks import the web's URLs and admin: memory the collector never uses, and apps its
    # settings (mocha_site.settings.collector) leave out.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("--shard-count", type=int, metavar="N")
        parser.add_argument("--shard-ids", type=shard_list, metavar="0,1")
        parser.add_argument(
            "--simulate", action="store_true", help="run the gateway simulator in-process"
        )
        parser.add_argument(
            "--public", action="store_true", help="guilds first seen become public (demo)"
        )
        parser.add_argument("--scenario", help="with --simulate: play this scenario file")

    def handle(self, *args, shard_count, shard_ids, simulate, public, scenario, **options) -> None:
        if shard_ids and not shard_count:
            raise self.fail("--shard-ids needs --shard-count")
        if shard_count is not None and shard_count < 1:
            raise self.fail("--shard-count must be at least 1")
        if shard_ids and max(shard_ids) >= shard_count:
            raise self.fail(f"shard ids must be below --shard-count {shard_count}")
        if scenario and not simulate:
            raise self.fail("--scenario needs --simulate")
        token = settings.DISCORD_TOKEN
        if not token and not simulate:
            raise self.fail(
                "DISCORD_TOKEN is not set (or use --simulate for the built-in simulator)"
            )
        try:
            asyncio.run(
                self.collect(
                    token or "simulated-token", shard_ids, shard_count, simulate, public, scenario
                )
            )
        except KeyboardInterrupt:
            pass

    async def collect(self, token, shard_ids, shard_count, simulate, public, scenario) -> None:
        from collector.client import MISSING_MEMBERS
        from collector.endpoints import configure_discord
        from collector.service import Collector

        simulator = None
        api_base = settings.DISCORD_API_BASE
        if simulate:
            from simulator.server import Simulator

            simulator = Simulator(scenario_path=scenario) if scenario else Simulator()
            port = await simulator.start()
            api_base = f"http://127.0.0.1:{port}/api/v10"
        try:
            gateway = await asyncio.to_thread(configure_discord, api_base)
        except Exception as exc:
            raise self.fail(f"cannot reach the Discord API at {api_base}: {exc}") from None
        collector = Collector(
            token,
            shard_ids=shard_ids,
            shard_count=shard_count,
            public_new_guilds=public or simulate,
        )

        def started() -> None:
            where = gateway or "Discord"
            self.stdout.write(
                f"collecting from {where} "
                f"(shards {collector.shard_ids} of {collector.shard_count}); Ctrl-C stops"
            )

        import discord

        try:
            await collector.run(on_started=started)
        except discord.PrivilegedIntentsRequired:
            raise self.fail(MISSING_MEMBERS) from None
        except Exception as exc:  # login refused, gateway gone: one line, not a traceback
            raise self.fail(f"collector stopped: {exc}") from None
        finally:
            if simulator is not None:
                await simulator.stop()
        self.stdout.write(
            f"stopped; {collector.received + collector.other_events} events processed"
        )
