"""Admin maintenance actions: a confirmation page first, then the action, logged in the admin
log."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from cachalot.api import get_last_invalidation
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission, User
from django.db.models import Sum
from django.urls import reverse

from collector.aggregate import Aggregator
from collector.writer import Writer
from stats import cache, maintenance
from stats.models import (
    Guild,
    Member,
    MemberEvent,
    MessageCursor,
    RecentEvent,
    VoiceSession,
)
from tests.collector import payloads as p
from tests.rows import create_hourly, hourly_stats

pytestmark = pytest.mark.django_db
GID, OTHER = p.GUILD, p.GUILD + 1
HEALTH = {0: {"connected": True}}


def rows_of(guild_id: int, user_id: int | None = None) -> dict[str, int]:
    return {
        label: maintenance.rows_of(model, guild_id, user_id).count()
        for label, model in maintenance.GUILD_ROWS.items()
        if user_id is None or label in maintenance.MEMBER_ROWS
    }


@pytest.fixture
def collected(db) -> float:
    """Two guilds with messages, voice spanning an hour boundary, a join and a leave, written by
    the collector."""
    t0 = (
        int(time.time()) // 3600 - 3
    ) * 3600 + 3000.0  # 10 minutes before an hour boundary, 3 hours ago
    agg, writer = Aggregator(), Writer()
    for gid in (GID, OTHER):
        agg.guild_create(
            p.guild_create(
                gid,
                channels=[
                    p.channel(gid % 100 + 10, "general", guild=gid),
                    p.channel(gid % 100 + 50, "voice", 2, guild=gid),
                ],
                members=[1, 2],
            ),
            t0,
        )
    writer.write(agg.take_batch(t0), HEALTH)
    for gid in (GID, OTHER):
        for uid in (1, 2):
            agg.message(
                p.message(
                    uid,
                    gid % 100 + 10,
                    guild=gid,
                    ts=datetime.fromtimestamp(t0, UTC).isoformat(),
                )
            )
        agg.voice_state(p.voice(1, gid % 100 + 50, guild=gid), t0)
        agg.member_add(p.member_add(3, guild=gid), t0)
    writer.write(agg.take_batch(t0 + 300), HEALTH)
    for gid in (GID, OTHER):
        agg.voice_state(
            p.voice(1, None, guild=gid), t0 + 1500
        )  # 25 minutes: 10 + 15 across the boundary
        agg.member_remove(p.member_remove(2, guild=gid), t0 + 1500)
    writer.write(agg.take_batch(t0 + 1600), HEALTH)
    agg.voice_state(p.voice(2, GID % 100 + 50), t0 + 2000)  # still open
    writer.write(agg.take_batch(t0 + 2600), HEALTH)
    return t0


def post_action(client, model: str, action: str, pks: list, confirm: bool):
    data = {"action": action, "_selected_action": [str(pk) for pk in pks]}
    if confirm:
        data["post"] = "yes"
    return client.post(reverse(f"admin:stats_{model}_changelist"), data)


def logged(obj_id: int, text: str) -> list[LogEntry]:
    return [
        e
        for e in LogEntry.objects.filter(object_id=str(obj_id), action_flag=CHANGE)
        if text in e.get_change_message()
    ]


def test_purge_stats_asks_then_deletes_only_that_guild(admin_client, collected):
    before = rows_of(GID)
    assert all(before.values()), before
    response = post_action(admin_client, "guild", "purge_stats", [GID], confirm=False)
    assert response.status_code == 200
    assert "admin/stats/confirm_action.html" in [t.name for t in response.templates]
    assert (
        f'value="{GID}"' in response.content.decode()
        and "hourly stats: " in response.content.decode()
    )
    assert rows_of(GID) == before  # nothing happened yet
    response = post_action(admin_client, "guild", "purge_stats", [GID], confirm=True)
    assert response.status_code == 302
    assert not any(rows_of(GID).values())
    assert all(rows_of(OTHER).values())
    assert Member.objects.filter(guild_id=GID).exists() and Guild.objects.filter(pk=GID).exists()
    assert len(logged(GID, "Purged stats")) == 1 and not logged(OTHER, "Purged stats")


def test_purge_makes_cached_results_stale_after_commit(
    admin_client, collected, django_capture_on_commit_callbacks
):
    before = cache.data_version(GID)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        post_action(admin_client, "guild", "purge_stats", [GID], confirm=True)
        assert cache.data_version(GID) == before  # not before the deletion is visible to readers
    assert callbacks and cache.data_version(GID) != before


def test_purge_member_data_erases_one_user_in_one_guild(admin_client, collected):
    member = Member.objects.get(guild_id=GID, user_id=1)
    name = member.display_name
    response = post_action(admin_client, "member", "purge_member_data", [member.pk], confirm=False)
    assert response.status_code == 200 and "Purge member data?" in response.content.decode()
    assert hourly_stats().filter(guild_id=GID, user_id=1).exists()
    response = post_action(admin_client, "member", "purge_member_data", [member.pk], confirm=True)
    assert response.status_code == 302
    assert not any(rows_of(GID, 1).values())
    assert not Member.objects.filter(guild_id=GID, user_id=1).exists()
    assert hourly_stats().filter(guild_id=GID, user_id=2).exists()  # others keep theirs
    assert hourly_stats().filter(guild_id=OTHER, user_id=1).exists()  # and the same user elsewhere
    entries = logged(GID, "Purged member data of user 1")
    assert len(entries) == 1 and name not in entries[0].get_change_message()


def test_rebuild_of_untouched_data_changes_nothing(collected):
    guild = Guild.objects.get(pk=GID)
    stored = list(
        hourly_stats()
        .filter(guild_id=GID)
        .order_by("pk")
        .values_list("hour", "channel_id", "user_id", "messages", "voice_seconds")
    )
    assert maintenance.rebuild_voice(guild)["rows changed"] == 0
    assert (
        list(
            hourly_stats()
            .filter(guild_id=GID)
            .order_by("pk")
            .values_list("hour", "channel_id", "user_id", "messages", "voice_seconds")
        )
        == stored
    )


def test_rebuild_restores_voice_seconds_from_sessions_and_keeps_messages(admin_client, collected):
    t0 = collected
    voice = GID % 100 + 50
    expected = {
        (int(t0) // 3600, 1): 600,
        (int(t0) // 3600 + 1, 1): 900,
        (int(t0) // 3600 + 1, 2): 600,
    }
    messages = hourly_stats().filter(guild_id=GID).aggregate(m=Sum("messages"))["m"]
    hourly_stats().filter(guild_id=GID, channel_id=voice).update(voice_seconds=7)  # damaged
    create_hourly(
        guild_id=GID, hour=int(t0) // 3600, channel_id=voice, user_id=9, voice_seconds=50
    )  # stray
    response = post_action(admin_client, "guild", "rebuild_voice", [GID], confirm=False)
    assert "Message counts cannot be rebuilt" in response.content.decode()
    assert hourly_stats().filter(guild_id=GID, voice_seconds=7).exists()
    post_action(admin_client, "guild", "rebuild_voice", [GID], confirm=True)
    got = {
        (h, u): v
        for h, u, v in hourly_stats()
        .filter(guild_id=GID, channel_id=voice)
        .values_list("hour", "user_id", "voice_seconds")
    }
    assert got == expected
    assert hourly_stats().filter(guild_id=GID).aggregate(m=Sum("messages"))["m"] == messages
    assert len(logged(GID, "Rebuilt voice rollups")) == 1


def test_rebuild_leaves_hours_outside_the_retention_window_alone(collected):
    guild = Guild.objects.get(pk=GID)
    old_hour = int(collected) // 3600 - 24 * 40
    create_hourly(guild_id=GID, hour=old_hour, channel_id=1, user_id=1, voice_seconds=1234)
    maintenance.rebuild_voice(guild)
    assert hourly_stats().get(guild_id=GID, hour=old_hour).voice_seconds == 1234


def test_clear_caches_invalidates_cachalot_and_results(admin_client, collected):
    versions = {gid: cache.data_version(gid) for gid in (GID, OTHER)}
    list(Guild.objects.all())  # cached by cachalot
    before = get_last_invalidation("stats_guild")
    response = post_action(admin_client, "guild", "clear_caches", [GID], confirm=False)
    assert response.status_code == 200 and "Clear caches?" in response.content.decode()
    assert get_last_invalidation("stats_guild") == before
    post_action(admin_client, "guild", "clear_caches", [GID], confirm=True)
    assert get_last_invalidation("stats_guild") > before
    assert all(cache.data_version(gid) != v for gid, v in versions.items())
    assert len(logged(GID, "Cleared caches")) == 1


def test_staff_without_change_permission_cannot_run_actions(client, collected):
    staff = User.objects.create_user("watcher", password="pw-123456789", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_guild"))
    client.force_login(staff)
    response = client.get(reverse("admin:stats_guild_changelist"))
    assert response.status_code == 200 and response.context["action_form"] is None
    post_action(client, "guild", "purge_stats", [GID], confirm=True)
    assert hourly_stats().filter(guild_id=GID).exists()


def test_member_events_and_cursors_are_part_of_a_guild_purge(collected):
    assert (
        MemberEvent.objects.filter(guild_id=GID).exists()
        and MessageCursor.objects.filter(guild_id=GID).exists()
    )
    counts = maintenance.purge_guild_stats(GID)
    assert counts["member events"] >= 2 and counts["message cursors"] == 1
    assert (
        not RecentEvent.objects.filter(guild_id=GID).exists()
        and not VoiceSession.objects.filter(guild_id=GID).exists()
    )


def test_view_only_staff_cannot_purge_member_data(client, collected):
    staff = User.objects.create_user("reader", password="pw-123456789", is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_guild", "view_member"])
    )
    client.force_login(staff)
    member, rows = Member.objects.get(guild_id=GID, user_id=1), rows_of(GID, 1)
    response = client.get(reverse("admin:stats_member_changelist"))
    assert response.status_code == 200 and response.context["action_form"] is None
    for confirm in (False, True):
        post_action(client, "member", "purge_member_data", [member.pk], confirm=confirm)
    assert Member.objects.filter(pk=member.pk).exists() and rows_of(GID, 1) == rows
    assert not logged(GID, "Purged member data")


def guild_figures(client, gid: int) -> dict:
    """Every guild-level figure the API serves, over a window that holds all of the fixture's
    data."""

    def get(path: str) -> dict:
        response = client.get(f"/api/guilds/{gid}/{path}")
        assert response.status_code == 200, path
        return response.json()

    stats = get("stats?days=2&interval=hour")
    return {
        "totals": {k: stats["totals"][k] for k in ("messages", "voice_minutes", "active_members")},
        "series": [
            (p["messages"], p["voice_minutes"], p["active_members"]) for p in stats["series"]
        ],
        "channels": {
            c["channel_id"]: (c["messages"], c["voice_minutes"])
            for c in get("channels?days=2")["channels"]
        },
        "heatmap": get("heatmap?days=2")["cells"],
        "leaders": {
            m: [e["user_id"] for e in get(f"leaderboard?metric={m}&days=2")["entries"]]
            for m in ("messages", "voice")
        },
    }


def test_a_purged_member_is_gone_from_every_guild_level_figure(admin_client, collected):
    """Member 1 of GID: one message in general, 25 voice minutes across an hour boundary."""
    before, other = guild_figures(admin_client, GID), guild_figures(admin_client, OTHER)
    maintenance.purge_member(GID, 1)
    cache.bump_versions(
        [GID]
    )  # the admin action's on_commit bump, which this test's transaction defers
    after = guild_figures(admin_client, GID)
    assert after["totals"] == {
        "messages": before["totals"]["messages"] - 1,
        "voice_minutes": before["totals"]["voice_minutes"] - 25,
        "active_members": before["totals"]["active_members"] - 1,
    }
    general, voice = str(GID % 100 + 10), str(GID % 100 + 50)
    assert after["channels"][general] == (before["channels"][general][0] - 1, 0)
    assert after["channels"][voice][1] == before["channels"][voice][1] - 25
    assert sum(map(sum, after["heatmap"])) == sum(map(sum, before["heatmap"])) - 1
    series = list(zip(before["series"], after["series"], strict=False))
    assert sum(b[0] - a[0] for b, a in series) == 1 and sum(b[1] - a[1] for b, a in series) == 25
    assert all(a[2] <= b[2] for b, a in series) and sum(b[2] - a[2] for b, a in series) >= 1
    assert all("1" not in users for users in after["leaders"].values())
    assert "1" in before["leaders"]["messages"] and "1" in before["leaders"]["voice"]
    assert (
        guild_figures(admin_client, OTHER) == other
    )  # the same user in another guild keeps everything
