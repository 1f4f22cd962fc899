"""`manage.py warm_cache [--guild ID]`: compute the dashboard's default queries into the result
cache."""

from __future__ import annotations

import time

from django.utils import timezone

from mocha.management.base import MochaCommand
from stats import api_results
from stats.models import Guild


class Command(MochaCommand):
    help = "Compute the dashboard's default queries for every guild (or one) into the result cache."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--guild", type=int, metavar="ID", help="only this guild")

    def handle(self, *args, guild: int | None = None, **options) -> None:
        guilds = Guild.objects.order_by("id")
        if guild is not None:
            guilds = guilds.filter(pk=guild)
            if not guilds.exists():
                raise self.fail(f"unknown guild {guild}")
        guilds = list(guilds)
        now = timezone.now()
        started = time.perf_counter()
        for i, g in enumerate(guilds, 1):
            t0 = time.perf_counter()
            n = api_results.warm(g, now)
            self.stdout.write(
                f"[{i}/{len(guilds)}] {g.id} {g.name}: "
                f"{n} queries in {(time.perf_counter() - t0) * 1000:.0f} ms"
            )
        self.stdout.write(f"warmed {len(guilds)} guild(s) in {time.perf_counter() - started:.2f} s")
