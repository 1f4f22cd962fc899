"""The collector's edge: invalid payloads are skipped with a reason, odd fields are made safe."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from collector.aggregate import Aggregator
from collector.fields import MAX_SNOWFLAKE, Invalid, snowflake, text, timestamp
from tests.collector import payloads as p

T0 = datetime(2026, 11, 26, 18, 0, tzinfo=UTC).timestamp()


def with_(d: dict, path: str, value) -> dict:
    """A copy of `d` with the dotted `path` set to `value` (a missing value deletes the key)."""
    import copy

    d = copy.deepcopy(d)
    *parents, last = path.split(".")
    target = d
    for key in parents:
        target = target[key]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return d


@pytest.mark.parametrize("value", ["1", 1, str(MAX_SNOWFLAKE), MAX_SNOWFLAKE])
def test_snowflakes_in_range_are_accepted(value):
    assert snowflake(value, "id") == int(value)


@pytest.mark.parametrize(
    "value", ["0", 0, "-5", -5, str(2**63), 2**64, "1e5", "12a", "", "9" * 5000, 1.0, True, [], {}]
)
def test_anything_else_is_not_a_snowflake(value):
    with pytest.raises(Invalid) as err:
        snowflake(value, "author.id")
    assert err.value.field == "author.id" and err.value.reason == "bad_snowflake"


@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "2026-13-01T00:00:00+00:00",
        "1999-01-01T00:00:00+00:00",
        5,
        "9999-12-31T23:59:59-14:00",
    ],
)
def test_bad_timestamps(value):
    with pytest.raises(Invalid) as err:
        timestamp(value, "timestamp")
    assert err.value.reason == "bad_timestamp"


def test_text_is_made_safe_for_any_column():
    assert text("a\x00b" + "x" * 300, 64) == "ab" + "x" * 62
    assert text("\ud800name", 64) == "?name"  # a lone surrogate cannot be stored as UTF-8
    assert text(12, 64) == "" and text(None, 64) == ""


@pytest.mark.parametrize(
    "path, value, field, reason",
    [
        ("id", str(2**64), "id", "bad_snowflake"),
        ("author.id", str(2**63), "author.id", "bad_snowflake"),
        ("channel_id", "-3", "channel_id", "bad_snowflake"),
        ("timestamp", "not a date", "timestamp", "bad_timestamp"),
        ("timestamp", KeyError, "timestamp", "missing_field"),
        ("author", None, "author", "missing_field"),
        ("author", "someone", "author", "bad_type"),
    ],
)
def test_an_invalid_message_is_skipped_with_one_line_naming_event_and_field(
    path, value, field, reason, caplog
):
    agg = Aggregator()
    agg.message(p.message(1, 11))
    with pytest.raises(Invalid) as err:
        agg.message(with_(p.message(1, 11), path, value))
    agg.skip("MESSAGE_CREATE", err.value)
    assert err.value.field == field
    assert agg.skipped == {reason: 1}
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(lines) == 1 and lines[0].startswith(f"skipped MESSAGE_CREATE: {field} ")
    assert sum(m for m, _ in agg.batch.counters.values()) == 1  # the valid one only


def test_odd_but_valid_fields_are_counted_made_safe():
    agg = Aggregator()
    m = with_(p.message(1, 11), "author.username", "n" * 300)
    m = with_(m, "author.bot", "false")  # not `true`: a person
    agg.message(m)
    agg.channel_update({**p.channel(12, "c" * 200), "type": 99, "position": 2**40})
    batch = agg.take_batch(T0)
    assert sum(v[0] for v in batch.counters.values()) == 1
    info, _ = batch.members[(p.GUILD, 1)]
    assert info.username == "n" * 64 and info.bot is False
    ch = batch.channels[12]
    assert (len(ch.name), ch.type, ch.position) == (100, 0, 2**31 - 1)


def test_a_bad_join_time_skips_the_join_and_a_bad_voice_channel_the_voice_state():
    agg = Aggregator()
    with pytest.raises(Invalid, match="joined_at"):
        agg.member_add(p.member_add(5, joined_at="last tuesday"), T0)
    with pytest.raises(Invalid, match="channel_id"):
        agg.voice_state(with_(p.voice(5, 51), "channel_id", str(2**63 + 7)), T0)
    batch = agg.take_batch(T0)
    assert batch.member_events == [] and batch.voice == {} and agg.voice == {}


def test_a_guild_create_keeps_its_good_parts_and_reports_the_bad_ones(caplog):
    agg = Aggregator()
    g = p.guild_create(
        channels=[p.channel(11, "ok"), {"id": "-1", "name": "bad"}], members=[1, 2], voice=[(1, 51)]
    )
    g["members"][1]["user"]["id"] = "nope"
    g["voice_states"].append({"user_id": str(2**64), "channel_id": "51"})
    agg.guild_create(g, T0)
    batch = agg.take_batch(T0 + 10)
    assert set(batch.channels) == {11}
    assert [k[1] for k in batch.members] == [1]
    assert set(agg.voice) == {(p.GUILD, 1)}
    assert agg.skipped == {"bad_snowflake": 3}
    fields = sorted(r.getMessage().split(": ")[1].split(" ")[0] for r in caplog.records)
    assert fields == ["channels[1].id", "members[1].user.id", "voice_states[1].user_id"]


def test_channel_and_thread_delete_mark_the_channel_and_close_its_voice():
    agg = Aggregator()
    agg.guild_create(p.guild_create(channels=[p.channel(51, "v", 2)]), T0)
    agg.voice_state(p.voice(1, 51), T0)
    agg.channel_delete({"id": "51", "guild_id": str(p.GUILD), "type": 2}, T0 + 30)
    agg.channel_delete(
        {"id": "77", "guild_id": str(p.GUILD), "parent_id": "11", "type": 11}, T0 + 30
    )
    batch = agg.take_batch(T0 + 100)
    assert batch.deleted_channels == {51, 77}
    assert agg.voice == {} and sum(v[1] for v in batch.counters.values()) == 30


def test_guild_delete_is_an_outage_or_a_removal_and_guild_create_restores_it():
    agg = Aggregator()
    agg.guild_create(p.guild_create(channels=[p.channel(51, "v", 2)]), T0)
    agg.voice_state(p.voice(1, 51), T0)
    agg.guild_delete({"id": str(p.GUILD), "unavailable": True}, T0 + 20)
    info = agg.take_batch(T0 + 100).guilds[p.GUILD]
    assert (info.available, info.removed) == (False, False) and agg.voice == {}
    agg.guild_delete({"id": str(p.GUILD)}, T0 + 200)
    info = agg.take_batch(T0 + 200).guilds[p.GUILD]
    assert (info.available, info.removed) == (False, True)
    agg.guild_create(p.guild_create(), T0 + 300)
    info = agg.take_batch(T0 + 300).guilds[p.GUILD]
    assert (info.available, info.removed) == (True, False)


def test_guild_update_renames_and_a_new_afk_channel_stops_counting_voice_there():
    agg = Aggregator()
    agg.guild_create(p.guild_create(channels=[p.channel(51, "v", 2)]), T0)
    agg.voice_state(p.voice(1, 51), T0)
    update = {"id": str(p.GUILD), "name": "Renamed", "afk_channel_id": "51", "icon": None}
    agg.guild_update(update, T0 + 40)
    agg.voice_state(p.voice(2, 51), T0 + 50)  # joins the AFK channel: not counted
    batch = agg.take_batch(T0 + 100)
    assert batch.guilds[p.GUILD].name == "Renamed" and batch.guilds[p.GUILD].afk_channel_id == 51
    assert {k[3]: v[1] for k, v in batch.counters.items()} == {1: 40}


@pytest.mark.parametrize(
    "value, counted",
    [
        (123, True),
        ("123", True),
        (1.0, False),
        (True, False),
        (str(2**63), False),
        ("9" * 5000, False),
        ([123], False),
    ],
)
def test_a_message_id_is_checked_the_same_on_the_fast_path(value, counted):
    agg = Aggregator()
    try:
        agg.message(with_(p.message(1, 11), "id", value))
    except Invalid as exc:
        assert not counted and exc.field == "id"
    else:
        assert counted and sum(m for m, _ in agg.batch.counters.values()) == 1
