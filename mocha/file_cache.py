"""Django's file cache, culled in order instead of at random.

Django's FileBasedCache lists its whole directory on every write and, above MAX_ENTRIES,
deletes a random third of the entries. For Mocha that is the wrong third: a busy guild writes
new answers after every flush (each keyed by a new data version, the old ones dead until
their TTL), and a random cull then also deletes what is precious and long-lived — the cached
closed days of every guild (stats.periods) and the data versions — so dashboards fall back to
cold recomputations exactly when they are busiest.

Here the cull runs at most every CULL_EVERY_S per process and removes expired entries first;
only if that is not enough does it remove the least recently written ones, until the cache holds
at most 90 % of both its MAX_ENTRIES and its MAX_BYTES (OPTIONS; no byte limit without one).
It runs in a thread of its own: it opens every entry (~13 ms per thousand), and the request
whose write was due to cull would otherwise wait for all of it.
"""

from __future__ import annotations

import os
import threading
import time

from django.core.cache.backends.filebased import FileBasedCache

CULL_EVERY_S = 10.0
# Per process and directory, not per instance: Django makes a cache instance per thread and, under
# ASGI, per request context, so state on the instance would let every request cull.
_culled_at: dict[str, float] = {}
_cull_lock = threading.Lock()  # held by the running cull
_culling: threading.Thread | None = None


def wait_for_cull() -> None:
    """Return once the cull running in this process, if any, is done."""
    if _culling is not None:
        _culling.join()


class OrderlyFileBasedCache(FileBasedCache):
    def __init__(self, dir, params):
        super().__init__(dir, params)
        self._max_bytes = params.get("OPTIONS", {}).get("MAX_BYTES")

    def _cull(self):
        global _culling
        now = time.monotonic()
        if now - _culled_at.get(self._dir, 0.0) < CULL_EVERY_S:
            return
        if not _cull_lock.acquire(blocking=False):
            return
        _culled_at[self._dir] = now
        _culling = threading.Thread(target=self._cull_and_release, name="cache-cull", daemon=True)
        _culling.start()

    def _cull_and_release(self) -> None:
        try:
            self._remove_expired_then_oldest()
        finally:
            _cull_lock.release()

    def _remove_expired_then_oldest(self) -> None:
        alive = []
        for path in self._list_cache_files():
            try:
                with open(path, "rb") as f:
                    if self._is_expired(f):  # Django's own check; it deletes the file
                        continue
                st = os.stat(path)
            except (FileNotFoundError, EOFError):
                continue
            alive.append((st.st_mtime, st.st_size, path))
        size = sum(s for _, s, _ in alive)
        over_bytes = self._max_bytes is not None and size > self._max_bytes
        if len(alive) < self._max_entries and not over_bytes:
            return
        entries_target, bytes_target = self._max_entries * 0.9, (self._max_bytes or size) * 0.9
        remaining = len(alive)
        alive.sort()
        for _, file_size, path in alive:
            if remaining <= entries_target and size <= bytes_target:
                break
            self._delete(path)
            remaining -= 1
            size -= file_size
