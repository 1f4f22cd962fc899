"""One notion of "collector connected": the live badge, /metrics and the health panel agree."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from stats import collector_health, live, metrics
from stats.models import CollectorState
from stats.panels import health_document

pytestmark = pytest.mark.django_db


def verdicts() -> dict[str, bool]:
    """What each reader says: the dashboard's badge, the /metrics document, the health panel."""
    badge, _ = live.collector_status()
    snapshot = metrics.snapshot()
    panel = next(p for p in health_document(snapshot)["panels"] if p["id"] == "collector")
    return {
        "badge": badge["connected"],
        "metrics": snapshot["collector"]["connected"],
        "panel": panel["summary"] == "connected",
    }


def shard(seconds_ago: float, connected: bool = True, shard_id: int = 0) -> None:
    CollectorState.objects.update_or_create(
        shard_id=shard_id,
        defaults={
            "connected": connected,
            "updated_at": timezone.now() - timedelta(seconds=seconds_ago),
        },
    )


def test_a_shard_that_reported_just_now_is_connected_everywhere():
    shard(1)
    assert verdicts() == {"badge": True, "metrics": True, "panel": True}


def test_a_killed_collector_is_down_everywhere_once_its_row_goes_stale():
    # SIGKILL leaves connected=True behind: only the row's age can tell.
    shard(collector_health.fresh_within_s() + 1)
    assert verdicts() == {"badge": False, "metrics": False, "panel": False}


def test_a_collector_that_said_it_disconnected_is_down_at_once():
    shard(0, connected=False)
    assert verdicts() == {"badge": False, "metrics": False, "panel": False}


def test_one_stale_shard_of_two_makes_the_collector_down():
    shard(0, shard_id=0)
    shard(collector_health.fresh_within_s() + 1, shard_id=1)
    assert verdicts() == {"badge": False, "metrics": False, "panel": False}


def test_no_collector_yet_is_down_everywhere():
    assert verdicts() == {"badge": False, "metrics": False, "panel": False}


def test_a_slow_flush_interval_widens_the_window(settings):
    settings.MOCHA_FLUSH_MS = 20_000
    assert collector_health.fresh_within_s() == 60
    shard(30)
    assert verdicts() == {"badge": True, "metrics": True, "panel": True}
