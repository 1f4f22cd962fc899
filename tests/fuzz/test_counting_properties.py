"""Property tests of the counting rules (docs/counting.md) through Aggregator + Writer into the
database.

Hypothesis draws an interleaving of messages (new ones, duplicates of earlier ids, bots, webhooks,
DMs, thread messages), voice joins, moves, mutes and leaves (humans, a bot, the AFK channel),
flushes and restarts (graceful, or killed right after a flush; a restarted collector loads the
cursors, closes stale sessions, gets GUILD_CREATE again and may be sent every earlier message
again). Whatever the interleaving, the stored HourlyStat rows equal a reference model computed
here from the same steps: messages per (channel, user, hour) counted once per id, voice seconds
per (channel, user, hour) from the event times (whole seconds, so the expectation is exact).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.aggregate import Aggregator
from collector.writer import Writer
from stats.models import HourlyChannelStat
from tests.collector import payloads as p
from tests.rows import hourly_stats, member_days

pytestmark = pytest.mark.django_db
G = p.GUILD
T0 = int(datetime(2026, 11, 26, 17, 50, tzinfo=UTC).timestamp())  # ten minutes before an hour
MSG_HOUR0 = int(datetime(2026, 11, 26, 16, tzinfo=UTC).timestamp()) // 3600
GENERAL, RANDOM, THREAD, LATE_THREAD, VOICE_A, VOICE_B, AFK = 11, 12, 900, 901, 51, 52, 61
HUMANS, BOT = (1, 2, 3), 9
HEALTH = {0: {"connected": True}}
PROPERTY_SETTINGS = settings(
    max_examples=50,
    deadline=None,
    database=None,  # nothing written under the repository; failures print their example
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --- the steps -----------------------------------------------------------------------------

new_message = st.tuples(
    st.just("message"),
    st.sampled_from([*HUMANS, BOT]),
    st.sampled_from([GENERAL, RANDOM, THREAD, LATE_THREAD]),
    st.sampled_from(["human", "human", "human", "bot", "webhook", "dm"]),
    st.integers(0, 3 * 3600 - 1),  # the message's own time, seconds after MSG_HOUR0
)
duplicate = st.tuples(st.just("duplicate"), st.integers(0, 10**6))
voice = st.tuples(
    st.just("voice"),
    st.sampled_from([*HUMANS, BOT]),
    st.sampled_from([VOICE_A, VOICE_B, AFK, None]),
)
tick = st.tuples(st.just("tick"), st.integers(0, 1500))  # seconds pass (integer clock)
flush = st.just(("flush",))
thread_create = st.just(("thread_create",))
restart = st.tuples(
    st.just("restart"), st.booleans(), st.booleans()
)  # graceful?, replay everything?
steps = st.lists(
    st.one_of(
        new_message, new_message, duplicate, voice, voice, tick, tick, flush, thread_create, restart
    ),
    min_size=8,
    max_size=60,
)

# --- the reference model ---------------------------------------------------------------------


def split_by_hour(start: int, end: int):
    """(hour, seconds) pieces of [start, end)."""
    while start < end:
        hour = start // 3600
        stop = min(end, (hour + 1) * 3600)
        yield hour, stop - start
        start = stop


@dataclass
class Reference:
    """What the rules say should be stored, computed the simple way."""

    messages: Counter = field(default_factory=Counter)  # (channel, user, hour) -> messages
    voice: Counter = field(default_factory=Counter)  # (channel, user, hour) -> seconds
    counted_ids: set = field(default_factory=set)
    in_voice: dict = field(default_factory=dict)  # user -> (channel, since)
    late_thread: bool = False

    def message(self, mid: int, uid: int, channel: int, kind: str, seconds: int) -> None:
        if kind != "human" or uid == BOT or mid in self.counted_ids:
            return
        self.counted_ids.add(mid)
        parent = GENERAL if channel in (THREAD, LATE_THREAD) else channel
        self.messages[(parent, uid, MSG_HOUR0 + seconds // 3600)] += 1

    def voice_state(self, uid: int, channel: int | None, now: int) -> None:
        current = self.in_voice.get(uid)
        if current is not None and current[0] == channel:
            return  # mute or deafen
        if current is not None:
            self._credit(uid, *current, now)
            del self.in_voice[uid]
        if channel is not None:
            self.in_voice[uid] = (channel, now)

    def _credit(self, uid: int, channel: int, since: int, until: int) -> None:
        if channel == AFK or uid == BOT:
            return
        for hour, seconds in split_by_hour(since, until):
            self.voice[(channel, uid, hour)] += seconds

    def stop(self, now: int) -> None:
        for uid, (channel, since) in self.in_voice.items():
            self._credit(uid, channel, since, now)
        self.in_voice.clear()


# --- the system under test ---------------------------------------------------------------------


def message_payload(mid: int, uid: int, channel: int, kind: str, seconds: int) -> dict:
    ts = datetime.fromtimestamp(MSG_HOUR0 * 3600 + seconds, tz=UTC).isoformat()
    return p.message(
        uid,
        channel,
        ts=ts,
        mid=mid,
        bot=(kind == "bot" or uid == BOT),
        webhook=(kind == "webhook"),
        guild=None if kind == "dm" else G,
    )


def guild_create(ref: Reference) -> dict:
    """GUILD_CREATE as Discord sends it on (re)connect: channels, active threads, who is in
    voice."""
    threads = [p.channel(THREAD, "thread", 11, parent=GENERAL)]
    if ref.late_thread:
        threads.append(p.channel(LATE_THREAD, "late thread", 11, parent=GENERAL))
    channels = [
        p.channel(GENERAL, "general"),
        p.channel(RANDOM, "random"),
        p.channel(VOICE_A, "A", 2),
        p.channel(VOICE_B, "B", 2),
        p.channel(AFK, "afk", 2),
    ]
    d = p.guild_create(
        channels=channels,
        threads=threads,
        members=[*HUMANS, BOT],
        afk=AFK,
        voice=[(uid, ch) for uid, (ch, _) in ref.in_voice.items()],
    )
    for m in d["members"]:
        if m["user"]["id"] == str(BOT):
            m["user"]["bot"] = True
    return d


def start_collector(ref: Reference, now: int) -> tuple[Aggregator, Writer]:
    """What Collector.start_up does, then the gateway's GUILD_CREATE."""
    writer = Writer()
    writer.close_stale_sessions(lambda gid: True)
    agg = Aggregator(cursors=writer.load_cursors())
    agg.set_config(writer.load_configs(), now)
    agg.guild_create(guild_create(ref), now)
    return agg, writer


