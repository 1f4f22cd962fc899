"""Discord-like per-route rate limits for the simulator's REST routes.

Each (route, major id) bucket allows `limit` requests per `window` seconds. Every answer carries
``X-RateLimit-Limit``, ``-Remaining``, ``-Reset``, ``-Reset-After`` and ``-Bucket``; a request over
the limit gets 429 with ``retry_after`` (seconds) in the body and a ``Retry-After`` header, as
Discord answers. `inject(n, retry_after)` makes the next n requests answer 429 whatever the
counts (Discord's shared limits do that too). `enabled=False` (benchmarks) turns counting off.
"""

from __future__ import annotations

import hashlib
import time

import orjson
from aiohttp import web


class RateLimits:
    def __init__(self, enabled: bool = True, limit: int = 50, window: float = 1.0) -> None:
        self.enabled = enabled
        self.limit = limit
        self.window = window
        self.buckets: dict[tuple[str, str], list[float]] = {}  # -> [window start, requests]
        self.injected: list[float] = []  # retry_after of each forced 429 still to send
        self.stats = {"requests": 0, "limited": 0}

    def inject(self, count: int, retry_after: float) -> None:
        self.injected.extend([retry_after] * count)

    def take(self, route: str, major: str) -> tuple[web.Response | None, dict]:
        """(a 429 to send, or None) and the headers of the answer."""
        self.stats["requests"] += 1
        if self.injected:
            return self._too_many(route, self.injected.pop(0)), {}
        if not self.enabled:
            return None, {}
        now = time.time()
        bucket = self.buckets.get((route, major))
        if bucket is None or now - bucket[0] >= self.window:
            bucket = self.buckets[(route, major)] = [now, 0]
        bucket[1] += 1
        reset_after = bucket[0] + self.window - now
        if bucket[1] > self.limit:
            return self._too_many(route, reset_after), {}
        return None, {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.limit - int(bucket[1])),
            "X-RateLimit-Reset": f"{bucket[0] + self.window:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": hashlib.sha1(route.encode()).hexdigest()[:16],
        }

    def _too_many(self, route: str, retry_after: float) -> web.Response:
        self.stats["limited"] += 1
        retry_after = max(retry_after, 0.001)
        data = {
            "message": "You are being rate limited.",
            "retry_after": round(retry_after, 3),
            "global": False,
        }
        # discord.py takes a 429 without `Via` for a Cloudflare ban and gives up: Discord's have
        # one.
        headers = {
            "Retry-After": f"{retry_after:.3f}",
            "X-RateLimit-Scope": "user",
            "Via": "1.1 google",
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}",
            "X-RateLimit-Bucket": hashlib.sha1(route.encode()).hexdigest()[:16],
        }
        return web.Response(
            body=orjson.dumps(data), status=429, content_type="application/json", headers=headers
        )
