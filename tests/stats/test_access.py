"""stats.access: the one rule of who sees which guild, and who an open socket's session is now."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore

from signin.sessions import session_key_for
from stats import access
from stats.models import Channel, Guild

pytestmark = pytest.mark.django_db


@pytest.fixture
def guilds():
    public = Guild.objects.create(id=81, name="Open", visibility="public")
    private = Guild.objects.create(id=82, name="Closed", visibility="private")
    return public, private


def signed_in(user: User) -> str:
    """A session key as the login view leaves it."""
    return session_key_for(user)


def test_who_sees_which_guild(guilds):
    public, private = guilds
    viewer = User.objects.create_user("viewer", password="x")
    staff = User.objects.create_user("staff", password="x", is_staff=True)
    private.viewers.add(viewer)
    assert set(access.visible_guilds(None)) == {public}
    assert set(access.visible_guilds(viewer)) == {public, private}
    assert access.can_view(staff, 82) and access.can_view(viewer, 82)
    assert (
        not access.can_view(None, 82)
        and not access.can_view(None, 2**63)
        and not access.can_view(None, 999)
    )
    viewer.is_active = False
    assert not access.can_view(viewer, 82)


def test_excluded_channels_are_for_staff_only(guilds):
    public, _ = guilds
    channel = Channel.objects.create(id=810, guild=public, name="secret")
    staff = User.objects.create_user("staff", password="x", is_staff=True)
    assert access.can_view_channel(None, channel)
    public.excluded_channels.add(channel)
    assert not access.can_view_channel(None, channel) and access.can_view_channel(staff, channel)


def test_a_socket_session_loses_its_guild_when_access_goes(guilds):
    _, private = guilds
    viewer = User.objects.create_user("viewer", password="x")
    private.viewers.add(viewer)
    key = signed_in(viewer)
    assert access.still_allowed({(key, 82), (None, 81), (None, 82)}) == {(key, 82), (None, 81)}
    private.viewers.remove(viewer)
    assert access.still_allowed({(key, 82)}) == set()
    private.viewers.add(viewer)
    SessionStore(key).delete()  # signed out
    assert access.still_allowed({(key, 82)}) == set()


def test_a_guild_made_private_is_hidden_at_once_despite_the_kept_row(
    guilds, django_assert_num_queries
):
    public, _ = guilds
    anonymous = None
    assert access.guild_for(anonymous, public.id) == public  # the row is now kept
    with django_assert_num_queries(0):
        kept = access.guild_for(anonymous, public.id)
    kept._excluded_ids = [1]  # what a request may hang on its copy stays with that request
    assert "_excluded_ids" not in access.guild_for(anonymous, public.id).__dict__
    Guild.objects.filter(pk=public.id).update(visibility="private")  # as the settings page does
    assert access.guild_for(anonymous, public.id) is None
    Guild.objects.filter(pk=public.id).update(visibility="public")
    assert access.guild_for(anonymous, public.id).visibility == "public"
