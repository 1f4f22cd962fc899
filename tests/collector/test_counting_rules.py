"""The counting rules (docs/counting.md), on plain payloads through the aggregator."""

from __future__ import annotations

from datetime import UTC, datetime

from collector.aggregate import Aggregator, GuildConfig
from collector.ranges import Ranges
from tests.collector import payloads as p

G = p.GUILD
T0 = datetime(2026, 11, 26, 18, 0, tzinfo=UTC).timestamp()
HOUR = int(T0) // 3600


def totals(agg: Aggregator, now: float = T0) -> tuple[dict, dict]:
    """Messages and voice seconds per (channel, user) in the current batch."""
    batch = agg.take_batch(now)
    messages, voice = {}, {}
    for (_gid, _hour, cid, uid), (m, v) in batch.counters.items():
        if m:
            messages[(cid, uid)] = messages.get((cid, uid), 0) + m
        if v:
            voice[(cid, uid)] = voice.get((cid, uid), 0) + v
    return messages, voice


def test_message_counts_for_its_own_hour_not_arrival():
    agg = Aggregator()
    agg.message(p.message(1, 11, ts="2025-03-01T10:59:59+00:00"))
    agg.message(p.message(1, 11, ts="2025-03-01T11:00:00.123000+00:00"))
    hours = sorted(k[1] for k in agg.batch.counters)
    base = int(datetime(2025, 3, 1, 10, tzinfo=UTC).timestamp()) // 3600
    assert hours == [base, base + 1]


def test_dms_are_ignored():
    agg = Aggregator()
    agg.message(p.message(1, 99, guild=None))
    assert agg.batch.counters == {}


def test_bots_and_webhooks_count_only_when_the_guild_counts_bots():
    agg = Aggregator()
    agg.message(p.message(1, 11, bot=True))
    agg.message(p.message(2, 11, webhook=True))
    agg.message(p.message(3, 11))
    assert totals(agg)[0] == {(11, 3): 1}
    agg.set_config({G: GuildConfig(count_bots=True)}, T0)
    agg.message(p.message(1, 11, bot=True))
    agg.message(p.message(2, 11, webhook=True))
    assert totals(agg)[0] == {(11, 1): 1, (11, 2): 1}


def test_excluded_channels_and_untracked_guilds_count_nothing():
    agg = Aggregator()
    agg.set_config({G: GuildConfig(excluded=frozenset({12}))}, T0)
    agg.message(p.message(1, 12))
    agg.message(p.message(1, 11))
    assert totals(agg)[0] == {(11, 1): 1}
    agg.set_config({G: GuildConfig(tracking=False)}, T0)
    agg.message(p.message(1, 11))
    agg.member_add(p.member_add(5), T0)
    batch = agg.take_batch(T0)
    assert batch.counters == {} and batch.member_events == []


def test_thread_messages_count_for_the_parent_channel_and_its_exclusion():
    agg = Aggregator()
    agg.guild_create(
        p.guild_create(
            channels=[p.channel(11, "general")], threads=[p.channel(900, "t", 11, parent=11)]
        ),
        T0,
    )
    agg.channel_update(p.channel(901, "t2", 11, parent=11))  # THREAD_CREATE later
    agg.message(p.message(1, 900))
    agg.message(p.message(1, 901))
    assert totals(agg)[0] == {(11, 1): 2}
    agg.set_config({G: GuildConfig(excluded=frozenset({11}))}, T0)
    agg.message(p.message(1, 900))
    assert totals(agg)[0] == {}


def test_a_replayed_message_is_counted_once_and_earlier_runs_are_remembered():
    agg = Aggregator(cursors={11: Ranges([(300, 500)])})
    m = p.message(1, 11, mid=600)
    agg.message(m)
    agg.message(m)
    agg.message(p.message(1, 11, mid=400))  # counted by an earlier run
    agg.message(p.message(1, 11, mid=200))  # older than anything counted: new
    assert totals(agg)[0] == {(11, 1): 2}


