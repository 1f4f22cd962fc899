"""A member against their guild, for the member page: the guild's median active member per day,
the member's messages by local hour, their rank by messages week by week, and (with compare)
their previous period.

Medians are not sums: no rollup holds them, so they are computed here from the member-days of
the window (one row per active member and day), for windows of at most MEDIAN_MAX_DAYS days.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from statistics import median

from stats import queries
from stats.models import Guild
from stats.windows import (
    EPOCH,
    Period,
    Window,
    days_sql,
    fetch,
    local_seconds_sql,
    scope_sql,
    window,
)

MEDIAN_MAX_DAYS = 90
HISTORY_MAX_WEEKS = 53
MEMBER_DAYS = queries.MEMBER_DAYS


def median_series(guild: Guild, win: Window) -> list[dict] | None:
    """Per local day, the median messages and voice minutes of the members active that day
    (None over more than MEDIAN_MAX_DAYS days)."""
    if win.days > MEDIAN_MAX_DAYS:
        return None
    where, params = days_sql(guild, win.first_day, win.last_day)
    per_day: dict[int, tuple[list[int], list[int]]] = {}
    for day, m, v in fetch(
        f"SELECT day, messages, voice_seconds FROM {MEMBER_DAYS} WHERE {where}", params
    ):
        messages, voice = per_day.setdefault(int(day), ([], []))
        messages.append(m)
        voice.append(v)
    found = {day: (median(m), median(v), len(m)) for day, (m, v) in per_day.items()}
    return [
        {"t": p["t"], "messages": p["messages"], "voice_minutes": p["voice_minutes"]}
        for p in queries.series_points(guild, win, "day", found)
    ]


def hours(guild: Guild, win: Window, user_id: int) -> list[int]:
    """The member's messages by local hour of the day (00:00 first) in the window."""
    where, params = scope_sql(guild, win.first, win.last, user_id)
    local, local_params = local_seconds_sql(guild.tzinfo, win)
    cells = [0] * 24
    for hr, m in fetch(
        f"SELECT ({local} %% 86400) / 3600 AS hr, SUM(messages) FROM {queries.TABLE}"
        f" WHERE {where} GROUP BY hr",
        local_params + params,
    ):
        cells[int(hr)] += m or 0
    return cells


def rank_history(guild: Guild, win: Window, user_id: int) -> list[dict] | None:
    """The member's rank by messages in each local week (Monday first) the window touches, the
    first and last weeks cut to the window; None for windows of more than HISTORY_MAX_WEEKS."""
    # Day 0 (1970-01-01) was a Thursday: (day + 3) // 7 numbers the weeks from a Monday.
    first_week, last_week = (win.first_day + 3) // 7, (win.last_day + 3) // 7
    if last_week - first_week + 1 > HISTORY_MAX_WEEKS:
        return None
    where, params = days_sql(guild, win.first_day, win.last_day)
    ranks = dict(
        fetch(
            "SELECT wk, r FROM (SELECT wk, uid, ROW_NUMBER() OVER"
            " (PARTITION BY wk ORDER BY v DESC, uid ASC) AS r FROM"
            f" (SELECT (day + 3) / 7 AS wk, {queries.DAY_USER} AS uid, SUM(messages) AS v"
            f" FROM {MEMBER_DAYS} WHERE {where} GROUP BY (day + 3) / 7, member_key"
            " HAVING SUM(messages) > 0) AS s) AS ranked WHERE uid = %s",
            params + [user_id],
        )
    )
    return [
        {
            "week_start": (EPOCH + timedelta(days=wk * 7 - 3)).isoformat(),
            "rank": ranks.get(wk),
        }
        for wk in range(first_week, last_week + 1)
    ]


def previous(guild: Guild, win: Window, user_id: int) -> dict:
    """The member's totals and ranks in the period of equal length just before."""
    prev = win.previous()
    where, params = days_sql(guild, prev.first_day, prev.last_day, user_id)
    m, v = fetch(
        f"SELECT SUM(messages), SUM(voice_seconds) FROM {MEMBER_DAYS} WHERE {where}", params
    )[0]
    m, v = m or 0, v or 0
    return {
        "messages": m,
        "voice_minutes": v / 60,
        "rank": queries.member_ranks(guild, prev, user_id, m, v),
    }


def context(
    guild: Guild,
    user_id: int,
    days: int | Period,
    now: datetime | None = None,
    compare: bool = False,
) -> dict | None:
    """The /members/{uid}/context document; None for an unknown member."""
    if queries.member_name(guild, user_id) is None:
        return None
    win = window(guild, days, now)
    doc = {
        "guild_id": str(guild.id),
        "user_id": str(user_id),
        "days": win.days,
        "median": median_series(guild, win),
        "hours": hours(guild, win, user_id),
        "rank_history": rank_history(guild, win, user_id),
    }
    if compare:
        doc["previous"] = previous(guild, win, user_id)
    return doc
