"""A transaction that fails to begin must not leave cachalot's per-transaction cache behind.

cachalot pushes a cache for each `atomic` block before the block's transaction begins, and pops
it in `__exit__`. When BEGIN itself fails, as SQLite's BEGIN IMMEDIATE does on a database locked
past the busy timeout, `__exit__` never runs: the pushed cache stays on the thread's stack, and
every later invalidation of that thread is kept in it instead of reaching the shared cache. For
the collector's database thread that meant web processes serving stale Guild, Channel and Member
rows after one stall. This wraps cachalot's `Atomic.__enter__` to pop what it pushed on failure.
"""

from __future__ import annotations

from functools import wraps

from django.db import DEFAULT_DB_ALIAS
from django.db.transaction import Atomic


def install() -> None:
    from cachalot.cache import cachalot_caches

    enter = Atomic.__enter__
    if getattr(enter, "mocha_guarded", False):
        return

    @wraps(enter)
    def guarded(self):
        stack = cachalot_caches.atomic_caches[self.using or DEFAULT_DB_ALIAS]
        depth = len(stack)
        try:
            enter(self)
        except BaseException:
            del stack[depth:]
            raise

    guarded.mocha_guarded = True
    Atomic.__enter__ = guarded
