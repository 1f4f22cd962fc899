"""Bounded cost of expensive API queries: a long window on a big guild stays fast, and a client
flooding requests gets 429 with Retry-After; cached answers cost less than computed ones.
(The same attacks against a live server: test_live_attacks.py.)"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

import pytest
from django.test import override_settings

from stats import rollups, throttle
from stats.cache import bump_versions
from stats.models import Channel, Guild, Member, hour_of
from tests.query_plans import explain, full_scans, growing_reads
from tests.rows import add_hourly, hourly

pytestmark = pytest.mark.django_db
GID = 7170
FOREIGN = {"REMOTE_ADDR": "203.0.113.7"}
TIGHT = dict(
    MOCHA_API_RATE=1.0,
    MOCHA_API_BURST=3,
    MOCHA_API_RATE_EXEMPT=frozenset(),
    MOCHA_BEHIND_PROXY=False,
)


@pytest.fixture
def size_is_free(monkeypatch):
    """Tests of the bucket's arithmetic: only the per-request costs, not the response sizes."""
    monkeypatch.setattr(throttle, "BYTES_PER_TOKEN", math.inf)


@pytest.fixture
def big_guild(db) -> Guild:
    """Ten years of activity: 20,000 member-channel-hours of 300 members over 8 channels."""
    guild = Guild.objects.create(id=GID, name="Big", visibility="public")
    Channel.objects.bulk_create(
        [Channel(id=100 + c, guild=guild, name=f"c{c}", type=2 if c == 7 else 0) for c in range(8)]
    )
    Member.objects.bulk_create(
        [Member(guild=guild, user_id=1000 + u, username=f"u{u}") for u in range(300)]
    )
    now = hour_of(datetime.now(UTC))
    rows = [
        hourly(
            guild_id=GID,
            hour=now - (i * 127) % (3650 * 24),
            channel_id=100 + i % 8,
            user_id=1000 + (i * 7) % 300,
            messages=0 if i % 8 == 7 else 1 + i % 5,
            voice_seconds=600 if i % 8 == 7 else 0,
        )
        for i in range(20_000)
    ]
    add_hourly(rows, batch_size=5000, ignore_conflicts=True)
    rollups.rebuild(GID)
    return guild


@pytest.fixture
def small_guild(db) -> Guild:
    guild = Guild.objects.create(id=GID, name="Small", visibility="public")
    Channel.objects.create(id=100, guild=guild, name="general")
    now = hour_of(datetime.now(UTC))
    add_hourly(
        [
            hourly(guild_id=GID, hour=now - i, channel_id=100, user_id=1000, messages=1)
            for i in range(50)
        ]
    )
    rollups.rebuild(GID)
    return guild


