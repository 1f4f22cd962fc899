"""The live hub: one poller per web worker turns new RecentEvent rows into ticks for that worker's
sockets.

The database is the bus. Once a second the poller reads the events newer than
the last id it saw (for guilds somebody watches), joins names in bulk, encodes
one tick per guild, and hands that same string to each of the worker's sockets
watching the guild. One poll per worker per second, whatever the number of browsers.

Delivery is per worker and bypasses the Channels layer: every worker's poller
reads the same table, so each worker only needs to reach its own sockets, and
it keeps them in its own registry (guild → outboxes). That spares each frame a
trip through the layer (the in-memory layer walks all its channels on every
receive: O(N²) per tick) and Channels' per-message database clean-up, which
runs on the single sync thread. Each browser gets each event exactly once, and
nothing crosses workers, with or without Redis.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from channels.db import database_sync_to_async
from django.conf import settings
from django.db.models import Count, Exists, Max, OuterRef

from mocha.utc import iso
from stats import access, collector_health, frames
from stats.models import Channel, Guild, Member, MemberEvent, RecentEvent, VoiceSession

log = logging.getLogger(__name__)

POLL_S = 1.0
RATE_WINDOW_S = 5.0  # rates are events per second averaged over this sliding window
COLLECTOR_RATES_FRESH_S = (
    5.0  # a shard's last-flush rates are used only this long (stricter than health)
)
FEED_MAX = 30  # newest feed items per guild per tick; the browser shows a short list anyway
LEADERBOARD_EVERY_S = (
    5.0  # recompute a guild's top ten at most this often, and only after new events
)
LEADERBOARD_METRICS = ("messages", "voice")
RATE_KEYS = {"message": "messages", "voice_join": "voice_joins", "member_join": "member_joins"}
OUTBOX_MAX = (
    30  # frames a socket may fall behind (about 30 s of ticks) before its oldest are dropped
)


def now_iso() -> str:
    return iso(datetime.now(UTC))


# --- Reads (synchronous, run through database_sync_to_async) ----------------


def latest_event_id() -> int:
    """Highest RecentEvent id so far: the poller starts from here, not from history."""
    return RecentEvent.objects.aggregate(m=Max("id"))["m"] or 0


def feed_items(rows: list[RecentEvent]) -> list[dict]:
    """Feed entries, oldest first; names joined in bulk, each within its own guild.

    Events in a channel now excluded from the stats (also those from before the
    exclusion) are left out: an excluded channel shows nowhere.
    """
    guild_ids = {r.guild_id for r in rows}
    channel_ids = {r.channel_id for r in rows if r.channel_id}
    channels, excluded = {}, set()
    if channel_ids:
        exclusions = Guild.excluded_channels.through.objects
        is_excluded = exclusions.filter(guild_id=OuterRef("guild_id"), channel_id=OuterRef("pk"))
        for gid, cid, name, out in Channel.objects.filter(
            guild_id__in=guild_ids, id__in=channel_ids
        ).values_list("guild_id", "id", "name", Exists(is_excluded)):
            channels[(gid, cid)] = name
            if out:
                excluded.add((gid, cid))
    rows = [r for r in rows if (r.guild_id, r.channel_id) not in excluded]
    user_ids = {r.user_id for r in rows}
    names = {
        (m.guild_id, m.user_id): m.display_name
        for m in Member.objects.filter(guild_id__in=guild_ids, user_id__in=user_ids).only(
            "guild_id", "user_id", "username", "global_name", "nick"
        )
    }
    return [
        {
            "id": r.id,
            "kind": r.kind,
            "user_id": str(r.user_id),
            "name": names.get((r.guild_id, r.user_id), str(r.user_id)),
            "channel_id": str(r.channel_id) if r.channel_id else None,
            "channel": channels.get((r.guild_id, r.channel_id)) if r.channel_id else None,
            "t": iso(r.at),
        }
        for r in sorted(rows, key=lambda r: r.id)
    ]


def recent_feed(guild_id: int, limit: int = FEED_MAX) -> list[dict]:
    """The last few events of a guild, for a socket that just connected."""
    return feed_items(list(RecentEvent.objects.filter(guild_id=guild_id).order_by("-id")[:limit]))


@dataclass
class Hello:
    """What a socket's first tick needs, read in one trip to the database thread."""

    latest_id: int
    feed: list[dict]
    collector: dict
    last_hour: dict[str, int]


def hello_state(guild_id: int) -> Hello:
    """The newest event id, then the guild's recent feed (at worst an event shows in both: the
    page drops repeats), the collector's state and the last hour's counts."""
    latest, feed = latest_event_id(), recent_feed(guild_id)
    collector, _ = collector_status()
    return Hello(latest, feed, collector, last_hour_counts([guild_id])[guild_id])


