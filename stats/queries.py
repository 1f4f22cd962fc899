"""The stats query layer: the only home of stats SQL. Plain functions in, plain dicts out.

The window of `days` is the last `days * 24` whole UTC hours up to and including
the current one: hours `h` with `last - days*24 + 1 <= h <= last`, `last =
hour_of(now)`. Documents give it as `start` (inclusive) and `end` (exclusive),
ISO-8601 UTC. Local days and the heatmap use the guild's timezone; an hour
belongs to the local day (and weekday, hour) of its first instant, so zones
with half-hour offsets attribute each UTC hour whole.

Excluded channels are hidden everywhere: their rollups count in no total, list,
rank or chart, also for the time before they were excluded.

Aggregates are computed in SQL (GROUP BY over the rollup table); the local-day
bucket is a SQL expression built from the window's UTC-offset segments, so DST
changes split days correctly and distinct-member counts per day stay exact.
Snowflakes leave this module as strings.
"""
from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterable

from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone as dj_timezone

from stats.models import Channel, Guild, HourlyStat, Member, MemberEvent, hour_of, hour_start

METRICS = ("messages", "voice")
INTERVALS = ("day", "hour")
EPOCH = date(1970, 1, 1)
TABLE = HourlyStat._meta.db_table


def iso(dt: datetime) -> str:
    """ISO-8601 UTC with a Z suffix."""
    return dt.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Window:
    """Hours first..last inclusive: `days * 24` hours ending with the hour of `now`."""

    days: int
    first: int
    last: int

    @classmethod
    def ending(cls, days: int, now: datetime | None = None) -> "Window":
        """The window of `days` ending with the current hour."""
        last = hour_of(now or dj_timezone.now())
        return cls(days, last - days * 24 + 1, last)

    def previous(self) -> "Window":
        """The window of the same length just before this one."""
        return Window(self.days, self.first - self.days * 24, self.first - 1)

    @property
    def start(self) -> datetime:
        return hour_start(self.first)

    @property
    def end(self) -> datetime:
        return hour_start(self.last + 1)


# --- SQL fragments ------------------------------------------------------------


def excluded_channel_ids(guild: Guild) -> list[int]:
    """Channels the guild's admin excluded; read once per Guild instance (one request)."""
    cached = guild.__dict__.get("_excluded_ids")
    if cached is None:
        cached = guild.__dict__["_excluded_ids"] = sorted(guild.excluded_channels.values_list("id", flat=True))
    return cached


def scope_sql(guild: Guild, win: Window, user_id: int | None = None) -> tuple[str, list]:
    """WHERE clause for the guild's visible rollups in the window (optionally one user)."""
    sql = "guild_id = %s AND hour >= %s AND hour <= %s"
    params: list = [guild.id, win.first, win.last]
    if user_id is not None:
        sql += " AND user_id = %s"
        params.append(user_id)
    excluded = excluded_channel_ids(guild)
    if excluded:
        sql += f" AND channel_id NOT IN ({', '.join(['%s'] * len(excluded))})"
        params.extend(excluded)
    return sql, params


def utc_offset(tz: zoneinfo.ZoneInfo, hour: int) -> int:
    """The zone's UTC offset in seconds at the start of a UTC hour."""
    return int(hour_start(hour).astimezone(tz).utcoffset().total_seconds())


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
    for (_, offset), (until, _) in zip(segments, segments[1:]):
        parts.append("WHEN hour < %s THEN CAST(hour AS BIGINT) * 3600 + %s")
        params += [until, offset]
    params.append(segments[-1][1])
    return f"(CASE {' '.join(parts)} ELSE CAST(hour AS BIGINT) * 3600 + %s END)", params


def fetch(sql: str, params: Iterable) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(sql, list(params))
        return cur.fetchall()


ACTIVE = "COUNT(DISTINCT CASE WHEN messages > 0 OR voice_seconds > 0 THEN user_id END)"


