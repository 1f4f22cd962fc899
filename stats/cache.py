"""The result cache of stats queries: keyed by guild, data version, query and parameters.

A guild's data version lives in the shared cache (the collector, another
process, bumps it after each committed flush). A second version, the closed
version, changes only when committed data lands in a local day before today
(a late message, a history import, voice credited across midnight) or when
the guild's data is purged, rebuilt or reconfigured: cached parts of closed
days (stats.periods) key on it and so survive the flushes of a busy guild.
Versions are nanosecond clock readings, not counters: if a version key is
ever evicted, the next one is still new, so an evicted version can never
bring old entries back to life.
Entries also carry a TTL backstop (MOCHA_RESULT_CACHE_TTL). Hits and misses
are counted per process (cheap; /metrics reports the serving process).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import caches

from stats import instruments

T = TypeVar("T")
CACHE_ALIAS = "default"
_MISSING = object()


class Counters:
    """Hit and miss counts of this process."""

    def __init__(self) -> None:
        self.hits = 0
        self.misses = 0

    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


counters = Counters()
_this_thread = threading.local()  # misses of the current thread: what one request computed


def thread_misses() -> int:
    return getattr(_this_thread, "misses", 0)


def result_cache():
    return caches[CACHE_ALIAS]


def version_key(guild_id: int) -> str:
    return f"stats:v:{guild_id}"


def closed_version_key(guild_id: int) -> str:
    return f"stats:cv:{guild_id}"


def bump_versions(guild_ids: Iterable[int], closed: Iterable[int] | None = None) -> None:
    """Make every cached result of these guilds stale (called by the collector after each flush).

    `closed`: the guilds whose closed days changed too; by default all of them (purge, rebuild,
    configuration). A flush that only wrote into today passes the guilds it wrote before today.
    """
    now = time.time_ns()
    ids = {int(gid) for gid in guild_ids}
    keys = {version_key(gid): now for gid in ids}
    for gid in ids if closed is None else {int(gid) for gid in closed}:
        keys[closed_version_key(gid)] = now
    if keys:
        result_cache().set_many(keys, timeout=None)


def data_version(guild_id: int) -> int:
    """The guild's current data version, starting one if none is stored."""
    return _version(version_key(guild_id))


def closed_version(guild_id: int) -> int:
    """The version of the guild's closed days, starting one if none is stored."""
    return _version(closed_version_key(guild_id))


def _version(key: str) -> int:
    c = result_cache()
    version = c.get(key)
    if version is None:
        version = time.time_ns()
        if not c.add(key, version, timeout=None):
            version = c.get(key, version)
    return version


def config_stamp(guild) -> int:
    """Changes with every save of the guild's configuration."""
    return int(guild.updated_at.timestamp() * 1e6) if getattr(guild, "updated_at", None) else 0


def result_key(guild, name: str, params: dict) -> str:
    """Key of one result: guild, its config stamp, data version, query name, sorted parameters."""
    args = "&".join(f"{k}={params[k]}" for k in sorted(params))
    return f"stats:r:{guild.id}:{config_stamp(guild)}:{data_version(guild.id)}:{name}:{args}"


def cached_part(guild, name: str, args: tuple, compute: Callable[[], T], closed: bool = True) -> T:
    """A part of a result shared by several documents (stats.periods).

    closed: it covers closed days only and is kept until those days change; otherwise it covers
    today and is kept until the next flush. Not counted as a hit or miss: the counters describe
    whole results.
    """
    c = result_cache()
    kind, version = ("c", closed_version(guild.id)) if closed else ("t", data_version(guild.id))
    key = f"stats:{kind}:{guild.id}:{config_stamp(guild)}:{version}:{name}:" + ":".join(
        map(str, args)
    )
    value = c.get(key, _MISSING)
    if value is _MISSING:
        ttl = settings.MOCHA_CLOSED_CACHE_TTL if closed else settings.MOCHA_RESULT_CACHE_TTL
        value = _compute_once(key, compute, ttl)
    return value


def cached(guild, name: str, params: dict, compute: Callable[[], T]) -> T:
    """The cached result of `compute()` for this guild, query and parameters; computes on a miss."""
    c = result_cache()
    key = result_key(guild, name, params)
    value = c.get(key, _MISSING)
    if value is not _MISSING:
        counters.hits += 1
        instruments.CACHE_LOOKUPS.labels("hit").inc()
        return value
    counters.misses += 1
    _this_thread.misses = thread_misses() + 1
    instruments.CACHE_LOOKUPS.labels("miss").inc()
    return _compute_once(key, compute, settings.MOCHA_RESULT_CACHE_TTL)


_flights: dict[str, threading.Lock] = {}
_flights_guard = threading.Lock()


def _compute_once(key: str, compute: Callable[[], T], ttl: int | None) -> T:
    """Compute a missing entry in one thread of this process at a time: a flush makes every
    viewer of a busy guild miss the same keys at once, and the requests that arrive while one
    computes wait for it and read its result instead of computing it again."""
    with _flights_guard:
        lock = _flights.setdefault(key, threading.Lock())
    try:
        with lock:
            c = result_cache()
            value = c.get(key, _MISSING)
            if value is _MISSING:
                value = compute()
                c.set(key, value, timeout=ttl)
            return value
    finally:
        with _flights_guard:
            if _flights.get(key) is lock:
                del _flights[key]


# --- Size and entries ------------------------------------------------------------


def file_cache_dir(alias: str = CACHE_ALIAS) -> Path | None:
    config = settings.CACHES[alias]
    return Path(config["LOCATION"]) if config["BACKEND"].endswith("FileBasedCache") else None


def redis_client(alias: str = CACHE_ALIAS, write: bool = False):
    """The raw redis client of a RedisCache, or None for other backends."""
    c = caches[alias]
    inner = getattr(c, "_cache", None)
    return (
        inner.get_client(write=write)
        if inner is not None and hasattr(inner, "get_client")
        else None
    )


def cache_files(directory: Path) -> list[os.DirEntry]:
    try:
        return [e for e in os.scandir(directory) if e.name.endswith(".djcache")]
    except FileNotFoundError:
        return []


def usage(alias: str = CACHE_ALIAS) -> dict:
    """Entries and bytes used by one cache (None where the backend cannot tell)."""
    directory = file_cache_dir(alias)
    if directory is not None:
        files = cache_files(directory)
        size = 0
        for entry in files:
            try:
                size += entry.stat().st_size
            except FileNotFoundError:
                pass
        return {"entries": len(files), "bytes": size}
    client = redis_client(alias)
    if client is not None:
        try:
            # DBSIZE counts the whole Redis database (every prefix): the database is Mocha's.
            return {
                "entries": int(client.dbsize()),
                "bytes": int(client.info("memory")["used_memory"]),
            }
        except Exception:  # an unreachable Redis must not break /metrics
            return {"entries": None, "bytes": None}
    return {"entries": None, "bytes": None}


def entries_per_cache() -> dict[str, Any]:
    """Entry counts of every configured cache, for /metrics."""
    return {alias: usage(alias)["entries"] for alias in settings.CACHES}
