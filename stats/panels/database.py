"""Database: file and WAL size, queries, errors, uptime."""

from __future__ import annotations

from stats.panels.base import Panel, fmt_bytes, fmt_count, fmt_duration, stat

WARN_WAL_BYTES = 256 * 1000 * 1000  # a WAL this large means checkpoints are not keeping up


class DatabasePanel(Panel):
    title = "Database"

    def content(self, snapshot: dict) -> dict:
        db = snapshot.get("db") or {}
        wal = db.get("wal_bytes")
        big_wal = wal is not None and wal > WARN_WAL_BYTES
        errors = snapshot.get("errors") or 0
        return {
            "summary": fmt_bytes(db.get("size_bytes")),
            "stats": [
                stat("Size", fmt_bytes(db.get("size_bytes"))),
                stat("WAL", fmt_bytes(wal) if wal is not None else "n/a", warn=big_wal),
                stat("Queries", fmt_count(snapshot.get("queries_executed"))),
                stat("Errors", fmt_count(errors), warn=errors > 0),
                stat("Uptime", fmt_duration(snapshot.get("uptime_s"))),
            ],
            "table": None,
            "warnings": ["WAL is large: checkpoints may be starved"] if big_wal else [],
        }