def analyze() -> None:
    """Table statistics, as PostgreSQL's autovacuum gathers them within a minute of a bulk load."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("ANALYZE")


# Only a backstop against a hung or quadratic query: speed is measured by `manage.py bench`, and
# the suite shares 2-core machines (a 10-year hourly series took 5 s there under load).
HUNG_S = 60


@pytest.mark.parametrize("analyzed", [True, False])
def test_a_ten_year_window_on_a_big_guild_stays_fast(client, big_guild, analyzed):
    """What keeps it fast, rather than a stopwatch: a few queries, each reaching the guild's rows by
    an index, whatever the window (cold, the closed days and today are read apart: about twice
    the queries of one pass)."""
    if analyzed:
        analyze()
    for path in [
        f"/api/guilds/{GID}/leaderboard?metric=messages&days=3650&limit=100",
        f"/api/guilds/{GID}/leaderboard?metric=voice&days=3650&limit=100",
        f"/api/guilds/{GID}/stats?days=3650&interval=day",
        f"/api/guilds/{GID}/stats?days=90&interval=hour",
        f"/api/guilds/{GID}/channels?days=3650",
        f"/api/guilds/{GID}/heatmap?days=3650",
        f"/api/guilds/{GID}/members/1007?days=3650",
    ]:
        bump_versions([GID])  # cold: no part shared with the previous path's answer
        started = time.perf_counter()
        reads = growing_reads(client, path)
        elapsed = time.perf_counter() - started
        assert 0 < len(reads) <= 12, (path, len(reads), reads)
        for sql in reads:
            plan = explain(sql, [])
            assert not full_scans(plan), (path, plan)
        assert elapsed < HUNG_S, f"{path} took {elapsed:.2f}s uncached"


@override_settings(**TIGHT)
def test_a_flood_of_uncached_requests_is_refused_with_429_and_retry_after(
    client, small_guild, size_is_free
):
    statuses = [
        client.get(f"/api/guilds/{GID}/stats?days={d}", **FOREIGN).status_code for d in range(1, 8)
    ]
    assert statuses[:3] == [200, 200, 200]
    assert 429 in statuses[3:]
    refused = client.get(f"/api/guilds/{GID}/stats?days=100", **FOREIGN)
    assert refused.status_code == 429
    assert refused.json() == {"error": "too many requests"}
    assert refused["Content-Type"].startswith("application/json")
    assert 1 <= int(refused["Retry-After"]) <= 2
    assert refused["X-Content-Type-Options"] == "nosniff"
    # Another client has its own budget; pages are never limited.
    assert (
        client.get(f"/api/guilds/{GID}/stats?days=100", REMOTE_ADDR="198.51.100.9").status_code
        == 200
    )
    assert client.get(f"/guilds/{GID}/", **FOREIGN).status_code == 200


def test_hourly_series_are_bounded_to_90_days(client, small_guild):
    ok = client.get(f"/api/guilds/{GID}/stats?days=90&interval=hour")
    assert ok.status_code == 200 and len(ok.json()["series"]) <= 91 * 24
    refused = client.get(f"/api/guilds/{GID}/stats?days=91&interval=hour")
    assert refused.status_code == 400
    assert refused.json() == {"error": "interval=hour is limited to 90 days; use interval=day"}
    assert client.get(f"/api/guilds/{GID}/stats?days=3650&interval=day").status_code == 200


@override_settings(**TIGHT)
def test_cached_answers_cost_a_fifth_of_computed_ones(
    client, small_guild, monkeypatch, size_is_free
):
    monkeypatch.setattr("stats.throttle.clock", lambda: 1_000_000.0)  # no refill
    path = f"/api/guilds/{GID}/leaderboard?days=3650"
    statuses = [client.get(path, **FOREIGN).status_code for _ in range(12)]  # one miss, then hits
    # 3 tokens: 1 for the computed answer, then 0.2 per hit while a whole token is left to admit one
    # (6 hits, or 5 when 5 × 0.2 rounds just above 1.0).
    served = statuses.index(429)
    assert served in (6, 7) and statuses[served:] == [429] * (12 - served)


@override_settings(**TIGHT)
def test_the_budget_refills_with_time(client, small_guild, monkeypatch, size_is_free):
    clock = [1_000_000.0]
    monkeypatch.setattr("stats.throttle.clock", lambda: clock[0])
    for d in range(1, 4):
        assert client.get(f"/api/guilds/{GID}/stats?days={d}", **FOREIGN).status_code == 200
    assert client.get(f"/api/guilds/{GID}/stats?days=4", **FOREIGN).status_code == 429
    clock[0] += 1.0  # rate 1/s: one token back
    assert client.get(f"/api/guilds/{GID}/stats?days=5", **FOREIGN).status_code == 200
    assert client.get(f"/api/guilds/{GID}/stats?days=6", **FOREIGN).status_code == 429


@override_settings(**TIGHT)
def test_forwarded_for_is_ignored_unless_behind_a_proxy(client, small_guild, size_is_free):
    spoofed = [
        client.get(
            f"/api/guilds/{GID}/stats?days={d}", HTTP_X_FORWARDED_FOR=f"10.0.0.{d}", **FOREIGN
        ).status_code
        for d in range(1, 6)
    ]
    assert 429 in spoofed  # rotating the header does not buy a fresh bucket
    with override_settings(MOCHA_BEHIND_PROXY=True, MOCHA_TRUSTED_PROXIES=["203.0.113.7"]):
        assert (
            client.get(
                f"/api/guilds/{GID}/stats?days=9",
                HTTP_X_FORWARDED_FOR="1.2.3.4, 10.9.9.9",
                **FOREIGN,
            ).status_code
            == 200
        )  # keyed by the proxy's hop: a new client


def test_loopback_clients_are_exempt_in_tests(client, small_guild, settings):
    """The test client talks from 127.0.0.1: the test settings exempt it (production exempts
    nobody)."""
    assert settings.MOCHA_API_RATE > 0 and "127.0.0.1" in settings.MOCHA_API_RATE_EXEMPT
    with override_settings(MOCHA_API_RATE=1.0, MOCHA_API_BURST=1):
        assert all(
            client.get(f"/api/guilds/{GID}/stats?days={d}").status_code == 200 for d in range(1, 6)
        )


def test_token_bucket_arithmetic():
    args = dict(rate=2.0, burst=4)
    assert throttle.charge("198.51.100.1", 4.5, 1, now=100.0, **args) == (True, pytest.approx(-0.5))
    assert throttle.charge("198.51.100.1", 1, 1, now=100.5, **args) == (False, pytest.approx(0.5))
    assert throttle.retry_after(0.5, 2.0) == 1
    assert throttle.charge("198.51.100.1", 0, 1, now=200.0, **args) == (
        True,
        4,
    )  # capped at the burst
    assert throttle.cost_of(False, 0) == throttle.HIT_COST
    assert throttle.cost_of(True, 2 * throttle.BYTES_PER_TOKEN) == throttle.COMPUTED_COST + 2


@pytest.mark.parametrize(
    "proxies, peer, header, client",
    [
        (["127.0.0.1"], "127.0.0.1", "203.0.113.9", "203.0.113.9"),
        (
            ["127.0.0.1"],
            "127.0.0.1",
            "127.0.0.1, 203.0.113.9",
            "203.0.113.9",
        ),  # spoofed left part ignored
        (
            ["127.0.0.1"],
            "127.0.0.1",
            "",
            "127.0.0.1",
        ),  # a proxy that sets no header: the proxy is the client
        (
            ["127.0.0.1"],
            "198.51.100.4",
            "127.0.0.1",
            "198.51.100.4",
        ),  # not a proxy: its header is ignored
        (["127.0.0.1", "10.0.0.0/8"], "127.0.0.1", "6.6.6.6, 203.0.113.9, 10.1.2.3", "203.0.113.9"),
        (["127.0.0.1"], "127.0.0.1", "127.0.0.1", "127.0.0.1"),  # all hops trusted: the left-most
    ],
)
def test_client_address_is_the_right_most_untrusted_hop(settings, proxies, peer, header, client):
    from stats.clients import client_ip

    settings.MOCHA_BEHIND_PROXY, settings.MOCHA_TRUSTED_PROXIES = True, proxies
    assert client_ip(peer, header) == client