# --- Guilds and totals ----------------------------------------------------------


def visible_guilds(user) -> list[dict]:
    """Guilds the viewer may see, by name."""
    rows = Guild.objects.visible_to(user).order_by("name", "id").values_list("id", "name", "member_count")
    return [{"id": str(gid), "name": name, "member_count": count} for gid, name, count in rows]


def member_events(guild: Guild, windows: list[Window]) -> list[dict]:
    """Joins and leaves in each of the windows, one query."""
    aggregates = {}
    for i, win in enumerate(windows):
        during = Q(at__gte=win.start, at__lt=win.end)
        aggregates[f"j{i}"] = Count("id", filter=during & Q(kind=MemberEvent.Kind.JOIN))
        aggregates[f"l{i}"] = Count("id", filter=during & Q(kind=MemberEvent.Kind.LEAVE))
    lo = min(w.start for w in windows)
    hi = max(w.end for w in windows)
    row = MemberEvent.objects.filter(guild_id=guild.id, at__gte=lo, at__lt=hi).aggregate(**aggregates)
    return [{"joins": row[f"j{i}"] or 0, "leaves": row[f"l{i}"] or 0} for i in range(len(windows))]


def guild_totals(guild: Guild, days: int, now: datetime | None = None) -> dict:
    """Messages, voice minutes, active members, joins and leaves in the window."""
    win = Window.ending(days, now)
    where, params = scope_sql(guild, win)
    (messages, voice, active), = fetch(
        f"SELECT SUM(messages), SUM(voice_seconds), {ACTIVE} FROM {TABLE} WHERE {where}", params
    )
    events = member_events(guild, [win])[0]
    return {"messages": messages or 0, "voice_minutes": (voice or 0) / 60, "active_members": active or 0, **events}


def guild_totals_compared(guild: Guild, days: int, now: datetime | None = None) -> dict:
    """Headline cards: the window's totals beside the previous window's, with relative change."""
    win = Window.ending(days, now)
    prev = win.previous()
    both = Window(days * 2, prev.first, win.last)
    where, params = scope_sql(guild, both)
    cur, old = f"hour >= {int(win.first)}", f"hour < {int(win.first)}"
    row = fetch(
        f"SELECT SUM(CASE WHEN {cur} THEN messages ELSE 0 END), SUM(CASE WHEN {cur} THEN voice_seconds ELSE 0 END),"
        f" COUNT(DISTINCT CASE WHEN {cur} AND (messages > 0 OR voice_seconds > 0) THEN user_id END),"
        f" SUM(CASE WHEN {old} THEN messages ELSE 0 END), SUM(CASE WHEN {old} THEN voice_seconds ELSE 0 END),"
        f" COUNT(DISTINCT CASE WHEN {old} AND (messages > 0 OR voice_seconds > 0) THEN user_id END)"
        f" FROM {TABLE} WHERE {where}",
        params,
    )[0]
    events = member_events(guild, [win, prev])
    docs = []
    for (messages, voice, active), ev in zip((row[0:3], row[3:6]), events):
        docs.append({"messages": messages or 0, "voice_minutes": (voice or 0) / 60, "active_members": active or 0, **ev})
    current, previous = docs
    change = {
        k: (None if previous[k] == 0 else (current[k] - previous[k]) / previous[k]) for k in current
    }
    return {"days": days, "start": iso(win.start), "end": iso(win.end), "current": current, "previous": previous, "change": change}


# --- Series ---------------------------------------------------------------------


