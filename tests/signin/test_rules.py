"""Who is a manager: Discord's permission bits, the owner, and roles a guild names."""

from __future__ import annotations

import pytest

from signin.rules import (
    ADMINISTRATOR,
    MANAGE_GUILD,
    Standing,
    is_manager,
    may_manage,
    parse_role_ids,
)
from simulator.oauth import ALL_PERMISSIONS, guild_permissions

MOD_ROLE = 555
EVERYONE = 1071698660929  # Discord's default @everyone permissions


def standing(permissions: int = EVERYONE, owner: bool = False, roles=()) -> Standing:
    return Standing(owner, permissions, frozenset(roles))


@pytest.mark.parametrize(
    ("who", "manages"),
    [
        (standing(), False),
        (standing(EVERYONE | ADMINISTRATOR), True),
        (standing(EVERYONE | MANAGE_GUILD), True),
        (standing(ADMINISTRATOR), True),
        (standing(MANAGE_GUILD), True),
        (standing(0x10 | 0x4), False),  # Manage Channels, Ban Members: not the guild
        (standing(0, owner=True), True),
        (standing(roles=[MOD_ROLE]), False),  # a named role shows the dashboard, not the settings
        (None, False),
    ],
)
def test_who_may_manage(who, manages):
    assert may_manage(who) is manages


def test_a_named_role_makes_a_manager_only_where_the_guild_names_it():
    mod = standing(roles=[MOD_ROLE, 9])
    assert is_manager(mod, [MOD_ROLE]) is True
    assert is_manager(mod, []) is False
    assert is_manager(mod, [123]) is False
    assert is_manager(standing(MANAGE_GUILD), []) is True
    assert is_manager(standing(0, owner=True), [MOD_ROLE]) is True
    assert is_manager(None, [MOD_ROLE]) is False


def test_role_id_lists():
    assert parse_role_ids(" 1, 22 333") == [1, 22, 333]
    assert parse_role_ids("") == []
    for bad in ("abc", "-5", "1.5", str(2**63), "0"):
        with pytest.raises(ValueError):
            parse_role_ids(bad)


def test_the_simulator_computes_permissions_as_discord_does():
    guild = {
        "id": "1",
        "owner_id": "10",
        "roles": [
            {"id": "1", "permissions": str(EVERYONE)},
            {"id": "2", "permissions": str(MANAGE_GUILD)},
            {"id": "3", "permissions": str(ADMINISTRATOR)},
            {"id": "4", "permissions": "0"},
        ],
    }
    assert guild_permissions(guild, 10, []) == ALL_PERMISSIONS  # the owner
    assert guild_permissions(guild, 11, ["3"]) == ALL_PERMISSIONS  # Administrator implies all
    assert guild_permissions(guild, 12, ["2"]) == EVERYONE | MANAGE_GUILD
    assert guild_permissions(guild, 13, ["4"]) == EVERYONE
    assert guild_permissions(guild, 14, ["unknown"]) == EVERYONE
    assert may_manage(standing(guild_permissions(guild, 12, ["2"]))) is True
    assert may_manage(standing(guild_permissions(guild, 13, ["4"]))) is False
