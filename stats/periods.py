"""Documents as closed days plus the open tail, merged into exactly what stats.queries computes
from scratch.

A window is local days, most often ending with today. Today is still filling; every earlier
day is closed (a range wholly in the past is all closed): only a late write changes it (a
message whose own timestamp is hours old, a history import, voice credited across midnight),
and such a write bumps the guild's closed version (stats.cache), as do purges, rebuilds and
configuration changes. So the closed part of each document is cached under that version and
the window's days (cache.cached_part), and only the tail, today's hours, is read again when
the document itself is recomputed after a flush.

What is not a plain sum is merged with care: active members are the closed days' members plus
today's members not among them; leaderboards and ranks sort per-member sums of the closed days
plus today's, so a member who climbs into the top ten today is ranked exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from stats import queries
from stats.cache import cached_part
from stats.models import Guild
from stats.windows import Period, Window, first_hour_of_day, window

T = TypeVar("T")
Rows = list[tuple[int, int, int]]  # (key, messages, voice seconds)
Sums = dict[int, tuple[int, int]]  # user id → (messages, voice seconds)
NO_TOTALS = (0, 0, 0, {"joins": 0, "leaves": 0})


def split(win: Window) -> tuple[Window | None, Window | None]:
    """The window's closed days and its open tail, today; None for either part it lacks."""
    if not win.ends_now:
        return win, None
    today = first_hour_of_day(win.tz_name, win.last_day)
    tail = Window(1, win.tz_name, win.last_day, win.last_day, today, win.last)
    if win.days == 1:
        return None, tail
    closed = Window(
        win.days - 1, win.tz_name, win.first_day, win.last_day - 1, win.first, today - 1, False
    )
    return closed, tail


def closed_part(
    guild: Guild, name: str, win: Window | None, compute: Callable[[Window], T], empty: T, *args
) -> T:
    """compute(win) for closed days, cached until they change; `empty` when there are none."""
    if win is None:
        return empty
    key = (win.first, win.last, win.first_day, win.last_day, *args)
    return cached_part(guild, name, key, lambda: compute(win))


def tail_part(win: Window | None, compute: Callable[[Window], T], empty: T) -> T:
    """compute(win) for today's hours, read at each call; `empty` for a window in the past."""
    return empty if win is None else compute(win)


def by_activity(*parts: Rows) -> Rows:
    """Rows of the same keys summed, busiest first (messages, then voice, then key)."""
    sums: dict[int, list[int]] = {}
    for rows in parts:
        for key, m, v in rows:
            row = sums.setdefault(key, [0, 0])
            row[0] += m
            row[1] += v
    merged = [(key, m, v) for key, (m, v) in sums.items() if m > 0 or v > 0]
    merged.sort(key=lambda r: (-r[1], -r[2], r[0]))
    return merged


# --- Totals and series ---------------------------------------------------------------


def active(sums: Sums) -> int:
    """Members with activity among per-member sums: the leaderboards' scan of the member-days
    counts the cards' active members too, instead of a second scan."""
    return sum(1 for m, v in sums.values() if m > 0 or v > 0)


def _totals(guild: Guild, win: Window) -> tuple[int, int, int, dict]:
    m, v = queries.hour_sums(guild, win)
    return m, v, active(member_sums(guild, win)), queries.member_events(guild, [win])[0]


def raw_totals(guild: Guild, win: Window) -> tuple[int, int, int, dict]:
    """(messages, voice seconds, active members, joins and leaves) of the window."""
    closed, tail = split(win)
    m, v, active_before, events = closed_part(
        guild, "totals", closed, lambda w: _totals(guild, w), NO_TOTALS
    )
    if tail is None:
        return m, v, active_before, events
    tm, tv = queries.hour_sums(guild, tail)
    tail_events = queries.member_events(guild, [tail])[0]
    known = member_sums(guild, closed)
    newcomers = sum(
        1 for uid, t in tail_sums(guild, tail).items() if any(t) and not any(known.get(uid, (0, 0)))
    )
    merged = {k: events[k] + n for k, n in tail_events.items()}
    return m + tm, v + tv, active_before + newcomers, merged


def totals(guild: Guild, win: Window) -> dict:
    """Messages, voice minutes, active members, joins and leaves in the window."""
    return queries.totals_doc(*raw_totals(guild, win))


def stats(
    guild: Guild,
    days: int | Period,
    interval: str,
    now: datetime | None = None,
    compare: bool = False,
) -> dict:
    """The /stats document (with the previous period's totals when comparing)."""
    win = window(guild, days, now)
    closed, tail = split(win)
    found = closed_part(
        guild, f"series-{interval}", closed, lambda w: queries.series_rows(guild, w, interval), {}
    )
    found = {**found, **tail_part(tail, lambda w: queries.series_rows(guild, w, interval), {})}
    points = queries.series_points(guild, win, interval, found)
    previous = totals(guild, win.previous()) if compare else None
    return queries.stats_doc(guild, win, interval, totals(guild, win), points, previous)