def series(guild: Guild, win: Window, interval: str, user_id: int | None = None) -> list[dict]:
    """Messages, voice minutes, active members per hour or per local day, zero-filled."""
    where, params = scope_sql(guild, win, user_id)
    if interval == "hour":
        bucket, bucket_params = "hour", []
    else:
        local, bucket_params = local_seconds_sql(guild.tzinfo, win)
        bucket = f"({local} / 86400)"
    rows = fetch(
        f"SELECT {bucket} AS b, SUM(messages), SUM(voice_seconds), {ACTIVE} FROM {TABLE} WHERE {where} GROUP BY b",
        bucket_params + params,
    )
    found = {int(b): (m, v, a) for b, m, v, a in rows}
    if interval == "hour":
        keys = range(win.first, win.last + 1)
        start_of = hour_start
    else:
        tz = guild.tzinfo
        first_day = (win.first * 3600 + utc_offset(tz, win.first)) // 86400
        last_day = (win.last * 3600 + utc_offset(tz, win.last)) // 86400
        keys = range(first_day, last_day + 1)

        def start_of(day: int) -> datetime:
            return datetime.combine(EPOCH + timedelta(days=day), time(0), tzinfo=tz)

    out = []
    for key in keys:
        m, v, a = found.get(key, (0, 0, 0))
        out.append({"t": iso(start_of(key)), "messages": m or 0, "voice_minutes": (v or 0) / 60, "active_members": a or 0})
    return out


def guild_stats(guild: Guild, days: int, interval: str = "day", now: datetime | None = None) -> dict:
    """The /stats document: window, totals and a series by hour or local day."""
    win = Window.ending(days, now)
    return {
        "guild_id": str(guild.id),
        "days": days,
        "start": iso(win.start),
        "end": iso(win.end),
        "interval": interval,
        "totals": guild_totals(guild, days, now),
        "series": series(guild, win, interval),
    }


# --- Leaderboards and members -----------------------------------------------------


def member_names(guild: Guild, user_ids: Iterable[int]) -> dict[int, str]:
    """Display names of the given users (user id as text when unknown)."""
    ids = list(user_ids)
    members = Member.objects.filter(guild_id=guild.id, user_id__in=ids).only("user_id", "username", "global_name", "nick")
    names = {m.user_id: m.display_name for m in members}
    return {uid: names.get(uid, str(uid)) for uid in ids}


def channel_names(guild: Guild, channel_ids: Iterable[int]) -> dict[int, str]:
    """Channel names (the id as text when unknown)."""
    ids = list(channel_ids)
    names = dict(Channel.objects.filter(guild_id=guild.id, id__in=ids).values_list("id", "name"))
    return {cid: names.get(cid, str(cid)) for cid in ids}


def metric_value(metric: str, raw: int) -> int | float:
    """Messages as a count; voice as minutes (seconds / 60, never rounded)."""
    return raw / 60 if metric == "voice" else raw


def leaderboard(guild: Guild, metric: str, days: int, limit: int = 10, offset: int = 0, now: datetime | None = None) -> dict:
    """Top members by messages or voice; ties broken by user id ascending."""
    column = "voice_seconds" if metric == "voice" else "messages"
    win = Window.ending(days, now)
    where, params = scope_sql(guild, win)
    rows = fetch(
        f"SELECT user_id, SUM({column}) AS v FROM {TABLE} WHERE {where} GROUP BY user_id"
        f" HAVING SUM({column}) > 0 ORDER BY v DESC, user_id ASC LIMIT %s OFFSET %s",
        params + [limit, offset],
    )
    names = member_names(guild, [uid for uid, _ in rows]) if rows else {}
    entries = [
        {"rank": offset + i + 1, "user_id": str(uid), "name": names[uid], "value": metric_value(metric, v)}
        for i, (uid, v) in enumerate(rows)
    ]
    return {"guild_id": str(guild.id), "metric": metric, "days": days, "entries": entries}


