"""Caches: hit rate (warning under 80 %), hits and misses, entries per cache."""

from __future__ import annotations

from stats.panels.base import Panel, fmt_bytes, fmt_count, fmt_pct, stat

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
        sizes = snapshot.get("cache_bytes") or {}
        rows = [
            [name, fmt_count(entries), fmt_bytes(sizes.get(name)) if name in sizes else "—"]
            for name, entries in (caches.items() if isinstance(caches, dict) else ())
        ]
        return {
            "summary": fmt_pct(rate) if hits + misses else "no lookups yet",
            "stats": [
                stat("Hit rate", fmt_pct(rate) if hits + misses else "—", warn=low),
                stat("Hits", fmt_count(hits)),
                stat("Misses", fmt_count(misses)),
            ],
            "table": {"columns": ["Cache", "Entries", "Size"], "rows": rows},
            "warnings": [f"hit rate {fmt_pct(rate)} is under {WARN_HIT_RATE * 100:.0f} %"]
            if low
            else [],
        }