def totals_compared(guild: Guild, days: int | Period, now: datetime | None = None) -> dict:
    """The headline cards: the window's totals beside the previous window's (all closed)."""
    win = window(guild, days, now)
    return queries.compared_doc(win, totals(guild, win), totals(guild, win.previous()))


# --- Members -------------------------------------------------------------------------


def member_sums(guild: Guild, closed: Window | None) -> Sums:
    """Per-member (messages, voice seconds) of closed days."""
    return closed_part(guild, "sums", closed, lambda w: queries.member_sums(guild, w), {})


def tail_sums(guild: Guild, tail: Window) -> Sums:
    """Per-member (messages, voice seconds) of today, read once per flush for every document."""
    key = (tail.first, tail.last, tail.first_day)
    return cached_part(guild, "tail-sums", key, lambda: queries.member_sums(guild, tail), False)


def member_totals(guild: Guild, win: Window) -> Sums:
    """Per-member (messages, voice seconds) of the window: closed days plus today."""
    closed, tail = split(win)
    sums = member_sums(guild, closed)
    if tail is None:
        return sums
    sums = dict(sums)
    for uid, (m, v) in tail_sums(guild, tail).items():
        cm, cv = sums.get(uid, (0, 0))
        sums[uid] = (cm + m, cv + v)
    return sums


def ranked(sums: Sums, metric: str) -> list[tuple[int, int]]:
    """(user id, value) of members with a value, highest first, ties by user id ascending."""
    i = 1 if metric == "voice" else 0
    rows = [(uid, t[i]) for uid, t in sums.items() if t[i] > 0]
    rows.sort(key=lambda r: (-r[1], r[0]))
    return rows


def leaderboard(
    guild: Guild,
    metric: str,
    days: int | Period,
    limit: int,
    offset: int,
    now: datetime | None = None,
    compare: bool = False,
) -> dict:
    """The /leaderboard document (with each entry's previous rank when comparing)."""
    win = window(guild, days, now)
    rows = ranked(member_totals(guild, win), metric)[offset : offset + limit]
    before = None
    if compare:
        shown = {uid for uid, _ in rows}
        order = ranked(member_totals(guild, win.previous()), metric)
        before = {uid: i + 1 for i, (uid, _) in enumerate(order) if uid in shown}
    return queries.board_doc(guild, metric, win.days, offset, rows, before)


def ranks(sums: Sums, user_id: int, messages: int, voice: int) -> dict:
    """The member's rank per metric among the sums (None when the value is zero)."""
    ahead_m = ahead_v = 0
    for uid, (m, v) in sums.items():
        ahead_m += m > messages or (m == messages and uid < user_id)
        ahead_v += v > voice or (v == voice and uid < user_id)
    return {
        "messages": ahead_m + 1 if messages > 0 else None,
        "voice": ahead_v + 1 if voice > 0 else None,
    }


def _member_parts(guild: Guild, win: Window, user_id: int) -> tuple[Rows, dict]:
    return (
        queries.member_channel_rows(guild, win, user_id),
        queries.member_daily_rows(guild, win, user_id),
    )


def member(
    guild: Guild, user_id: int, days: int | Period, now: datetime | None = None
) -> dict | None:
    """The /members/{uid} document; None for an unknown member."""
    name = queries.member_name(guild, user_id)
    if name is None:
        return None
    win = window(guild, days, now)
    closed, tail = split(win)
    compute = lambda w: _member_parts(guild, w, user_id)  # noqa: E731
    rows, found = closed_part(guild, "member", closed, compute, ([], {}), user_id)
    tail_rows, tail_found = tail_part(tail, compute, ([], {}))
    rows = by_activity(rows, tail_rows)
    messages = sum(m for _, m, _ in rows)
    voice = sum(v for _, _, v in rows)
    rank = ranks(member_totals(guild, win), user_id, messages, voice)
    points = queries.series_points(guild, win, "day", {**found, **tail_found})
    return queries.member_doc(guild, user_id, name, win.days, rows, rank, points)


# --- Channels and heatmap ------------------------------------------------------------


def channels(guild: Guild, days: int | Period, now: datetime | None = None) -> dict:
    """The /channels document (active members read from the per-channel last active days)."""
    win = window(guild, days, now)
    closed, tail = split(win)
    compute = lambda w: queries.channel_sums(guild, w)  # noqa: E731
    rows = by_activity(
        closed_part(guild, "channels", closed, compute, []), tail_part(tail, compute, [])
    )
    return queries.channels_doc(guild, win, rows)


def heatmap(guild: Guild, days: int | Period, now: datetime | None = None) -> dict:
    """The /heatmap document."""
    win = window(guild, days, now)
    closed, tail = split(win)
    compute = lambda w: queries.heatmap_cells(guild, w)  # noqa: E731
    empty = [[0] * 24 for _ in range(7)]
    old = closed_part(guild, "heatmap", closed, compute, empty)
    new = tail_part(tail, compute, empty)
    cells = [[a + b for a, b in zip(r1, r2, strict=True)] for r1, r2 in zip(old, new, strict=True)]
    return queries.heatmap_doc(guild, win.days, cells)