def member_ranks(guild: Guild, win: Window, user_id: int, messages: int, voice_seconds: int) -> dict:
    """The member's leaderboard rank per metric (None when the value is zero)."""
    where, params = scope_sql(guild, win)
    ahead_m, ahead_v = fetch(
        "SELECT SUM(CASE WHEN m > %s OR (m = %s AND user_id < %s) THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN v > %s OR (v = %s AND user_id < %s) THEN 1 ELSE 0 END)"
        f" FROM (SELECT user_id, SUM(messages) AS m, SUM(voice_seconds) AS v FROM {TABLE} WHERE {where}"
        " GROUP BY user_id) AS per_user",
        [messages, messages, user_id, voice_seconds, voice_seconds, user_id] + params,
    )[0]
    return {
        "messages": (ahead_m or 0) + 1 if messages > 0 else None,
        "voice": (ahead_v or 0) + 1 if voice_seconds > 0 else None,
    }


def member_stats(guild: Guild, user_id: int, days: int, now: datetime | None = None) -> dict | None:
    """One member's totals, ranks, per-channel breakdown and daily series; None if unknown."""
    win = Window.ending(days, now)
    member = Member.objects.filter(guild_id=guild.id, user_id=user_id).first()
    if member is None and not HourlyStat.objects.filter(guild_id=guild.id, user_id=user_id).exists():
        return None
    where, params = scope_sql(guild, win, user_id)
    rows = fetch(
        f"SELECT channel_id, SUM(messages) AS m, SUM(voice_seconds) AS v FROM {TABLE} WHERE {where}"
        " GROUP BY channel_id ORDER BY m DESC, v DESC, channel_id ASC",
        params,
    )
    names = channel_names(guild, [cid for cid, _, _ in rows]) if rows else {}
    messages = sum(m for _, m, _ in rows)
    voice = sum(v for _, _, v in rows)
    return {
        "guild_id": str(guild.id),
        "user_id": str(user_id),
        "name": member.display_name if member else str(user_id),
        "days": days,
        "messages": messages,
        "voice_minutes": voice / 60,
        "rank": member_ranks(guild, win, user_id, messages, voice),
        "channels": [
            {"channel_id": str(cid), "name": names[cid], "messages": m, "voice_minutes": v / 60} for cid, m, v in rows
        ],
        "series": series(guild, win, "day", user_id),
    }


# --- Channels and heatmap ------------------------------------------------------------


def top_channels(guild: Guild, days: int, now: datetime | None = None) -> dict:
    """Channels with activity in the window, busiest first (messages, then voice, then id)."""
    win = Window.ending(days, now)
    where, params = scope_sql(guild, win)
    rows = fetch(
        f"SELECT channel_id, SUM(messages) AS m, SUM(voice_seconds) AS v, {ACTIVE} FROM {TABLE} WHERE {where}"
        " GROUP BY channel_id HAVING SUM(messages) > 0 OR SUM(voice_seconds) > 0"
        " ORDER BY m DESC, v DESC, channel_id ASC",
        params,
    )
    names = channel_names(guild, [row[0] for row in rows]) if rows else {}
    return {
        "guild_id": str(guild.id),
        "days": days,
        "channels": [
            {"channel_id": str(cid), "name": names[cid], "messages": m, "voice_minutes": v / 60, "active_members": a}
            for cid, m, v, a in rows
        ],
    }


def heatmap(guild: Guild, days: int = 28, now: datetime | None = None) -> dict:
    """Messages by local weekday (Monday first) and local hour: 7 rows of 24 counts."""
    win = Window.ending(days, now)
    where, params = scope_sql(guild, win)
    local, local_params = local_seconds_sql(guild.tzinfo, win)
    # 1970-01-01 was a Thursday: +3 makes Monday 0. %% is a literal % in parametrised SQL.
    rows = fetch(
        f"SELECT (({local} / 86400) + 3) %% 7 AS wd, ({local} %% 86400) / 3600 AS hr, SUM(messages)"
        f" FROM {TABLE} WHERE {where} GROUP BY wd, hr",
        local_params + local_params + params,
    )
    cells = [[0] * 24 for _ in range(7)]
    for wd, hr, m in rows:
        cells[int(wd)][int(hr)] += m or 0
    return {"guild_id": str(guild.id), "days": days, "timezone": guild.timezone, "cells": cells}
