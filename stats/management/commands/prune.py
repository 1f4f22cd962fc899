"""`manage.py prune [--guild ID] [--dry-run]`: apply each guild's retention to raw recent events."""
from __future__ import annotations

from stats import maintenance
from stats.management.base import MochaCommand
from stats.models import Guild


class Command(MochaCommand):
    help = (
        "Delete live-feed events and ended voice sessions older than each guild's retention_days. "
        "Hourly totals are kept."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--guild", type=int, metavar="ID", help="only this guild")
        parser.add_argument("--dry-run", action="store_true", help="count what would be deleted, delete nothing")

    def handle(self, *args, guild: int | None = None, dry_run: bool = False, **options) -> None:
        guilds = None
        if guild is not None:
            guilds = list(Guild.objects.filter(pk=guild)) if 0 <= guild < 2**63 else []
            if not guilds:
                raise self.fail(f"unknown guild {guild}")
        totals = maintenance.prune_recent(guilds, dry_run=dry_run)
        verb = "would prune" if dry_run else "pruned"
        self.stdout.write(
            f"{verb} {totals['recent events']} recent events and {totals['voice sessions']} voice sessions "
            f"across {totals['guilds']} guild(s)"
        )
