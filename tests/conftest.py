"""Shared fixtures: the scenario files, a clean cache, and the test database's URL for
subprocesses."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def sqlite_test_files() -> list[Path]:
    """This run's SQLite test database with its -wal and -shm files (none on PostgreSQL)."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.sqlite3":
        return []
    name = Path(db["TEST"]["NAME"])
    return [name.with_name(name.name + suffix) for suffix in ("", "-wal", "-shm")]


def pytest_sessionstart(session):
    """Test databases are named by process id, and ids come round again: a -wal file left by an
    earlier run of the same id would be replayed into the new database and corrupt it."""
    for path in sqlite_test_files():
        path.unlink(missing_ok=True)


def pytest_sessionfinish(session, exitstatus):
    """Remove this run's file cache and SQLite side files; pytest-django removes the database
    itself."""
    import shutil

    from django.conf import settings

    location = settings.CACHES["default"].get("LOCATION", "")
    if (
        settings.CACHES["default"]["BACKEND"].endswith("FileBasedCache")
        and "test-cache-" in location
    ):
        shutil.rmtree(location, ignore_errors=True)
    for path in sqlite_test_files()[1:]:
        path.unlink(missing_ok=True)


def clear_own_cache() -> None:
    """Empty this run's cache.

    On Redis, delete only this run's keys (SCAN on its KEY_PREFIX): other test runs and
    engineers share the server, and cache.clear() would FLUSHDB their caches away.
    """
    from django.conf import settings
    from django.core.cache import cache

    inner = getattr(cache, "_cache", None)
    if inner is None or not hasattr(inner, "get_client"):
        cache.clear()  # a file cache of this run's own (see mocha_site/settings/test.py)
        return
    client = inner.get_client(write=True)
    batch: list[bytes] = []
    for key in client.scan_iter(match=f"{settings.CACHES['default']['KEY_PREFIX']}:*", count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            client.delete(*batch)
            batch.clear()
    if batch:
        client.delete(*batch)


@pytest.fixture(autouse=True)
def clean_cache():
    clear_own_cache()
    yield


@pytest.fixture(autouse=True)
def no_leaked_cachalot_transaction(request):
    """cachalot keeps a stack of per-transaction caches per thread; one left behind by a test
    would hold this process's invalidations back from the shared cache (and serve its stale
    table stamps) for every later test. Report it, and drop it."""
    yield
    from cachalot.cache import cachalot_caches
    from django.db import connections

    for alias, stack in cachalot_caches.atomic_caches.items():
        if stack and not connections[alias].in_atomic_block:
            warnings.warn(
                f"{request.node.nodeid} left {len(stack)} cachalot transaction caches", stacklevel=2
            )
            stack.clear()


@pytest.fixture
def basic_scenario() -> Path:
    return FIXTURES / "basic.jsonl"


@pytest.fixture
def basic_expected() -> dict:
    import json

    return json.loads((FIXTURES / "basic.expected.json").read_text())


def database_url_of(connection) -> str:
    """A DATABASE_URL naming the database the tests run on (the test database, not the live one)."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    host = s.get("HOST") or "127.0.0.1"
    port = s.get("PORT") or 5432
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{host}:{port}/{s['NAME']}"


@pytest.fixture
def subprocess_env(transactional_db) -> dict:
    """Environment for a manage.py subprocess that shares this test's database and cache."""
    from django.conf import settings
    from django.db import connection

    env = dict(os.environ)
    env["DATABASE_URL"] = database_url_of(connection)
    env["DJANGO_SETTINGS_MODULE"] = "mocha_site.settings.test"  # same MOCHA_TEST_RUN, same cache
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("DISCORD_TOKEN", None)
    if settings.REDIS_URL:
        env["REDIS_URL"] = settings.REDIS_URL
    return env


@pytest.fixture
def manage_py() -> list[str]:
    return [sys.executable, str(ROOT / "manage.py")]
