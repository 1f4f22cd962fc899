"""UTC instants as Mocha stores and prints them: epoch seconds in, ISO-8601 with a Z out.

Both pass None through, for optional timestamps (a collector that has not flushed yet).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


@overload
def iso(dt: datetime) -> str: ...
@overload
def iso(dt: None) -> None: ...
def iso(dt: datetime | None) -> str | None:
    """ISO-8601 in UTC with a Z suffix, e.g. 2026-01-02T03:04:05Z."""
    return None if dt is None else dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


@overload
def from_epoch(seconds: float) -> datetime: ...
@overload
def from_epoch(seconds: None) -> None: ...
def from_epoch(seconds: float | None) -> datetime | None:
    """An aware UTC datetime from Unix epoch seconds."""
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=UTC)
