"""The settings page for a guild's Discord managers and /me/ for a member's own data."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from signin.models import DiscordLink, DiscordMembership
from signin.rules import MANAGE_GUILD
from stats import rollups
from stats.models import Channel, Guild, Member, OptOut
from tests.rows import add_hourly, hourly, hourly_stats, member_days

GID, OTHER = 700, 800
ME, MANAGER = 5001, 5002


def discord_user(uid: int, guilds: dict[int, int], owner: bool = False):
    """A user signed in with Discord, memberships fresh (no refresh call): {guild id:
    permissions}."""
    user = get_user_model().objects.create_user(f"d{uid}")
    link = DiscordLink.objects.create(
        user=user, discord_id=uid, name=f"User {uid}", refreshed_at=timezone.now()
    )
    DiscordMembership.objects.bulk_create(
        [
            DiscordMembership(link=link, guild_id=gid, permissions=p, owner=owner)
            for gid, p in guilds.items()
        ]
    )
    return user


@pytest.fixture
def guild(db) -> Guild:
    g = Guild.objects.create(id=GID, name="Roastery", visibility="members")
    Guild.objects.create(id=OTHER, name="Elsewhere", visibility="public")
    Channel.objects.bulk_create(
        [Channel(id=11, guild=g, name="general"), Channel(id=12, guild=g, name="memes")]
    )
    Member.objects.create(guild=g, user_id=ME, username="me")
    Member.objects.create(guild_id=OTHER, user_id=ME, username="me")
    add_hourly(
        [
            hourly(
                guild_id=GID, hour=490_000, channel_id=11, user_id=ME, messages=7, voice_seconds=120
            ),
            hourly(guild_id=GID, hour=490_001, channel_id=12, user_id=ME, messages=3),
            hourly(guild_id=GID, hour=490_000, channel_id=11, user_id=MANAGER, messages=5),
            hourly(guild_id=OTHER, hour=490_000, channel_id=91, user_id=ME, messages=2),
        ]
    )
    rollups.rebuild(GID)
    rollups.rebuild(OTHER)
    return g


def test_a_manager_changes_settings_like_the_admin(client, guild):
    client.force_login(discord_user(MANAGER, {GID: MANAGE_GUILD}))
    page = client.get(f"/guilds/{GID}/settings/")
    assert page.status_code == 200 and b"#general" in page.content
    before = Guild.objects.get(pk=GID).updated_at
    form = {
        "tracking": "on",
        "track_voice": "on",
        "excluded_channels": ["12"],
        "timezone": "Asia/Tokyo",
        "default_days": "7",
        "visibility": "managers",
        "manager_roles": "42, 43",
        "retention_days": "14",
    }
    assert client.post(f"/guilds/{GID}/settings/", form).status_code == 302
    g = Guild.objects.get(pk=GID)
    assert (g.timezone, g.visibility, g.default_days, g.retention_days, g.count_bots) == (
        "Asia/Tokyo",
        "managers",
        7,
        14,
        False,
    )
    assert g.manager_roles == [42, 43] and list(
        g.excluded_channels.values_list("id", flat=True)
    ) == [12]
    assert g.updated_at > before  # what the collector's configuration reload watches
    assert (
        sum(member_days().filter(guild_id=GID).values_list("messages", flat=True)) == 12
    )  # #memes out
    assert b"Saved" in client.get(f"/guilds/{GID}/settings/").content


@pytest.mark.parametrize(
    "field, value",
    [
        ("timezone", "Mars/Olympus"),
        ("retention_days", "0"),
        ("default_days", "99999"),
        ("manager_roles", "mods"),
        ("visibility", "everyone"),
        ("excluded_channels", "91"),
    ],
)
def test_bad_settings_are_refused_on_the_page(client, guild, field, value):
    client.force_login(discord_user(MANAGER, {GID: MANAGE_GUILD}))
    form = {
        "tracking": "on",
        "timezone": "UTC",
        "default_days": "30",
        "visibility": "members",
        "retention_days": "30",
        field: value,
    }
    answer = client.post(f"/guilds/{GID}/settings/", form)
    assert answer.status_code == 200 and b'class="alert"' in answer.content
    assert Guild.objects.get(pk=GID).timezone == "UTC"


def test_only_managers_and_staff_open_settings(client, guild):
    assert client.get(f"/guilds/{GID}/settings/").status_code == 302  # sign in first
    client.force_login(discord_user(ME, {GID: 0x10 | 0x400}))  # Manage Channels, View Channel: no
    assert client.get(f"/guilds/{GID}/settings/").status_code == 404
    assert client.get(f"/guilds/{OTHER}/settings/").status_code == 404
    assert client.get(f"/guilds/{2**64}/settings/").status_code == 404
    client.force_login(discord_user(6000, {GID: 0}, owner=True))
    assert client.get(f"/guilds/{GID}/settings/").status_code == 200
    assert (
        f'href="/guilds/{GID}/settings/"' in client.get("/me/").content.decode()
    )  # also when it is private
    client.force_login(get_user_model().objects.create_user("staff", is_staff=True))
    assert client.get(f"/guilds/{GID}/settings/").status_code == 200


def test_me_shows_own_counts_and_exports_everything_as_json(client, guild):
    client.force_login(discord_user(ME, {GID: 0}))
    page = client.get("/me/").content.decode()
    assert "Roastery" in page and "Elsewhere" in page and 'data-field="messages">10<' in page
    export = client.get("/me/export.json")
    assert export["Content-Disposition"].startswith("attachment")
    doc = json.loads(export.content)
    assert doc["user_id"] == str(ME)
    mine = {g["guild_id"]: g for g in doc["guilds"]}
    assert set(mine) == {str(GID), str(OTHER)}
    assert sorted(r["messages"] for r in mine[str(GID)]["hourly_stats"]) == [3, 7]
    assert all(
        r["user_id"] == str(ME) and isinstance(r["channel_id"], str)
        for r in mine[str(GID)]["hourly_stats"]
    )
    assert mine[str(GID)]["profile"][0]["username"] == "me"


def test_stop_counting_me_erases_there_only_and_can_be_undone(client, guild):
    client.force_login(discord_user(ME, {GID: 0}))
    assert client.post(f"/me/guilds/{GID}/counting/", {"counting": "stop"}).status_code == 302
    assert OptOut.objects.filter(guild_id=GID, user_id=ME).exists()
    assert not hourly_stats().filter(guild_id=GID, user_id=ME).exists()
    assert not Member.objects.filter(guild_id=GID, user_id=ME).exists()
    assert hourly_stats().filter(guild_id=GID, user_id=MANAGER).exists()
    assert hourly_stats().filter(guild_id=OTHER, user_id=ME).exists()
    assert sum(member_days().filter(guild_id=GID).values_list("messages", flat=True)) == 5
    assert 'data-role="resume-counting"' in client.get("/me/").content.decode()
    assert client.post(f"/me/guilds/{GID}/counting/", {"counting": "resume"}).status_code == 302
    assert not OptOut.objects.exists()


def test_me_refuses_what_is_not_yours(client, guild):
    assert client.get("/me/").status_code == 302
    client.force_login(discord_user(ME, {GID: 0}))
    assert client.post("/me/guilds/999/counting/", {"counting": "stop"}).status_code == 404
    bad = client.post(f"/me/guilds/{GID}/counting/", {"counting": "maybe"})
    assert bad.status_code == 400 and "error" in bad.json()
    assert client.get(f"/me/guilds/{GID}/counting/").status_code == 405
    client.force_login(get_user_model().objects.create_user("password-user"))
    assert b"sign in with Discord" in client.get("/me/").content
    assert client.get("/me/export.json").status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "/accounts/discord/login/callback/?error=access_denied&state=x",
        "/accounts/discord/login/callback/?code=forged&state=forged",
        "/accounts/discord/login/callback/",
        "/accounts/discord/login/",
        "/accounts/3rdparty/login/cancelled/",
    ],
)
def test_failed_or_odd_sign_ins_get_our_pages_not_errors(client, db, settings, url):
    settings.SOCIALACCOUNT_PROVIDERS = {"discord": {"APPS": [{"client_id": "c", "secret": "s"}]}}
    answer = client.get(url)
    assert answer.status_code in (200, 401) and b"Mocha" in answer.content
    assert not client.session.get("_auth_user_id")
