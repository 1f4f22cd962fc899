"""Maintenance of stored stats: purge, rebuild, prune and cache clearing, as plain functions.

The admin's actions and `manage.py prune` are thin wrappers over these. Each
function is one transaction and returns what it did as a dict of row counts,
which the caller shows and writes to the admin log.

What can be rebuilt: a rollup is only as rebuildable as the raw rows behind it.
- Voice seconds: yes, for the hours whose sessions are all still stored.
  VoiceSession rows keep (channel, started_at, credited_until, ended_at), and
  the collector credits exactly [started_at, credited_until) to the rollups,
  split at hour boundaries, in the same transaction that stores the session.
  `manage.py prune` deletes only sessions that ended more than the guild's
  retention_days ago, so every hour after `now - retention_days` is complete.
- Message counts: no. No per-message row is kept (RecentEvent is the live feed,
  capped per guild and pruned; MessageCursor keeps one id per channel), so
  message counts are never recomputed and a rebuild leaves them untouched.
- Joins and leaves are read straight from MemberEvent rows: nothing to rebuild.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from mocha.utc import from_epoch
from stats import rollups
from stats.models import (
    ChannelMember,
    DailyGuildStat,
    DailyMemberStat,
    Guild,
    GuildKey,
    HourlyChannelStat,
    HourlyGuildStat,
    HourlyStat,
    Member,
    MemberEvent,
    MemberKey,
    MemberRole,
    MessageCursor,
    OptOut,
    RecentEvent,
    VoiceSession,
    hour_of,
)
from stats.tables import hourly, keys

# Rows of a guild, by the label the admin shows.
GUILD_ROWS = {
    "hourly stats": HourlyStat,
    "channel hours": HourlyChannelStat,
    "member days": DailyMemberStat,
    "guild days": DailyGuildStat,
    "guild hours": HourlyGuildStat,
    "channel members": ChannelMember,
    "voice sessions": VoiceSession,
    "member events": MemberEvent,
    "recent events": RecentEvent,
    "message cursors": MessageCursor,
}
MEMBER_ROWS = {
    "hourly stats": HourlyStat,
    "member days": DailyMemberStat,
    "channel members": ChannelMember,
    "voice sessions": VoiceSession,
    "member events": MemberEvent,
    "member roles": MemberRole,
    "recent events": RecentEvent,
}


def _bump(guild_ids: Iterable[int]) -> None:
    """Make cached results of these guilds stale (the result cache keys on a data version)."""
    from stats.cache import bump_versions

    transaction.on_commit(lambda ids=list(guild_ids): bump_versions(ids))


def _lock_rollups() -> None:
    """Keep the collector's flushes out while we rewrite rollups.

    SQLite's IMMEDIATE transactions already serialise writers; PostgreSQL's
    READ COMMITTED would let a flush commit between our read and our write.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(
                f"LOCK TABLE {hourly.TABLE}, {VoiceSession._meta.db_table} "
                "IN SHARE ROW EXCLUSIVE MODE"
            )


def rows_of(model, guild_id: int, user_id: int | None = None):
    """The model's rows of a guild, or of one member in it. HourlyStat and DailyMemberStat name
    them by keys (stats.tables.keys)."""
    user = {} if user_id is None else {"user_id": user_id}
    if model is DailyMemberStat and not user:
        return model.objects.filter(
            guild_key__in=GuildKey.objects.filter(guild_id=guild_id).values("id")
        )
    if model in (HourlyStat, DailyMemberStat):
        members = MemberKey.objects.filter(guild_id=guild_id, **user).values("id")
        return model.objects.filter(member_key__in=members)
    return model.objects.filter(guild_id=guild_id, **user)


def guild_row_counts(guild_id: int) -> dict[str, int]:
    """How many stored rows purge_guild_stats would delete (for the confirmation page)."""
    return {label: rows_of(model, guild_id).count() for label, model in GUILD_ROWS.items()}


@transaction.atomic
def purge_guild_stats(guild_id: int) -> dict[str, int]:
    """Delete every stats row of a guild; its configuration, channels and members stay."""
    _lock_rollups()
    deleted = {label: rows_of(model, guild_id).delete()[0] for label, model in GUILD_ROWS.items()}
    _bump([guild_id])
    return deleted


def member_row_counts(guild_id: int, user_id: int) -> dict[str, int]:
    """How many rows purge_member would delete."""
    counts = {
        label: rows_of(model, guild_id, user_id).count() for label, model in MEMBER_ROWS.items()
    }
    counts["member profile"] = Member.objects.filter(guild_id=guild_id, user_id=user_id).count()
    return counts


@transaction.atomic
def purge_member(guild_id: int, user_id: int) -> dict[str, int]:
    """A privacy request: delete every row about one user in one guild, their name included."""
    _lock_rollups()
    deleted = {
        label: rows_of(model, guild_id, user_id).delete()[0] for label, model in MEMBER_ROWS.items()
    }
    deleted["member profile"] = Member.objects.filter(guild_id=guild_id, user_id=user_id).delete()[
        0
    ]
    MemberKey.objects.filter(guild_id=guild_id, user_id=user_id).delete()  # their user id too
    rollups.rebuild(guild_id)  # channel sums and distinct counts held this member's share
    _bump([guild_id])
    return deleted


@transaction.atomic
def opt_out(guild_id: int, user_id: int) -> dict[str, int]:
    """ "Stop counting me": erase the member's rows in the guild; the collector skips them from now
    on (it reloads opt-outs with the rest of the configuration, and erases what it counted
    meanwhile)."""
    OptOut.objects.get_or_create(guild_id=guild_id, user_id=user_id)
    return purge_member(guild_id, user_id)


