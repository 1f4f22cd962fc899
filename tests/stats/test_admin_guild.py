"""The guild admin: configuration form, list view without N+1, search, filters, and what cannot be
edited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cachalot.api import cachalot_disabled
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from collector.writer import Writer
from stats import rollups
from stats.models import Channel, Guild, Member, RecentEvent, hour_of
from tests.rows import add_hourly, create_hourly, hourly

pytestmark = pytest.mark.django_db
GID, OTHER = 123456789012345678, 223456789012345678


@pytest.fixture
def guilds(db) -> tuple[Guild, Guild]:
    now = timezone.now()
    g = Guild.objects.create(id=GID, name="Coffee House", member_count=42, visibility="public")
    o = Guild.objects.create(
        id=OTHER, name="Tea Room", member_count=7, visibility="private", count_bots=True
    )
    Channel.objects.bulk_create(
        [
            Channel(id=11, guild=g, name="general"),
            Channel(id=12, guild=g, name="memes", position=1),
            Channel(id=13, guild=g, name="gone", deleted=True),
            Channel(id=51, guild=g, name="Lounge", type=2),
            Channel(id=21, guild=o, name="tea-talk"),
        ]
    )
    here = hour_of(now)
    add_hourly(
        [
            hourly(guild_id=GID, hour=here, channel_id=11, user_id=1, messages=5),
            hourly(guild_id=GID, hour=here - 24, channel_id=12, user_id=2, messages=3),
            hourly(
                guild_id=GID, hour=here - 8 * 24, channel_id=11, user_id=1, messages=100
            ),  # older than 7 days
            hourly(guild_id=OTHER, hour=here, channel_id=21, user_id=1, messages=9),
        ]
    )
    rollups.rebuild(GID)
    rollups.rebuild(OTHER)
    RecentEvent.objects.create(
        guild_id=GID, kind="message", channel_id=11, user_id=1, at=now - timedelta(minutes=3)
    )
    return g, o


def form_data(guild: Guild, **changes) -> dict:
    """The change form as a browser would post it (unchecked boxes are absent)."""
    data = {
        "tracking": guild.tracking,
        "count_bots": guild.count_bots,
        "track_voice": guild.track_voice,
        "excluded_channels": [str(c) for c in guild.excluded_channels.values_list("id", flat=True)],
        "timezone": guild.timezone,
        "default_days": guild.default_days,
        "visibility": guild.visibility,
        "viewers": [str(u) for u in guild.viewers.values_list("id", flat=True)],
        "retention_days": guild.retention_days,
        "_save": "Save",
    }
    data.update(changes)
    return {k: ("on" if v is True else v) for k, v in data.items() if v is not False}


def change_url(gid: int) -> str:
    return reverse("admin:stats_guild_change", args=[gid])


def test_list_shows_activity_per_guild(admin_client, guilds):
    response = admin_client.get(reverse("admin:stats_guild_changelist"))
    assert response.status_code == 200
    rows = {str(g.pk): g for g in response.context["cl"].result_list}
    assert rows[str(GID)].messages_7d == 8 and rows[str(OTHER)].messages_7d == 9
    assert rows[str(GID)].last_event_at is not None and rows[str(OTHER)].last_event_at is None
    body = response.content.decode()
    assert str(GID) in body and "Coffee House" in body and "42" in body


def test_excluded_channels_do_not_count_in_the_list(admin_client, guilds):
    guilds[0].excluded_channels.add(12)
    response = admin_client.get(reverse("admin:stats_guild_changelist"))
    rows = {g.pk: g for g in response.context["cl"].result_list}
    assert rows[GID].messages_7d == 5


def test_list_queries_do_not_grow_with_the_number_of_guilds(admin_client, guilds):
    url = reverse("admin:stats_guild_changelist")
    with cachalot_disabled(), CaptureQueriesContext(connection) as few:
        admin_client.get(url)
    Guild.objects.bulk_create([Guild(id=900 + i, name=f"g{i}") for i in range(12)])
    for i in range(12):
        create_hourly(
            guild_id=900 + i, hour=hour_of(timezone.now()), channel_id=1, user_id=1, messages=1
        )
    with cachalot_disabled(), CaptureQueriesContext(connection) as many:
        response = admin_client.get(url)
    assert len(response.context["cl"].result_list) == 14
    assert len(many) == len(few) <= 6


@pytest.mark.parametrize(
    "term, found",
    [
        (str(GID), {GID}),
        ("coffee", {GID}),
        ("tea", {OTHER}),
        ("99999999999999999999999", set()),
        ("-1", set()),
    ],
)
def test_search_by_name_or_snowflake(admin_client, guilds, term, found):
    response = admin_client.get(reverse("admin:stats_guild_changelist"), {"q": term})
    assert response.status_code == 200
    assert {g.pk for g in response.context["cl"].result_list} == found


@pytest.mark.parametrize(
    "query, found",
    [
        ({"visibility__exact": "private"}, {OTHER}),
        ({"count_bots__exact": "1"}, {OTHER}),
        ({"tracking__exact": "1"}, {GID, OTHER}),
    ],
)
def test_filters(admin_client, guilds, query, found):
    response = admin_client.get(reverse("admin:stats_guild_changelist"), query)
    assert {g.pk for g in response.context["cl"].result_list} == found


def test_channel_choices_are_this_guilds_channels_by_name(admin_client, guilds):
    response = admin_client.get(change_url(GID))
    assert response.status_code == 200
    field = response.context["adminform"].form.fields["excluded_channels"]
    labels = {cid: label for cid, label in ((c.value, lbl) for c, lbl in field.choices)}
    assert set(labels) == {11, 12, 51}  # not the deleted one, not the other guild's
    assert labels[11] == "#general (text)" and labels[51] == "#Lounge (voice)"


def test_saving_the_form_changes_configuration_only(admin_client, guilds):
    viewer = User.objects.create_user("viewer", password="pw-123456789")
    Guild.objects.filter(pk=GID).update(member_count=50)  # the collector wrote meanwhile
    response = admin_client.post(
        change_url(GID),
        form_data(
            guilds[0],
            excluded_channels=["12", "51"],
            visibility="private",
            viewers=[str(viewer.pk)],
            timezone="Europe/Paris",
            default_days="14",
            retention_days="7",
            count_bots=True,
            track_voice=False,
        ),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    g = Guild.objects.get(pk=GID)
    assert set(g.excluded_channels.values_list("id", flat=True)) == {12, 51}
    assert (g.visibility, g.timezone, g.default_days, g.retention_days) == (
        "private",
        "Europe/Paris",
        14,
        7,
    )
    assert g.count_bots and not g.track_voice and g.tracking
    assert list(g.viewers.all()) == [viewer]
    assert g.member_count == 50 and g.name == "Coffee House"


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"excluded_channels": ["21"]}, "excluded_channels"),  # another guild's channel
        ({"excluded_channels": ["13"]}, "excluded_channels"),  # deleted and not excluded yet
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"default_days": "0"}, "default_days"),
        ({"retention_days": "3651"}, "retention_days"),
        ({"visibility": "secret"}, "visibility"),
    ],
)
def test_bad_values_are_refused(admin_client, guilds, changes, field):
    response = admin_client.post(change_url(GID), form_data(guilds[0], **changes))
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert Guild.objects.get(pk=GID).excluded_channels.count() == 0


def test_an_admin_save_reaches_the_collectors_config_load(admin_client, guilds):
    writer = Writer()
    assert writer.load_configs()[GID].excluded == frozenset()  # now cached by cachalot
    admin_client.post(
        change_url(GID), form_data(guilds[0], excluded_channels=["12"], tracking=False)
    )
    config = writer.load_configs()[GID]
    assert config.excluded == frozenset({12}) and config.tracking is False


def test_visibility_and_viewers_set_in_the_admin_apply_to_the_api(client, admin_client, guilds):
    url = f"/api/guilds/{GID}/stats"
    assert client.get(url).status_code == 200
    admin_client.post(change_url(GID), form_data(guilds[0], visibility="private"))
    assert client.get(url).status_code == 404
    viewer = User.objects.create_user("viewer", password="pw-123456789")
    client.force_login(viewer)
    assert client.get(url).status_code == 404
    admin_client.post(
        change_url(GID), form_data(Guild.objects.get(pk=GID), viewers=[str(viewer.pk)])
    )
    assert client.get(url).status_code == 200


def test_guilds_cannot_be_added_or_deleted_by_hand(admin_client, guilds):
    assert admin_client.get(reverse("admin:stats_guild_add")).status_code == 403
    assert admin_client.get(reverse("admin:stats_guild_delete", args=[GID])).status_code == 403
    response = admin_client.get(reverse("admin:stats_guild_changelist"))
    assert (
        "delete_selected" not in response.context["action_form"].fields["action"].choices.__repr__()
    )


@pytest.mark.parametrize("model", ["channel", "member", "collectorstate"])
def test_read_only_models_cannot_be_added_changed_or_deleted(admin_client, guilds, model):
    assert admin_client.get(reverse(f"admin:stats_{model}_changelist")).status_code == 200
    assert admin_client.get(reverse(f"admin:stats_{model}_add")).status_code == 403
    if model == "channel":
        url = reverse("admin:stats_channel_change", args=[11])
        assert admin_client.get(url).status_code == 200  # viewable
        assert admin_client.post(url, {"name": "renamed"}).status_code == 403
        assert Channel.objects.get(pk=11).name == "general"


@pytest.mark.parametrize(
    "model", ["hourlystat", "voicesession", "memberevent", "recentevent", "messagecursor"]
)
def test_stats_rows_are_not_in_the_admin(admin_client, model):
    assert admin_client.get(f"/admin/stats/{model}/").status_code == 404
    assert admin_client.get(f"/admin/stats/{model}/add/").status_code == 404


def test_channel_list_shows_which_channels_are_counted(admin_client, guilds):
    guilds[0].excluded_channels.add(12)
    response = admin_client.get(reverse("admin:stats_channel_changelist"), {"q": "12"})
    rows = list(response.context["cl"].result_list)
    assert [c.pk for c in rows] == [12] and rows[0].is_excluded


def test_member_search_by_user_id(admin_client, guilds):
    Member.objects.create(guild=guilds[0], user_id=444555666777888999, username="neo")
    Member.objects.create(guild=guilds[0], user_id=5, username="trinity")
    response = admin_client.get(
        reverse("admin:stats_member_changelist"), {"q": "444555666777888999"}
    )
    assert [m.username for m in response.context["cl"].result_list] == ["neo"]
