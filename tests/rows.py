"""Rollup rows by snowflakes, for tests: HourlyStat and DailyMemberStat hold member and channel
keys (stats.tables.keys); these helpers write and read them by guild, user and channel ids."""

from __future__ import annotations

from typing import NamedTuple

from django.db.models import OuterRef, Subquery

from stats.models import ChannelKey, DailyMemberStat, HourlyStat, MemberKey
from stats.tables import keys


class Hourly(NamedTuple):
    guild_id: int
    hour: int
    channel_id: int
    user_id: int
    messages: int = 0
    voice_seconds: int = 0


def hourly(
    *,
    guild_id: int,
    hour: int,
    channel_id: int,
    user_id: int,
    messages: int = 0,
    voice_seconds: int = 0,
) -> Hourly:
    """One HourlyStat row by snowflakes (written by add_hourly)."""
    return Hourly(guild_id, hour, channel_id, user_id, messages, voice_seconds)


def add_hourly(rows, **bulk_create) -> list[HourlyStat]:
    """Store hourly() rows, numbering their members and channels."""
    rows = list(rows)
    members = keys.member_keys((r.guild_id, r.user_id) for r in rows)
    channels = keys.channel_keys((r.guild_id, r.channel_id) for r in rows)
    return HourlyStat.objects.bulk_create(
        [
            HourlyStat(
                member_key=members[(r.guild_id, r.user_id)],
                hour=r.hour,
                channel_key=channels[(r.guild_id, r.channel_id)],
                messages=r.messages,
                voice_seconds=r.voice_seconds,
            )
            for r in rows
        ],
        **bulk_create,
    )


def create_hourly(**row) -> HourlyStat:
    return add_hourly([hourly(**row)])[0]


def add_member_days(rows, **bulk_create) -> list[DailyMemberStat]:
    """Store DailyMemberStat rows given as dicts with a user_id."""
    rows = list(rows)
    members = keys.member_keys((r["guild_id"], r["user_id"]) for r in rows)
    guilds = keys.guild_keys(r["guild_id"] for r in rows)
    return DailyMemberStat.objects.bulk_create(
        [
            DailyMemberStat(
                guild_key=guilds[r["guild_id"]],
                member_key=members[(r["guild_id"], r["user_id"])],
                **{k: v for k, v in r.items() if k not in ("guild_id", "user_id")},
            )
            for r in rows
        ],
        **bulk_create,
    )


def _member(field: str) -> Subquery:
    return Subquery(MemberKey.objects.filter(id=OuterRef("member_key")).values(field)[:1])


def hourly_stats():
    """HourlyStat rows with guild_id, user_id and channel_id annotated (filter and read by them)."""
    channel = ChannelKey.objects.filter(id=OuterRef("channel_key")).values("channel_id")[:1]
    return HourlyStat.objects.annotate(
        guild_id=_member("guild_id"), user_id=_member("user_id"), channel_id=Subquery(channel)
    )


def member_days():
    """DailyMemberStat rows with guild_id and user_id annotated."""
    return DailyMemberStat.objects.annotate(
        guild_id=_member("guild_id"), user_id=_member("user_id")
    )
