"""mocha.file_cache: culled in order — expired entries first, then the least recently written —
never at random, so long-lived entries (closed days, data versions) outlive a flood of new ones."""

from __future__ import annotations

import os
import threading
import time

from mocha import file_cache
from mocha.file_cache import OrderlyFileBasedCache


def make(tmp_path, max_entries: int, max_bytes: int | None = None) -> OrderlyFileBasedCache:
    options = {"MAX_ENTRIES": max_entries, "MAX_BYTES": max_bytes}
    return OrderlyFileBasedCache(str(tmp_path), {"OPTIONS": options})


def used_bytes(cache: OrderlyFileBasedCache) -> int:
    return sum(os.path.getsize(path) for path in cache._list_cache_files())


def test_a_flood_of_short_lived_entries_never_evicts_the_long_lived_ones(tmp_path, monkeypatch):
    monkeypatch.setattr(file_cache, "CULL_EVERY_S", 0.0)
    monkeypatch.setattr(file_cache, "_culled_at", {})
    cache = make(tmp_path, 50)
    cache.set("closed-days", "kept", timeout=3600)
    cache.set("version", 1, timeout=None)
    for i in range(200):  # answers of data versions that are already stale, soon expired
        cache.set(f"answer-{i}", i, timeout=0.01)
        time.sleep(0.001)
        file_cache.wait_for_cull()
    assert cache.get("closed-days") == "kept" and cache.get("version") == 1
    assert len(cache._list_cache_files()) < 50


def test_above_the_limit_the_least_recently_written_go_first(tmp_path, monkeypatch):
    monkeypatch.setattr(file_cache, "CULL_EVERY_S", 0.0)
    monkeypatch.setattr(file_cache, "_culled_at", {})
    cache = make(tmp_path, 10)
    for i in range(10):
        cache.set(f"k{i}", i, timeout=None)
        path = cache._key_to_file(f"k{i}")
        os.utime(path, (1000 + i, 1000 + i))  # written in order k0 … k9
    cache.set("new", "x", timeout=None)  # starts a cull down to 90 % of 10, beside the write
    file_cache.wait_for_cull()
    assert cache.get("k0") is None
    assert all(cache.get(f"k{i}") == i for i in range(2, 10)) and cache.get("new") == "x"
    assert len(cache._list_cache_files()) <= 10


def test_the_directory_is_listed_at_most_every_few_seconds(tmp_path, monkeypatch):
    """Per process: Django makes a cache instance per thread and, under ASGI, per request."""
    monkeypatch.setattr(file_cache, "_culled_at", {})
    listings = []
    for i in range(50):
        cache = make(tmp_path, 5)  # a new instance each time, as requests get
        real = cache._list_cache_files
        monkeypatch.setattr(
            cache, "_list_cache_files", lambda real=real: listings.append(1) or real()
        )
        cache.set(f"k{i}", i, timeout=None)
    file_cache.wait_for_cull()
    assert len(listings) == 1


def test_above_the_byte_limit_the_least_recently_written_go_first(tmp_path, monkeypatch):
    monkeypatch.setattr(file_cache, "CULL_EVERY_S", 0.0)
    monkeypatch.setattr(file_cache, "_culled_at", {})
    cache = make(tmp_path, 1000, max_bytes=100_000)
    for i in range(20):
        cache.set(f"filler-{i}", os.urandom(10_000), timeout=None)  # incompressible
        file_cache.wait_for_cull()
        os.utime(cache._key_to_file(f"filler-{i}"), (1000 + i, 1000 + i))
    assert used_bytes(cache) <= 100_000 + 11_000  # culled at each write
    cache.set("new", "x", timeout=None)
    file_cache.wait_for_cull()
    assert used_bytes(cache) <= 90_000 + 11_000
    assert cache.get("filler-0") is None and cache.get("filler-19") is not None


def test_a_request_that_is_due_to_cull_does_not_wait_for_it(tmp_path, monkeypatch):
    """The cull opens every entry; it runs beside the write that was due to start it."""
    monkeypatch.setattr(file_cache, "CULL_EVERY_S", 0.0)
    monkeypatch.setattr(file_cache, "_culled_at", {})
    cache = make(tmp_path, 50)
    started, release = threading.Event(), threading.Event()

    def slow_cull():
        started.set()
        release.wait(10)

    monkeypatch.setattr(cache, "_remove_expired_then_oldest", slow_cull)
    began = time.monotonic()
    cache.set("answer", 1, timeout=None)
    assert started.wait(5) and time.monotonic() - began < 5
    assert cache.get("answer") == 1  # written while the cull still runs
    release.set()
    file_cache.wait_for_cull()
