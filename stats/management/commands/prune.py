"""`manage.py prune [--guild ID] [--dry-run] [--daily]`: each guild's retention on raw events."""

from __future__ import annotations

from mocha.discord_types import MAX_SNOWFLAKE
from mocha.management.base import MochaCommand
from stats import maintenance
from stats.models import Guild
from stats.retention import apply_daily_retention


class Command(MochaCommand):
    help = (
        "Delete live-feed events and ended voice sessions older than each guild's retention_days. "
        "Hourly totals are kept."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--guild", type=int, metavar="ID", help="only this guild")
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would be deleted, delete nothing"
        )
        parser.add_argument(
            "--daily",
            action="store_true",
            help="every guild, unless a collector or another run pruned today (UTC); for timers",
        )

    def handle(
        self, *args, guild: int | None = None, dry_run: bool = False, daily: bool = False, **options
    ) -> None:
        if daily:
            if guild is not None or dry_run:
                raise self.fail(
                    "--daily prunes every guild for real: it takes no --guild or --dry-run"
                )
            totals = apply_daily_retention()
            if totals is None:
                self.stdout.write("retention was already applied today")
                return
        else:
            totals = self.prune(guild, dry_run)
        verb = "would prune" if dry_run else "pruned"
        self.stdout.write(
            f"{verb} {totals['recent events']} recent events and "
            f"{totals['voice sessions']} voice sessions "
            f"across {totals['guilds']} guild(s)"
        )

    def prune(self, guild: int | None, dry_run: bool) -> dict[str, int]:
        guilds = None
        if guild is not None:
            guilds = list(Guild.objects.filter(pk=guild)) if 0 <= guild <= MAX_SNOWFLAKE else []
            if not guilds:
                raise self.fail(f"unknown guild {guild}")
        return maintenance.prune_recent(guilds, dry_run=dry_run)
