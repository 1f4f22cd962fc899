"""/metrics and /metrics/prometheus: every contract field, collector shards, a parseable text format."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from stats import metrics
from stats.models import CollectorState

pytestmark = pytest.mark.django_db

FIELDS = {
    "events_processed", "events_per_sec", "queries_executed", "cache_hits", "cache_misses", "cache_hit_rate",
    "errors", "memory", "cache", "collector", "db", "uptime_s",
}


@pytest.fixture
def shards():
    now = timezone.now()
    common = dict(shard_count=2, connected=True, latency_ms=42.5, queue_depth=3, rss_bytes=50_000_000, updated_at=now)
    CollectorState.objects.create(shard_id=0, pid=10, events_processed=1000, events_per_sec=250.0, errors=1,
                                  last_flush_ms=4.0, last_event_at=now - timedelta(seconds=2), **common)
    CollectorState.objects.create(shard_id=1, pid=11, events_processed=500, events_per_sec=50.0, errors=0,
                                  last_flush_ms=9.5, last_event_at=now, **common)


def test_snapshot_has_every_contract_field(shards, client):
    client.get("/api/guilds")  # at least one query and a request behind us
    doc = metrics.snapshot()
    assert FIELDS <= set(doc)
    assert doc["events_processed"] == 1500 and doc["events_per_sec"] == 300.0 and doc["errors"] >= 1
    assert doc["queries_executed"] > 0
    rss = doc["memory"]["rss_bytes"]
    assert any(k.startswith("web-") and v > 10_000_000 for k, v in rss.items())
    assert rss["collector-0"] == 50_000_000 and rss["collector-1"] == 50_000_000
    assert isinstance(doc["cache"]["default"], int)
    collector = doc["collector"]
    assert collector["connected"] is True and collector["queue_depth"] == 6 and collector["last_flush_ms"] == 9.5
    assert collector["latency_ms"] == 42.5 and collector["last_event_at"].endswith("Z")
    assert [s["shard_id"] for s in collector["shards"]] == [0, 1]
    assert collector["gaps"] == {"found": 0, "repaired": 0, "open": 0}
    assert doc["db"]["size_bytes"] > 0 and doc["db"]["wal_bytes"] >= 0
    assert doc["uptime_s"] > 0


def test_queries_executed_counts_this_process(db):
    before = metrics.snapshot()["queries_executed"]
    list(CollectorState.objects.all())
    list(CollectorState.objects.all())
    assert metrics.snapshot()["queries_executed"] - before >= 2


def test_stale_collector_counts_as_disconnected(shards):
    CollectorState.objects.filter(shard_id=1).update(updated_at=timezone.now() - timedelta(minutes=5))
    doc = metrics.snapshot()
    assert doc["collector"]["connected"] is False
    assert [s["connected"] for s in doc["collector"]["shards"]] == [True, False]
    assert doc["events_per_sec"] == 250.0


def test_no_collector_yet(db):
    collector = metrics.snapshot()["collector"]
    assert collector == {"connected": False, "latency_ms": None, "last_event_at": None, "queue_depth": 0,
                         "last_flush_ms": None, "skipped": {}, "quarantined": 0, "missing_intents": [],
                         "gaps": {"found": 0, "repaired": 0, "open": 0},
                         "shards": []}


def test_cache_hit_rate_follows_the_counters(db, monkeypatch):
    from stats import cache as result_cache

    monkeypatch.setattr(result_cache.counters, "hits", 3)
    monkeypatch.setattr(result_cache.counters, "misses", 1)
    doc = metrics.snapshot()
    assert (doc["cache_hits"], doc["cache_misses"], doc["cache_hit_rate"]) == (3, 1, 0.75)


def test_metrics_endpoint_is_json(shards, admin_client):
    response = admin_client.get("/metrics")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert FIELDS <= set(response.json())


SAMPLE = re.compile(r'^(mocha_[a-z_]+)(\{[a-z_]+="(?:[^"\\]|\\.)*"(?:,[a-z_]+="(?:[^"\\]|\\.)*")*\})? (\S+)$')


def parse_prometheus(text: str) -> dict[str, list[tuple[str, float]]]:
    """A strict reader of the text format: HELP and TYPE before samples, valid names and floats."""
    families: dict[str, list] = {}
    typed: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            assert kind in ("counter", "gauge"), line
            assert name not in typed, f"duplicate TYPE {name}"
            typed[name] = kind
            families[name] = []
            continue
        match = SAMPLE.match(line)
        assert match, f"bad sample line {line!r}"
        name, labels, value = match.groups()
        assert name in typed, f"sample before TYPE: {line}"
        families[name].append((labels or "", float(value)))
    return families


def test_prometheus_text_parses(shards, admin_client):
    response = admin_client.get("/metrics/prometheus")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    families = parse_prometheus(response.content.decode())
    assert families["mocha_events_processed_total"] == [("", 1500.0)]
    assert families["mocha_collector_connected"] == [("", 1.0)]
    assert ('{shard="1"}', 500.0) in families["mocha_collector_shard_events_processed_total"]
    assert any(labels.startswith('{process="web-') for labels, _ in families["mocha_memory_rss_bytes"])
    for required in ("mocha_queries_executed_total", "mocha_cache_hits_total", "mocha_cache_misses_total",
                     "mocha_cache_hit_ratio", "mocha_errors_total", "mocha_cache_entries", "mocha_db_size_bytes",
                     "mocha_db_wal_bytes", "mocha_uptime_seconds", "mocha_collector_queue_depth"):
        assert families[required], required