def last_hour_counts(guild_ids: list[int]) -> dict[int, dict[str, int]]:
    """Voice joins and new members of each guild over the last 60 minutes, from the full records.

    Per-second rates of rare events mislead (one join in a 5-second window reads as 12 a
    minute), so the dashboard shows these as counts. The feed table is capped per guild, so
    the counts come from the voice sessions and member events, which are complete.
    """
    since = datetime.now(UTC) - timedelta(hours=1)
    counts = {gid: {"voice_joins": 0, "member_joins": 0} for gid in guild_ids}
    sessions = VoiceSession.objects.filter(guild_id__in=guild_ids, started_at__gte=since)
    joins = MemberEvent.objects.filter(
        guild_id__in=guild_ids, kind=MemberEvent.Kind.JOIN, at__gte=since
    )
    for key, rows in (("voice_joins", sessions), ("member_joins", joins)):
        for gid, n in rows.values_list("guild_id").annotate(n=Count("id")).order_by():
            counts[gid][key] = n
    return counts


def collector_status() -> tuple[dict, dict[int, dict] | None]:
    """A short summary of the collector shards for the live badge, and their exact per-guild rates.

    The collector samples the feed (a few dozen rows per guild per flush) but
    counts every event, so its own per-guild rates are the truth; they are None
    when no shard reported recently (then the poller counts feed rows instead).
    """
    shards = collector_health.shards()
    last = max((s.last_event_at for s in shards if s.last_event_at), default=None)
    summary = {
        "connected": collector_health.all_connected(shards),
        "shards": len(shards),
        "last_event_at": iso(last) if last else None,
    }
    cutoff = datetime.now(UTC) - timedelta(seconds=COLLECTOR_RATES_FRESH_S)
    fresh = [s for s in shards if s.connected and s.updated_at and s.updated_at >= cutoff]
    if not fresh:
        return summary, None
    rates: dict[int, dict] = {}
    for shard in fresh:
        for gid, values in (getattr(shard, "rates", None) or {}).items():
            into = rates.setdefault(int(gid), Counter())
            into.update({k: float(v) for k, v in values.items() if k in RATE_KEYS.values()})
    return summary, rates


@dataclass
class Batch:
    """What one poll found: counts per guild and kind, newest feed rows per guild, the highest
    id."""

    max_id: int
    counts: dict[int, Counter] = field(default_factory=dict)
    feed: dict[int, list[dict]] = field(default_factory=dict)
    collector: dict = field(default_factory=dict)
    rates: dict[int, dict] | None = None  # the collector's exact rates, when it reports
    last_hour: dict[int, dict[str, int]] = field(default_factory=dict)


def read_batch(guild_ids: list[int], after_id: int) -> Batch:
    """New events of the watched guilds since after_id: one count query, one feed query per busy
    guild."""
    summary, rates = collector_status()
    batch = Batch(
        max_id=after_id, collector=summary, rates=rates, last_hour=last_hour_counts(guild_ids)
    )
    rows = (
        RecentEvent.objects.filter(guild_id__in=guild_ids, id__gt=after_id)
        .values("guild_id", "kind")
        .annotate(n=Count("id"), top=Max("id"))
        .order_by()
    )
    for row in rows:
        batch.counts.setdefault(row["guild_id"], Counter())[row["kind"]] += row["n"]
        batch.max_id = max(batch.max_id, row["top"])
    for gid in batch.counts:
        newest = list(
            RecentEvent.objects.filter(
                guild_id=gid, id__gt=after_id, id__lte=batch.max_id
            ).order_by("-id")[:FEED_MAX]
        )
        batch.feed[gid] = feed_items(newest)
    return batch


def top_ten(guild_id: int, metric: str) -> dict | None:
    """The current top ten of a guild over its default lookback, through the API's result cache."""
    from stats import api_results
    from stats.models import Guild

    guild = Guild.objects.filter(pk=guild_id).first()
    if guild is None:
        return None
    days = api_results.default_days(guild)
    doc = api_results.leaderboard(guild, metric, days, 10, 0)
    return {"metric": metric, "days": days, "entries": doc["entries"]}


# --- Delivery ----------------------------------------------------------------


