"""The API's documents through the result cache: one function per endpoint, shared by the
API, the pages and `warm_cache`, so that all of them hit the same keys.

The current hour is part of every key: the window moves each hour even when no
new data arrives. A miss is computed by stats.periods: cached closed days plus
today, read again. A role-filtered document is computed whole by stats.queries:
the closed days cached are the whole guild's.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from stats import cohorts, member_context, periods, queries
from stats.cache import cached
from stats.models import Guild, hour_of
from stats.windows import Period

HEATMAP_DAYS = 28


def default_days(guild: Guild) -> int:
    """The guild's lookback (30 unless its admin set another)."""
    return guild.default_days or 30


def with_options(params: dict, compare: bool = False, role: int | None = None) -> dict:
    """Key parameters; `compare` and `role` only when asked, so plain keys stay as they were."""
    extra = {"compare": 1} if compare else {}
    if role is not None:
        extra["role"] = role
    return {**params, **extra}


def stats(
    guild: Guild,
    days: int | Period,
    interval: str = "day",
    now: datetime | None = None,
    compare: bool = False,
    role: int | None = None,
) -> dict:
    """Cached /stats document."""
    now = now or timezone.now()
    params = {"days": days, "interval": interval, "hour": hour_of(now)}
    return cached(
        guild,
        "stats",
        with_options(params, compare, role),
        lambda: (
            periods.stats(guild, days, interval, now, compare)
            if role is None
            else queries.guild_stats(guild, days, interval, now, compare, role)
        ),
    )


def totals_compared(guild: Guild, days: int | Period, now: datetime | None = None) -> dict:
    """Cached headline cards (this window beside the previous one)."""
    now = now or timezone.now()
    params = {"days": days, "hour": hour_of(now)}
    return cached(guild, "compare", params, lambda: periods.totals_compared(guild, days, now))


def leaderboard(
    guild: Guild,
    metric: str,
    days: int | Period,
    limit: int = 10,
    offset: int = 0,
    now: datetime | None = None,
    compare: bool = False,
    role: int | None = None,
) -> dict:
    """Cached /leaderboard document."""
    now = now or timezone.now()
    params = {
        "metric": metric,
        "days": days,
        "limit": limit,
        "offset": offset,
        "hour": hour_of(now),
    }
    return cached(
        guild,
        "leaderboard",
        with_options(params, compare, role),
        lambda: (
            periods.leaderboard(guild, metric, days, limit, offset, now, compare)
            if role is None
            else queries.leaderboard(guild, metric, days, limit, offset, now, compare, role)
        ),
    )


def member(
    guild: Guild, user_id: int, days: int | Period, now: datetime | None = None
) -> dict | None:
    """Cached /members/{uid} document (None for an unknown member)."""
    now = now or timezone.now()
    params = {"user": user_id, "days": days, "hour": hour_of(now)}
    return cached(guild, "member", params, lambda: periods.member(guild, user_id, days, now))


def member_context_doc(
    guild: Guild,
    user_id: int,
    days: int | Period,
    now: datetime | None = None,
    compare: bool = False,
) -> dict | None:
    """Cached /members/{uid}/context document (None for an unknown member)."""
    now = now or timezone.now()
    params = with_options({"user": user_id, "days": days, "hour": hour_of(now)}, compare)
    return cached(
        guild,
        "member_context",
        params,
        lambda: member_context.context(guild, user_id, days, now, compare),
    )


def channels(
    guild: Guild, days: int | Period, now: datetime | None = None, role: int | None = None
) -> dict:
    """Cached /channels document."""
    now = now or timezone.now()
    params = with_options({"days": days, "hour": hour_of(now)}, role=role)
    return cached(
        guild,
        "channels",
        params,
        lambda: (
            periods.channels(guild, days, now)
            if role is None
            else queries.top_channels(guild, days, now, role)
        ),
    )


def heatmap(
    guild: Guild,
    days: int | Period = HEATMAP_DAYS,
    now: datetime | None = None,
    role: int | None = None,
) -> dict:
    """Cached /heatmap document."""
    now = now or timezone.now()
    params = with_options({"days": days, "hour": hour_of(now)}, role=role)
    return cached(
        guild,
        "heatmap",
        params,
        lambda: (
            periods.heatmap(guild, days, now)
            if role is None
            else queries.heatmap(guild, days, now, role)
        ),
    )


def roles(guild: Guild) -> dict:
    """Cached /roles document (roles change with the data version like everything else)."""
    return cached(guild, "roles", {}, lambda: queries.roles(guild))


def retention(guild: Guild, weeks: int, now: datetime | None = None) -> dict:
    """Cached /retention document."""
    now = now or timezone.now()
    params = {"weeks": weeks, "hour": hour_of(now)}
    return cached(guild, "retention", params, lambda: cohorts.cohorts(guild, weeks, now))


def warm(guild: Guild, now: datetime | None = None) -> int:
    """Compute the default documents for one guild, as the API's plain requests and the
    dashboard (which compares with the previous period) ask for them; returns how many."""
    now = now or timezone.now()
    days = default_days(guild)
    interval = "hour" if days <= 7 else "day"  # the dashboard's natural interval (guild.js)
    stats(guild, days, "day", now)
    stats(guild, days, interval, now, compare=True)
    totals_compared(guild, days, now)
    for metric in ("messages", "voice"):
        leaderboard(guild, metric, days, 10, 0, now)
        leaderboard(guild, metric, days, 10, 0, now, compare=True)
    channels(guild, days, now)
    heatmap(guild, HEATMAP_DAYS, now)
    heatmap(guild, days, now)
    retention(guild, 8, now)
    return 11
