"""Flushes that a bad row cannot poison.

A failed write is either transient (the database is locked, down or the
connection dropped: keep the batch and retry it whole, losing nothing) or
caused by the data itself (a value the database refuses). For the latter the
batch is split in halves, and halves again, until the rows that cannot be
written are alone: everything else is written, and each refused row goes to
the QuarantinedRow table (shown in the admin, counted in /metrics) instead of
being retried forever or dropped silently.
"""

from __future__ import annotations

import logging
from collections import deque

from django.db import InterfaceError, InternalError, OperationalError, connection

from collector.aggregate import FEED_PER_GUILD, Batch
from collector.writer import Writer
from stats.models import QuarantinedRow

log = logging.getLogger("mocha.collector")

TRANSIENT = (OperationalError, InterfaceError, InternalError)
# In write order: a guild before its channels and members, so a half never waits for a later one.
DICT_PARTS = ("guilds", "channels", "members", "counters", "voice", "roles", "member_roles")
Atom = tuple[str, object]


def atoms(batch: Batch) -> list[Atom]:
    """The batch as single rows, in write order."""
    out: list[Atom] = [
        (part, item) for part in DICT_PARTS[:2] for item in getattr(batch, part).items()
    ]
    out += [("deleted_channels", cid) for cid in sorted(batch.deleted_channels)]
    out += [(part, item) for part in DICT_PARTS[2:4] for item in getattr(batch, part).items()]
    # A channel's id ranges travel with what the writer needs to check them.
    out += [
        ("claims", (s, (c, batch.sources[s], batch.counted[s], batch.late.get(s, set()))))
        for s, c in batch.claims.items()
    ]
    out += [(part, item) for part in DICT_PARTS[4:] for item in getattr(batch, part).items()]
    out += [("deleted_roles", rid) for rid in sorted(batch.deleted_roles)]
    out += [("member_events", e) for e in batch.member_events]
    out += [("feed", (gid, item)) for gid, items in batch.feed.items() for item in items]
    return out


def from_atoms(rows: list[Atom]) -> Batch:
    batch = Batch()
    for part, item in rows:
        if part in DICT_PARTS:
            key, value = item  # type: ignore[misc]
            getattr(batch, part)[key] = value
        elif part == "claims":
            source, (claim, where, counted, late) = item  # type: ignore[misc]
            batch.claims[source], batch.sources[source], batch.counted[source] = (
                claim,
                where,
                counted,
            )
            if late:
                batch.late[source] = late
        elif part == "deleted_channels":
            batch.deleted_channels.add(item)  # type: ignore[arg-type]
        elif part == "deleted_roles":
            batch.deleted_roles.add(item)  # type: ignore[arg-type]
        elif part == "member_events":
            batch.member_events.append(item)  # type: ignore[arg-type]
        else:
            gid, entry = item  # type: ignore[misc]
            batch.feed.setdefault(gid, deque(maxlen=FEED_PER_GUILD)).append(entry)
    return batch


def write(writer: Writer, batch: Batch, health: dict[int, dict]) -> tuple[Batch | None, int]:
    """Write `batch`, isolating refused rows; returns (what is left to retry, rows quarantined).

    A transient failure of the first, whole write is raised (the caller keeps the batch). The
    first return value is None when everything was written or quarantined; after a transient
    failure while splitting it holds exactly the rows not yet committed (halves already
    written are not in it, so a retry counts nothing twice).
    """
    error = _try_write(writer, batch, health)
    if error is None:
        return None, 0
    log.warning("flush refused by the database (%s); looking for the rows it refuses", _line(error))
    rows = atoms(batch)
    mid = len(rows) // 2
    pending: list[list[Atom]] = [rows[mid:], rows[:mid]]  # a stack: the first half is written first
    quarantined = 0
    while pending:
        part = pending.pop()
        try:
            error = _try_write(writer, from_atoms(part), health) if part else None
            if error is None:
                continue
            if len(part) > 1:
                mid = len(part) // 2
                pending += [part[mid:], part[:mid]]
                continue
            _quarantine(part[0], error)
            quarantined += 1
        except TRANSIENT:
            connection.close()  # the next flush reconnects
            left = from_atoms([row for rows in (part, *reversed(pending)) for row in rows])
            left.guild_counts, left.events = batch.guild_counts, batch.events
            return left, quarantined
    return None, quarantined


def _try_write(writer: Writer, batch: Batch, health: dict[int, dict]) -> Exception | None:
    """None when written, the error when the data was refused; a transient failure is raised."""
    try:
        writer.write(batch, health)
    except TRANSIENT:
        raise
    except Exception as exc:
        return exc
    return None


def _quarantine(row: Atom, error: BaseException) -> None:
    kind, item = row
    text = ascii(item)[:4000]
    try:
        QuarantinedRow.objects.create(kind=kind, row=text, error=_line(error)[:300])
    except TRANSIENT:
        raise
    except (
        Exception
    ) as exc:  # cannot happen with escaped ASCII text; never let it undo written halves
        log.error("could not quarantine a %s row (%s): %s", kind, _line(exc), text)
        return
    log.warning("quarantined a %s row the database refuses (%s)", kind, _line(error))


def _line(exc: BaseException) -> str:
    text = str(exc).splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
