"""Who may see what: the one rule behind the pages, the API (JSON and CSV) and the websockets.

A guild is visible to staff always, to anybody when it is public, to users
signed in with Discord who are in it when it is `members`, to its Discord
managers (and holders of the roles it names) when it is `managers`, and to the
viewers granted it at any level (the only ones, with staff, when it is private).
Its settings page is open to staff and to its owner, Administrators and Manage
Server holders. Unknown and invisible guilds look the
same to callers (they answer 404, or close a socket with 4403). Excluded
channels are visible to staff only. Open sockets re-check through the same
functions (stats/live.py), so a revoked grant closes them.
"""

from __future__ import annotations

import copy
from importlib import import_module
from types import SimpleNamespace

from cachalot.api import cachalot_disabled, get_last_invalidation
from django.conf import settings
from django.contrib.auth import get_user
from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet

from mocha.discord_types import MAX_SNOWFLAKE
from signin.membership import standings
from signin.rules import is_manager, may_manage
from stats.models import Channel, Guild


def is_staff(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_staff)


def visible_guilds(user) -> QuerySet[Guild]:
    """Guilds this viewer may see: all for staff; public ones; for a Discord sign-in, `members` ones
    they are in and `managers` ones they manage or hold a named role in (as of the last membership
    refresh); and those granted to them, at any level."""
    if is_staff(user):
        return Guild.objects.all()
    if user is None or not user.is_authenticated or not user.is_active:
        return Guild.objects.filter(visibility=Guild.Visibility.PUBLIC)
    q = Q(visibility=Guild.Visibility.PUBLIC) | Q(viewers=user)
    mine = standings(user)
    if mine:
        managers = Guild.objects.filter(visibility=Guild.Visibility.MANAGERS, id__in=list(mine))
        led = [
            gid
            for gid, roles in managers.values_list("id", "manager_roles")
            if is_manager(mine[gid], (int(r) for r in roles))
        ]
        q |= Q(visibility=Guild.Visibility.MEMBERS, id__in=list(mine)) | Q(id__in=led)
    return Guild.objects.filter(q).distinct()


def managed_guilds(user) -> QuerySet[Guild]:
    """Guilds whose settings this user may change: all for staff; for a Discord sign-in, those they
    own or hold Administrator or Manage Server in, whatever their visibility."""
    if is_staff(user):
        return Guild.objects.all()
    if user is None or not user.is_authenticated or not user.is_active:
        return Guild.objects.none()
    return Guild.objects.filter(id__in=[gid for gid, s in standings(user).items() if may_manage(s)])


def managed_guild_for(user, guild_id: int) -> Guild | None:
    """The guild if this user may change its settings, else None (unknown or not theirs)."""
    if not 0 <= guild_id <= MAX_SNOWFLAKE:
        return None
    return managed_guilds(user).filter(pk=guild_id).first()


def guild_for(user, guild_id: int) -> Guild | None:
    """The guild if this viewer may see it, else None (unknown or not theirs).

    Every API request asks this, cache hits included: a public guild or a staff viewer is
    answered from guild_row without building the visibility query (compiling it cost more
    than the rest of a cached answer).
    """
    if not 0 <= guild_id <= MAX_SNOWFLAKE:
        return None
    guild = guild_row(guild_id)
    if guild is None or guild.visibility == Guild.Visibility.PUBLIC or is_staff(user):
        return guild
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    return visible_guilds(user).filter(pk=guild_id).first()


_rows: dict[int, tuple[float, Guild]] = {}
ROWS_KEPT = 1024


def guild_row(guild_id: int) -> Guild | None:
    """A fresh copy of the guild's row, kept per process while cachalot records no write to the
    guild table: one shared-cache read, no query to build. The stamp is read before the row, so
    a write in between is seen as a newer stamp next time."""
    stamp = guild_table_stamp()
    kept = _rows.get(guild_id)
    if kept is None or kept[0] != stamp:
        with cachalot_disabled():  # cachalot's own copy may predate a write that raced it
            row = Guild.objects.filter(pk=guild_id).first()
        if row is None:
            return None
        if len(_rows) >= ROWS_KEPT:
            _rows.clear()
        kept = _rows[guild_id] = (stamp, row)
    return fresh_copy(kept[1])


def kept_guild_row(guild_id: int) -> Guild | None:
    """guild_row without a query: None unless this process's copy is still current (for callers
    on the event loop, where the ORM may not run)."""
    kept = _rows.get(guild_id)
    if kept is None or kept[0] != guild_table_stamp():
        return None
    return fresh_copy(kept[1])


def guild_table_stamp() -> float:
    return get_last_invalidation(Guild, cache_alias="default", db_alias="default")


def fresh_copy(row: Guild) -> Guild:
    guild = copy.copy(row)
    guild.__dict__.pop("_excluded_ids", None)  # per request (stats.windows.excluded_channel_ids)
    return guild


def can_view(user, guild_id: int) -> bool:
    return guild_for(user, guild_id) is not None


def can_view_channel(user, channel: Channel) -> bool:
    """A channel excluded from the stats is shown to staff only."""
    return is_staff(user) or not channel.guild.excluded_channels.filter(pk=channel.pk).exists()


def session_user(session_key: str | None):
    """The user a session belongs to now: anonymous once it is signed out, expired or
    deactivated."""
    if not session_key:
        return AnonymousUser()
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    return get_user(SimpleNamespace(session=store))


def still_allowed(viewers: set[tuple[str | None, int]]) -> set[tuple[str | None, int]]:
    """Which (session key, guild id) pairs of open sockets may still see their guild.

    Read from the database itself: a cached read that raced the revoking write (in another
    process) would keep a revoked socket open until the next write to that table.
    """
    users: dict[str | None, object] = {}
    allowed = set()
    with cachalot_disabled():
        for key, guild_id in viewers:
            if key not in users:
                users[key] = session_user(key)
            if can_view(users[key], guild_id):
                allowed.add((key, guild_id))
    return allowed
