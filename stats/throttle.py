"""A per-client budget for uncached API work: a token bucket in the shared cache.

A cached answer costs next to nothing, so only requests that missed the result
cache (did real SQL) take a token; a client whose bucket is empty is answered
429 `{"error": "too many requests"}` with Retry-After until it refills. The
bucket lives in the shared cache so every web worker sees the same budget; its
read-modify-write is not atomic, so concurrent requests may overspend by a few
tokens, which is fine for a guard against floods.

Settings: MOCHA_API_RATE (tokens per second; 0 turns the limit off),
MOCHA_API_BURST (bucket size), MOCHA_API_RATE_EXEMPT (client addresses never
limited: loopback by default, i.e. the local user, the benchmark and the tests),
MOCHA_BEHIND_PROXY (take the client address from the last X-Forwarded-For hop).
"""
from __future__ import annotations

import math
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, JsonResponse

from stats.cache import counters

PREFIX = "/api/"
KEY = "throttle:api:{}"
clock = time.time  # wall clock, not monotonic: buckets are shared across processes


def client_address(request: HttpRequest) -> str:
    """The client's IP: the proxy's last X-Forwarded-For hop when behind one, else the peer."""
    if getattr(settings, "MOCHA_BEHIND_PROXY", False):
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
        if hops:
            return hops[-1]  # appended by our own proxy; earlier hops are the client's word
    return request.META.get("REMOTE_ADDR", "")


class TokenBucket:
    """Tokens of one client, refilled at `rate` per second up to `burst`."""

    def __init__(self, client: str, rate: float, burst: int, now: float | None = None) -> None:
        self.key = KEY.format(client)
        self.rate, self.burst = rate, burst
        self.now = clock() if now is None else now
        stored = cache.get(self.key)
        if stored is None:
            self.tokens = float(burst)
        else:
            tokens, at = stored
            self.tokens = min(float(burst), tokens + max(0.0, self.now - at) * rate)

    def retry_after(self) -> int:
        """Whole seconds until one token is back (0 if one is there now)."""
        return 0 if self.tokens >= 1 else max(1, math.ceil((1 - self.tokens) / self.rate))

    def spend(self, n: float = 1.0) -> None:
        self.tokens -= n
        # Kept just long enough to refill completely; an idle client costs no cache entry after that.
        cache.set(self.key, (self.tokens, self.now), timeout=max(1, math.ceil(self.burst / self.rate)) + 1)


def too_many(retry_after: int) -> JsonResponse:
    response = JsonResponse({"error": "too many requests"}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


class ApiThrottleMiddleware:
    """Refuse /api/ requests from a client that has used up its budget of uncached work."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        rate = float(getattr(settings, "MOCHA_API_RATE", 0) or 0)
        client = client_address(request)
        if (
            rate <= 0
            or not request.path.startswith(PREFIX)
            or client in getattr(settings, "MOCHA_API_RATE_EXEMPT", ())
        ):
            return self.get_response(request)
        burst = int(getattr(settings, "MOCHA_API_BURST", 2 * rate))
        bucket = TokenBucket(client, rate, burst, now=clock())
        wait = bucket.retry_after()
        if wait:
            return too_many(wait)
        misses = counters.misses
        response = self.get_response(request)
        if counters.misses > misses:  # the request did real SQL work
            bucket.spend()
        return response
