"""Payloads no well-behaved Discord sends, among normal traffic, played to `manage.py collect`.

Every valid event is counted exactly; each invalid one is one WARNING line naming the event and
the field, and one count in /metrics `collector.skipped`; the collector keeps running and stops
cleanly. Runs on SQLite and on PostgreSQL (the suite's DATABASE_URL).
"""

from __future__ import annotations

import json
import re
import signal

import pytest

from stats.models import Member, QuarantinedRow
from tests.collector.harness import scenario_lines
from tests.collector.processes import (
    collector_process,
    sim_status,
    simulator_process,
    wait_for,
)
from tests.collector.test_collect_scenarios import GUILD, totals
from tests.conftest import FIXTURES

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
SKIPPED_LINE = re.compile(r"WARNING mocha\.collector: skipped (\w+): ([\w.\[\]]+) is ")


def interleave(normal: list[str], odd: list[str]) -> list[str]:
    """`odd` spread evenly through `normal`'s dispatches (after its GUILD_CREATE header)."""
    head = [line for line in normal if json.loads(line).get("t") == "GUILD_CREATE"]
    body = normal[len(head) :]
    step = len(body) // (len(odd) + 1)
    out = list(head)
    for i, line in enumerate(odd):
        out += body[i * step : (i + 1) * step] + [line]
    return out + body[len(odd) * step :]


def play_to_collect(manage_py, env, lines: list[str], tmp_path, done) -> tuple[int, str]:
    """Play `lines` to a real `manage.py collect`; SIGTERM once `done()`; (exit code, stderr)."""
    path = tmp_path / "scenario.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with simulator_process(manage_py, env, path) as port:
        proc = collector_process(manage_py, env, port)
        try:
            wait_for(lambda: sim_status(port)["done"], 90, "the scenario")
            wait_for(lambda: proc.poll() is not None or done(), 30, "every valid event committed")
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""  # still running
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    return proc.returncode, err


def test_the_issues_scenario_counts_every_valid_event_exactly(
    basic_scenario, basic_expected, subprocess_env, manage_py, tmp_path, admin_client
):
    odd = scenario_lines(FIXTURES / "invalid_payloads.jsonl")
    expected = json.loads((FIXTURES / "invalid_payloads.expected.json").read_text())
    per_user = {**basic_expected["per_user"], **expected["counted_beyond_basic"]["per_user"]}
    per_channel = dict(basic_expected["per_channel"])
    for cid, n in expected["counted_beyond_basic"]["per_channel"].items():
        per_channel[cid] = per_channel.get(cid, 0) + n
    messages = sum(per_user.values())

    code, err = play_to_collect(
        manage_py,
        subprocess_env,
        interleave(scenario_lines(basic_scenario), odd),
        tmp_path,
        lambda: totals()["messages"] >= messages,
    )
    assert code == 0, err
    assert "Traceback" not in err
    got = totals()
    assert (got["messages"], got["per_user"], got["per_channel"]) == (
        messages,
        per_user,
        per_channel,
    )
    assert (got["joins"], got["leaves"]) == (basic_expected["joins"], basic_expected["leaves"])
    assert set(basic_expected["voice_users_counted"]) <= set(got["voice"])
    skipped = [f"{event}: {field}" for event, field in SKIPPED_LINE.findall(err)]
    assert sorted(skipped) == sorted(
        expected["skipped_fields"]
    )  # one line each, naming event and field
    assert "flush failed" not in err and not QuarantinedRow.objects.exists()
    for uid, length in expected["trimmed_username"].items():
        assert len(Member.objects.get(guild_id=GUILD, user_id=int(uid)).username) == length
    doc = admin_client.get("/metrics").json()
    assert doc["collector"]["skipped"] == expected["skipped"]
    assert doc["collector"]["quarantined"] == 0
    prometheus = admin_client.get("/metrics/prometheus").content.decode()
    assert 'mocha_collector_skipped_total{reason="bad_snowflake"} 4.0' in prometheus