def opt_in(guild_id: int, user_id: int) -> bool:
    """Count the member again from now on; what was erased stays erased."""
    return OptOut.objects.filter(guild_id=guild_id, user_id=user_id).delete()[0] > 0


def rebuild_window(guild: Guild, now: datetime | None = None) -> tuple[int, int]:
    """The hours (first, last inclusive) whose voice sessions are all still stored."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=guild.retention_days)
    return hour_of(cutoff) + 1, hour_of(now)


def voice_seconds_from_sessions(
    guild_id: int, first_hour: int, last_hour: int
) -> dict[tuple[int, int, int], int]:
    """Seconds per (hour, channel, user) that the guild's stored sessions credited within the
    hours."""
    lo, hi = first_hour * 3600, (last_hour + 1) * 3600
    sessions = (
        VoiceSession.objects.filter(guild_id=guild_id, credited_until__gt=from_epoch(lo))
        .filter(started_at__lt=from_epoch(hi))
        .values_list("user_id", "channel_id", "started_at", "credited_until")
    )
    seconds: dict[tuple[int, int, int], int] = defaultdict(int)
    for uid, cid, started, credited in sessions.iterator():
        # The collector credits whole seconds from int(started) to credited_until.
        start, end = max(int(started.timestamp()), lo), min(int(credited.timestamp()), hi)
        while start < end:
            hour = start // 3600
            stop = min(end, (hour + 1) * 3600)
            seconds[(hour, cid, uid)] += stop - start
            start = stop
    return seconds


@transaction.atomic
def rebuild_voice(guild: Guild, now: datetime | None = None) -> dict[str, int]:
    """Recompute HourlyStat.voice_seconds of the guild from its voice sessions, within
    rebuild_window.

    Message counts are left as they are: they cannot be recomputed (see the module docstring).
    """
    _lock_rollups()
    first, last = rebuild_window(guild, now)
    wanted_ids = voice_seconds_from_sessions(guild.id, first, last)
    members = keys.member_keys((guild.id, u) for _, _, u in wanted_ids)
    channels = keys.channel_keys((guild.id, c) for _, c, _ in wanted_ids)
    wanted = {
        (h, channels[(guild.id, c)], members[(guild.id, u)]): v
        for (h, c, u), v in wanted_ids.items()
    }
    window = rows_of(HourlyStat, guild.id).filter(hour__gte=first, hour__lte=last)
    stored = {
        (h, c, m): v
        for h, c, m, v in window.values_list("hour", "channel_key", "member_key", "voice_seconds")
    }
    changed = [
        HourlyStat(
            member_key=m,
            hour=h,
            channel_key=c,
            messages=0,
            voice_seconds=wanted.get((h, c, m), 0),
        )
        for (h, c, m) in set(stored) | set(wanted)
        if stored.get((h, c, m)) != wanted.get((h, c, m), 0)
    ]
    if changed:
        # Overwrite voice_seconds only; a new row starts with messages = 0.
        HourlyStat.objects.bulk_create(
            changed,
            batch_size=500,
            update_conflicts=True,
            unique_fields=["member_key", "hour", "channel_key"],
            update_fields=["voice_seconds"],
        )
    emptied = window.filter(messages=0, voice_seconds=0).delete()[0]
    rollups.rebuild(guild.id)  # the per-channel and per-day sums follow the hourly rows
    _bump([guild.id])
    return {"hours": last - first + 1, "rows changed": len(changed), "empty rows removed": emptied}


def clear_caches() -> dict[str, int]:
    """Drop cachalot's cached queries and make every cached stats result stale."""
    from cachalot.api import invalidate

    from stats.cache import bump_versions

    invalidate()
    ids = list(Guild.objects.values_list("id", flat=True))
    bump_versions(ids)
    return {"guilds": len(ids)}


def prune_recent(
    guilds: Iterable[Guild] | None = None, now: datetime | None = None, dry_run: bool = False
) -> dict[str, int]:
    """Apply each guild's retention_days to RecentEvent and to voice sessions that ended before it.

    One DELETE per distinct retention value, not per guild. Events of guilds
    without a Guild row (never announced) follow the default retention.
    """
    now = now or timezone.now()
    selected = list(guilds) if guilds is not None else list(Guild.objects.all())
    by_days: dict[int, list[int]] = defaultdict(list)
    for g in selected:
        by_days[g.retention_days].append(g.id)
    scopes = [(days, Q(guild_id__in=ids)) for days, ids in by_days.items()]
    if guilds is None:
        default = Guild._meta.get_field("retention_days").default
        scopes.append((default, ~Q(guild_id__in=Guild.objects.values("id"))))
    totals = {"recent events": 0, "voice sessions": 0, "guilds": len(selected)}
    with transaction.atomic():
        for days, scope in scopes:
            cutoff = now - timedelta(days=days)
            events = RecentEvent.objects.filter(scope, at__lt=cutoff)
            sessions = VoiceSession.objects.filter(scope, ended_at__lt=cutoff)
            if dry_run:
                totals["recent events"] += events.count()
                totals["voice sessions"] += sessions.count()
            else:
                totals["recent events"] += events.delete()[0]
                totals["voice sessions"] += sessions.delete()[0]
    return totals


def describe(counts: dict[str, int]) -> str:
    """'3 hourly stats, 0 voice sessions, …' for messages and the admin log."""
    return ", ".join(f"{n} {label}" for label, n in counts.items())
