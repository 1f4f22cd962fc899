"""Time windows of the stats queries, and the SQL fragments that scope rollups to them.

Windows are local calendar days (see stats.queries); an hour belongs to the
local day of its first instant (stats.rollups.local_day).
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import connection
from django.utils import timezone as dj_timezone

from stats.models import Guild, hour_of, hour_start
from stats.rollups import channels_not_in, local_day
from stats.tables import keys

EPOCH = date(1970, 1, 1)
MAX_DAYS = 3650
FIRST_DATE = date(2015, 1, 1)  # Discord's epoch: nothing to count before it
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class PeriodError(ValueError):
    """A period the API refuses (400): its message says why."""


def parse_date(value) -> date:
    """A local date written YYYY-MM-DD (nothing else: no times, no week dates)."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not ISO_DATE.fullmatch(value):
        raise PeriodError("must be a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PeriodError("must be a date YYYY-MM-DD") from None


@dataclass(frozen=True)
class Period:
    """What a request asks for: the last `days` local days, or local dates start..end
    (inclusive). Its text is part of result cache keys."""

    days: int
    start: date | None = None
    end: date | None = None

    @classmethod
    def parse(
        cls, days: int | None, start: date | None, end: date | None, default_days: int
    ) -> Period:
        """The period of a request's `days`, `start` and `end`; PeriodError when they clash."""
        if start is None and end is None:
            return cls(days or default_days)
        if days is not None:
            raise PeriodError("give either days or start and end, not both")
        if start is None or end is None:
            raise PeriodError("start and end go together")
        if end < start:
            raise PeriodError("end is before start")
        if start < FIRST_DATE:
            raise PeriodError(f"start is before {FIRST_DATE.isoformat()}")
        length = (end - start).days + 1
        if length > MAX_DAYS:
            raise PeriodError(f"a range is at most {MAX_DAYS} days (this one has {length})")
        return cls(length, start, end)

    def __str__(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}" if self.start else str(self.days)


def utc_offset(tz: zoneinfo.ZoneInfo, hour: int) -> int:
    """The zone's UTC offset in seconds at the start of a UTC hour."""
    return int(hour_start(hour).astimezone(tz).utcoffset().total_seconds())


def first_hour_of_day(tz_name: str, day: int) -> int:
    """The first UTC hour that local_day puts on `day` or later (a skipped day yields the next
    one's)."""
    midnight = day * 24
    hour = midnight - utc_offset(zoneinfo.ZoneInfo(tz_name), midnight) // 3600
    # The estimate uses the offset at UTC midnight; DST or half-hour offsets move it by an hour or
    # two.
    while local_day(tz_name, hour - 1) >= day:
        hour -= 1
    while local_day(tz_name, hour) < day:
        hour += 1
    return hour


@dataclass(frozen=True)
class Window:
    """Local days first_day..last_day of a timezone, as the UTC hours first..last (inclusive)."""

    days: int
    tz_name: str
    first_day: int
    last_day: int
    first: int
    last: int
    ends_now: bool = True  # last is the current hour (else the window lies wholly in the past)

    @classmethod
    def ending(cls, days: int, tz_name: str = "UTC", now: datetime | None = None) -> Window:
        """The `days` local days ending with today, through the current hour."""
        last = hour_of(now or dj_timezone.now())
        last_day = local_day(tz_name, last)
        first_day = last_day - days + 1
        return cls(days, tz_name, first_day, last_day, first_hour_of_day(tz_name, first_day), last)

    @classmethod
    def between(
        cls, start: date, end: date, tz_name: str = "UTC", now: datetime | None = None
    ) -> Window:
        """Local dates start..end (inclusive); through the current hour when end is today."""
        now_hour = hour_of(now or dj_timezone.now())
        today = local_day(tz_name, now_hour)
        first_day, last_day = (start - EPOCH).days, (end - EPOCH).days
        if last_day > today:
            today_text = (EPOCH + timedelta(days=today)).isoformat()
            raise PeriodError(f"end is after today ({today_text} in the guild's timezone)")
        first = first_hour_of_day(tz_name, first_day)
        if last_day == today:
            return cls(last_day - first_day + 1, tz_name, first_day, last_day, first, now_hour)
        last = first_hour_of_day(tz_name, last_day + 1) - 1
        return cls(last_day - first_day + 1, tz_name, first_day, last_day, first, last, False)

    def previous(self) -> Window:
        """The same number of local days just before this window."""
        first_day = self.first_day - self.days
        return Window(
            self.days,
            self.tz_name,
            first_day,
            self.first_day - 1,
            first_hour_of_day(self.tz_name, first_day),
            self.first - 1,
            False,
        )

    @property
    def start(self) -> datetime:
        return hour_start(self.first)

    @property
    def end(self) -> datetime:
        return hour_start(self.last + 1)


def window(guild: Guild, period: int | Period, now: datetime | None = None) -> Window:
    """The guild's window: `days` local days ending today, or a Period's (PeriodError when its
    end is after the guild's today)."""
    if isinstance(period, Period) and period.start is not None:
        return Window.between(period.start, period.end, guild.timezone, now)
    days = period.days if isinstance(period, Period) else period
    return Window.ending(days, guild.timezone, now)


# --- SQL fragments ------------------------------------------------------------


def excluded_channel_ids(guild: Guild) -> list[int]:
    """Channels the guild's admin excluded; read once per Guild instance (one request)."""
    cached = guild.__dict__.get("_excluded_ids")
    if cached is None:
        cached = guild.__dict__["_excluded_ids"] = sorted(
            guild.excluded_channels.values_list("id", flat=True)
        )
    return cached


def role_sql(guild: Guild, role: int | None) -> tuple[str, list]:
    """SQL keeping the rows of members who hold the role now (tables with a member key), or
    nothing."""
    if role is None:
        return "", []
    return " AND " + keys.ROLE, [guild.id, role]


def scope_sql(
    guild: Guild, first: int, last: int, user_id: int | None = None, role: int | None = None
) -> tuple[str, list]:
    """WHERE clause for the guild's visible HourlyStat rows in hours first..last (of one member,
    or of a role's holders)."""
    members: list[str] = []  # each of these names the guild as well
    params: list = []
    if user_id is not None:
        members.append(keys.USER)
        params += [guild.id, user_id]
    if role is not None:
        members.append(keys.ROLE)
        params += [guild.id, role]
    if not members:
        members, params = [keys.GUILD], [guild.id]
    sql = " AND ".join(members) + " AND hour >= %s AND hour <= %s"
    params += [first, last]
    not_in, ids = keys.channels_not_in(guild.id, excluded_channel_ids(guild))
    return sql + not_in, params + ids


def channel_hours_sql(guild: Guild, first: int, last: int) -> tuple[str, list]:
    """WHERE clause for the guild's visible HourlyChannelStat rows in hours first..last."""
    not_in, ids = channels_not_in(excluded_channel_ids(guild))
    return "guild_id = %s AND hour >= %s AND hour <= %s" + not_in, [guild.id, first, last, *ids]


def guild_hours_sql(guild: Guild, first: int, last: int) -> tuple[str, list]:
    """WHERE clause for HourlyGuildStat rows of hours first..last (exclusions are built in)."""
    return "guild_id = %s AND hour >= %s AND hour <= %s", [guild.id, first, last]


def guild_days_sql(guild: Guild, first_day: int, last_day: int) -> tuple[str, list]:
    """WHERE clause for DailyGuildStat rows of local days first_day..last_day."""
    return "guild_id = %s AND day >= %s AND day <= %s", [guild.id, first_day, last_day]


def days_sql(
    guild: Guild,
    first_day: int,
    last_day: int,
    user_id: int | None = None,
    role: int | None = None,
) -> tuple[str, list]:
    """WHERE clause for DailyMemberStat rows of local days first_day..last_day (exclusions are
    built in)."""
    sql = keys.GUILD_KEY + " AND day >= %s AND day <= %s"
    params: list = [guild.id, first_day, last_day]
    if user_id is not None:
        sql += " AND " + keys.USER
        params += [guild.id, user_id]
    holders, holder_params = role_sql(guild, role)
    return sql + holders, params + holder_params


def offset_segments(tz: zoneinfo.ZoneInfo, first: int, last: int) -> list[tuple[int, int]]:
    """(first hour, offset seconds) pieces of constant UTC offset covering first..last."""
    segments = [(first, utc_offset(tz, first))]
    cur = first
    while cur < last:
        nxt = min(cur + 24, last)
        if utc_offset(tz, nxt) != segments[-1][1]:
            lo, hi = cur, nxt  # offset(lo) is the segment's, offset(hi) differs: bisect the change
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if utc_offset(tz, mid) == segments[-1][1]:
                    lo = mid
                else:
                    hi = mid
            segments.append((hi, utc_offset(tz, hi)))
            cur = hi
        else:
            cur = nxt
    return segments


def local_seconds_sql(tz: zoneinfo.ZoneInfo, win: Window) -> tuple[str, list]:
    """SQL for an hour's local wall-clock time in seconds since the epoch."""
    segments = offset_segments(tz, win.first, win.last)
    if len(segments) == 1:
        return "(CAST(hour AS BIGINT) * 3600 + %s)", [segments[0][1]]
    parts, params = [], []
    for (_, offset), (until, _) in zip(segments, segments[1:], strict=False):
        parts.append("WHEN hour < %s THEN CAST(hour AS BIGINT) * 3600 + %s")
        params += [until, offset]
    params.append(segments[-1][1])
    return f"(CASE {' '.join(parts)} ELSE CAST(hour AS BIGINT) * 3600 + %s END)", params


def fetch(sql: str, params: Iterable) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(sql, list(params))
        return cur.fetchall()
