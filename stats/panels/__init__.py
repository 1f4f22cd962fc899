"""Health panels, listed as dotted paths in settings.MOCHA_HEALTH_PANELS."""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from stats.panels.base import Panel


@cache
def panels() -> tuple[Panel, ...]:
    """One instance of each configured panel, in the configured order."""
    return tuple(import_string(path)() for path in settings.MOCHA_HEALTH_PANELS)


def current_snapshot() -> dict:
    """The /metrics document; empty until the metrics module exists."""
    try:
        from stats.metrics import snapshot
    except ImportError:
        return {}
    return snapshot()


def health_document(snapshot: dict | None = None) -> dict:
    """The /ws/health/ message: the /metrics document plus every panel rendered from it."""
    snap = current_snapshot() if snapshot is None else snapshot
    return {**snap, "type": "health", "panels": [p.render(snap) for p in panels()]}
