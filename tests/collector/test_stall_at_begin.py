"""A transaction that cannot begin (SQLite's BEGIN IMMEDIATE on a locked database) leaves no
cachalot per-transaction cache behind: the thread's later invalidations reach the shared cache."""

from __future__ import annotations

import pytest
from cachalot.cache import cachalot_caches
from django.db import OperationalError, connection, transaction

from stats.models import Guild
from tests.collector.dblock import short_lock_waits, write_lock

pytestmark = [pytest.mark.sqlite_only, pytest.mark.django_db(transaction=True)]


def test_a_failed_begin_pops_what_cachalot_pushed():
    assert connection.settings_dict["OPTIONS"].get("transaction_mode") == "IMMEDIATE"
    with short_lock_waits(), write_lock():
        with pytest.raises(OperationalError):
            with transaction.atomic():
                pass  # never reached: BEGIN IMMEDIATE waits 0.3 s for the lock, then fails
    assert cachalot_caches.atomic_caches["default"] == []
    # And a write after it is seen by a cached read, as with no stall at all.
    assert not Guild.objects.filter(pk=7).exists()
    Guild.objects.create(id=7, name="After")
    assert Guild.objects.filter(pk=7).exists()
