"""Ranges of message ids already processed in one channel.

A range [lo, hi] says: every message of the channel whose id lies between lo and hi (inclusive)
has been seen and counted (or skipped by a counting rule). The gateway adds one range per run of
messages received in one session, a history page adds the span it returned; adjacent and
overlapping ranges merge, so a channel read without holes is a single range. A message inside a
range is never counted again, whatever order gateway and history deliver it in.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator

import orjson


class Ranges:
    """Disjoint, sorted, non-adjacent inclusive integer ranges."""

    __slots__ = ("los", "his")

    def __init__(self, pairs: Iterable[tuple[int, int]] = ()) -> None:
        self.los: list[int] = []
        self.his: list[int] = []
        for lo, hi in pairs:
            self.add(lo, hi)

    def __contains__(self, x: int) -> bool:
        i = bisect_right(self.los, x) - 1
        return i >= 0 and x <= self.his[i]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return zip(self.los, self.his, strict=False)

    def __len__(self) -> int:
        return len(self.los)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ranges) and self.los == other.los and self.his == other.his

    def __repr__(self) -> str:
        return f"Ranges({list(self)})"

    @property
    def top(self) -> int:
        """The highest id covered (0 when empty)."""
        return self.his[-1] if self.his else 0

    def add(self, lo: int, hi: int) -> None:
        """Cover [lo, hi], merging with every range it overlaps or touches."""
        if lo > hi:
            return
        los, his = self.los, self.his
        if los and los[-1] <= lo <= his[-1] + 1:  # the common case: extending the newest range
            if hi > his[-1]:
                his[-1] = hi
            return
        if not los or lo > his[-1] + 1:  # a new range after every other one
            los.append(lo)
            his.append(hi)
            return
        # First range that could merge (its hi reaches lo - 1) and first one entirely after hi + 1.
        start = bisect_right(his, lo - 2)
        end = bisect_right(los, hi + 1)
        if start < end:
            lo = min(lo, los[start])
            hi = max(hi, his[end - 1])
        los[start:end] = [lo]
        his[start:end] = [hi]

    def update(self, other: Ranges) -> None:
        for lo, hi in other:
            self.add(lo, hi)

    def covering(self, x: int) -> tuple[int, int] | None:
        """The range containing x, if any."""
        i = bisect_right(self.los, x) - 1
        return (self.los[i], self.his[i]) if i >= 0 and x <= self.his[i] else None

    def holes(self, lo: int, hi: int) -> list[tuple[int, int]]:
        """The parts of [lo, hi] not covered, in ascending order."""
        out, at = [], lo
        i = max(bisect_right(self.los, lo) - 1, 0)
        while at <= hi and i < len(self.los):
            if self.his[i] >= at:
                if self.los[i] > at:
                    out.append((at, min(hi, self.los[i] - 1)))
                at = self.his[i] + 1
            i += 1
        if at <= hi:
            out.append((at, hi))
        return out

    # --- storage -------------------------------------------------------------------------
    def to_json(self) -> str:
        return orjson.dumps([[lo, hi] for lo, hi in self]).decode()

    @classmethod
    def from_json(cls, text: str | None, last_message_id: int = 0) -> Ranges:
        """Stored ranges; a row written before ranges existed covers its last message only."""
        pairs = orjson.loads(text) if text else []
        ranges = cls((int(lo), int(hi)) for lo, hi in pairs)
        if not ranges and last_message_id:
            ranges.add(last_message_id, last_message_id)
        return ranges
