"""/metrics and /metrics/prometheus: every contract field, collector shards, a parseable text
format."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from stats import metrics
from stats.models import CollectorState

pytestmark = pytest.mark.django_db

FIELDS = {
    "events_processed",
    "events_per_sec",
    "queries_executed",
    "cache_hits",
    "cache_misses",
    "cache_hit_rate",
    "errors",
    "memory",
    "cache",
    "collector",
    "db",
    "uptime_s",
}


@pytest.fixture
def shards():
    now = timezone.now()
    common = dict(
        shard_count=2,
        connected=True,
        latency_ms=42.5,
        queue_depth=3,
        rss_bytes=50_000_000,
        updated_at=now,
    )
    CollectorState.objects.create(
        shard_id=0,
        pid=10,
        events_processed=1000,
        events_per_sec=250.0,
        errors=1,
        last_flush_ms=4.0,
        last_event_at=now - timedelta(seconds=2),
        **common,
    )
    CollectorState.objects.create(
        shard_id=1,
        pid=11,
        events_processed=500,
        events_per_sec=50.0,
        errors=0,
        last_flush_ms=9.5,
        last_event_at=now,
        **common,
    )


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
    assert (
        collector["connected"] is True
        and collector["queue_depth"] == 6
        and collector["last_flush_ms"] == 9.5
    )
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
    CollectorState.objects.filter(shard_id=1).update(
        updated_at=timezone.now() - timedelta(minutes=5)
    )
    doc = metrics.snapshot()
    assert doc["collector"]["connected"] is False
    assert [s["connected"] for s in doc["collector"]["shards"]] == [True, False]
    assert doc["events_per_sec"] == 250.0


def test_no_collector_yet(db):
    collector = metrics.snapshot()["collector"]
    assert collector == {
        "connected": False,
        "latency_ms": None,
        "last_event_at": None,
        "queue_depth": 0,
        "last_flush_ms": None,
        "skipped": {},
        "quarantined": 0,
        "missing_intents": [],
        "gaps": {"found": 0, "repaired": 0, "open": 0},
        "shards": [],
    }


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


def families(text: str) -> dict[str, list]:
    """Samples by family name, through prometheus_client's own parser of the text format."""
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def value(samples, name: str, **labels: str) -> float:
    return next(
        s.value
        for s in samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


TELEMETRY = {  # as collector/telemetry.py writes it
    "flush_seconds": {"bounds": [0.01, 0.1], "counts": [5, 2, 1], "sum": 0.5},
    "flush_events": {"bounds": [10], "counts": [3, 5], "sum": 400},
    "received": {"MESSAGE_CREATE": 120, "GUILD_MEMBER_ADD": 2},
    "counted": {"message": 100, "member_join": 2},
    "skipped": {"message": 20, "member_join": 0},
}


def test_prometheus_exposition_in_base_units(shards, admin_client):
    CollectorState.objects.filter(shard_id=0).update(telemetry=TELEMETRY)
    admin_client.get("/api/guilds")
    response = admin_client.get("/metrics/prometheus")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    text = response.content.decode()
    assert "_ms" not in text
    found = families(text)
    assert value(found["mocha_collector_connected"], "mocha_collector_connected") == 1.0
    assert (
        value(
            found["mocha_collector_shard_latency_seconds"],
            "mocha_collector_shard_latency_seconds",
            shard="1",
        )
        == 0.0425
    )
    assert (
        value(
            found["mocha_collector_events_processed"],
            "mocha_collector_events_processed_total",
            shards="1",
        )
        == 500
    )
    assert (
        value(
            found["mocha_collector_last_flush_duration_seconds"],
            "mocha_collector_last_flush_duration_seconds",
            shards="1",
        )
        == 0.0095
    )
    flush = found["mocha_collector_flush_duration_seconds"]
    assert [
        value(flush, "mocha_collector_flush_duration_seconds_bucket", shards="0", le=le)
        for le in ("0.01", "0.1", "+Inf")
    ] == [5, 7, 8]  # cumulative
    assert value(flush, "mocha_collector_flush_duration_seconds_sum", shards="0") == 0.5
    assert (
        value(
            found["mocha_collector_events_skipped"],
            "mocha_collector_events_skipped_total",
            shards="0",
            kind="message",
        )
        == 20
    )
    assert (
        value(
            found["mocha_http_request_duration_seconds"],
            "mocha_http_request_duration_seconds_count",
            route="/api/guilds",
            method="GET",
        )
        >= 1
    )
    for required in (
        "mocha_queries_executed",
        "mocha_database_size_bytes",
        "mocha_database_wal_bytes",
        "mocha_cache_entries",
        "mocha_web_resident_memory_bytes",
        "mocha_collector_resident_memory_bytes",
        "mocha_collector_queue_depth",
        "mocha_collector_flush_events",
        "mocha_collector_events_counted",
    ):
        assert found[required], required


def test_routes_label_url_patterns_never_raw_paths(admin_client):
    for gid in (101, 102, 103):
        admin_client.get(f"/api/guilds/{gid}/stats")
    admin_client.generic("BREW", "/api/guilds")
    found = families(admin_client.get("/metrics/prometheus").content.decode())
    routes = {
        (s.labels["route"], s.labels["method"])
        for s in found["mocha_http_request_duration_seconds"]
    }
    assert ("/api/guilds/<gid>/stats", "GET") in routes
    assert ("/api/guilds", "other") in routes  # an invented method is not a label value of its own
    assert not any("101" in route for route, _ in routes)


def test_the_grafana_dashboard_charts_only_exposed_metrics(shards, admin_client):
    from stats.models import Guild

    CollectorState.objects.filter(shard_id=0).update(telemetry=TELEMETRY)
    Guild.objects.create(id=4242, name="G", visibility="public")
    admin_client.get("/api/guilds/4242/stats")  # a result cache lookup
    exposed = {
        s.name
        for samples in families(admin_client.get("/metrics/prometheus").content.decode()).values()
        for s in samples
    }
    dashboard = json.loads(
        (Path(__file__).resolve().parents[2] / "deploy" / "grafana-dashboard.json").read_text()
    )
    charted = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\bmocha_[a-z_]+", target["expr"])
    }
    assert len(charted) > 15 and charted <= exposed, charted - exposed
