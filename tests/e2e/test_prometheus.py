"""/metrics/prometheus of a live two-worker gunicorn with a real collector: promtool accepts it, and
every worker's requests are in the totals whichever worker answers the scrape."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import urllib.request

import pytest

from stats.models import CollectorState
from tests.collector.processes import collector_process, simulator_process
from tests.e2e.conftest import free_port, start_gunicorn, stop, wait_listening

pytestmark = pytest.mark.slow
REQUESTS = 24


TOKEN = "scraper-token"


def get(url: str, token: str | None = None) -> bytes:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with urllib.request.urlopen(
        urllib.request.Request(url, headers=headers), timeout=15
    ) as response:
        return response.read()


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample, its labels given in any order."""
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}(?:{{(.*)}})? (\S+)", line)
        if match:
            found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
            if all(found.get(k) == v for k, v in labels.items()):
                return float(match.group(2))
    return None


def counted_messages() -> int:
    rows = CollectorState.objects.all()
    return sum((r.telemetry or {}).get("counted", {}).get("message", 0) for r in rows)


def test_promtool_accepts_the_live_exposition_summed_over_workers(
    e2e_env, manage_py, transactional_db
):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("Debian's promtool is missing: run `make browser` (apt-get install prometheus)")
    port = free_port()
    e2e_env = {**e2e_env, "MOCHA_METRICS_TOKEN": TOKEN}  # as a Prometheus server scrapes
    web = start_gunicorn(e2e_env, port, workers=2)
    collector = None
    try:
        with simulator_process(manage_py, e2e_env, None, "--rate", "40", "--seed", "3") as sim_port:
            collector = collector_process(manage_py, e2e_env, sim_port, "--public")
            wait_listening(port, web)
            base = f"http://127.0.0.1:{port}"
            deadline = (
                time.monotonic() + 60
            )  # generous: the machine is shared and the collector logs in first
            while counted_messages() == 0:
                assert collector.poll() is None, collector.stderr.read()
                assert time.monotonic() < deadline, "the collector never counted a message"
                time.sleep(0.3)
            for _ in range(REQUESTS):
                get(f"{base}/api/guilds")
            scrapes = [get(f"{base}/metrics/prometheus", TOKEN).decode() for _ in range(4)]
    finally:
        for proc in (collector, web):
            if proc is not None:
                stop(proc)

    for text in scrapes:
        check = subprocess.run(
            [promtool, "check", "metrics"], input=text, capture_output=True, text=True
        )
        assert check.returncode == 0 and check.stdout == "" and check.stderr == "", (
            check.stdout + check.stderr
        )
        # Whichever worker answered, it reports both workers' requests.
        assert (
            sample(
                text, "mocha_http_request_duration_seconds_count", route="/api/guilds", method="GET"
            )
            == REQUESTS
        )
    text = scrapes[-1]
    assert sample(text, "mocha_http_responses_total", route="/api/guilds", status="200") == REQUESTS
    assert sample(text, "mocha_collector_connected") in (0.0, 1.0)
    assert sample(text, "mocha_collector_events_counted_total", kind="message") > 0
    assert sample(text, "mocha_collector_payloads_received_total", type="MESSAGE_CREATE") > 0
    assert sample(text, "mocha_collector_flush_duration_seconds_count") > 0
    assert sample(text, "mocha_collector_flush_events_bucket", le="+Inf") > 0
    assert sample(text, "mocha_database_size_bytes") > 0
    assert not re.search(r"^mocha_\w*_ms\b", text, re.M)  # base units only
