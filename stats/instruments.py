"""Prometheus instruments the web processes update as they work (prometheus_client).

Under gunicorn every worker writes them to files in PROMETHEUS_MULTIPROC_DIR
(set up per server by gunicorn.conf.py through mocha/metrics_dir.py), and a scrape of
/metrics/prometheus by any worker adds up all of them. Without that variable (tests,
a single process) they live in this process. Figures read from the database at scrape
time are not instruments: stats/prometheus.py collects those.
"""

from __future__ import annotations

import os
import time

import psutil
from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

disable_created_metrics()  # `_created` samples: noise for counters that start with their process

REQUEST_SECONDS = Histogram(
    "mocha_http_request_duration_seconds",
    "Time to answer an HTTP request, by route",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
RESPONSES = Counter(
    "mocha_http_responses", "HTTP responses, by route and status code", ["route", "status"]
)
QUERIES = Counter("mocha_queries_executed", "SQL statements run by the web processes")
CACHE_LOOKUPS = Counter(
    "mocha_result_cache_lookups", "Result cache lookups, by outcome", ["result"]
)
WEB_ERRORS = Counter("mocha_web_errors", "Web requests that ended in a server error (5xx)")
# One sample per live worker (pid label); a dead worker's are dropped (gunicorn.conf.py child_exit).
RSS_BYTES = Gauge(
    "mocha_web_resident_memory_bytes",
    "Resident memory of a web worker",
    multiprocess_mode="liveall",
)
START_TIME = Gauge(
    "mocha_web_start_time_seconds",
    "Start time of a web worker, Unix epoch",
    multiprocess_mode="liveall",
)

_process = psutil.Process()
RSS_EVERY_S = 5.0
_rss_at = 0.0


def process_started() -> None:
    START_TIME.set(_process.create_time())


def sample_memory(force: bool = False) -> None:
    """Refresh this worker's resident memory, at most every RSS_EVERY_S unless forced (a scrape)."""
    global _rss_at
    now = time.monotonic()
    if force or now - _rss_at >= RSS_EVERY_S:
        _rss_at = now
        RSS_BYTES.set(_process.memory_info().rss)


def multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
