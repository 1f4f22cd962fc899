"""Who counts as a manager of a guild, from what Discord says of a member: pure rules, no I/O."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

ADMINISTRATOR = 0x8
MANAGE_GUILD = 0x20  # "Manage Server" in Discord's interface


class Standing(NamedTuple):
    """A signed-in user's place in one guild, as of the last refresh."""

    owner: bool
    permissions: int
    roles: frozenset[int]


def may_manage(standing: Standing | None) -> bool:
    """Owner, Administrator or Manage Server: may open the guild's settings."""
    if standing is None:
        return False
    return standing.owner or bool(standing.permissions & (ADMINISTRATOR | MANAGE_GUILD))


def is_manager(standing: Standing | None, manager_roles: Iterable[int] = ()) -> bool:
    """Sees a `managers` guild: may manage it, or holds one of the roles the guild names."""
    if standing is None:
        return False
    return may_manage(standing) or not standing.roles.isdisjoint(manager_roles)


def parse_role_ids(text: str) -> list[int]:
    """'123, 456' → [123, 456]; raises ValueError on anything but snowflakes."""
    ids = []
    for part in text.replace(",", " ").split():
        if not part.isdigit() or not 0 < int(part) < 2**63:
            raise ValueError(f"{part!r} is not a role id")
        ids.append(int(part))
    return ids
