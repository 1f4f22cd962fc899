"""Generated Discord traffic: guilds, backfilled history and live chat, voice and membership events.

Everything comes from one ``random.Random(seed)`` and the ``start`` time, so the same seed and start
give the same stream. Message ids are snowflakes of the message's own timestamp, so they rise with
time in every channel. Shape: a few heavy talkers (zipf weights), bursty conversations of a few
members in one channel (some in a new thread), bot messages, voice sessions of minutes to hours
with moves and the occasional trip to the AFK channel, members joining and leaving.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import orjson

from simulator.guilds import GuildModel, build_guild
from simulator.scenario import Dispatch, dispatch_tail

DISCORD_EPOCH_MS = 1420070400000
# Share of a day's messages per UTC hour: quiet nights, busy evenings.
HOURLY_RHYTHM = (
    3,
    2,
    1.5,
    1,
    1,
    1,
    1.5,
    2.5,
    3.5,
    4,
    4.5,
    5,
    5.5,
    5.5,
    5.5,
    6,
    6.5,
    7,
    8,
    8.5,
    8.5,
    8,
    6.5,
    4.5,
)
LOREM = (
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt "
    "ut labore et "
    "dolore magna aliqua gg lol ok nice yes no maybe tonight anyone later"
).split()
MESSAGE = (
    '{"id":"%d","channel_id":"%d","author":%s,"content":"%s","timestamp":"%s","edited_timestamp":null,'
    '"tts":false,"mention_everyone":false,"mentions":[],"mention_roles":[],"attachments":[],"embeds":[],'
    '"pinned":false,"type":0,"flags":0,"components":[],"guild_id":"%d","member":%s}'
)
MESSAGE_TAIL = ',"t":"MESSAGE_CREATE","d":' + MESSAGE + "}"


def snowflake(ms: int, increment: int) -> int:
    return ((ms - DISCORD_EPOCH_MS) << 22) | (increment & 0xFFF)


def iso(ms: int) -> str:
    """Discord's timestamp format, e.g. 2026-01-02T03:04:05.678000+00:00."""
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}000+00:00"
    )


