"""Memory per process (web workers, collector)."""

from __future__ import annotations

from stats.panels.base import Panel, fmt_bytes, stat

WARN_RSS_BYTES = 150 * 1000 * 1000  # above the targets (80 MB collector, 100 MB web) with headroom


def processes(memory) -> list[tuple[str, int]]:
    """(name, rss bytes) pairs from the snapshot's `memory`, whichever shape it uses."""
    if isinstance(memory, dict) and "rss_bytes" in memory:
        memory = memory["rss_bytes"]
    if isinstance(memory, dict):
        out = []
        for name, value in memory.items():
            if isinstance(value, dict):
                value = value.get("rss_bytes", 0)
            out.append((str(name), int(value or 0)))
        return out
    if isinstance(memory, list):
        return [
            (str(p.get("name") or p.get("role") or p.get("pid", "?")), int(p.get("rss_bytes") or 0))
            for p in memory
            if isinstance(p, dict)
        ]
    if isinstance(memory, (int, float)):
        return [("this process", int(memory))]
    return []


class MemoryPanel(Panel):
    title = "Memory"

    def content(self, snapshot: dict) -> dict:
        procs = processes(snapshot.get("memory"))
        total = sum(rss for _, rss in procs)
        heavy = [name for name, rss in procs if rss > WARN_RSS_BYTES]
        return {
            "summary": fmt_bytes(total) if procs else "—",
            "stats": [
                stat("Processes", len(procs)),
                stat("Total RSS", fmt_bytes(total), warn=bool(heavy)),
            ],
            "table": {
                "columns": ["Process", "RSS"],
                "rows": [[name, fmt_bytes(rss)] for name, rss in sorted(procs)],
            },
            "warnings": [f"{name} uses more than {fmt_bytes(WARN_RSS_BYTES)}" for name in heavy],
        }
