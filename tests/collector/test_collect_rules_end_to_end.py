"""Each counting rule through the simulator, discord.py and the database, in Discord's payload
format."""

from __future__ import annotations

import json
import threading
import time

import pytest
from django.db import connection
from django.db.models import Sum

from stats.models import Channel, Guild
from tests.collector import payloads as p
from tests.collector.dblock import write_lock
from tests.collector.harness import ScenarioClock, run_collect
from tests.rows import hourly_stats

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
G = p.GUILD
OTHER = 700000000000000002
TS = p.recent()  # the channels endpoint reads these messages back through a window from today


def line(t: str, d: dict) -> str:
    return json.dumps({"t": t, "d": d})


def guild_lines() -> list[str]:
    channels = [
        p.channel(11, "general"),
        p.channel(12, "secret"),
        p.channel(51, "voice", 2),
        p.channel(61, "afk", 2),
        p.channel(71, "forum", 15),
    ]
    return [
        line(
            "GUILD_CREATE",
            p.guild_create(
                channels=channels,
                members=[1, 2, 3],
                afk=61,
                threads=[p.channel(900, "old thread", 11, parent=11)],
            ),
        ),
        line(
            "GUILD_CREATE",
            p.guild_create(
                guild=OTHER, channels=[p.channel(21, "other", guild=OTHER)], members=[1]
            ),
        ),
    ]


def messages_by_channel(guild: int = G) -> dict[int, int]:
    rows = (
        hourly_stats().filter(guild_id=guild).values_list("channel_id").annotate(m=Sum("messages"))
    )
    return {cid: m for cid, m in rows if m}


def test_bots_webhooks_dms_excluded_channels_and_threads():
    Guild.objects.create(id=G, name="Guild 1")
    Channel.objects.create(id=12, guild_id=G, name="secret")
    Guild.objects.get(id=G).excluded_channels.add(12)
    lines = guild_lines() + [
        line("MESSAGE_CREATE", p.message(1, 11, TS)),
        line("MESSAGE_CREATE", p.message(2, 11, TS, bot=True)),
        line("MESSAGE_CREATE", p.message(3, 11, TS, webhook=True)),
        line("MESSAGE_CREATE", p.message(1, 555, TS, guild=None)),  # a DM
        line("MESSAGE_CREATE", p.message(1, 12, TS)),  # excluded
        line("MESSAGE_CREATE", p.message(1, 900, TS)),  # thread known from GUILD_CREATE
        line(
            "THREAD_CREATE", {**p.channel(901, "new thread", 11, parent=11), "newly_created": True}
        ),
        line("MESSAGE_CREATE", p.message(2, 901, TS)),
        line("THREAD_CREATE", p.channel(902, "forum post", 11, parent=71)),
        line("MESSAGE_CREATE", p.message(3, 902, TS)),
        line("MESSAGE_CREATE", p.message(1, 21, TS, guild=OTHER)),  # another guild
    ]
    run_collect(lines, sleep_scale=0)
    assert messages_by_channel() == {11: 3, 71: 1}
    assert messages_by_channel(OTHER) == {21: 1}
    assert not hourly_stats().filter(user_id__in=[555]).exists()
    assert Channel.objects.get(id=901).parent_id == 11


def test_counting_bots_is_a_guild_setting():
    Guild.objects.create(id=G, name="Guild 1", count_bots=True)
    lines = guild_lines() + [
        line("MESSAGE_CREATE", p.message(2, 11, TS, bot=True)),
        line("MESSAGE_CREATE", p.message(3, 11, TS, webhook=True)),
    ]
    run_collect(lines, sleep_scale=0)
    assert messages_by_channel() == {11: 2}


