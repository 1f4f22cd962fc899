"""Hours a guild's collector was away, for the activity chart: its messages come back from
history (gap repair), its voice minutes and joins do not."""

from __future__ import annotations

from datetime import datetime

from mocha.utc import iso
from stats.models import CollectorOutage, Guild, hour_of, hour_start
from stats.windows import Period, Window, window


def incomplete_hours(guild: Guild, win: Window) -> list[dict]:
    """Merged [start, end) spans of whole hours in the window overlapping an outage of the guild's
    shard."""
    rows = CollectorOutage.objects.filter(end__gt=win.start, start__lt=win.end).values_list(
        "shard_id", "shard_count", "start", "end"
    )
    spans: list[list[int]] = []
    for shard, count, start, end in sorted(rows, key=lambda r: r[2]):
        if (guild.id >> 22) % max(count, 1) != shard:
            continue
        first = max(hour_of(start), win.first)
        last = min(hour_of(end), win.last)
        if spans and first <= spans[-1][1] + 1:
            spans[-1][1] = max(spans[-1][1], last)
        else:
            spans.append([first, last])
    return [{"start": iso(hour_start(a)), "end": iso(hour_start(b + 1))} for a, b in spans]


def incomplete_doc(guild: Guild, days: int | Period, now: datetime | None = None) -> dict:
    """The /incomplete document."""
    win = window(guild, days, now)
    return {"guild_id": str(guild.id), "days": win.days, "incomplete": incomplete_hours(guild, win)}
