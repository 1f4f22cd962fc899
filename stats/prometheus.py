"""/metrics/prometheus: the web workers' instruments plus figures read from the database at scrape
time.

Everything is in base units (seconds, bytes) and named as Prometheus expects
(`promtool check metrics` is part of the tests). The collector runs in its own
processes, possibly on other machines, so its figures travel through the
database: each process writes its status, cumulative counters and flush
histograms (collector/telemetry.py) with every flush, and `DatabaseCollector`
turns the rows into metric families. Metric names are listed in
docs/operations.md ("Monitoring"); deploy/grafana-dashboard.json charts them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.utils import timezone
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from stats import cache as result_cache
from stats import collector_health, instruments, metrics
from stats.models import CollectorState, QuarantinedRow


def histogram(
    name: str, doc: str, labels: dict[str, str], data: dict | None
) -> HistogramMetricFamily | None:
    """A collector/telemetry.py histogram ({"bounds", "counts", "sum"}) as a metric family."""
    if not data or len(data.get("counts", ())) != len(data.get("bounds", ())) + 1:
        return None
    family = HistogramMetricFamily(name, doc, labels=list(labels))
    buckets, running = [], 0
    for bound, count in zip([*data["bounds"], float("inf")], data["counts"], strict=False):
        running += count
        buckets.append(("+Inf" if bound == float("inf") else repr(float(bound)), running))
    family.add_metric(list(labels.values()), buckets, data["sum"])
    return family


def processes(rows: list[CollectorState]) -> dict[str, CollectorState]:
    """One row per collector process, labelled by its shard ids: the shards of a process share its
    counters."""
    by_process: dict[tuple, list[CollectorState]] = {}
    for row in rows:
        by_process.setdefault((row.pid, row.started_at), []).append(row)
    return {",".join(str(r.shard_id) for r in group): group[0] for group in by_process.values()}


class DatabaseCollector(Collector):
    """Collector shards, database and cache sizes, read when Prometheus scrapes."""

    def collect(self) -> Iterator[Metric]:
        rows = collector_health.shards()
        yield from self.shards(rows)
        yield from self.collector_processes(processes(rows))
        invalid = CounterMetricFamily(
            "mocha_collector_skipped",
            "Invalid gateway payloads skipped, by reason",
            labels=["reason"],
        )
        for reason, n in metrics.skipped_by_reason(rows).items():
            invalid.add_metric([reason], n)
        yield invalid
        gaps = GaugeMetricFamily(
            "mocha_collector_gaps",
            "Gap repair: channel spans found, repaired and still open",
            labels=["state"],
        )
        for state, n in (metrics.collector_doc(timezone.now())[0].get("gaps") or {}).items():
            gaps.add_metric([state], n)
        yield gaps
        yield GaugeMetricFamily(
            "mocha_collector_quarantined_rows",
            "Rows the database refused, set aside for an operator",
            value=QuarantinedRow.objects.count(),
        )
        sizes = metrics.database_sizes()
        yield GaugeMetricFamily(
            "mocha_database_size_bytes", "Size of the database", value=sizes["size_bytes"]
        )
        yield GaugeMetricFamily(
            "mocha_database_wal_bytes", "Size of the write-ahead log", value=sizes["wal_bytes"]
        )
        entries = GaugeMetricFamily("mocha_cache_entries", "Entries per cache", labels=["cache"])
        size = GaugeMetricFamily("mocha_cache_size_bytes", "Bytes used per cache", labels=["cache"])
        for alias in result_cache.settings.CACHES:
            usage = result_cache.usage(alias)
            if usage["entries"] is not None:
                entries.add_metric([alias], usage["entries"])
            if usage["bytes"] is not None:
                size.add_metric([alias], usage["bytes"])
        yield entries
        yield size

    @staticmethod
    def shards(rows: list[CollectorState]) -> Iterable[Metric]:
        yield GaugeMetricFamily(
            "mocha_collector_connected",
            "1 when every collector shard is connected (stats/collector_health.py)",
            value=int(collector_health.all_connected(rows)),
        )
        connected = GaugeMetricFamily(
            "mocha_collector_shard_connected", "1 when the shard is connected", labels=["shard"]
        )
        latency = GaugeMetricFamily(
            "mocha_collector_shard_latency_seconds",
            "Gateway heartbeat latency of the shard",
            labels=["shard"],
        )
        for row in rows:
            connected.add_metric([str(row.shard_id)], int(collector_health.shard_connected(row)))
            if row.latency_ms is not None:
                latency.add_metric([str(row.shard_id)], row.latency_ms / 1000)
        yield connected
        yield latency

    @staticmethod
    def collector_processes(by_shards: dict[str, CollectorState]) -> Iterable[Metric]:
        label = ["shards"]
        gauges = {
            "queue": GaugeMetricFamily(
                "mocha_collector_queue_depth", "Counter keys waiting to be flushed", labels=label
            ),
            "rss": GaugeMetricFamily(
                "mocha_collector_resident_memory_bytes",
                "Resident memory of the process",
                labels=label,
            ),
            "flush": GaugeMetricFamily(
                "mocha_collector_last_flush_duration_seconds",
                "Duration of the last flush",
                labels=label,
            ),
            "event": GaugeMetricFamily(
                "mocha_collector_last_event_timestamp_seconds",
                "When the last event arrived, Unix epoch",
                labels=label,
            ),
            "start": GaugeMetricFamily(
                "mocha_collector_start_time_seconds",
                "Start time of the process, Unix epoch",
                labels=label,
            ),
        }
        counters = {
            "processed": CounterMetricFamily(
                "mocha_collector_events_processed", "Gateway events processed", labels=label
            ),
            "errors": CounterMetricFamily(
                "mocha_collector_errors", "Failed flushes and unparsable payloads", labels=label
            ),
        }
        by_type = {
            "received": CounterMetricFamily(
                "mocha_collector_payloads_received",
                "Gateway payloads received, by dispatch type",
                labels=[*label, "type"],
            ),
            "counted": CounterMetricFamily(
                "mocha_collector_events_counted", "Events counted, by kind", labels=[*label, "kind"]
            ),
            "skipped": CounterMetricFamily(
                "mocha_collector_events_skipped",
                "Payloads received but not counted "
                "(bots, excluded channels, replays, untracked guilds), by kind",
                labels=[*label, "kind"],
            ),
        }
        histograms = []
        for shards, row in by_shards.items():
            gauges["queue"].add_metric([shards], row.queue_depth)
            gauges["rss"].add_metric([shards], row.rss_bytes)
            gauges["flush"].add_metric([shards], row.last_flush_ms / 1000)
            for key, at in (("event", row.last_event_at), ("start", row.started_at)):
                if at is not None:
                    gauges[key].add_metric([shards], at.timestamp())
            counters["processed"].add_metric([shards], row.events_processed)
            counters["errors"].add_metric([shards], row.errors)
            telemetry = row.telemetry if isinstance(row.telemetry, dict) else {}
            for key, family in by_type.items():
                for name, value in sorted((telemetry.get(key) or {}).items()):
                    family.add_metric([shards, name], value)
            histograms += [
                histogram(
                    "mocha_collector_flush_duration_seconds",
                    "Time to commit one flush",
                    {"shards": shards},
                    telemetry.get("flush_seconds"),
                ),
                histogram(
                    "mocha_collector_flush_events",
                    "Events committed per flush",
                    {"shards": shards},
                    telemetry.get("flush_events"),
                ),
            ]
        yield from gauges.values()
        yield from counters.values()
        yield from by_type.values()
        yield from merge_histograms([h for h in histograms if h is not None])


def merge_histograms(families: list[HistogramMetricFamily]) -> Iterable[HistogramMetricFamily]:
    """One family per name, with the samples of every process."""
    merged: dict[str, HistogramMetricFamily] = {}
    for family in families:
        if family.name in merged:
            merged[family.name].samples.extend(family.samples)
        else:
            merged[family.name] = family
    return merged.values()


def exposition() -> bytes:
    """The Prometheus text document: every worker's instruments, then the database's figures."""
    instruments.sample_memory(force=True)
    if instruments.multiprocess():
        workers = CollectorRegistry()
        multiprocess.MultiProcessCollector(workers)
    else:
        workers = REGISTRY
    database = CollectorRegistry()
    database.register(DatabaseCollector())
    return generate_latest(workers) + generate_latest(database)
