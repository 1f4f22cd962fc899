"""A per-client budget of API work: a token bucket charged atomically, by what each request cost.

Every /api/ request is charged: a result computed from SQL costs COMPUTED_COST
tokens, one served from the result cache HIT_COST, and every BYTES_PER_TOKEN
of response body one more token, so a client pays for the rows it makes us
read and the points it takes home. A client whose bucket is empty is answered
429 `{"error": "too many requests"}` with Retry-After until it refills.

The charge is atomic and happens before the request runs: admission takes
COMPUTED_COST tokens (refused below that), and once the response is known the
difference to its real cost is settled (a refund for a cache hit, a debt for a
big answer). Parallel requests therefore cannot spend the same tokens twice.
The buckets live in Redis (one Lua script per charge) when REDIS_URL is set,
else in the shared file cache under an exclusive file lock (every process on
the machine), else in this process under a thread lock.

Settings: MOCHA_API_RATE (tokens per second; 0 turns the limit off),
MOCHA_API_BURST (bucket size), MOCHA_API_RATE_EXEMPT (client addresses never
limited; none in production). Clients are told apart by stats.clients.
"""

from __future__ import annotations

import fcntl
import math
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, JsonResponse

from stats import cache as result_cache
from stats.clients import request_client

PREFIX = "/api/"
KEY = "throttle:api:{}"
COMPUTED_COST = 1.0
HIT_COST = 0.2
BYTES_PER_TOKEN = 64 * 1024
clock = time.time  # wall clock, not monotonic: buckets are shared across processes

# KEYS[1] bucket; ARGV rate, burst, now, cost, need, ttl. Refills, then charges `cost` unless
# fewer than `need` tokens are left. Returns {charged 0/1, tokens left as a string}. The stored
# time never goes back: concurrent callers read their clocks in one order and charge in another,
# and moving it back would credit the same interval twice.
CHARGE_LUA = """
local v = redis.call('HMGET', KEYS[1], 't', 'at')
local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tokens = tonumber(v[1]) or burst
local at = tonumber(v[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local charged = 0
if tokens >= tonumber(ARGV[5]) then
  tokens = tokens - tonumber(ARGV[4])
  charged = 1
end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'at', tostring(math.max(at, now)))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[6]))
return {charged, tostring(tokens)}
"""
_thread_lock = threading.Lock()
ALWAYS = -1e18  # a `need` every bucket meets (Lua's tonumber reads no "-inf")


def refill(tokens: float, at: float, now: float, rate: float, burst: int) -> float:
    return min(float(burst), tokens + max(0.0, now - at) * rate)


def ttl(rate: float, burst: int, debt: float = 0.0) -> int:
    """Long enough to refill completely (debt included); an idle client costs no entry after
    that."""
    return max(1, math.ceil((burst + debt) / rate)) + 1


@contextmanager
def bucket_lock():
    """Exclusive across the processes sharing the file cache, else across this process's threads."""
    location = settings.CACHES["default"].get("LOCATION", "")
    if not settings.CACHES["default"]["BACKEND"].endswith("FileBasedCache"):
        with _thread_lock:
            yield
        return
    path = Path(location)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _thread_lock, open(path / "throttle.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def charge(
    client: str, cost: float, need: float, rate: float, burst: int, now: float
) -> tuple[bool, float]:
    """Atomically refill the client's bucket and take `cost` if at least `need` tokens are there.

    Returns whether it was charged and the tokens left (negative: a debt to wait out).
    """
    key = KEY.format(client)
    redis = result_cache.redis_client(write=True)
    if redis is not None:
        script = redis.register_script(CHARGE_LUA)
        charged, tokens = script(
            keys=[cache.make_key(key)], args=[rate, burst, now, cost, need, ttl(rate, burst, cost)]
        )
        return bool(int(charged)), float(tokens)
    with bucket_lock():
        stored = cache.get(key)
        tokens = float(burst) if stored is None else refill(stored[0], stored[1], now, rate, burst)
        charged = tokens >= need
        if charged:
            tokens -= cost
        at = now if stored is None else max(stored[1], now)
        cache.set(key, (tokens, at), timeout=ttl(rate, burst, max(0.0, -tokens)))
    return charged, tokens


def retry_after(tokens: float, rate: float) -> int:
    """Whole seconds until COMPUTED_COST tokens are back."""
    return max(1, math.ceil((COMPUTED_COST - tokens) / rate))


def cost_of(computed: bool, body_bytes: int) -> float:
    return (COMPUTED_COST if computed else HIT_COST) + body_bytes / BYTES_PER_TOKEN


def too_many(wait: int) -> JsonResponse:
    response = JsonResponse({"error": "too many requests"}, status=429)
    response["Retry-After"] = str(wait)
    return response


def budget(client: str) -> tuple[float, int] | None:
    """(rate, burst) of this client's bucket, or None when it is not limited (the limit is off,
    or the client is exempt)."""
    rate = float(getattr(settings, "MOCHA_API_RATE", 0) or 0)
    if rate <= 0 or client in settings.MOCHA_API_RATE_EXEMPT:
        return None
    return rate, int(getattr(settings, "MOCHA_API_BURST", 2 * rate))


class ApiThrottleMiddleware:
    """Charge each /api/ request to its client's bucket; refuse when the bucket is empty."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        if not request.path.startswith(PREFIX):
            return self.get_response(request)
        client = request_client(request)
        limited = budget(client)
        if limited is None:
            return self.get_response(request)
        rate, burst = limited
        admitted, tokens = charge(client, COMPUTED_COST, COMPUTED_COST, rate, burst, clock())
        if not admitted:
            return too_many(retry_after(tokens, rate))
        misses = result_cache.thread_misses()
        response = self.get_response(request)
        computed = result_cache.thread_misses() > misses
        size = 0 if response.streaming else len(response.content)
        extra = cost_of(computed, size) - COMPUTED_COST
        if extra:
            charge(client, extra, ALWAYS, rate, burst, clock())
        return response
