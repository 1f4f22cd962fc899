"""One person's own data across guilds: what /me/ shows, and the export of everything Mocha holds
of them."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Max, Min, Sum
from django.utils import timezone

from stats.maintenance import MEMBER_ROWS, rows_of
from stats.models import DailyMemberStat, Guild, Member, MemberKey, OptOut
from stats.tables import keys
from stats.windows import EPOCH


def guild_ids_of(user_id: int) -> list[int]:
    """Guilds Mocha saw this user in, or that they opted out of."""
    seen = set(Member.objects.filter(user_id=user_id).values_list("guild_id", flat=True))
    seen |= set(MemberKey.objects.filter(user_id=user_id).values_list("guild_id", flat=True))
    return sorted(
        seen | set(OptOut.objects.filter(user_id=user_id).values_list("guild_id", flat=True))
    )


def own_counts(user_id: int) -> list[dict]:
    """Per guild: all-time messages and voice minutes (excluded channels left out, as on the
    dashboard), first and last active day, and whether they are counted."""
    ids = guild_ids_of(user_id)
    names = dict(Guild.objects.filter(id__in=ids).values_list("id", "name"))
    opted = set(OptOut.objects.filter(user_id=user_id).values_list("guild_id", flat=True))
    out = []
    for gid in ids:
        row = dict.fromkeys(("messages", "voice", "first", "last"))
        # Opted out: erased, and what the collector counted until it noticed is erased within
        # seconds.
        if gid not in opted:
            row = rows_of(DailyMemberStat, gid, user_id).aggregate(
                messages=Sum("messages"),
                voice=Sum("voice_seconds"),
                first=Min("day"),
                last=Max("day"),
            )
        out.append(
            {
                "guild_id": str(gid),
                "name": names.get(gid, str(gid)),
                "messages": row["messages"] or 0,
                "voice_minutes": (row["voice"] or 0) / 60,
                "first_day": _day(row["first"]),
                "last_day": _day(row["last"]),
                "counted": gid not in opted,
            }
        )
    return out


def _day(day: int | None) -> str | None:
    return None if day is None else (EPOCH + timedelta(days=day)).isoformat()


def _plain(row: dict) -> dict:
    """Snowflakes as strings and times as ISO-8601, as everywhere in Mocha's JSON."""
    out = {}
    for key, value in row.items():
        if key.endswith("_id") and isinstance(value, int):
            value = str(value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        out[key] = value
    return out


def _rows(model, guild_id: int, user_id: int) -> list[dict]:
    """The user's rows of a model in a guild, keys named by their snowflakes."""
    rows = list(rows_of(model, guild_id, user_id).order_by("pk").values())
    channels = keys.channel_ids(r["channel_key"] for r in rows if "channel_key" in r)
    for r in rows:
        r.pop("id", None)
        r.pop("guild_key", None)
        if r.pop("member_key", None) is not None:
            r.update(guild_id=guild_id, user_id=user_id)
        if "channel_key" in r:
            r["channel_id"] = channels.get(r.pop("channel_key"))
    return rows


def export(user_id: int) -> dict:
    """Every row Mocha keeps about the user, guild by guild: names, hourly and daily counts, voice
    sessions, joins and leaves, live-feed entries, opt-outs."""
    guilds = []
    for counts in own_counts(user_id):
        gid = int(counts["guild_id"])
        doc = {
            **counts,
            "profile": [
                _plain(r)
                for r in Member.objects.filter(guild_id=gid, user_id=user_id).values(
                    "username", "global_name", "nick", "bot", "joined_at", "present"
                )
            ],
        }
        for label, model in MEMBER_ROWS.items():
            doc[label.replace(" ", "_")] = [_plain(r) for r in _rows(model, gid, user_id)]
        guilds.append(doc)
    return {"user_id": str(user_id), "exported_at": timezone.now().isoformat(), "guilds": guilds}
