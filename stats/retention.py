"""Each guild's retention, applied once a day by exactly one process.

Every collector checks every MOCHA_RETENTION_CHECK_S, and the systemd timer in
deploy/ runs `manage.py prune --daily`; whichever comes first on a UTC day
claims it by moving the marker row forward, and the claim and the pruning share
one transaction. A process racing it waits on the row (PostgreSQL re-checks the
WHERE after the winner commits; SQLite serialises writers) and updates nothing,
so the day is pruned once; if the pruning fails, the claim is rolled back with
it and the next check tries again.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from stats import maintenance
from stats.models import ScheduledTask

RETENTION = "retention"


def apply_daily_retention(now: datetime | None = None) -> dict[str, int] | None:
    """Prune as `manage.py prune` does, unless a process already did on this UTC day (then None)."""
    now = now or timezone.now()
    today = now.astimezone(UTC).date()
    ScheduledTask.objects.get_or_create(name=RETENTION)
    with transaction.atomic():
        task = ScheduledTask.objects.filter(name=RETENTION)
        if not task.filter(Q(last_day__isnull=True) | Q(last_day__lt=today)).update(
            last_day=today, last_run_at=now
        ):
            return None
        totals = maintenance.prune_recent(now=now)
        task.update(last_result=totals)
    return totals