def test_voice_minutes_split_across_hours_and_afk_is_not_counted():
    agg = Aggregator()
    agg.guild_create(
        p.guild_create(channels=[p.channel(51, "v", 2), p.channel(61, "afk", 2)], afk=61), T0
    )
    agg.voice_state(p.voice(1, 51), T0 + 3600 - 600)  # 10 minutes before the hour
    agg.voice_state(p.voice(2, 61), T0)  # AFK
    agg.voice_state(p.voice(1, 51), T0 + 3600)  # mute toggle: same channel, no change
    agg.voice_state(p.voice(1, None), T0 + 3600 + 300)
    agg.voice_state(p.voice(2, None), T0 + 7200)
    batch = agg.take_batch(T0 + 7200)
    per_hour = {(k[1], k[3]): v[1] for k, v in batch.counters.items() if v[1]}
    assert per_hour == {(HOUR, 1): 600, (HOUR + 1, 1): 300}


def test_a_move_closes_one_session_and_opens_another():
    agg = Aggregator()
    agg.voice_state(p.voice(1, 51), T0)
    agg.voice_state(p.voice(1, 52), T0 + 60)
    agg.voice_state(p.voice(1, None), T0 + 90)
    assert totals(agg, T0 + 100)[1] == {(51, 1): 60, (52, 1): 30}


def test_members_in_voice_at_start_count_from_start_and_open_sessions_are_credited_each_flush():
    agg = Aggregator()
    agg.guild_create(p.guild_create(channels=[p.channel(51, "v", 2)], voice=[(7, 51)]), T0)
    assert totals(agg, T0 + 30)[1] == {(51, 7): 30}
    assert totals(agg, T0 + 45)[1] == {(51, 7): 15}
    agg.close_all_voice(T0 + 50)
    batch = agg.take_batch(T0 + 60)
    assert sum(v[1] for v in batch.counters.values()) == 5
    assert agg.voice == {}


def test_excluding_a_channel_closes_its_open_voice_sessions():
    agg = Aggregator()
    agg.voice_state(p.voice(1, 51), T0)
    agg.set_config({G: GuildConfig(excluded=frozenset({51}))}, T0 + 20)
    assert totals(agg, T0 + 100)[1] == {(51, 1): 20}


def test_bots_in_voice_are_not_counted_by_default():
    agg = Aggregator()
    agg.voice_state(p.voice(1, 51, bot=True), T0)
    assert totals(agg, T0 + 100)[1] == {}


def test_joins_and_leaves_are_recorded_in_order():
    agg = Aggregator()
    agg.member_add(p.member_add(5), T0)
    agg.member_remove(p.member_remove(5), T0 + 1)
    batch = agg.take_batch(T0 + 2)
    assert [(k, u) for k, _, u, _ in batch.member_events] == [(1, 5), (2, 5)]


def test_no_message_content_reaches_the_batch():
    agg = Aggregator()
    agg.message(p.message(1, 11, content="secret words"))
    assert "secret words" not in repr(agg.take_batch(T0))


def test_a_failed_batch_merged_with_the_next_loses_nothing():
    agg = Aggregator()
    agg.message(p.message(1, 11))
    first = agg.take_batch(T0)
    agg.message(p.message(1, 11))
    agg.message(p.message(2, 11))
    merged = first.merge_newer(agg.take_batch(T0))
    assert sum(v[0] for v in merged.counters.values()) == 3


def test_an_opted_out_member_is_counted_nowhere_and_their_open_voice_stops():
    agg = Aggregator()
    agg.voice_state(p.voice(7, 21), T0)
    agg.set_config({G: GuildConfig(opted_out=frozenset({7}))}, T0 + 60)
    assert agg.voice == {}  # their session stops at once, without crediting more
    agg.take_batch(T0 + 60)  # what was counted before (the collector then erases it)
    agg.message(p.message(7, 11))
    agg.message(p.message(8, 11))
    agg.voice_state(p.voice(7, 22), T0 + 90)
    agg.member_add(p.member_add(7), T0 + 100)
    agg.member_remove(p.member_remove(7), T0 + 120)
    batch = agg.take_batch(T0 + 3600)
    assert {k[3] for k in batch.counters} == {8}
    assert batch.member_events == [] and (G, 7) not in batch.members
    assert all(uid != 7 for items in batch.feed.values() for _, _, uid, _ in items)
    agg.set_config({G: GuildConfig()}, T0 + 3600)  # opted back in: counted from now on
    agg.message(p.message(7, 11, ts="2026-11-26T19:40:16+00:00"))
    assert totals(agg)[0] == {(11, 7): 1}
