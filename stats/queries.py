"""The stats query layer: the only home of stats SQL. Plain functions in, plain dicts out.

Windows are local calendar days, as users read "the last 30 days" (like Statbot):
`days=N` is the N local days of the guild's timezone ending with today, local
days `today-N+1 … today`. In UTC hours that is from the first hour whose start
falls on the first day (`stats.rollups.local_day`, the one mapping every
rollup uses) through the current hour. Documents give it as `start` (that
hour's start, inclusive) and `end` (the end of the current hour, exclusive),
ISO-8601 UTC. The previous period is the N local days before. An hour belongs
to the local day (and weekday, hour) of its first instant, so zones with
half-hour offsets attribute each UTC hour whole; day bars are whole days, the
last one still filling.

Excluded channels are hidden everywhere: their rollups count in no total, list,
rank or chart, also for the time before they were excluded.

Sources, cheapest first: DailyGuildStat (distinct members per local day) for
the daily series' active members; HourlyGuildStat (the guild per hour: messages,
voice seconds and distinct members, kept by the collector as it writes) for
totals, series and the heatmap; DailyMemberStat (member × local day; excluded
channels already left out) for leaderboards, ranks, active-member counts and
role and member series; HourlyChannelStat (channel × hour) for channel totals;
ChannelMember (each member's last active day per channel) for the channel
list's active members; HourlyStat (channel × user × hour) only for a member's
channel breakdown and role filters (its key starts with guild and member). All
rollups come from the same HourlyStat rows with the same day mapping, so
totals, series and leaderboards add up to the same numbers.

Rollup rows are never empty: the collector writes no zero counter and
rebuild_voice deletes rows it empties. So a row means activity, and counting
rows or distinct users needs no look at the counts (per-day active members,
HourlyStat scans).
Snowflakes leave this module as strings.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time, timedelta

from django.db.models import Count, Q

from mocha.utc import iso
from stats import access
from stats.models import (
    Channel,
    Guild,
    Member,
    MemberEvent,
    MemberRole,
    Role,
    hour_start,  # noqa: F401 (hour_of: part of this module's API)
)
from stats.rollups import channels_not_in
from stats.tables import (
    channel_hours,
    channel_members,
    guild_days,
    guild_hours,
    hourly,
    keys,
    member_days,
)
from stats.windows import (  # noqa: F401 (Window and offset_segments are part of this module's API)
    EPOCH,
    Period,
    Window,
    channel_hours_sql,
    days_sql,
    excluded_channel_ids,
    fetch,
    guild_days_sql,
    guild_hours_sql,
    local_seconds_sql,
    offset_segments,
    scope_sql,
    utc_offset,
    window,
)

METRICS = ("messages", "voice")
INTERVALS = ("day", "hour")
TABLE = hourly.TABLE
CHANNEL_HOURS = channel_hours.TABLE
MEMBER_DAYS = member_days.TABLE
GUILD_HOURS = guild_hours.TABLE
GUILD_DAYS = guild_days.TABLE
CHANNEL_MEMBERS = channel_members.TABLE
DAY_USER = keys.user_id_of(MEMBER_DAYS)  # the user id of a member-day row
HOUR_CHANNEL = keys.channel_id_of(TABLE)  # the channel id of an hourly row
IS_ACTIVE = "(messages > 0 OR voice_seconds > 0)"


# --- Guilds and totals ----------------------------------------------------------


def visible_guilds(user) -> list[dict]:
    """Guilds the viewer may see, by name."""
    rows = (
        access.visible_guilds(user).order_by("name", "id").values_list("id", "name", "member_count")
    )
    return [{"id": str(gid), "name": name, "member_count": count} for gid, name, count in rows]


def member_events(guild: Guild, windows: list[Window], role: int | None = None) -> list[dict]:
    """Joins and leaves in each of the windows, one query (of the role's holders, with one)."""
    aggregates = {}
    for i, win in enumerate(windows):
        during = Q(at__gte=win.start, at__lt=win.end)
        aggregates[f"j{i}"] = Count("id", filter=during & Q(kind=MemberEvent.Kind.JOIN))
        aggregates[f"l{i}"] = Count("id", filter=during & Q(kind=MemberEvent.Kind.LEAVE))
    lo = min(w.start for w in windows)
    hi = max(w.end for w in windows)
    rows = MemberEvent.objects.filter(guild_id=guild.id, at__gte=lo, at__lt=hi)
    if role is not None:
        holders = MemberRole.objects.filter(guild_id=guild.id, role_id=role)
        rows = rows.filter(user_id__in=holders.values("user_id"))
    row = rows.aggregate(**aggregates)
    return [{"joins": row[f"j{i}"] or 0, "leaves": row[f"l{i}"] or 0} for i in range(len(windows))]


def period_totals(
    guild: Guild, windows: list[Window], role: int | None = None
) -> list[tuple[int, int, int]]:
    """(messages, voice seconds, active members) per window, for consecutive windows, in one
    query. With a role, the sums come from its holders' member-days (the same local days)."""
    first, last = windows[0], windows[-1]
    if role is None:
        unit, source = "hour", GUILD_HOURS
        hours, hour_params = guild_hours_sql(guild, first.first, last.last)
    else:
        unit, source = "day", MEMBER_DAYS
        hours, hour_params = days_sql(guild, first.first_day, last.last_day, role=role)
    days, day_params = days_sql(guild, first.first_day, last.last_day, role=role)
    sums, flags, totals, sum_params, flag_params = [], [], [], [], []
    for i, w in enumerate(windows):
        sums += [
            f"SUM(CASE WHEN {unit} >= %s AND {unit} <= %s THEN {col} ELSE 0 END)"
            for col in ("messages", "voice_seconds")
        ]
        bounds = [w.first, w.last] if role is None else [w.first_day, w.last_day]
        sum_params += bounds + bounds
        flags.append(f"MAX(CASE WHEN day >= %s AND day <= %s THEN 1 ELSE 0 END) AS in{i}")
        flag_params += [w.first_day, w.last_day]
        totals.append(f"SUM(in{i})")
    # Distinct members as one row per member (GROUP BY member_key): SQLite then streams the
    # covering (guild, member, day, messages, voice) index instead of sorting for COUNT(DISTINCT).
    row = fetch(
        f"SELECT * FROM (SELECT {', '.join(sums)} FROM {source} WHERE {hours}) AS c,"
        f" (SELECT {', '.join(totals)} FROM (SELECT member_key, {', '.join(flags)}"
        f" FROM {MEMBER_DAYS} WHERE {days} AND {IS_ACTIVE} GROUP BY member_key) AS per_user) AS d",
        sum_params + hour_params + flag_params + day_params,
    )[0]
    n = len(windows)
    return [(row[2 * i] or 0, row[2 * i + 1] or 0, row[2 * n + i] or 0) for i in range(n)]


def hour_sums(guild: Guild, win: Window) -> tuple[int, int]:
    """Messages and voice seconds in the window's hours (no member count)."""
    where, params = guild_hours_sql(guild, win.first, win.last)
    m, v = fetch(
        f"SELECT SUM(messages), SUM(voice_seconds) FROM {GUILD_HOURS} WHERE {where}", params
    )[0]
    return m or 0, v or 0


def totals_doc(messages: int, voice_seconds: int, active: int, events: dict) -> dict:
    return {
        "messages": messages,
        "voice_minutes": voice_seconds / 60,
        "active_members": active,
        **events,
    }


def compared_totals(
    guild: Guild, win: Window, compare: bool = False, role: int | None = None
) -> list[dict]:
    """Totals documents of the window, preceded by the previous window's when comparing."""
    windows = [win.previous(), win] if compare else [win]
    totals = period_totals(guild, windows, role)
    events = member_events(guild, windows, role)
    return [totals_doc(*t, e) for t, e in zip(totals, events, strict=True)]


def guild_totals(guild: Guild, days: int | Period, now: datetime | None = None) -> dict:
    """Messages, voice minutes, active members, joins and leaves in the window."""
    return compared_totals(guild, window(guild, days, now))[0]


def guild_totals_compared(guild: Guild, days: int | Period, now: datetime | None = None) -> dict:
    """Headline cards: the window's totals beside the previous window's, with relative change."""
    win = window(guild, days, now)
    previous, current = compared_totals(guild, win, compare=True)
    return compared_doc(win, current, previous)


def compared_doc(win: Window, current: dict, previous: dict) -> dict:
    """The headline cards' document: both periods' totals and the relative change."""
    change = {
        k: (None if previous[k] == 0 else (current[k] - previous[k]) / previous[k]) for k in current
    }
    return {
        "days": win.days,
        "start": iso(win.start),
        "end": iso(win.end),
        "current": current,
        "previous": previous,
        "change": change,
    }


def roles(guild: Guild) -> dict:
    """The guild's current roles, highest first, with how many members hold each now. @everyone
    (the role whose id is the guild's) is every member: no filter, so not listed."""
    rows = filter_roles(guild).values_list("id", "name", "color", "position")
    held = dict(
        MemberRole.objects.filter(guild_id=guild.id)
        .values("role_id")
        .annotate(n=Count("user_id"))
        .values_list("role_id", "n")
    )
    return {
        "guild_id": str(guild.id),
        "roles": [
            {
                "id": str(rid),
                "name": name,
                "color": f"#{color:06x}" if color else None,
                "position": position,
                "members": held.get(rid, 0),
            }
            for rid, name, color, position in rows
        ],
    }


def filter_roles(guild: Guild):
    """The roles a filter can name: current, and not @everyone."""
    return Role.objects.filter(guild_id=guild.id, deleted=False).exclude(id=guild.id)


def is_role(guild: Guild, role_id: int) -> bool:
    """Whether the guild has that role now (to filter by)."""
    return filter_roles(guild).filter(id=role_id).exists()


# --- Series ---------------------------------------------------------------------


def series(
    guild: Guild, win: Window, interval: str, user_id: int | None = None, role: int | None = None
) -> list[dict]:
    """Messages, voice minutes, active members per hour or per local day, zero-filled."""
    return series_points(guild, win, interval, series_rows(guild, win, interval, user_id, role))


def series_rows(
    guild: Guild, win: Window, interval: str, user_id: int | None = None, role: int | None = None
) -> dict[int, tuple]:
    """hour or local day → (messages, voice seconds, active members), days or hours without
    activity left out."""
    if interval == "hour":
        return hourly_rows(guild, win, user_id, role)
    if user_id is not None:
        return member_daily_rows(guild, win, user_id)
    if role is not None:
        return role_daily_rows(guild, win, role)
    return daily_rows(guild, win)


def series_points(guild: Guild, win: Window, interval: str, found: dict[int, tuple]) -> list[dict]:
    """The zero-filled series of the window from series_rows' answer."""
    if interval == "hour":
        keys: Iterable[int] = range(win.first, win.last + 1)
        start_of = hour_start
    else:
        keys = range(win.first_day, win.last_day + 1)
        tz = guild.tzinfo

        def start_of(day: int) -> datetime:
            return datetime.combine(EPOCH + timedelta(days=day), time(0), tzinfo=tz)

    out = []
    for key in keys:
        m, v, a = found.get(key, (0, 0, 0))
        out.append(
            {
                "t": iso(start_of(key)),
                "messages": m or 0,
                "voice_minutes": (v or 0) / 60,
                "active_members": a or 0,
            }
        )
    return out


def daily_rows(guild: Guild, win: Window) -> dict[int, tuple]:
    """local day → (messages, voice seconds, active members), two queries merged here.

    Sums come from the channel-hours bucketed by local day (the segments reproduce local_day);
    members from the guild-days, one row each. Two plain queries rather than a join of the two:
    PostgreSQL without fresh table statistics (after a bulk load) planned that join as a nested
    loop taking seconds.
    """
    hours, hour_params = guild_hours_sql(guild, win.first, win.last)
    local, local_params = local_seconds_sql(guild.tzinfo, win)
    days, day_params = guild_days_sql(guild, win.first_day, win.last_day)
    sums = fetch(
        f"SELECT {local} / 86400 AS d, SUM(messages), SUM(voice_seconds) "
        f"FROM {GUILD_HOURS} WHERE {hours} GROUP BY d",
        local_params + hour_params,
    )
    active = dict(fetch(f"SELECT day, active_members FROM {GUILD_DAYS} WHERE {days}", day_params))
    return {int(d): (m, v, active.get(int(d), 0)) for d, m, v in sums}


def role_daily_rows(guild: Guild, win: Window, role: int) -> dict[int, tuple]:
    """local day → (messages, voice seconds, active members) of the role's holders: their
    member-days, one row per active member and day."""
    where, params = days_sql(guild, win.first_day, win.last_day, role=role)
    rows = fetch(
        f"SELECT day, SUM(messages), SUM(voice_seconds), COUNT(*) FROM {MEMBER_DAYS}"
        f" WHERE {where} GROUP BY day",
        params,
    )
    return {int(d): (m, v, a) for d, m, v, a in rows}


def member_daily_rows(guild: Guild, win: Window, user_id: int) -> dict[int, tuple]:
    """local day → (messages, voice seconds, 1 if active) of one member."""
    where, params = days_sql(guild, win.first_day, win.last_day, user_id)
    rows = fetch(f"SELECT day, messages, voice_seconds FROM {MEMBER_DAYS} WHERE {where}", params)
    return {int(d): (m, v, 1 if m or v else 0) for d, m, v in rows}


def hourly_rows(
    guild: Guild, win: Window, user_id: int | None = None, role: int | None = None
) -> dict[int, tuple]:
    """hour → (messages, voice seconds, active members): the guild's hours, or a member's or a
    role's from HourlyStat."""
    if user_id is not None or role is not None:
        where, params = scope_sql(guild, win.first, win.last, user_id, role)
        # rows are never empty: a row is an active member
        sql = (
            f"SELECT hour, SUM(messages), SUM(voice_seconds), COUNT(DISTINCT member_key) "
            f"FROM {TABLE} WHERE {where} GROUP BY hour"
        )
    else:
        # Distinct members per hour are counted by the collector as it writes (HourlyGuildStat).
        where, params = guild_hours_sql(guild, win.first, win.last)
        sql = (
            f"SELECT hour, messages, voice_seconds, active_members FROM {GUILD_HOURS} WHERE {where}"
        )
    return {int(hr): (m, v, a) for hr, m, v, a in fetch(sql, params)}


def guild_stats(
    guild: Guild,
    days: int | Period,
    interval: str = "day",
    now: datetime | None = None,
    compare: bool = False,
    role: int | None = None,
) -> dict:
    """The /stats document: window, totals and a series by hour or local day; with `compare`,
    the previous period's totals too; with `role`, of that role's holders only."""
    win = window(guild, days, now)
    totals = compared_totals(guild, win, compare, role)
    previous = totals[0] if compare else None
    points = series(guild, win, interval, role=role)
    return stats_doc(guild, win, interval, totals[-1], points, previous)


def stats_doc(
    guild: Guild,
    win: Window,
    interval: str,
    totals: dict,
    points: list[dict],
    previous: dict | None = None,
) -> dict:
    """The /stats document from its parts (`previous`: the previous period's totals, if asked)."""
    doc = {
        "guild_id": str(guild.id),
        "days": win.days,
        "start": iso(win.start),
        "end": iso(win.end),
        "interval": interval,
        "totals": totals,
        "series": points,
    }
    if previous is not None:
        doc["previous"] = previous
    return doc


# --- Leaderboards and members -----------------------------------------------------


def member_names(guild: Guild, user_ids: Iterable[int]) -> dict[int, str]:
    """Display names of the given users (user id as text when unknown)."""
    ids = list(user_ids)
    members = Member.objects.filter(guild_id=guild.id, user_id__in=ids).only(
        "user_id", "username", "global_name", "nick"
    )
    names = {m.user_id: m.display_name for m in members}
    return {uid: names.get(uid, str(uid)) for uid in ids}


def channel_labels(guild: Guild, channel_ids: Iterable[int]) -> dict[int, tuple[str, bool]]:
    """Channel names (the id as text when unknown) and whether Discord deleted the channel."""
    ids = list(channel_ids)
    rows = Channel.objects.filter(guild_id=guild.id, id__in=ids).values_list(
        "id", "name", "deleted"
    )
    known = {cid: (name, deleted) for cid, name, deleted in rows}
    return {cid: known.get(cid, (str(cid), False)) for cid in ids}


def metric_value(metric: str, raw: int) -> int | float:
    """Messages as a count; voice as minutes (seconds / 60, never rounded)."""
    return raw / 60 if metric == "voice" else raw


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
    """Top members by messages or voice; ties broken by user id ascending. With `compare`, each
    entry has its rank in the previous period (None: not ranked then); with `role`, among that
    role's holders."""
    column = "voice_seconds" if metric == "voice" else "messages"
    win = window(guild, days, now)
    where, params = days_sql(guild, win.first_day, win.last_day, role=role)
    rows = fetch(
        f"SELECT uid, v FROM ({per_member(column, where)}) AS s"
        " ORDER BY v DESC, uid ASC LIMIT %s OFFSET %s",
        params + [limit, offset],
    )
    uids = [uid for uid, _ in rows]
    before = ranks_among(guild, win.previous(), column, uids, role) if compare else None
    return board_doc(guild, metric, win.days, offset, rows, before)


def board_doc(
    guild: Guild,
    metric: str,
    days: int,
    offset: int,
    rows: list[tuple[int, int]],
    previous_ranks: dict[int, int] | None = None,
) -> dict:
    """The /leaderboard document of ranked (user id, raw value) rows starting at `offset`; with
    the previous period's ranks when comparing."""
    names = member_names(guild, [uid for uid, _ in rows]) if rows else {}
    entries = [
        {
            "rank": offset + i + 1,
            "user_id": str(uid),
            "name": names[uid],
            "value": metric_value(metric, v),
        }
        for i, (uid, v) in enumerate(rows)
    ]
    if previous_ranks is not None:
        for entry, (uid, _) in zip(entries, rows, strict=True):
            entry["previous_rank"] = previous_ranks.get(uid)
    return {"guild_id": str(guild.id), "metric": metric, "days": days, "entries": entries}


def ranks_among(
    guild: Guild, win: Window, column: str, user_ids: list[int], role: int | None = None
) -> dict[int, int]:
    """Leaderboard ranks of these users in the window (users without activity are left out)."""
    if not user_ids:
        return {}
    where, params = days_sql(guild, win.first_day, win.last_day, role=role)
    marks = ", ".join(["%s"] * len(user_ids))
    rows = fetch(
        "SELECT uid, r FROM (SELECT uid, ROW_NUMBER() OVER (ORDER BY v DESC, uid ASC) AS r"
        f" FROM ({per_member(column, where)}) AS s) AS ranked WHERE uid IN ({marks})",
        params + list(user_ids),
    )
    return {uid: r for uid, r in rows}


def per_member(column: str, where: str) -> str:
    """SQL of (uid, v): each member's sum of `column` over the member-days `where` selects, for
    members with a sum above zero. Ties rank by user id, so the key is named in the query."""
    return (
        f"SELECT {DAY_USER} AS uid, SUM({column}) AS v FROM {MEMBER_DAYS} WHERE {where}"
        f" GROUP BY member_key HAVING SUM({column}) > 0"
    )


def member_sums(guild: Guild, win: Window) -> dict[int, tuple[int, int]]:
    """user id → (messages, voice seconds) of every member active in the window."""
    where, params = days_sql(guild, win.first_day, win.last_day)
    if win.first_day == win.last_day:
        # One row per member and day: reading the day's rows by the (guild, day, member) key
        # beats grouping the guild's whole covering index by member.
        sql = f"SELECT {DAY_USER}, messages, voice_seconds FROM {MEMBER_DAYS} WHERE {where}"
    else:
        # `member_key + 0` cannot follow the member-order index, so the window's days are read by
        # the key and grouped apart: cheaper once the index would also stream much history outside.
        member = "member_key + 0" if mostly_outside(guild, win) else "member_key"
        sql = (
            f"SELECT k.user_id, s.m, s.v FROM (SELECT {member} AS mk, SUM(messages) AS m,"
            f" SUM(voice_seconds) AS v FROM {MEMBER_DAYS} WHERE {where} GROUP BY mk) AS s"
            f" JOIN {keys.MEMBERS} k ON k.id = s.mk"
        )
    return {uid: (m, v) for uid, m, v in fetch(sql, params)}


def mostly_outside(guild: Guild, win: Window) -> bool:
    """Whether most of the guild's member-days lie outside the window, judged by days (two key
    seeks). Streaming the member-order index reads every one of them; the window's own rows read
    by the key and then sorted cost about twice as much per row (SQLite, 3M-event guild)."""
    ((first, last),) = fetch(
        f"SELECT (SELECT MIN(day) FROM {MEMBER_DAYS} WHERE {keys.GUILD_KEY}),"
        f" (SELECT MAX(day) FROM {MEMBER_DAYS} WHERE {keys.GUILD_KEY})",
        [guild.id, guild.id],
    )
    if first is None:
        return True
    inside = min(last, win.last_day) - max(first, win.first_day) + 1
    return last - first + 1 > 2 * max(inside, 0)


def member_ranks(
    guild: Guild, win: Window, user_id: int, messages: int, voice_seconds: int
) -> dict:
    """The member's leaderboard rank per metric (None when the value is zero)."""
    where, params = days_sql(guild, win.first_day, win.last_day)
    ahead_m, ahead_v = fetch(
        "SELECT SUM(CASE WHEN m > %s OR (m = %s AND uid < %s) THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN v > %s OR (v = %s AND uid < %s) THEN 1 ELSE 0 END)"
        f" FROM (SELECT {DAY_USER} AS uid, SUM(messages) AS m, SUM(voice_seconds) AS v"
        f" FROM {MEMBER_DAYS} WHERE {where}"
        " GROUP BY member_key) AS per_user",
        [messages, messages, user_id, voice_seconds, voice_seconds, user_id] + params,
    )[0]
    return {
        "messages": (ahead_m or 0) + 1 if messages > 0 else None,
        "voice": (ahead_v or 0) + 1 if voice_seconds > 0 else None,
    }


def member_stats(
    guild: Guild, user_id: int, days: int | Period, now: datetime | None = None
) -> dict | None:
    """One member's totals, ranks, per-channel breakdown and daily series; None if unknown."""
    win = window(guild, days, now)
    name = member_name(guild, user_id)
    if name is None:
        return None
    rows = member_channel_rows(guild, win, user_id)
    messages = sum(m for _, m, _ in rows)
    voice = sum(v for _, _, v in rows)
    return member_doc(
        guild,
        user_id,
        name,
        win.days,
        rows,
        member_ranks(guild, win, user_id, messages, voice),
        series(guild, win, "day", user_id),
    )


def member_name(guild: Guild, user_id: int) -> str | None:
    """The member's display name (the id as text without a Member row); None for a user with
    neither a Member row nor any stats."""
    member = Member.objects.filter(guild_id=guild.id, user_id=user_id).first()
    if member is not None:
        return member.display_name
    if keys.member_key(guild.id, user_id) is not None:  # counted before any profile came
        return str(user_id)
    return None


def member_channel_rows(guild: Guild, win: Window, user_id: int) -> list[tuple[int, int, int]]:
    """(channel id, messages, voice seconds) of one member, busiest channel first."""
    where, params = scope_sql(guild, win.first, win.last, user_id)
    return fetch(
        f"SELECT {HOUR_CHANNEL} AS cid, SUM(messages) AS m, SUM(voice_seconds) AS v"
        f" FROM {TABLE} WHERE {where} GROUP BY channel_key ORDER BY m DESC, v DESC, cid ASC",
        params,
    )


def member_doc(
    guild: Guild,
    user_id: int,
    name: str,
    days: int,
    rows: list[tuple[int, int, int]],
    rank: dict,
    points: list[dict],
) -> dict:
    """The /members/{uid} document from its parts."""
    labels = channel_labels(guild, [cid for cid, _, _ in rows]) if rows else {}
    return {
        "guild_id": str(guild.id),
        "user_id": str(user_id),
        "name": name,
        "days": days,
        "messages": sum(m for _, m, _ in rows),
        "voice_minutes": sum(v for _, _, v in rows) / 60,
        "rank": rank,
        "channels": [
            {
                "channel_id": str(cid),
                "name": labels[cid][0],
                "deleted": labels[cid][1],
                "messages": m,
                "voice_minutes": v / 60,
            }
            for cid, m, v in rows
        ],
        "series": points,
    }


# --- Channels and heatmap ------------------------------------------------------------


def top_channels(
    guild: Guild, days: int | Period, now: datetime | None = None, role: int | None = None
) -> dict:
    """Channels with activity in the window, busiest first (messages, then voice, then id); with
    `role`, the activity of its holders."""
    win = window(guild, days, now)
    if role is None:
        return channels_doc(guild, win, channel_sums(guild, win))
    rows = role_channel_rows(guild, win, role)
    return channels_doc(guild, win, [r[:3] for r in rows], {r[0]: r[3] for r in rows})


def role_channel_rows(guild: Guild, win: Window, role: int) -> list[tuple[int, int, int, int]]:
    """(channel id, messages, voice seconds, active members) of the role's holders, busiest
    first: from HourlyStat, the one rollup that knows who was active where and when."""
    where, params = scope_sql(guild, win.first, win.last, role=role)
    return fetch(
        f"SELECT {HOUR_CHANNEL} AS cid, SUM(messages) AS m, SUM(voice_seconds) AS v,"
        f" COUNT(DISTINCT member_key) FROM {TABLE} WHERE {where}"
        " GROUP BY channel_key HAVING SUM(messages) > 0 OR SUM(voice_seconds) > 0"
        " ORDER BY m DESC, v DESC, cid ASC",
        params,
    )


def channel_sums(guild: Guild, win: Window) -> list[tuple[int, int, int]]:
    """(channel id, messages, voice seconds) of the channels with activity, busiest first."""
    where, params = channel_hours_sql(guild, win.first, win.last)
    return fetch(
        "SELECT channel_id, SUM(messages) AS m, SUM(voice_seconds) AS v"
        f" FROM {CHANNEL_HOURS} WHERE {where}"
        " GROUP BY channel_id HAVING SUM(messages) > 0 OR SUM(voice_seconds) > 0"
        " ORDER BY m DESC, v DESC, channel_id ASC",
        params,
    )


def channels_doc(
    guild: Guild,
    win: Window,
    rows: list[tuple[int, int, int]],
    active: dict[int, int] | None = None,
) -> dict:
    """The /channels document of channel_sums' rows (active members read here unless given)."""
    labels = channel_labels(guild, [row[0] for row in rows]) if rows else {}
    if active is None:
        active = channel_members(guild, win) if rows else {}
    return {
        "guild_id": str(guild.id),
        "days": win.days,
        "channels": [
            {
                "channel_id": str(cid),
                "name": labels[cid][0],
                "deleted": labels[cid][1],
                "messages": m,
                "voice_minutes": v / 60,
                "active_members": active.get(cid, 0),
            }
            for cid, m, v in rows
        ],
    }


def channel_members(guild: Guild, win: Window) -> dict[int, int]:
    """Distinct active members per channel in the window.

    A window ending today reads each (channel, member)'s last active day (ChannelMember); a
    range wholly in the past counts distinct members of its HourlyStat rows, sought member by
    member (the table is keyed member first) among the members its member-days name, so the read
    is the range's rows however long the guild's history.
    """
    if not win.ends_now:
        days, day_params = days_sql(guild, win.first_day, win.last_day)
        where, params = scope_sql(guild, win.first, win.last)
        sql = (
            f"SELECT {HOUR_CHANNEL}, COUNT(DISTINCT member_key) FROM"
            # + 0: the day range by the key, not the member-order index's whole guild
            f" (SELECT DISTINCT member_key + 0 AS mk FROM {MEMBER_DAYS} WHERE {days}) AS u"
            f" JOIN {TABLE} ON {TABLE}.member_key = u.mk AND {where} GROUP BY channel_key"
        )
        return {cid: n for cid, n in fetch(sql, day_params + params)}
    not_in, ids = channels_not_in(excluded_channel_ids(guild))
    sql = (
        f"SELECT channel_id, COUNT(*) FROM {CHANNEL_MEMBERS} "
        f"WHERE guild_id = %s AND last_day >= %s{not_in}"
    )
    return {
        cid: n for cid, n in fetch(sql + " GROUP BY channel_id", [guild.id, win.first_day, *ids])
    }


def heatmap(
    guild: Guild, days: int | Period = 28, now: datetime | None = None, role: int | None = None
) -> dict:
    """Messages by local weekday (Monday first) and local hour: 7 rows of 24 counts."""
    win = window(guild, days, now)
    return heatmap_doc(guild, win.days, heatmap_cells(guild, win, role))


def heatmap_doc(guild: Guild, days: int, cells: list[list[int]]) -> dict:
    return {"guild_id": str(guild.id), "days": days, "timezone": guild.timezone, "cells": cells}


def heatmap_cells(guild: Guild, win: Window, role: int | None = None) -> list[list[int]]:
    """Messages in the window by local weekday (Monday first) and local hour (of the role's
    holders, from HourlyStat, with one)."""
    if role is None:
        where, params = guild_hours_sql(guild, win.first, win.last)
    else:
        where, params = scope_sql(guild, win.first, win.last, role=role)
    local, local_params = local_seconds_sql(guild.tzinfo, win)
    # 1970-01-01 was a Thursday: +3 makes Monday 0. %% is a literal % in parametrised SQL.
    rows = fetch(
        f"SELECT (({local} / 86400) + 3) %% 7 AS wd, ({local} %% 86400) / 3600 AS hr, SUM(messages)"
        f" FROM {GUILD_HOURS if role is None else TABLE} WHERE {where} GROUP BY wd, hr",
        local_params + local_params + params,
    )
    cells = [[0] * 24 for _ in range(7)]
    for wd, hr, m in rows:
        cells[int(wd)][int(hr)] += m or 0
    return cells
