"""The "api" phase: p50/p99 latency of every API endpoint through the real HTTP stack, uncached and
cached.

Runs on the database the "dataset" phase filled. "Uncached" means both caches
are cold for that request: before each one the bench process bumps the guild's
data version (stats.cache.bump_versions, exactly what the collector does after
a flush) and invalidates cachalot, both through the shared file cache, so the
server recomputes the document from SQL. The request itself is unchanged
(same URL, same parameters). "Cached" repeats the same request after one warm-up.
"""

from __future__ import annotations

import http.client
import json
import time

from django.db.models import Count

from bench.report import ms, percentile
from bench.webserver import WebServer
from stats.models import Guild

REQUESTS_QUICK, REQUESTS_FULL = 30, 300
# Uncached sampling of one endpoint stops after this long (at least MIN_SAMPLES): keeps --quick
# under a minute.
BUDGET_S_QUICK, BUDGET_S_FULL = 0.6, 30.0
MIN_SAMPLES = 5


def bench_guild() -> Guild:
    """The dataset's guild: the one with the most members (the dataset phase builds one big
    guild)."""
    guild = Guild.objects.annotate(n=Count("members")).order_by("-n", "-member_count").first()
    if guild is None:
        raise RuntimeError("no guild in the database: run the dataset phase first")
    return guild


def endpoints(gid: int, top_uid: str) -> dict[str, str]:
    base = f"/api/guilds/{gid}"
    return {
        "guilds": "/api/guilds",
        "stats": f"{base}/stats?days=30",
        "stats_hourly": f"{base}/stats?days=30&interval=hour",
        "leaderboard_messages": f"{base}/leaderboard?metric=messages",
        "leaderboard_voice": f"{base}/leaderboard?metric=voice",
        "member": f"{base}/members/{top_uid}",
        "channels": f"{base}/channels",
        "heatmap": f"{base}/heatmap",
    }


class Client:
    """One keep-alive HTTP/1.1 connection; reconnects if the server closed it."""

    def __init__(self, port: int, headers: dict | None = None) -> None:
        self.port = port
        self.headers = headers or {}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def get(self, path: str) -> bytes:
        for attempt in (1, 2):
            try:
                self.conn.request("GET", path, headers=self.headers)
                response = self.conn.getresponse()
                body = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                if attempt == 2:
                    raise
        if response.status != 200:
            raise RuntimeError(f"GET {path} → {response.status}: {body[:200]!r}")
        return body

    def timed(self, path: str) -> float:
        started = time.perf_counter()
        self.get(path)
        return time.perf_counter() - started


def staff_session() -> str:
    """A session key of a staff account, as signing in would leave it."""
    from django.contrib.auth import get_user_model

    from signin.sessions import session_key_for

    user, _ = get_user_model().objects.get_or_create(
        username="bench-staff", defaults={"is_staff": True}
    )
    return session_key_for(user)


def make_cold(guild_id: int) -> None:
    """Make the next request miss every cache: new data version (result cache) and new cachalot
    table versions."""
    from cachalot.api import invalidate

    from stats.cache import bump_versions

    bump_versions([guild_id])
    invalidate()


def measure(
    client: Client, guild_id: int, path: str, n: int, budget_s: float
) -> tuple[list[float], list[float]]:
    """Up to n uncached (within budget_s) then n cached timings (seconds) of one path."""
    uncached: list[float] = []
    deadline = time.monotonic() + budget_s
    while len(uncached) < n and (len(uncached) < MIN_SAMPLES or time.monotonic() < deadline):
        make_cold(guild_id)
        uncached.append(client.timed(path))
    client.get(path)  # the warm-up that fills the cache
    cached = [client.timed(path) for _ in range(n)]
    return uncached, cached


def run(quick: bool) -> dict:
    n = REQUESTS_QUICK if quick else REQUESTS_FULL
    guild = bench_guild()
    Guild.objects.filter(pk=guild.pk).update(visibility=Guild.Visibility.PUBLIC)
    doc: dict = {
        k: {}
        for k in (
            "api_p50_ms",
            "api_p99_ms",
            "api_cached_p50_ms",
            "api_cached_p99_ms",
            "api_uncached_samples",
        )
    }
    with WebServer() as server:
        client = Client(server.port)
        top = json.loads(client.get(f"/api/guilds/{guild.pk}/leaderboard?metric=messages&limit=1"))[
            "entries"
        ]
        if not top:
            raise RuntimeError("the dataset guild has no messages")
        paths = endpoints(guild.pk, top[0]["user_id"])
        for path in paths.values():  # warm the worker: imports, connection, prepared code paths
            client.get(path)
        for name, path in paths.items():
            uncached, cached = measure(
                client, guild.pk, path, n, BUDGET_S_QUICK if quick else BUDGET_S_FULL
            )
            doc["api_uncached_samples"][name] = len(uncached)
            doc["api_p50_ms"][name] = ms(percentile(uncached, 50))
            doc["api_p99_ms"][name] = ms(percentile(uncached, 99))
            doc["api_cached_p50_ms"][name] = ms(percentile(cached, 50))
            doc["api_cached_p99_ms"][name] = ms(percentile(cached, 99))
        # Anonymous viewers of a public guild get kept whole responses (stats.response_cache);
        # a signed-in viewer's cached answer goes through Django: measured apart.
        signed_in = Client(server.port, {"Cookie": f"sessionid={staff_session()}"})
        _, cached = measure(signed_in, guild.pk, paths["stats"], n, 0)
        doc["api_cached_signed_in_p50_ms"] = ms(percentile(cached, 50))
        doc["api_cached_signed_in_p99_ms"] = ms(percentile(cached, 99))
        memory = server.worker_memory_mb()
        doc["web_rss_mb"], doc["web_rss_anon_mb"] = memory["rss"], memory["anon"]
    doc["api_p99_ms_max"] = max(doc["api_p99_ms"].values())
    doc["api_cached_p99_ms_max"] = max(doc["api_cached_p99_ms"].values())
    doc["api_cached_samples"] = n
    doc["api_guild_members"] = guild.n
    return doc
