"""`manage.py backfill [GID …] [--days N]`: import message history over Discord's REST API."""

from __future__ import annotations

import asyncio
import signal

from django.conf import settings

from mocha.management.base import MochaCommand


def guild_id(value: str) -> int:
    gid = int(value)
    if not 0 < gid < 2**63:
        raise ValueError(value)
    return gid


guild_id.__name__ = "guild id"


class Command(MochaCommand):
    help = "Import message history (threads included) of these guilds, or of all the bot is in."

    def add_arguments(self, parser) -> None:
        parser.add_argument("guilds", nargs="*", type=guild_id, metavar="GID")
        parser.add_argument(
            "--days", type=int, metavar="N", help="only the last N days (default: everything)"
        )

    def handle(self, *args, guilds: list[int], days: int | None, **options) -> None:
        if days is not None and days < 1:
            raise self.fail("--days must be at least 1")
        token = settings.DISCORD_TOKEN
        if not token:
            raise self.fail("DISCORD_TOKEN is not set")
        reports = asyncio.run(self.backfill(token, guilds, days))
        for r in reports:
            skipped = f", {len(r.notes)} skipped" if r.notes else ""
            self.stdout.write(
                f"guild {r.guild_id}: {r.done}/{r.channels} channels, {r.messages} messages read, "
                f"{r.counted} newly counted, {r.joins} past joins{skipped}"
            )

    async def backfill(self, token: str, guilds: list[int], days: int | None):
        import discord

        from collector.backfill import run_backfill
        from collector.endpoints import configure_discord

        api_base = settings.DISCORD_API_BASE
        try:
            await asyncio.to_thread(configure_discord, api_base)
        except Exception as exc:
            raise self.fail(f"cannot reach the Discord API at {api_base}: {exc}") from None

        def on_importer(importer) -> None:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, importer.stopping.set)

        try:
            return await run_backfill(token, guilds, days, self.stdout, on_importer)
        except discord.NotFound as exc:
            raise self.fail(f"unknown guild ({exc.text or exc}): is the bot in it?") from None
        except discord.Forbidden as exc:
            raise self.fail(f"not allowed: {exc.text or exc}") from None
        except discord.LoginFailure as exc:
            raise self.fail(f"login refused: {exc}") from None
        except discord.HTTPException as exc:
            raise self.fail(f"Discord API error: {exc}") from None
