"""Roles and who holds them: kept from GUILD_CREATE, member and role events; bad role fields are
skipped with a log line without losing the rest of the event or other events."""

from __future__ import annotations

import logging

import pytest

from collector.aggregate import Aggregator
from collector.writer import Writer
from stats.models import Member, MemberEvent, MemberRole, Role
from tests.collector import payloads as p
from tests.collector.test_writer import HEALTH, T0

pytestmark = pytest.mark.django_db
MOD, FAN = 901, 902


def role(rid: int, name: str, color: int = 0, position: int = 1) -> dict:
    return {"id": str(rid), "name": name, "color": color, "position": position, "permissions": "0"}


def held() -> set[tuple[int, int]]:
    return set(MemberRole.objects.values_list("user_id", "role_id"))


def started(agg: Aggregator, writer: Writer) -> None:
    g = p.guild_create(channels=[p.channel(11, "general")], members=[1, 2, 3])
    g["roles"] = [role(MOD, "Moderator", 0x3498DB, 5), role(FAN, "Fan", 0, 2)]
    g["members"][0]["roles"] = [str(MOD)]
    g["members"][1]["roles"] = [str(MOD), str(FAN)]
    agg.guild_create(g, T0)
    writer.write(agg.take_batch(T0), HEALTH)


def test_guild_create_brings_roles_and_their_holders():
    agg, writer = Aggregator(), Writer()
    started(agg, writer)
    assert {(r.id, r.name, r.color, r.position) for r in Role.objects.all()} == {
        (MOD, "Moderator", 0x3498DB, 5),
        (FAN, "Fan", 0, 2),
    }
    assert held() == {(1, MOD), (2, MOD), (2, FAN)}


def test_member_update_replaces_the_roles_and_a_leave_drops_them():
    agg, writer = Aggregator(), Writer()
    started(agg, writer)
    update = p.member_add(1)
    update["roles"] = [str(FAN)]
    agg.member_update(update)
    agg.member_remove(p.member_remove(2), T0)
    writer.write(agg.take_batch(T0), HEALTH)
    assert held() == {(1, FAN)}
    joined = p.member_add(4)
    joined["roles"] = [str(MOD)]
    agg.member_add(joined, T0)
    writer.write(agg.take_batch(T0), HEALTH)
    assert held() == {(1, FAN), (4, MOD)}


def test_role_events():
    agg, writer = Aggregator(), Writer()
    started(agg, writer)
    agg.role_update({"guild_id": str(p.GUILD), "role": role(903, "New")})
    agg.role_update({"guild_id": str(p.GUILD), "role": role(MOD, "Mods", 0xFF0000, 6)})
    agg.role_delete({"guild_id": str(p.GUILD), "role_id": str(FAN)})
    writer.write(agg.take_batch(T0), HEALTH)
    assert Role.objects.get(id=MOD).name == "Mods" and Role.objects.get(id=903).name == "New"
    assert Role.objects.get(id=FAN).deleted
    assert held() == {(1, MOD), (2, MOD)}


def test_bad_roles_are_skipped_but_the_member_and_other_events_count(caplog):
    agg, writer = Aggregator(), Writer()
    g = p.guild_create(channels=[p.channel(11, "general")], members=[1, 2])
    g["roles"] = [role(MOD, "Moderator"), {"id": "not a snowflake", "name": "bad"}, "nope"]
    g["members"][0]["roles"] = [str(MOD), "-1"]
    g["members"][1]["roles"] = [str(MOD)]
    caplog.set_level(logging.WARNING, "mocha.collector")
    agg.guild_create(g, T0)
    joined = p.member_add(5)
    joined["roles"] = "Moderator"  # not a list: the join still counts
    agg.member_add(joined, T0)
    writer.write(agg.take_batch(T0), HEALTH)
    assert set(Role.objects.values_list("id", flat=True)) == {MOD}
    assert held() == {(2, MOD)}  # member 1's list had a bad id: left as it was (none)
    assert Member.objects.filter(user_id__in=[1, 2, 5]).count() == 3
    assert MemberEvent.objects.filter(user_id=5).exists()
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) == 4, skipped
    assert any("members[0].roles[1]" in line for line in skipped)
    assert any("roles is bad type" in line for line in skipped)


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"guild_id": str(p.GUILD)}, "role"),
        ({"guild_id": str(p.GUILD), "role": {"name": "x"}}, "role.id"),
        ({"guild_id": "x", "role": role(1, "x")}, "guild_id"),
    ],
)
def test_invalid_role_events_raise_for_the_client_to_skip(payload, field):
    from collector.fields import Invalid

    with pytest.raises(Invalid) as exc:
        Aggregator().role_update(payload)
    assert exc.value.field == field


def test_opted_out_members_keep_no_roles():
    from collector.aggregate import GuildConfig

    agg, writer = Aggregator(), Writer()
    agg.set_config({p.GUILD: GuildConfig(opted_out=frozenset({2}))}, T0)
    started(agg, writer)
    assert held() == {(1, MOD)}


def test_a_live_message_carries_its_authors_roles():
    agg, writer = Aggregator(), Writer()
    started(agg, writer)
    msg = p.message(3, 11)
    msg["member"] = {"roles": [str(FAN)], "nick": None}
    agg.message(msg)
    writer.write(agg.take_batch(T0), HEALTH)
    assert (3, FAN) in held()
    again = p.message(3, 11)
    again["member"] = {"roles": [str(FAN)], "nick": None}
    agg.message(again)
    assert agg.batch.member_roles == {}  # unchanged: nothing to write
    bad = p.message(3, 11)
    bad["member"] = {"roles": ["x"], "nick": None}
    agg.message(bad)  # counted all the same
    writer.write(agg.take_batch(T0), HEALTH)
    assert (3, FAN) in held()
    assert agg.skipped.get("bad_snowflake") == 1


def test_the_member_list_of_a_history_import_brings_roles():
    agg, writer = Aggregator(), Writer()
    started(agg, writer)
    agg.listed_member(p.GUILD, {"user": p.user(3), "roles": [str(MOD)]})
    writer.write(agg.take_batch(T0), HEALTH)
    assert (3, MOD) in held()
