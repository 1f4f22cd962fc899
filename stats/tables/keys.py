"""MemberKey, ChannelKey and GuildKey: the small numbers HourlyStat and DailyMemberStat hold
instead of snowflakes (a member key names the guild and the user).

The collector numbers the members, channels and guilds of each flush (`member_keys`,
`channel_keys`, `guild_keys`); the query layer scopes and names rows through the SQL fragments
here.
"""

from __future__ import annotations

from collections.abc import Iterable

from stats.models import ChannelKey, GuildKey, MemberKey, MemberRole

MEMBERS = MemberKey._meta.db_table
CHANNELS = ChannelKey._meta.db_table
GUILDS = GuildKey._meta.db_table
IN_CHUNK = 500  # ids per IN (...) list

# A guild as a condition on a table's guild_key.
GUILD_KEY = f"guild_key = (SELECT id FROM {GUILDS} WHERE guild_id = %s)"
# A guild's members, and one of them, as conditions on a table's member_key.
GUILD = f"member_key IN (SELECT id FROM {MEMBERS} WHERE guild_id = %s)"
USER = f"member_key = (SELECT id FROM {MEMBERS} WHERE guild_id = %s AND user_id = %s)"
ROLE = (
    f"member_key IN (SELECT k.id FROM {MEMBERS} k JOIN {MemberRole._meta.db_table} r"
    " ON r.guild_id = k.guild_id AND r.user_id = k.user_id"
    " WHERE k.guild_id = %s AND r.role_id = %s)"
)


def user_id_of(table: str) -> str:
    """SQL naming the user of a row of `table` (in its SELECT list)."""
    return f"(SELECT user_id FROM {MEMBERS} WHERE id = {table}.member_key)"


def channel_id_of(table: str) -> str:
    """SQL naming the channel of a row of `table` (in its SELECT list)."""
    return f"(SELECT channel_id FROM {CHANNELS} WHERE id = {table}.channel_key)"


def channels_not_in(guild_id: int, channel_ids: Iterable[int]) -> tuple[str, list]:
    """SQL leaving the guild's given (excluded) channels out of HourlyStat rows, or nothing."""
    ids = list(channel_ids)
    if not ids:
        return "", []
    marks = ", ".join(["%s"] * len(ids))
    return (
        f" AND channel_key NOT IN (SELECT id FROM {CHANNELS}"
        f" WHERE guild_id = %s AND channel_id IN ({marks}))",
        [guild_id, *ids],
    )


def member_keys(pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """(guild, user) → member key, numbering the pairs not seen before."""
    return _numbered(MemberKey, ("guild_id", "user_id"), set(pairs))


def channel_keys(pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """(guild, channel) → channel key, numbering the channels not seen before."""
    return _numbered(ChannelKey, ("guild_id", "channel_id"), set(pairs))


def guild_keys(guild_ids: Iterable[int]) -> dict[int, int]:
    """guild → guild key, numbering the guilds not seen before."""
    found = _numbered(GuildKey, ("guild_id",), {(gid,) for gid in guild_ids})
    return {gid: key for (gid,), key in found.items()}


def channel_ids(keys: Iterable[int]) -> dict[int, int]:
    """channel key → channel id."""
    ids = list(set(keys))
    names: dict[int, int] = {}
    for i in range(0, len(ids), IN_CHUNK):
        rows = ChannelKey.objects.filter(id__in=ids[i : i + IN_CHUNK])
        names.update(rows.values_list("id", "channel_id"))
    return names


def member_key(guild_id: int, user_id: int) -> int | None:
    return (
        MemberKey.objects.filter(guild_id=guild_id, user_id=user_id)
        .values_list("id", flat=True)
        .first()
    )


def _numbered(model, fields: tuple[str, ...], wanted: set[tuple]) -> dict[tuple, int]:
    """Values of `fields` → the key numbering them, numbering those not seen before."""
    found = _find(model, fields, wanted)
    missing = wanted - found.keys()
    if missing:
        # Another process may number some of them first: whichever row is stored is the key.
        model.objects.bulk_create(
            [model(**dict(zip(fields, values, strict=True))) for values in missing],
            batch_size=IN_CHUNK,
            ignore_conflicts=True,
        )
        found.update(_find(model, fields, missing))
    return found


def _find(model, fields: tuple[str, ...], wanted: set[tuple]) -> dict[tuple, int]:
    """The stored keys of `wanted`: one IN (...) list on the last field per prefix."""
    by_prefix: dict[tuple, list] = {}
    for values in wanted:
        by_prefix.setdefault(values[:-1], []).append(values[-1])
    *scope, last = fields
    found = {}
    for prefix, ids in by_prefix.items():
        for i in range(0, len(ids), IN_CHUNK):
            rows = model.objects.filter(
                **dict(zip(scope, prefix, strict=True)), **{f"{last}__in": ids[i : i + IN_CHUNK]}
            )
            found.update((prefix + (value,), key) for value, key in rows.values_list(last, "id"))
    return found
