"""Whether the collector is connected: the one rule the live badge, /metrics and the health panel
share.

Every collector shard writes its CollectorState row at each flush (every MOCHA_FLUSH_MS),
saying whether its gateway session is up. A row is only believed while it is fresh: a
collector killed with SIGKILL never gets to write `connected = False`, and one that
cannot commit (database gone) is not counting anything visible either. So a shard is
connected when its row says so *and* was written recently; the collector is connected
when it has shards and every one of them is (docs/operations.md, "Monitoring").
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from stats.models import CollectorState

FRESH_S = 15.0  # a dozen missed one-second flushes: gone, not merely slow


def fresh_within_s() -> float:
    """How recent a shard's row must be; longer flush intervals get three intervals of slack."""
    return max(FRESH_S, 3 * settings.MOCHA_FLUSH_MS / 1000)


def is_fresh(state: CollectorState, now: datetime | None = None) -> bool:
    """Whether the shard wrote its row recently enough to be believed."""
    now = now or timezone.now()
    return state.updated_at is not None and state.updated_at >= now - timedelta(
        seconds=fresh_within_s()
    )


def shard_connected(state: CollectorState, now: datetime | None = None) -> bool:
    return bool(state.connected) and is_fresh(state, now)


def all_connected(states: list[CollectorState], now: datetime | None = None) -> bool:
    """The collector as a whole: at least one shard, and every shard connected."""
    now = now or timezone.now()
    return bool(states) and all(shard_connected(s, now) for s in states)


def shards() -> list[CollectorState]:
    return list(CollectorState.objects.order_by("shard_id"))