class Outbox:
    """One socket's outgoing frames, written in order by at most one task at a time.

    The hub puts a frame into every outbox of a guild without awaiting any
    socket, so a slow or stalled browser never delays the others; its backlog
    is bounded (the oldest frames go first) until uvicorn's ping timeout drops it.
    An outbox starts held, so frames put while the socket's first tick is being
    read wait behind that first tick.
    """

    __slots__ = ("send", "backlog", "held", "task", "viewer", "revoke")

    def __init__(
        self,
        send: Callable[[str], Awaitable[None]],
        viewer: str | None = None,
        revoke: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.send = send
        self.viewer = viewer  # the socket's session key, re-checked while it is open
        self.revoke = revoke  # closes the socket when its viewer lost access
        self.backlog: deque[str] = deque(maxlen=OUTBOX_MAX)
        self.held = True
        self.task: asyncio.Task | None = None

    def put(self, text: str) -> None:
        self.backlog.append(text)
        if not self.held and (self.task is None or self.task.done()):
            self.task = asyncio.get_running_loop().create_task(self.drain())

    def open(self, first: str | None = None) -> None:
        """Release the frames held so far, after `first` (the socket's hello) if given."""
        if first is not None:
            self.backlog.appendleft(first)
        self.held = False
        if self.backlog:
            self.task = asyncio.get_running_loop().create_task(self.drain())

    async def drain(self) -> None:
        try:
            while self.backlog:
                await self.send(self.backlog.popleft())
        except Exception:  # the socket closed under us; its consumer's disconnect unregisters it
            self.backlog.clear()

    def discard(self) -> None:
        self.backlog.clear()
        if self.task is not None and not self.task.done():
            self.task.cancel()


def broadcast(outboxes: set[Outbox], text: str) -> None:
    """The same encoded frame to every outbox; nothing awaited here."""
    for outbox in outboxes:
        outbox.put(text)


# --- The hub ---------------------------------------------------------------


class LiveHub:
    """Per-process registry of watched guilds, their sockets' outboxes, and the poller task that
    feeds them."""

    def __init__(self) -> None:
        self.watchers: dict[int, set[Outbox]] = {}  # guild id → outboxes of this worker's sockets
        self.health: set[Outbox] = set()
        self.windows: dict[int, deque[tuple[float, dict]]] = {}  # guild → (time, rates sample)
        self.last_poll: float | None = None
        self.tops: dict[tuple[int, str], list] = {}
        self.top_due: dict[int, float] = {}
        self.last_id: int | None = None
        self.task: asyncio.Task | None = None
        self.health_task: asyncio.Task | None = None
        self.recheck_due = 0.0
        self.clients: Counter[str] = Counter()  # open sockets per client address

    @property
    def health_watchers(self) -> int:
        return len(self.health)

    # Subscriptions (called from consumers, on the worker's event loop) ----------

    def watch(self, guild_id: int, outbox: Outbox) -> None:
        self.watchers.setdefault(guild_id, set()).add(outbox)
        self.task = self._ensure(self.task, self.run)

    def unwatch(self, guild_id: int, outbox: Outbox) -> None:
        outbox.discard()
        sockets = self.watchers.get(guild_id)
        if sockets is not None:
            sockets.discard(outbox)
        if not sockets:
            for store in (self.watchers, self.windows, self.top_due):
                store.pop(guild_id, None)
            for metric in LEADERBOARD_METRICS:
                self.tops.pop((guild_id, metric), None)

    def watch_health(self, outbox: Outbox) -> None:
        self.health.add(outbox)
        self.health_task = self._ensure(self.health_task, self.run_health)

    def unwatch_health(self, outbox: Outbox) -> None:
        outbox.discard()
        self.health.discard(outbox)

    @staticmethod
    def _ensure(task: asyncio.Task | None, factory) -> asyncio.Task:
        """Start a loop lazily; restart it if it ended or belongs to another (finished) event
        loop."""
        loop = asyncio.get_running_loop()
        if task is None or task.done() or task.get_loop() is not loop:
            task = loop.create_task(factory())
        return task

    async def hello(self, guild_id: int) -> str:
        """The first tick a new socket gets: current rates and the last few events.

        Until the poller has its starting point, the newest id read just before this feed becomes
        it: events inserted after the feed was read then reach this socket through the poller.
        (The poller's own first read may run later, after such events.)
        """
        state = await database_sync_to_async(hello_state)(guild_id)
        if self.last_id is None:
            self.last_id = state.latest_id
        return self.tick(guild_id, time.monotonic(), state.feed, state.collector, state.last_hour)

    # The poller -------------------------------------------------------------

    async def run(self) -> None:
        """Poll once a second while any socket of this worker watches a guild."""
        if self.last_id is None:
            latest = await database_sync_to_async(latest_event_id)()
            if self.last_id is None:  # a socket's hello may have set an earlier start meanwhile
                self.last_id = latest
        while self.watchers:
            started = time.monotonic()
            try:
                await self.poll()
            except Exception:  # a bad poll must not end the feed for everybody
                log.exception("live poll failed")
            if started >= self.recheck_due:
                self.recheck_due = started + settings.MOCHA_WS_RECHECK_S
                try:
                    await self.recheck()
                except Exception:
                    log.exception("live access re-check failed")
            await asyncio.sleep(max(0.05, POLL_S - (time.monotonic() - started)))
        # Nobody watches: the next poller starts from the newest row, not from a backlog of the idle
        # time.
        self.last_id = None
        self.last_poll = None

    async def poll(self) -> None:
        guild_ids = list(self.watchers)
        if not guild_ids:
            return
        batch = await database_sync_to_async(read_batch)(guild_ids, self.last_id or 0)
        self.last_id = max(self.last_id or 0, batch.max_id)
        now = time.monotonic()
        elapsed = min(max(now - (self.last_poll or now - POLL_S), 0.2), RATE_WINDOW_S)
        self.last_poll = now
        for gid in guild_ids:
            if gid not in self.watchers:  # its last socket left during the read
                continue
            window = self.windows.setdefault(gid, deque())
            window.append((now, self.sample(gid, batch, elapsed)))
            while window and window[0][0] < now - RATE_WINDOW_S:
                window.popleft()
            text = self.tick(
                gid, now, batch.feed.get(gid, []), batch.collector, batch.last_hour[gid]
            )
            broadcast(
                self.watchers.get(gid, ()), text
            )  # encoded once, whatever the number of sockets
            if gid in batch.counts and now >= self.top_due.get(gid, 0):
                self.top_due[gid] = now + LEADERBOARD_EVERY_S
                await self.push_leaderboards(gid)

    async def recheck(self) -> None:
        """Close, with 4403, the sockets whose viewer may no longer see their guild.

        One check per (session, guild) pair, whatever the number of sockets: a grant
        removed, the guild made private, the viewer signed out or deactivated.
        """
        open_ = [(gid, o) for gid, outboxes in self.watchers.items() for o in outboxes if o.revoke]
        pairs = {(o.viewer, gid) for gid, o in open_}
        if not pairs:
            return
        allowed = await database_sync_to_async(access.still_allowed)(pairs)
        for gid, outbox in open_:
            if (outbox.viewer, gid) not in allowed:
                self.unwatch(gid, outbox)
                asyncio.get_running_loop().create_task(outbox.revoke())

    def tick(
        self, guild_id: int, now: float, feed: list[dict], collector: dict, last_hour: dict
    ) -> str:
        """The encoded tick frame of a guild.

        Of the collector only whether it is up: its shard count and last event time are global
        figures (other guilds' activity included), which /metrics shows to staff alone.
        """
        return frames.encode(
            frames.Tick,
            t=now_iso(),
            rates=self.rates(guild_id, now),
            last_hour=last_hour,
            feed=feed,
            collector={"connected": collector.get("connected", False)},
        )

    @staticmethod
    def sample(guild_id: int, batch: Batch, elapsed: float) -> dict[str, float]:
        """This poll's events per second: the collector's exact rates, else feed rows over the time
        since the last poll."""
        if batch.rates is not None:
            values = batch.rates.get(guild_id, {})
            return {key: float(values.get(key, 0.0)) for key in RATE_KEYS.values()}
        counts = batch.counts.get(guild_id, Counter())
        return {key: counts[kind] / elapsed for kind, key in RATE_KEYS.items()}

    def rates(self, guild_id: int, now: float) -> dict[str, float]:
        """Events per second, averaged over the samples of the sliding window."""
        samples = [s for _, s in self.windows.get(guild_id, ())]
        if not samples:
            return {key: 0.0 for key in RATE_KEYS.values()}
        return {
            key: round(sum(s[key] for s in samples) / len(samples), 2) for key in RATE_KEYS.values()
        }

    async def push_leaderboards(self, guild_id: int) -> None:
        """Send a leaderboard message for each metric whose top ten changed."""
        for metric in LEADERBOARD_METRICS:
            top = await database_sync_to_async(top_ten)(guild_id, metric)
            if top is None or self.tops.get((guild_id, metric)) == top["entries"]:
                continue
            self.tops[(guild_id, metric)] = top["entries"]
            text = frames.encode(frames.Leaderboard, guild_id=str(guild_id), **top)
            broadcast(self.watchers.get(guild_id, ()), text)

    # Health -------------------------------------------------------------------

    async def run_health(self) -> None:
        """Send the health document once a second while somebody watches /health/."""
        from stats.panels import health_document

        while self.health:
            started = time.monotonic()
            try:
                text = frames.encode(
                    frames.Health, **await database_sync_to_async(health_document)()
                )
                broadcast(self.health, text)
            except Exception:
                log.exception("health snapshot failed")
            await asyncio.sleep(max(0.05, POLL_S - (time.monotonic() - started)))


hub = LiveHub()