def play(plan: list[tuple]) -> tuple[Reference, dict, dict]:
    """Run the steps through the collector and the reference; returns the stored counters."""
    ref, now, sent = Reference(), T0, []
    agg, writer = start_collector(ref, now)
    next_id = 10**15

    def send(msg: tuple) -> None:
        agg.message(message_payload(*msg))
        ref.message(*msg)

    for step in plan:
        kind = step[0]
        if kind == "message":
            _, uid, channel, how, seconds = step
            if channel == LATE_THREAD and not ref.late_thread:
                channel = THREAD
            next_id += 1
            sent.append((next_id, uid, channel, how, seconds))
            send(sent[-1])
        elif kind == "duplicate" and sent:
            send(sent[step[1] % len(sent)])
        elif kind == "voice":
            _, uid, channel = step
            agg.voice_state(p.voice(uid, channel, bot=uid == BOT), now)
            ref.voice_state(uid, channel, now)
        elif kind == "tick":
            now += step[1]
        elif kind == "flush":
            writer.write(agg.take_batch(now), HEALTH)
        elif kind == "thread_create" and not ref.late_thread:
            ref.late_thread = True
            agg.channel_update(p.channel(LATE_THREAD, "late thread", 11, parent=GENERAL))
        elif kind == "restart":
            _, graceful, replay = step
            if graceful:  # SIGTERM: sessions close at stop time, the last batch is written
                agg.close_all_voice(now)
            writer.write(agg.take_batch(now), HEALTH)  # a SIGKILL here loses nothing: just flushed
            agg, writer = start_collector(ref, now)
            if replay:
                for msg in sent:
                    send(msg)
    agg.close_all_voice(now)
    writer.write(agg.take_batch(now), HEALTH)
    ref.stop(now)
    messages, voice_seconds = Counter(), Counter()
    for cid, uid, hour, m, v in (
        hourly_stats()
        .filter(guild_id=G)
        .values_list("channel_id", "user_id", "hour", "messages", "voice_seconds")
    ):
        if m:
            messages[(cid, uid, hour)] += m
        if v:
            voice_seconds[(cid, uid, hour)] += v
    return ref, messages, voice_seconds


@PROPERTY_SETTINGS
@given(plan=steps)
def test_any_interleaving_counts_like_the_reference_model(plan):
    with transaction.atomic():
        ref, messages, voice_seconds = play(plan)
        assert messages == +ref.messages
        assert voice_seconds == +ref.voice
        # The coarser rollups written in the same flushes add up to the hourly truth.
        hourly = (
            hourly_stats().filter(guild_id=G).aggregate(m=Sum("messages"), v=Sum("voice_seconds"))
        )
        by_channel = HourlyChannelStat.objects.filter(guild_id=G).aggregate(
            m=Sum("messages"), v=Sum("voice_seconds")
        )
        daily = (
            member_days().filter(guild_id=G).aggregate(m=Sum("messages"), v=Sum("voice_seconds"))
        )
        assert hourly == by_channel == daily
        transaction.set_rollback(True)  # the next example starts from an empty database


@PROPERTY_SETTINGS
@given(plan=steps)
def test_voice_seconds_per_user_equal_the_sessions_of_the_events(plan):
    """The per-user view the leaderboard uses: seconds per user, whatever the channel and hour."""
    with transaction.atomic():
        ref, _, voice_seconds = play(plan)
        per_user, expected = Counter(), Counter()
        for (_, uid, _), seconds in voice_seconds.items():
            per_user[uid] += seconds
        for (_, uid, _), seconds in ref.voice.items():
            expected[uid] += seconds
        assert per_user == +expected
        assert BOT not in per_user
        transaction.set_rollback(True)
