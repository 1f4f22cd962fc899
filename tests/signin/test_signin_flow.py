"""Signing in through the simulator, what a signed-in Discord user may see and manage, and
refreshes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model

from signin.membership import standings
from signin.models import DiscordLink, DiscordMembership
from stats.models import Guild
from tests.signin.conftest import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def guild_ids(client) -> set[int]:
    return {int(g["id"]) for g in client.get("/api/guilds").json()["guilds"]}


def test_sign_in_reads_guilds_and_keeps_tokens_encrypted(client, discord):
    model = discord.generator.guilds[0]
    Guild.objects.create(id=model.id, name="Demo", visibility="members")
    Guild.objects.create(id=99, name="Elsewhere", visibility="members")
    plain = model.humans[9]
    sign_in(client, discord, plain)
    link = DiscordLink.objects.get(discord_id=plain)
    assert link.user.username == model.users[plain]["username"]
    assert list(link.memberships.values_list("guild_id", flat=True)) == [
        model.id
    ]  # only guilds Mocha knows
    grant = next(iter(discord.oauth.tokens))
    assert grant.encode() not in bytes(link.access_token) and link.access_token
    assert guild_ids(client) == {model.id}
    assert client.get(f"/guilds/{model.id}/").status_code == 200
    assert client.get(f"/guilds/{model.id}/settings/").status_code == 404  # not a manager
    page = client.get("/").content.decode()
    assert "via Discord" in page and model.users[plain]["global_name"] in page


def test_membership_is_refreshed_after_the_period_and_not_before(client, discord, settings):
    model = discord.generator.guilds[0]
    Guild.objects.create(id=model.id, name="Demo", visibility="members")
    leaver = model.humans[8]
    sign_in(client, discord, leaver)
    model.member_remove(leaver)  # leaves the guild on Discord
    assert guild_ids(client) == {model.id}  # still as of the last refresh: no call per request
    DiscordLink.objects.filter(discord_id=leaver).update(
        refreshed_at=DiscordLink.objects.get().refreshed_at
        - timedelta(seconds=settings.MOCHA_MEMBERSHIP_REFRESH_S)
    )
    assert guild_ids(client) == set()
    assert client.get(f"/guilds/{model.id}/").status_code == 404


def test_revoked_tokens_drop_every_membership(client, discord):
    model = discord.generator.guilds[0]
    Guild.objects.create(id=model.id, name="Demo", visibility="members")
    sign_in(client, discord, model.humans[7])
    discord.oauth.tokens.clear()
    discord.oauth.refresh_tokens.clear()
    DiscordLink.objects.update(refreshed_at=None)
    assert guild_ids(client) == set()
    assert DiscordMembership.objects.count() == 0


def test_an_unreachable_discord_keeps_the_last_memberships(client, discord, settings):
    model = discord.generator.guilds[0]
    Guild.objects.create(id=model.id, name="Demo", visibility="members")
    sign_in(client, discord, model.humans[7])
    settings.DISCORD_OAUTH_API = "http://127.0.0.1:9/api/v10"  # nothing listens there
    DiscordLink.objects.update(refreshed_at=None)
    assert guild_ids(client) == {model.id}
    assert DiscordLink.objects.get().refreshed_at is not None  # no retry on every request


def test_managers_by_permission_and_by_named_role(client, discord):
    model = discord.generator.guilds[0]
    guild = Guild.objects.create(id=model.id, name="Demo", visibility="managers")
    owner, manager, admin, moderator, plain = (*model.humans[:4], model.humans[9])
    for uid, sees, manages in [
        (owner, True, True),
        (manager, True, True),
        (admin, True, True),
        (moderator, False, False),
        (plain, False, False),
    ]:
        client.logout()
        sign_in(client, discord, uid)
        assert (
            model.id in guild_ids(client),
            client.get(f"/guilds/{model.id}/settings/").status_code,
        ) == (sees, 200 if manages else 404), uid
    moderator_role = int(model.staff[moderator][0])
    guild.manager_roles = [moderator_role]
    guild.save()
    client.logout()
    sign_in(client, discord, moderator)  # roles are read at sign-in where the guild names some
    assert model.id in guild_ids(client)
    assert client.get(f"/guilds/{model.id}/settings/").status_code == 404  # sees, does not manage


def test_levels_for_every_kind_of_viewer(client, discord):
    model = discord.generator.guilds[0]
    for level in ("public", "members", "managers", "private"):
        Guild.objects.create(id=model.id, name="Demo", visibility=level)
        User = get_user_model()
        staff = User.objects.create_user(f"staff-{level}", password="x", is_staff=True)
        granted = User.objects.create_user(f"granted-{level}", password="x")
        Guild.objects.get(pk=model.id).viewers.add(granted)
        expected = {
            "anonymous": level == "public",
            "staff": True,
            "granted": True,
            "member": level in ("public", "members"),
            "manager": level != "private",
        }
        seen = {"anonymous": model.id in guild_ids(client)}
        for name, user in (("staff", staff), ("granted", granted)):
            client.force_login(user)
            seen[name] = model.id in guild_ids(client)
            client.logout()
        for name, uid in (("member", model.humans[9]), ("manager", model.humans[1])):
            sign_in(client, discord, uid)
            seen[name] = model.id in guild_ids(client)
            client.logout()
        assert seen == expected, level
        Guild.objects.all().delete()
        DiscordLink.objects.all().delete()
        User.objects.all().delete()


def test_standings_of_nobody():
    from django.contrib.auth.models import AnonymousUser

    assert standings(None) == {} and standings(AnonymousUser()) == {}
