"""New-member retention: per join week, how many joined, were active within a day and a week,
and were still members 30 days later.

A join's first activity (MemberEvent.first_active_at) is written by the collector as it commits
the member's first counted message or voice minute (collector.writer), to the hour; this module
only reads joins and leaves. Weeks are the guild's local weeks, Monday first.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from stats.models import Guild, MemberEvent

FIRST_DAY = timedelta(days=1)
FIRST_WEEK = timedelta(days=7)
STAY = timedelta(days=30)


def week_starts(guild: Guild, weeks: int, now: datetime) -> list[date]:
    """The local Mondays of the last `weeks` weeks, oldest first (this week last)."""
    today = now.astimezone(guild.tzinfo).date()
    monday = today - timedelta(days=today.weekday())
    return [monday - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]


def local_midnight(guild: Guild, day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=guild.tzinfo)


def still_member(events: list[tuple[datetime, int]], joined: datetime) -> bool:
    """Whether the member's last join or leave up to 30 days after joining is a join."""
    times = [at for at, _ in events]
    i = bisect_right(times, joined + STAY)
    return events[i - 1][1] == MemberEvent.Kind.JOIN


def cohorts(guild: Guild, weeks: int, now: datetime | None = None) -> dict:
    """The /retention document: one cohort per local week, oldest first."""
    now = now or timezone.now()
    starts = week_starts(guild, weeks, now)
    bounds = [local_midnight(guild, d) for d in starts] + [
        local_midnight(guild, starts[-1] + timedelta(days=7))
    ]
    joins = list(
        MemberEvent.objects.filter(
            guild_id=guild.id, kind=MemberEvent.Kind.JOIN, at__gte=bounds[0], at__lt=bounds[-1]
        ).values_list("user_id", "at", "first_active_at")
    )
    # Joins and leaves up to 30 days after the last week, per member: for "still a member".
    history: dict[int, list[tuple[datetime, int]]] = {}
    rows = MemberEvent.objects.filter(
        guild_id=guild.id, at__gte=bounds[0], at__lt=bounds[-1] + STAY
    ).order_by("at", "kind")
    for uid, at, kind in rows.values_list("user_id", "at", "kind"):
        history.setdefault(uid, []).append((at, kind))
    out = []
    for i, start in enumerate(starts):
        mine = [j for j in joins if bounds[i] <= j[1] < bounds[i + 1]]
        settled = bounds[i + 1] + STAY <= now  # every member of the week has had 30 days

        def within(span: timedelta, rows=mine) -> int:
            return sum(1 for _, at, first in rows if first is not None and first < at + span)

        out.append(
            {
                "week_start": start.isoformat(),
                "joined": len(mine),
                "active_first_day": within(FIRST_DAY),
                "active_first_week": within(FIRST_WEEK),
                "still_member_after_30_days": (
                    sum(1 for uid, at, _ in mine if still_member(history[uid], at))
                    if settled
                    else None
                ),
            }
        )
    return {
        "guild_id": str(guild.id),
        "weeks": weeks,
        "timezone": guild.timezone,
        "cohorts": out,
    }
