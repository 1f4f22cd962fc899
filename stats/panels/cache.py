"""Caches: hit rate (warning under 80 %), hits and misses, entries per cache."""
from __future__ import annotations

from stats.panels.base import Panel, fmt_count, fmt_pct, stat

WARN_HIT_RATE = 0.8


class CachePanel(Panel):
    title = "Cache"

    def content(self, snapshot: dict) -> dict:
        hits = snapshot.get("cache_hits") or 0
        misses = snapshot.get("cache_misses") or 0
        rate = snapshot.get("cache_hit_rate")
        if rate is None and hits + misses:
            rate = hits / (hits + misses)
        low = rate is not None and hits + misses > 0 and rate < WARN_HIT_RATE
        caches = snapshot.get("cache") or {}
        rows = []
        for name, value in caches.items() if isinstance(caches, dict) else ():
            if isinstance(value, dict):
                entries = value.get("entries")
                hit_rate = value.get("hit_rate")
                rows.append([name, fmt_count(entries), fmt_pct(hit_rate)])
            else:
                rows.append([name, fmt_count(value), "—"])
        return {
            "summary": fmt_pct(rate) if hits + misses else "no lookups yet",
            "stats": [
                stat("Hit rate", fmt_pct(rate) if hits + misses else "—", warn=low),
                stat("Hits", fmt_count(hits)),
                stat("Misses", fmt_count(misses)),
            ],
            "table": {"columns": ["Cache", "Entries", "Hit rate"], "rows": rows},
            "warnings": [f"hit rate {fmt_pct(rate)} is under {WARN_HIT_RATE:.0%}"] if low else [],
        }
