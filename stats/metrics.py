"""The health snapshot: the /metrics document (docs/operations.md, "Monitoring"); Prometheus:
stats/prometheus.py.

Collector figures come from CollectorState (one row per shard, written each
flush); whether a shard is connected is stats.collector_health's call. Query
counts, cache hits and web errors are this process's own.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path

import psutil
from django.db import connection, connections, transaction
from django.utils import timezone

from mocha.utc import iso
from stats import cache as result_cache
from stats import collector_health, instruments
from stats.models import CollectorState, QuarantinedRow

_process = psutil.Process()
_started = _process.create_time()


class ProcessCounters:
    """Counters of this process: SQL statements executed, web requests that ended in a 5xx."""

    queries = 0
    web_errors = 0


def count_query(execute, sql, params, many, context):
    """A connection execute wrapper: one increment per statement (cheaper than DEBUG's query
    log)."""
    ProcessCounters.queries += 1
    instruments.QUERIES.inc()
    return execute(sql, params, many, context)


def install_query_counter(sender=None, connection=None, **kwargs) -> None:
    """Attach count_query to a new connection (connected to `connection_created` at app ready)."""
    if connection is not None and count_query not in connection.execute_wrappers:
        connection.execute_wrappers.append(count_query)


def install_on_open_connections() -> None:
    for conn in connections.all(initialized_only=True):
        install_query_counter(connection=conn)


def record_web_error() -> None:
    ProcessCounters.web_errors += 1
    instruments.WEB_ERRORS.inc()


def database_sizes() -> dict:
    """Database and write-ahead-log sizes in bytes (0 where the server will not say)."""
    if connection.vendor == "sqlite":
        name = Path(connection.settings_dict["NAME"])

        def size(path: Path) -> int:
            try:
                return path.stat().st_size
            except (FileNotFoundError, OSError):
                return 0

        return {"size_bytes": size(name), "wal_bytes": size(Path(f"{name}-wal"))}
    with connection.cursor() as cur:
        cur.execute("SELECT pg_database_size(current_database())")
        db_size = int(cur.fetchone()[0])
        wal = 0
        try:
            with (
                transaction.atomic(),
                connection.cursor() as wal_cur,
            ):  # a savepoint keeps a failure contained
                wal_cur.execute("SELECT COALESCE(SUM(size), 0) FROM pg_ls_waldir()")
                wal = int(wal_cur.fetchone()[0])
        except Exception:  # pg_ls_waldir needs pg_monitor; without it we say 0
            wal = 0
    return {"size_bytes": db_size, "wal_bytes": wal}


def collector_doc(now: datetime) -> tuple[dict, list[dict]]:
    """The collector section and the shard rows."""
    rows = collector_health.shards()
    shards = []
    for s in rows:
        fresh = collector_health.is_fresh(s, now)
        shards.append(
            {
                "shard_id": s.shard_id,
                "shard_count": s.shard_count,
                "pid": s.pid,
                "connected": collector_health.shard_connected(s, now),
                "latency_ms": s.latency_ms,
                "last_event_at": iso(s.last_event_at),
                "events_processed": s.events_processed,
                "events_per_sec": s.events_per_sec if fresh else 0.0,
                "queue_depth": s.queue_depth,
                "last_flush_ms": s.last_flush_ms,
                "last_flush_at": iso(s.last_flush_at),
                "rss_bytes": s.rss_bytes,
                "errors": s.errors,
                "gaps": s.gaps,
                "missing_intents": s.missing_intents or [],
                "started_at": iso(s.started_at),
                "updated_at": iso(s.updated_at),
            }
        )
    latencies = [s["latency_ms"] for s in shards if s["connected"] and s["latency_ms"] is not None]
    last_events = [s.last_event_at for s in rows if s.last_event_at]
    collector = {
        "connected": collector_health.all_connected(rows, now),
        "latency_ms": max(latencies) if latencies else None,
        "last_event_at": iso(max(last_events)) if last_events else None,
        "queue_depth": sum(s["queue_depth"] for s in shards),
        "last_flush_ms": max((s["last_flush_ms"] for s in shards), default=None),
        "skipped": skipped_by_reason(rows),
        "quarantined": QuarantinedRow.objects.count(),
        "missing_intents": sorted({i for s in shards for i in s["missing_intents"]}),
        # Gap repair (see docs/history.md): channel spans checked, read to their start, still open.
        "gaps": {
            "found": sum(s.gaps_found for s in rows),
            "repaired": sum(s.gaps_repaired for s in rows),
            "open": sum(s.gaps_open for s in rows),
        },
        "shards": shards,
    }
    return collector, shards


def skipped_by_reason(rows: list[CollectorState]) -> dict[str, int]:
    """Invalid payloads skipped, by reason; shards of one process share one count, so once per
    process."""
    per_process = {(s.pid, s.started_at): s.skipped for s in rows if isinstance(s.skipped, dict)}
    total: dict[str, int] = {}
    for skipped in per_process.values():
        for reason, n in skipped.items():
            total[reason] = total.get(reason, 0) + int(n)
    return dict(sorted(total.items()))


def snapshot() -> dict:
    """The /metrics document."""
    now = timezone.now()
    collector, shards = collector_doc(now)
    counters = result_cache.counters
    memory = {f"web-{os.getpid()}": _process.memory_info().rss}
    for s in shards:
        memory[f"collector-{s['shard_id']}"] = s["rss_bytes"]
    usage = {alias: result_cache.usage(alias) for alias in result_cache.settings.CACHES}
    return {
        "events_processed": sum(s["events_processed"] for s in shards),
        "events_per_sec": sum(s["events_per_sec"] for s in shards),
        "queries_executed": ProcessCounters.queries,
        "cache_hits": counters.hits,
        "cache_misses": counters.misses,
        "cache_hit_rate": counters.hit_rate(),
        "errors": sum(s["errors"] for s in shards) + ProcessCounters.web_errors,
        "memory": {"rss_bytes": memory},
        "cache": {alias: u["entries"] for alias, u in usage.items()},
        "cache_bytes": {alias: u["bytes"] for alias, u in usage.items()},
        "collector": collector,
        "db": database_sizes(),
        "uptime_s": round(time.time() - _started, 3),
    }
