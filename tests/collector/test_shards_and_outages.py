"""Scale-out and faults with real processes: two shard collectors, one multi-shard collector, a
database outage."""

from __future__ import annotations

import json
import signal
import socket
import threading
import time

import pytest
from django.db import connection
from django.db.models import Sum

from stats.models import CollectorState
from tests.collector import payloads as p
from tests.collector.processes import collector_process, sim_status, simulator_process, wait_for
from tests.rows import hourly_stats

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
SHARD1_GUILD = 700000000000000001  # (id >> 22) % 2 == 1
SHARD0_GUILD = 700000000004194305  # (id >> 22) % 2 == 0
TS = "2026-11-26T18:40:16+00:00"


def two_guild_scenario(messages_per_guild: int = 300, ts: str = TS) -> list[str]:
    lines = []
    for gid in (SHARD0_GUILD, SHARD1_GUILD):
        channel = p.channel(gid + 10, "general", guild=gid)
        lines.append(
            json.dumps(
                {
                    "t": "GUILD_CREATE",
                    "d": p.guild_create(guild=gid, channels=[channel], members=[1, 2, 3]),
                }
            )
        )
    for i in range(messages_per_guild):
        for gid in (SHARD0_GUILD, SHARD1_GUILD):
            lines.append(
                json.dumps(
                    {"t": "MESSAGE_CREATE", "d": p.message(1 + i % 3, gid + 10, ts, guild=gid)}
                )
            )
    return lines


def messages_of(gid: int) -> int:
    return hourly_stats().filter(guild_id=gid).aggregate(m=Sum("messages"))["m"] or 0


def run_collectors(
    manage_py,
    env,
    tmp_path,
    scenario: list[str],
    shard_args: list[list[str]],
    wanted: dict[int, int],
) -> list:
    path = tmp_path / "scenario.jsonl"
    path.write_text("\n".join(scenario) + "\n")
    with simulator_process(manage_py, env, path, "--shards", "2") as port:
        procs = [collector_process(manage_py, env, port, *args) for args in shard_args]
        wait_for(lambda: sim_status(port)["done"], 60, "the scenario")
        # Each shard's guild fully committed before the stop (polling, no fixed sleep).
        wait_for(
            lambda: (
                any(p.poll() is not None for p in procs)
                or all(messages_of(gid) >= expected for gid, expected in wanted.items())
            ),
            60,
            "the flushes",
        )
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        return [proc.communicate(timeout=20) + (proc.returncode,) for proc in procs]


def test_two_collector_processes_split_the_guilds_by_shard(subprocess_env, manage_py, tmp_path):
    results = run_collectors(
        manage_py,
        subprocess_env,
        tmp_path,
        two_guild_scenario(),
        [["--shard-count", "2", "--shard-ids", "0"], ["--shard-count", "2", "--shard-ids", "1"]],
        {SHARD0_GUILD: 300, SHARD1_GUILD: 300},
    )
    for _out, err, code in results:
        assert code == 0, err
    assert messages_of(SHARD0_GUILD) == 300
    assert messages_of(SHARD1_GUILD) == 300
    states = {s.shard_id: s for s in CollectorState.objects.all()}
    assert set(states) == {0, 1} and states[0].pid != states[1].pid


def test_one_process_can_run_both_shards(subprocess_env, manage_py, tmp_path):
    results = run_collectors(
        manage_py,
        subprocess_env,
        tmp_path,
        two_guild_scenario(),
        [["--shard-count", "2", "--shard-ids", "0,1"]],
        {SHARD0_GUILD: 300, SHARD1_GUILD: 300},
    )
    assert results[0][2] == 0, results[0][1]
    assert messages_of(SHARD0_GUILD) == 300 and messages_of(SHARD1_GUILD) == 300
    assert set(CollectorState.objects.values_list("shard_id", flat=True)) == {0, 1}


class Outage:
    """A TCP proxy in front of PostgreSQL that can drop every connection and refuse new ones."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.up = True
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        self.up = False
        for s in self.sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.sockets.clear()

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.cut()
        self.server.close()


def test_postgresql_unreachable_for_ten_seconds_loses_nothing(
    subprocess_env, manage_py, tmp_path, basic_scenario, basic_expected
):
    if connection.vendor != "postgresql":
        pytest.skip("the SQLite equivalent (a held write lock) is in test_collect_rules_end_to_end")
    s = connection.settings_dict
    proxy = Outage((s["HOST"] or "127.0.0.1", int(s["PORT"] or 5432)))
    env = dict(subprocess_env)
    env["DATABASE_URL"] = env["DATABASE_URL"].replace(f":{s['PORT'] or 5432}/", f":{proxy.port}/")
    lines = basic_scenario.read_text().splitlines()
    lines.insert(600, json.dumps({"op": "sleep", "ms": 12000}))  # the outage happens here
    path = tmp_path / "outage.jsonl"
    path.write_text("\n".join(lines) + "\n")
    try:
        with simulator_process(manage_py, env, path) as port:
            proc = collector_process(manage_py, env, port)
            wait_for(lambda: messages_of(700000000000000001) > 0, 30, "a first flush")
            proxy.cut()
            time.sleep(10)
            proxy.restore()
            wait_for(lambda: sim_status(port)["done"], 60, "the scenario")
            # Everything counted in memory during the outage reaches the database once it is back.
            wait_for(
                lambda: (
                    proc.poll() is not None
                    or messages_of(700000000000000001) >= basic_expected["messages"]
                ),
                60,
                "the backlog",
            )
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
    finally:
        proxy.close()
    assert proc.returncode == 0, err
    assert "flush failed" in err  # the outage was real
    assert messages_of(700000000000000001) == basic_expected["messages"]
