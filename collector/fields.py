"""Checks of single payload values, the collector's edge.

Every value Mocha takes from a gateway payload goes through one of these:
ids must be snowflakes the database can hold, times must parse, strings are
made safe for any column (no NUL, no lone surrogates, trimmed). A value that
cannot be made safe raises `Invalid`, which skips the whole event; a value
that merely looks odd (an unknown channel type, a name too long) is mapped
to a safe default, and the event still counts.
"""

from __future__ import annotations

from datetime import UTC, datetime

from mocha.discord_types import MAX_SNOWFLAKE

MAX_INT32 = 2**31 - 1
# Nothing on Discord predates its epoch; far-future years would overflow local-day arithmetic.
EARLIEST = datetime(2015, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
CHANNEL_TYPES = frozenset({0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15, 16})
DEFAULT_CHANNEL_TYPE = 0  # an unknown type is counted as a text channel

# Reasons, as counted in /metrics `collector.skipped`.
MISSING = "missing_field"
BAD_TYPE = "bad_type"
BAD_SNOWFLAKE = "bad_snowflake"
BAD_TIMESTAMP = "bad_timestamp"


class Invalid(ValueError):
    """A field Mocha cannot count with: the event it belongs to is skipped."""

    def __init__(self, field: str, reason: str, value: object = None) -> None:
        self.field = field
        self.reason = reason
        shown = ascii(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        super().__init__(f"{field} is {reason.replace('_', ' ')} ({shown})")


def obj(value: object, field: str) -> dict:
    """A nested object that must be there."""
    if isinstance(value, dict):
        return value
    raise Invalid(field, MISSING if value is None else BAD_TYPE, value)


def opt_obj(value: object, field: str) -> dict | None:
    return None if value is None else obj(value, field)


def snowflake(value: object, field: str) -> int:
    """A Discord id: a string holding an integer (or an int) in 1..2^63-1."""
    if type(value) is str:
        try:
            n = int(value) if len(value) <= 25 else 0  # int() of a huge string is slow, and no id
        except ValueError:
            n = 0
        if 0 < n <= MAX_SNOWFLAKE:
            return n
    elif type(value) is int:
        if 0 < value <= MAX_SNOWFLAKE:
            return value
    elif value is None:
        raise Invalid(field, MISSING)
    raise Invalid(field, BAD_SNOWFLAKE, value)


def opt_snowflake(value: object, field: str) -> int | None:
    """An id that may be null or absent."""
    return None if value is None else snowflake(value, field)


def timestamp(value: object, field: str) -> datetime:
    """An ISO-8601 time between Discord's epoch and year 9000 (UTC when it has no offset)."""
    if type(value) is not str:
        raise Invalid(field, MISSING if value is None else BAD_TIMESTAMP, value)
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(field, BAD_TIMESTAMP, value) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    try:
        if EARLIEST <= dt < LATEST:
            return dt
    except (OverflowError, ValueError):  # an offset that pushes the time out of datetime's range
        pass
    raise Invalid(field, BAD_TIMESTAMP, value)


_hours: dict[str, int] = {}


def timestamp_hour(value: object, field: str) -> int:
    """Whole hours since the epoch (UTC) of a valid timestamp; the hot path of every message.

    Discord sends UTC ("+00:00"): once a string of an hour has been checked, the hour is
    memoised by its first 13 characters (date and hour), and later strings are only parsed.
    """
    if type(value) is str and value.endswith("+00:00"):
        hour = _hours.get(value[:13])
        if hour is not None:
            try:
                datetime.fromisoformat(value)
            except ValueError:
                raise Invalid(field, BAD_TIMESTAMP, value) from None
            return hour
    hour = int(timestamp(value, field).timestamp()) // 3600
    if value.endswith("+00:00"):  # type: ignore[union-attr]  # timestamp() checked it is a string
        if len(_hours) > 100_000:
            _hours.clear()
        _hours[value[:13]] = hour  # type: ignore[index]
    return hour


def text(value: object, limit: int) -> str:
    """A string any column holds: not a string → "", NUL dropped, lone surrogates replaced,
    trimmed."""
    if type(value) is not str:
        return ""
    if not value.isascii():
        value = value.encode("utf-8", "replace").decode("utf-8")
    if "\x00" in value:
        value = value.replace("\x00", "")
    return value[:limit]


def flag(value: object) -> bool:
    """A boolean that is true only when Discord says `true` (a string "false" is not true)."""
    return value is True


def clamped_int(
    value: object, default: int, low: int = -MAX_INT32 - 1, high: int = MAX_INT32
) -> int:
    """An int column's value; anything that is not an int is the default."""
    if type(value) is not int:
        return default
    return min(max(value, low), high)


def channel_type(value: object) -> int:
    return value if type(value) is int and value in CHANNEL_TYPES else DEFAULT_CHANNEL_TYPE
