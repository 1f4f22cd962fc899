"""Real database stalls for collector tests: another connection holding the write lock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, connections

from stats.models import CollectorState, HourlyStat


@contextmanager
def write_lock() -> Iterator[None]:
    """Another writer holds the database, as a long admin action or a backup would."""
    conn = connections.create_connection("default")
    try:
        with conn.cursor() as cur:
            if conn.vendor == "sqlite":
                cur.execute("BEGIN IMMEDIATE")
            else:
                cur.execute("BEGIN")
                tables = f"{HourlyStat._meta.db_table}, {CollectorState._meta.db_table}"
                cur.execute(f"LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE")
            try:
                yield
            finally:
                cur.execute("ROLLBACK")
    finally:
        conn.close()


@contextmanager
def short_lock_waits() -> Iterator[None]:
    """Connections opened inside give up on a held lock after 0.3 s instead of the configured
    wait."""
    options = connections.settings["default"].setdefault("OPTIONS", {})
    saved = dict(options)
    if connection.vendor == "sqlite":
        options["timeout"] = 0.3
    else:
        options["options"] = "-c lock_timeout=300"
    connection.close()
    try:
        yield
    finally:
        options.clear()
        options.update(saved)
        connection.close()
