"""Collector status per shard: connection, latency, event rate, queue, flush timings."""

from __future__ import annotations

from datetime import UTC, datetime

from stats.panels.base import Panel, fmt_count, fmt_duration, fmt_ms, fmt_rate, stat

QUIET_AFTER_S = 30  # connected, yet no event for this long: worth a note (Discord sends nothing?)


def age_s(value) -> float | None:
    """Seconds since an ISO timestamp (or datetime), None when unknown."""
    if not value:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return max(0.0, (datetime.now(UTC) - value).total_seconds())


def ago(value) -> str:
    age = age_s(value)
    return "never" if age is None else f"{fmt_duration(age)} ago"


class CollectorPanel(Panel):
    title = "Collector"

    def content(self, snapshot: dict) -> dict:
        col = snapshot.get("collector") or {}
        shards = col.get("shards")
        shard_rows = shards if isinstance(shards, list) else []
        connected = bool(col.get("connected"))
        rows = [
            [
                str(s.get("shard_id", i)),
                "connected" if s.get("connected") else "down",
                fmt_ms(s.get("latency_ms")),
                fmt_rate(s.get("events_per_sec")),
                fmt_count(s.get("events_processed")),
                fmt_count(s.get("queue_depth")),
                fmt_ms(s.get("last_flush_ms")),
                ago(s.get("last_flush_at") or s.get("updated_at")),
            ]
            for i, s in enumerate(shard_rows)
            if isinstance(s, dict)
        ]
        warnings = []
        if not connected:
            warnings.append(
                "collector not connected" if shards else "no collector has reported yet"
            )
        if "members" in (col.get("missing_intents") or []):
            warnings.append(
                "joins and leaves are not counted: turn on the Server Members Intent on the Bot "
                "page of the Discord developer portal, then restart the collector"
            )
        gaps = col.get("gaps") if isinstance(col.get("gaps"), dict) else {}
        if gaps.get("open"):
            warnings.append(
                f"{fmt_count(gaps['open'])} gaps not repaired yet (messages only: voice "
                "and joins missed while away cannot be recovered)"
            )
        stale = age_s(col.get("last_event_at"))
        if connected and stale is not None and stale > QUIET_AFTER_S:
            warnings.append(f"no event for {fmt_duration(stale)}")
        return {
            "summary": "connected" if connected else "down",
            "stats": [
                stat("Status", "connected" if connected else "down", warn=not connected),
                stat("Events/s", fmt_rate(snapshot.get("events_per_sec"))),
                stat("Events processed", fmt_count(snapshot.get("events_processed"))),
                stat("Gateway latency", fmt_ms(col.get("latency_ms"))),
                stat("Queue", fmt_count(col.get("queue_depth"))),
                stat("Last flush", fmt_ms(col.get("last_flush_ms"))),
                stat("Last event", ago(col.get("last_event_at"))),
                stat(
                    "Gaps found / repaired / open",
                    " / ".join(fmt_count(gaps.get(k)) for k in ("found", "repaired", "open")),
                    warn=bool(gaps.get("open")),
                ),
            ],
            "table": {
                "columns": [
                    "Shard",
                    "Status",
                    "Latency",
                    "Events/s",
                    "Processed",
                    "Queue",
                    "Flush",
                    "Flushed",
                ],
                "rows": rows,
            },
            "warnings": warnings,
        }
