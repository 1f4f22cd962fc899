"""Summaries of measurements, the machine description, and the readable table of a bench
document."""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Iterable

# The performance goals (BENCHMARKS.md): (field, comparison, goal, unit).
GOALS = [
    ("ingest_gateway_eps", ">=", 35_000, "ev/s"),
    ("gateway_vs_stock", ">=", 0.90, "×"),
    ("ingest_pipeline_eps", ">=", 300_000, "ev/s"),
    ("pipeline_vs_naive", ">=", 100, "×"),
    ("bytes_per_event", "<=", 8, "B"),
    ("api_p99_ms_max", "<=", 25, "ms"),
    ("api_cached_p99_ms_max", "<=", 2, "ms"),
    ("page_busy_vs_quiet", ">=", 0.8, "×"),
    ("page_cold_p99_ms", "<=", 50, "ms"),
    ("ws_clients", ">=", 1000, ""),
    ("ws_tick_p99_ms", "<=", 250, "ms"),
    ("collector_rss_mb", "<=", 80, "MB"),
    ("web_rss_mb", "<=", 100, "MB"),
]
# Context figures printed under the goals.
EXTRAS = (
    "stock_client_eps",
    "backfill_eps",
    "rest_ceiling_eps",
    "ingest_gateway_uncompressed_eps",
    "stock_client_uncompressed_eps",
    "naive_orm_eps",
    "sqlite_floor_eps",
    "web_rss_anon_mb",
    "api_cached_signed_in_p50_ms",
    "api_cached_signed_in_p99_ms",
    "ws_tick_p50_ms",
    "ws_tick_spread_p99_ms",
    "ws_feed_event_p95_ms",
    "ws_web_rss_mb",
    "ws_web_rss_anon_mb",
    "page_quiet_per_s",
    "page_busy_per_s",
    "page_busy_100_per_s",
    "page_quiet_p50_ms",
    "page_quiet_p99_ms",
    "page_busy_p50_ms",
    "page_busy_p99_ms",
    "page_busy_100_p50_ms",
    "page_busy_100_p99_ms",
    "page_cold_p50_ms",
)


def percentile(values: Iterable[float], pct: float) -> float | None:
    """Nearest-rank percentile (no interpolation: a reported p99 is a latency that happened)."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def machine() -> dict:
    """CPU count and model, memory, Python and OS: enough to compare runs across machines."""
    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        import psutil

        memory_gb = round(psutil.virtual_memory().total / 2**30, 1)
    except Exception:
        memory_gb = None
    return {
        "load_avg_1m": round(
            os.getloadavg()[0], 2
        ),  # the machine may be shared: context for every figure
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": memory_gb,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }


def verdict(doc: dict, field: str, op: str, goal: float) -> str:
    value = doc.get(field)
    if not isinstance(value, (int, float)):
        return "n/a"
    return "met" if (value >= goal if op == ">=" else value <= goal) else "NOT met"


def fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "—" if value is None else str(value)


def table(doc: dict) -> str:
    """The goals with their measured values, then the API latencies per endpoint."""
    lines = [f"{'figure':<32} {'measured':>12}  {'goal':>12}  verdict"]
    for field, op, goal, unit in GOALS:
        lines.append(
            f"{field:<32} {fmt(doc.get(field)):>12}  "
            f"{op + ' ' + fmt(goal) + ' ' + unit:>12}  {verdict(doc, field, op, goal)}"
        )
    for field in EXTRAS:
        if field in doc:
            lines.append(f"{field:<32} {fmt(doc[field]):>12}")
    endpoints = doc.get("api_p99_ms") or {}
    if endpoints:
        lines.append("")
        lines.append(
            f"{'endpoint (ms)':<24} {'p50':>8} {'p99':>8} {'cached p50':>11} {'cached p99':>11}"
        )
        for name in endpoints:
            row = [
                doc.get(k, {}).get(name)
                for k in ("api_p50_ms", "api_p99_ms", "api_cached_p50_ms", "api_cached_p99_ms")
            ]
            lines.append(
                f"{name:<24} {fmt(row[0]):>8} {fmt(row[1]):>8} {fmt(row[2]):>11} {fmt(row[3]):>11}"
            )
    errors = doc.get("errors") or {}
    for phase, message in errors.items():
        lines.append(f"error in {phase}: {message}")
    return "\n".join(lines)