class TrafficGenerator:
    """Deterministic traffic for `guilds` guilds of `members` members and `channels` text
    channels."""

    def __init__(
        self,
        guilds: int = 1,
        members: int = 200,
        channels: int = 8,
        seed: int = 0,
        backfill_days: int = 0,
        per_day: int = 2500,
        start: datetime | None = None,
    ) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.fixed_start = start is not None
        self.start = (start or datetime.now(UTC)).astimezone(UTC)
        self.backfill_days = backfill_days
        self.per_day = per_day
        self._increment = itertools.count()
        self.guilds: list[GuildModel] = [
            build_guild(i, seed, members, channels, self.rng) for i in range(guilds)
        ]
        self._plan: list[tuple[int, list[int]]] | None = None
        self._first_words: dict[int, list] | None = None
        if backfill_days:
            joins = random.Random(f"joins-{seed}")  # apart from the traffic's stream
            end = int(self.start.timestamp() * 1000)
            for g in self.guilds:
                g.spread_joins(end - backfill_days * 86_400_000, end, joins)

    def guild_creates(self) -> list[dict]:
        """GUILD_CREATE payloads, as Discord sends them after READY."""
        return [g.payload for g in self.guilds]

    # ---- messages
    # ------------------------------------------------------------------------------------
    def _message(
        self, g: GuildModel, ms: int, channel: int, member: int, empty: bool = False
    ) -> Dispatch:
        rng = self.rng
        content = (
            "" if empty or rng.random() < 0.2 else " ".join(rng.choices(LOREM, k=rng.randint(1, 9)))
        )
        mid = snowflake(ms, next(self._increment))
        data = MESSAGE % (
            mid,
            channel,
            g.author_json[member],
            content,
            iso(ms),
            g.id,
            g.member_json[member],
        )
        return Dispatch(
            g.id,
            ',"t":"MESSAGE_CREATE","d":' + data + "}",
            ("MESSAGE_CREATE", data.encode(), channel, mid),
        )

    def _conversation(
        self, g: GuildModel, t0_ms: int, end_ms: int, channel: int | None = None
    ) -> list:
        """(ms, channel, member) of one burst of chat among a few members of one channel, before
        end_ms."""
        rng = self.rng
        channel = channel or rng.choices(g.text_channels, weights=g.channel_weights)[0]
        people = rng.choices(g.humans, weights=g.human_weights, k=rng.randint(2, 5))
        out, t = [], t0_ms
        for _ in range(max(1, int(rng.expovariate(1 / 14)))):
            if t >= end_ms:
                break
            out.append((t, channel, rng.choice(people)))
            t += int(rng.expovariate(1 / 25_000)) + 800
        return out

    # ---- backfill
    # ----------------------------------------------------------------------------------------
    def _hours(self) -> list[tuple[int, list[int]]]:
        """For each backfilled hour (start ms), the message count of each guild: daily rhythm,
        busier weekends."""
        if self._plan is None:
            rng = random.Random(self.rng.random())
            end = int(self.start.timestamp() * 1000)
            first = (end - self.backfill_days * 86_400_000) // 3_600_000 * 3_600_000
            total_w = sum(HOURLY_RHYTHM)
            self._plan, day_factor = [], {}
            for h_ms in range(first, end, 3_600_000):
                day = h_ms // 86_400_000
                if day not in day_factor:
                    weekend = datetime.fromtimestamp(h_ms / 1000, UTC).weekday() >= 5
                    day_factor[day] = [
                        (1.25 if weekend else 1.0) * rng.uniform(0.75, 1.25) for _ in self.guilds
                    ]
                hour = (h_ms // 3_600_000) % 24
                counts = [
                    round(self.per_day * f * HOURLY_RHYTHM[hour] / total_w * rng.uniform(0.8, 1.2))
                    for f in day_factor[day]
                ]
                self._plan.append((h_ms, counts))
        return self._plan

    def _joiners_words(self) -> dict[int, list]:
        """Backfilled messages of the recent joiners, by hour start (ms): about 55 % say hello
        within a day of joining, 20 % within the week, the rest never (a retention curve)."""
        if self._first_words is None:
            rng = random.Random(f"words-{self.seed}")  # apart from the traffic's stream
            end = int(self.start.timestamp() * 1000)
            self._first_words = {}
            for g in self.guilds:
                for uid, joined in g.joined.items():
                    roll = rng.random()
                    if not joined or roll >= 0.75:
                        continue
                    delay = (
                        min(rng.expovariate(1 / 10_800_000), 80_000_000)
                        if roll < 0.55
                        else rng.uniform(86_400_000, 6 * 86_400_000)
                    )
                    t = joined + int(delay)
                    for _ in range(rng.randint(1, 4)):
                        if t >= end:
                            break
                        channel = g.text_channels[0] if rng.random() < 0.7 else None
                        channel = channel or rng.choice(g.text_channels)
                        self._first_words.setdefault(t // 3_600_000 * 3_600_000, []).append(
                            (g.id, t, channel, uid)
                        )
                        t += int(rng.expovariate(1 / 600_000)) + 5_000
        return self._first_words

    def backfill_total(self) -> int:
        extra = sum(len(v) for v in self._joiners_words().values())
        return sum(sum(counts) for _, counts in self._hours()) + extra

    def backfill(self) -> Iterator[Dispatch]:
        """`backfill_days` of history as MESSAGE_CREATE with past timestamps, oldest first.

        The simulator keeps these in its channels' history (served over REST), never sends them.
        """
        end = int(self.start.timestamp() * 1000)
        words = self._joiners_words()
        for h_ms, counts in self._hours():
            hour_end = min(h_ms + 3_600_000, end)
            for g, count in zip(self.guilds, counts, strict=False):
                msgs: list = []
                while len(msgs) < count:
                    msgs += self._conversation(g, self.rng.randrange(h_ms, hour_end), hour_end)
                msgs = [(ms, c, self._joined_by(g, m, ms)) for ms, c, m in msgs[:count]]
                msgs += [(ms, c, m) for gid, ms, c, m in words.get(h_ms, ()) if gid == g.id]
                for ms, channel, member in sorted(msgs):
                    yield self._message(g, ms, channel, member)

    @staticmethod
    def _joined_by(g: GuildModel, member: int, ms: int) -> int:
        """The author, or a long-standing member in place of one who had not joined yet."""
        if g.joined.get(member, 0) <= ms:
            return member
        veterans = [u for u in g.humans if u not in g.joined]
        return veterans[member % len(veterans)]

    # ---- burst (benchmarks)
    # ----------------------------------------------------------------------------
    def burst(self, n: int) -> Iterator[Dispatch]:
        """n MESSAGE_CREATE, cheap to build: empty content, 4096 per millisecond from the start
        time."""
        rng = self.rng
        base = int(self.start.timestamp() * 1000)
        # Authors and channels drawn once in a table and cycled: rng.choices per message costs more
        # than the rest.
        table = []
        for g in self.guilds:
            channels = rng.choices(g.text_channels, weights=g.channel_weights, k=4096)
            people = rng.choices(g.humans, weights=g.human_weights, k=4096)
            table.append(
                [
                    (g.id, c, g.author_json[m], g.member_json[m])
                    for c, m in zip(channels, people, strict=False)
                ]
            )
        guilds = len(self.guilds)
        stamp, stamp_ms = "", -1
        for i in range(n):
            ms = base + (i >> 12)
            if ms != stamp_ms:
                stamp, stamp_ms = iso(ms), ms
            gid, channel, author, member = table[i % guilds][(i // guilds) & 4095]
            yield Dispatch(
                gid,
                MESSAGE_TAIL
                % (
                    ((ms - DISCORD_EPOCH_MS) << 22) | (i & 0xFFF),
                    channel,
                    author,
                    "",
                    stamp,
                    gid,
                    member,
                ),
            )

    # ---- live
    # ------------------------------------------------------------------------------------------
    def live(self, start: datetime, rate: float = 20.0) -> Iterator[tuple[float, Dispatch]]:
        """Endless (offset seconds, dispatch) after `start`: chat at about `rate` events/s, plus
        voice and joins."""
        rng = self.rng
        base = int(start.timestamp() * 1000)
        heap: list = []  # (offset s, tiebreak, callable producing dispatches)
        tiebreak = itertools.count()
        for g in self.guilds:
            for member, channel in g.initial_voice.items():
                heapq.heappush(
                    heap,
                    (self._voice_duration(), next(tiebreak), ("voice_next", g, member, channel)),
                )
            heapq.heappush(heap, (rng.expovariate(1 / 40), next(tiebreak), ("voice_join", g, 0, 0)))
            heapq.heappush(heap, (rng.expovariate(1 / 150), next(tiebreak), ("member", g, 0, 0)))
        chat: dict[int, list] = {g.id: [] for g in self.guilds}
        t = phase_end = 0.0
        intensity = 1.0
        while True:
            if t >= phase_end:  # alternate busy and calm spells; the mean rate stays `rate`
                intensity = 1.6 if intensity < 1 else 0.4
                phase_end = t + rng.expovariate(1 / 20)
            t += rng.expovariate(rate * intensity)
            while heap and heap[0][0] <= t:
                at, _, (kind, g, member, channel) = heapq.heappop(heap)
                for dispatch, follow in self._scheduled(
                    g, kind, member, channel, base + int(at * 1000)
                ):
                    if dispatch is not None:
                        yield at, dispatch
                    if follow is not None:
                        heapq.heappush(heap, (at + follow[0], next(tiebreak), follow[1]))
            g = rng.choice(self.guilds)
            ms = base + int(t * 1000)
            if rng.random() < 0.03 and g.bots:
                yield t, self._message(g, ms, rng.choice(g.text_channels), rng.choice(g.bots))
                continue
            talks = chat[g.id]
            if not talks or (len(talks) < 3 and rng.random() < 0.05):
                talks.append(self._live_talk(g, ms, t, talks))
                if isinstance(talks[-1], tuple):
                    thread_event, talks[-1] = talks[-1]
                    yield t, thread_event
            talk = rng.choice(talks)
            yield t, self._message(g, ms, talk["channel"], rng.choice(talk["people"]))
            talk["left"] -= 1
            if talk["left"] <= 0:
                talks.remove(talk)

    def _live_talk(self, g: GuildModel, ms: int, t: float, talks: list):
        """A new live conversation; 5 % start a thread (THREAD_CREATE first)."""
        rng = self.rng
        channel = rng.choices(g.text_channels, weights=g.channel_weights)[0]
        talk = {
            "channel": channel,
            "left": max(2, int(rng.expovariate(1 / 20))),
            "people": rng.choices(g.humans, weights=g.human_weights, k=rng.randint(2, 5)),
        }
        if rng.random() >= 0.05:
            return talk
        thread_id = snowflake(ms, next(self._increment))
        owner = talk["people"][0]
        payload = {
            "id": str(thread_id),
            "guild_id": str(g.id),
            "parent_id": str(channel),
            "owner_id": str(owner),
            "type": 11,
            "name": " ".join(rng.choices(LOREM, k=3)),
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "newly_created": True,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 1440,
                "locked": False,
                "archive_timestamp": iso(ms),
                "create_timestamp": iso(ms),
            },
        }
        talk["channel"] = thread_id
        tail = dispatch_tail("THREAD_CREATE", orjson.dumps(payload))
        thread = Dispatch(g.id, tail, ("THREAD_CREATE", payload))
        return thread, talk

    def _voice_duration(self) -> float:
        """Seconds in one channel: lognormal, median 20 minutes, between one minute and four
        hours."""
        return min(max(self.rng.lognormvariate(math.log(1200), 1.0), 60.0), 4 * 3600.0)

    def _scheduled(self, g: GuildModel, kind: str, member: int, channel: int, ms: int) -> list:
        """[(dispatch or None, follow-up (delay s, task) or None)] of a scheduled voice or
        membership change."""
        rng = self.rng
        out = []
        if kind == "voice_join":
            idle = [m for m in g.humans if m not in g.in_voice]
            if idle and len(g.in_voice) < max(2, len(g.humans) // 5):
                member = rng.choice(idle)
                channel = rng.choice(g.voice_channels)
                g.in_voice[member] = channel
                out.append(
                    (
                        g.voice_state(member, channel),
                        (self._voice_duration(), ("voice_next", g, member, channel)),
                    )
                )
            out.append((None, (rng.expovariate(1 / 40), ("voice_join", g, 0, 0))))
        elif kind == "voice_next":
            if g.in_voice.get(member) != channel:
                return []
            roll = rng.random()
            if channel != g.afk_channel and roll < 0.25 and len(g.voice_channels) > 1:
                new = rng.choice([c for c in g.voice_channels if c != channel])
            elif channel != g.afk_channel and roll < 0.33:
                new = g.afk_channel
            else:
                new = None
            if new is None:
                del g.in_voice[member]
                out.append((g.voice_state(member, None), None))
            else:
                g.in_voice[member] = new
                out.append(
                    (
                        g.voice_state(member, new),
                        (self._voice_duration(), ("voice_next", g, member, new)),
                    )
                )
        elif kind == "first_words":  # a newcomer's first message; half of them lose the tag
            if member not in g.humans:
                return []  # left before saying anything
            out.append((self._message(g, ms, g.text_channels[0], member), None))
            if rng.random() < 0.5:
                roles = [str(g.role_ids["Gamers"])] if rng.random() < 0.5 else []
                out.append((g.member_update(member, roles), None))
        elif kind == "member":
            if rng.random() < 0.6 or len(g.humans) < 5:
                joined = g.member_add(ms)
                # Most newcomers say something, soon: the retention table's first day and week.
                follow = None
                if rng.random() < 0.6:
                    follow = (rng.expovariate(1 / 180), ("first_words", g, g.humans[-1], 0))
                out.append((joined, follow))
            else:
                leaving = rng.choice(
                    [m for m in g.humans if m not in g.in_voice and m not in g.staff]
                    or g.humans[len(g.staff) :]
                )
                out.append((g.member_remove(leaving), None))
            out.append((None, (rng.expovariate(1 / 150), ("member", g, 0, 0))))
        return out
