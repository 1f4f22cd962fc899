"""`manage.py bench`: the quick run writes every documented field (BENCHMARKS.md); bad arguments
exit 2; summaries are exact."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile

import pytest

from bench.management.commands.bench import merge
from bench.report import percentile, table

DOCUMENTED_FIELDS = [
    "ingest_gateway_eps",
    "stock_client_eps",
    "ingest_pipeline_eps",
    "naive_orm_eps",
    "sqlite_floor_eps",
    "bytes_per_event",
    "api_p50_ms",
    "api_p99_ms",
    "api_cached_p50_ms",
    "api_cached_p99_ms",
    "api_cached_signed_in_p99_ms",
    "ws_clients",
    "ws_tick_p99_ms",
    "collector_rss_mb",
    "web_rss_mb",
    "backfill_eps",
    "rest_ceiling_eps",
    "page_quiet_per_s",
    "page_busy_per_s",
    "page_quiet_p50_ms",
    "page_quiet_p99_ms",
    "page_busy_p50_ms",
    "page_busy_p99_ms",
    "page_busy_vs_quiet",
    "page_cold_p99_ms",
]
ENDPOINTS = {
    "guilds",
    "stats",
    "stats_hourly",
    "leaderboard_messages",
    "leaderboard_voice",
    "member",
    "channels",
    "heatmap",
}


def bench_env() -> dict:
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="mocha_site.settings.test", PYTHONUNBUFFERED="1")
    env.pop("REDIS_URL", None)
    return env


def workspaces(tmp: str | None = None) -> set[str]:
    return {p for p in os.listdir(tmp or tempfile.gettempdir()) if p.startswith("mocha-bench-")}


@pytest.mark.slow
@pytest.mark.timeout(900)  # generous: five phases on a shared machine; each has its own limit
def test_quick_run_writes_every_contract_field(tmp_path, manage_py):
    """Its duration is reported (duration_s), not asserted: CI machines are shared and noisy."""
    out = tmp_path / "out.json"
    tmp = tmp_path / "tmp"  # its own temporary directory: other benchmarks may run on this machine
    tmp.mkdir()
    result = subprocess.run(
        [*manage_py, "bench", "--quick", "--json", str(out)],
        env={**bench_env(), "TMPDIR": str(tmp)},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    doc = json.loads(out.read_text())
    assert doc["quick"] is True and doc["errors"] == {}
    missing = [f for f in DOCUMENTED_FIELDS if doc.get(f) is None]
    assert not missing, f"fields missing or null: {missing}"
    for field in ("api_p50_ms", "api_p99_ms", "api_cached_p50_ms", "api_cached_p99_ms"):
        assert set(doc[field]) == ENDPOINTS
        assert all(isinstance(v, (int, float)) and v > 0 for v in doc[field].values()), doc[field]
    assert all(doc["api_p50_ms"][e] <= doc["api_p99_ms"][e] for e in ENDPOINTS)
    assert doc["api_p99_ms_max"] == max(doc["api_p99_ms"].values())
    # Measured with zlib-stream, as discord.py asks Discord; the plain-text figures beside them.
    assert doc["gateway_compression"] == "zlib-stream"
    assert doc["ingest_gateway_uncompressed_eps"] > 0 and doc["stock_client_uncompressed_eps"] > 0
    assert doc["ws_clients"] >= 100 and doc["ws_tick_p99_ms"] > 0
    assert doc["web_rss_mb"] > 10 and doc["collector_rss_mb"] > 10
    assert doc["machine"]["cpu_count"] >= 1 and doc["machine"]["python"]
    assert set(doc["phases"]) == {
        "pipeline",
        "gateway",
        "backfill",
        "dataset",
        "api",
        "ws",
        "api_busy",
    }
    assert doc["page_busy_flushes"] > 0 and doc["page_busy_100_per_s"] > 0
    assert (
        0 < doc["backfill_eps"] and 0 < doc["rest_ceiling_eps"] and doc["backfill_messages"] > 1000
    )
    assert doc["duration_s"] > 0
    # One progress line per phase on stderr, and the readable table on stdout.
    assert sum(line.startswith("bench: [") for line in result.stderr.splitlines()) == 7
    assert "api_p99_ms_max" in result.stdout
    assert not workspaces(str(tmp)), "temporary workspaces left behind"


@pytest.mark.parametrize(
    "args",
    [
        ["--phases", "nope"],
        ["--phase", "nope"],
        ["--json", "/no/such/dir/out.json"],
        ["--phase", "api", "--json", "x.json"],
        ["--quick=3"],
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(manage_py, args):
    result = subprocess.run(
        [*manage_py, "bench", *args], env=bench_env(), capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_phase_is_reported_as_an_error_not_a_crash(tmp_path, manage_py):
    """api without the dataset phase finds no guild: the run still writes its document, and exits
    1."""
    out = tmp_path / "out.json"
    result = subprocess.run(
        [*manage_py, "bench", "--quick", "--phases", "api", "--json", str(out)],
        env=bench_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    doc = json.loads(out.read_text())
    assert "no guild" in doc["errors"]["api"]
    assert doc["phases"]["api"]["error"] == doc["errors"]["api"]
    assert "error in api" in result.stdout


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None
    assert percentile([3, 1, 2], 99) == 3


def test_merge_keeps_clashing_fields_under_the_phase_name():
    doc = {"quick": True, "errors": {}, "guild_id": "1"}
    merge(doc, "ws", {"guild_id": "2", "ws_clients": 5, "quick": False})
    assert doc == {
        "quick": True,
        "errors": {},
        "guild_id": "1",
        "ws.guild_id": "2",
        "ws.quick": False,
        "ws_clients": 5,
    }


def test_table_gives_a_verdict_per_goal():
    text = table(
        {"api_p99_ms_max": 30.0, "api_cached_p99_ms_max": 1.5, "api_p99_ms": {"stats": 30.0}}
    )
    lines = {line.split()[0]: line for line in text.splitlines() if line.strip()}
    assert lines["api_p99_ms_max"].endswith("NOT met")
    assert (
        lines["api_cached_p99_ms_max"].endswith(" met")
        and "NOT" not in lines["api_cached_p99_ms_max"]
    )
    assert lines["ws_tick_p99_ms"].endswith("n/a")
    assert lines["stats"].split()[2] == "30.00"