def test_voice_seconds_per_member_are_exact_and_afk_time_is_not_voice_time(monkeypatch):
    """The collector's clock follows the scenario's sleep lines (no real waiting): 100 s before an
    hour ends, member 3 is already in voice; 1 joins, 2 sits in the AFK channel."""
    start = 1_795_000_000 // 3600 * 3600 + 3500
    guild = p.guild_create(
        channels=[p.channel(51, "voice", 2), p.channel(52, "stage", 2), p.channel(61, "afk", 2)],
        members=[1, 2, 3],
        afk=61,
        voice=[(3, 51)],
    )
    lines = [
        line("GUILD_CREATE", guild),
        line("VOICE_STATE_UPDATE", p.voice(1, 51)),
        line("VOICE_STATE_UPDATE", p.voice(2, 61)),
        json.dumps({"op": "sleep", "ms": 125_000}),
        line("VOICE_STATE_UPDATE", p.voice(1, 61)),  # goes AFK: stops counting
        line("VOICE_STATE_UPDATE", p.voice(3, 52)),  # moves: counted on in the other channel
        json.dumps({"op": "sleep", "ms": 60_000}),
        line("VOICE_STATE_UPDATE", p.voice(3, None)),  # leaves
        json.dumps({"op": "sleep", "ms": 30_000}),
    ]
    clock = ScenarioClock(lines, start)
    clock.install(monkeypatch)
    run_collect(lines, clock=clock)
    rows = hourly_stats().filter(guild_id=G, voice_seconds__gt=0)
    got = {
        (h - start // 3600, c, u): v
        for h, c, u, v in rows.values_list("hour", "channel_id", "user_id", "voice_seconds")
    }
    assert got == {
        (0, 51, 1): 100,
        (1, 51, 1): 25,  # 125 s, split at the hour
        (0, 51, 3): 100,
        (1, 51, 3): 25,
        (1, 52, 3): 60,
    }
    assert clock.now == start + 215  # the whole scenario ran on the scenario's time


def hold_write_lock(seconds: float, ready: threading.Event) -> None:
    """Another writer holds the database for a while, as a long admin action or a backup would."""
    with write_lock():
        ready.set()
        time.sleep(seconds)


def test_a_stalled_database_loses_nothing(basic_scenario, basic_expected):
    from tests.collector.harness import read_everything, scenario_lines

    lines = scenario_lines(basic_scenario)
    ready = threading.Event()
    locker = threading.Thread(target=hold_write_lock, args=(10.0, ready))  # SQLite locked for 10 s
    lines.insert(400, json.dumps({"op": "sleep", "ms": 300}))
    locker.start()
    ready.wait(5)
    # The scenario ends while the database is still locked; stop only after the lock is gone.
    read_all = read_everything(lines)
    collector = run_collect(
        lines, sleep_scale=0.3, until=lambda c: not locker.is_alive() and read_all(c)
    )
    locker.join()
    assert (
        hourly_stats().filter(guild_id=G).aggregate(m=Sum("messages"))["m"]
        == basic_expected["messages"]
    )
    assert collector.pending is None
    connection.close()


def test_malformed_payloads_are_skipped_and_counting_goes_on():
    broken = p.message(1, 11, TS)
    del broken["author"]
    lines = guild_lines() + [
        line("MESSAGE_CREATE", broken),
        line("MESSAGE_CREATE", {**p.message(1, 11, TS), "timestamp": "not a time"}),
        line("VOICE_STATE_UPDATE", {"guild_id": str(G)}),
        line("MESSAGE_CREATE", p.message(2, 11, TS)),
    ]
    collector = run_collect(lines, sleep_scale=0)
    assert messages_by_channel() == {11: 1}
    assert collector.agg.skipped == {"missing_field": 2, "bad_timestamp": 1}


def test_what_exists_changes_with_deletes_and_updates_and_counts_stay(client):
    renamed = {**p.channel(11, "general-renamed"), "topic": "new"}
    lines = guild_lines() + [
        line("MESSAGE_CREATE", p.message(1, 11, TS)),
        line("MESSAGE_CREATE", p.message(2, 900, TS)),
        line("VOICE_STATE_UPDATE", p.voice(3, 51)),
        json.dumps({"op": "sleep", "ms": 1200}),
        line("CHANNEL_UPDATE", renamed),
        line("THREAD_DELETE", {"id": "900", "guild_id": str(G), "parent_id": "11", "type": 11}),
        line(
            "GUILD_UPDATE",
            {"id": str(G), "name": "Renamed guild", "afk_channel_id": "51", "icon": None},
        ),
        line("CHANNEL_DELETE", p.channel(12, "secret")),
        line("GUILD_DELETE", {"id": str(OTHER)}),  # the bot was removed from the other guild
        line("GUILD_DELETE", {"id": str(G), "unavailable": True}),  # an outage of this one…
        json.dumps({"op": "sleep", "ms": 300}),
        line(
            "GUILD_CREATE",
            {
                **p.guild_create(
                    channels=[renamed, p.channel(51, "voice", 2), p.channel(61, "afk", 2)],
                    members=[1, 2, 3],
                    afk=51,
                ),
                "name": "Renamed guild",
            },
        ),  # …that ends
        line("MESSAGE_CREATE", p.message(1, 11, TS)),
    ]
    run_collect(lines, sleep_scale=1.0)
    assert messages_by_channel() == {11: 3}  # the deleted thread's message stays with its parent
    channels = {c.id: c for c in Channel.objects.filter(guild_id=G)}
    assert channels[11].name == "general-renamed" and not channels[11].deleted
    assert channels[12].deleted and channels[900].deleted
    guild, other = Guild.objects.get(id=G), Guild.objects.get(id=OTHER)
    assert (guild.name, guild.afk_channel_id, guild.available, guild.removed) == (
        "Renamed guild",
        51,
        True,
        False,
    )
    assert (other.available, other.removed) == (False, True)
    voice = hourly_stats().filter(guild_id=G, user_id=3).aggregate(v=Sum("voice_seconds"))["v"]
    assert 1 <= voice <= 3  # voice in 51 stopped counting when it became the AFK channel
    guild.visibility = Guild.Visibility.PUBLIC
    guild.save()
    Channel.objects.filter(id=11).update(deleted=True)
    page = client.get(f"/guilds/{G}/channels/11/").content.decode()
    assert "deleted" in page
    api = client.get(f"/api/guilds/{G}/channels?days=3650").json()
    assert {c["channel_id"]: c["deleted"] for c in api["channels"]} == {"11": True, "51": False}
