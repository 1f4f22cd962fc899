"""In-memory aggregation between flushes.

Every counted event becomes an increment of a counter keyed by
(guild, hour, channel, user), so a burst of a million messages from a few
hundred members in one hour is a few hundred dict entries: memory during a
database stall grows with distinct keys, not with events. The writer takes a
whole `Batch` at each flush; if the write fails the batch is merged back into
the next one and nothing counted is lost.
"""

from __future__ import annotations

import logging
from array import array
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from collector import events
from collector.events import ChannelInfo, RoleInfo, UserInfo
from collector.fields import Invalid, obj, opt_snowflake, snowflake
from collector.ranges import Ranges
from mocha.discord_types import THREAD_TYPES
from mocha.utc import from_epoch

log = logging.getLogger("mocha.collector")

RUN_IDS_MAX = 2048  # ids remembered per channel run for late messages; then a new run starts
FEED_PER_GUILD = 50  # live-feed items kept per guild per flush; counts stay exact regardless


@dataclass(frozen=True)
class GuildConfig:
    """What the collector needs of a guild's configuration (reloaded from the database)."""

    tracking: bool = True
    count_bots: bool = False
    track_voice: bool = True
    excluded: frozenset[int] = frozenset()
    timezone: str = "UTC"
    opted_out: frozenset[int] = frozenset()  # members who asked not to be counted here


DEFAULT_CONFIG = GuildConfig()


@dataclass
class GuildInfo:
    name: str
    member_count: int
    afk_channel_id: int | None
    icon: str = ""
    available: bool = True
    removed: bool = False  # the bot was removed from the guild (GUILD_DELETE without `unavailable`)


@dataclass
class VoiceSession:
    channel_id: int
    started_at: float  # epoch seconds, the session's identity
    credited_until: int  # epoch seconds already added to the rollups


@dataclass
class Batch:
    """Everything one flush writes, in one transaction."""

    counters: dict[tuple[int, int, int, int], list[int]] = field(default_factory=dict)
    guilds: dict[int, GuildInfo] = field(default_factory=dict)
    channels: dict[int, ChannelInfo] = field(default_factory=dict)
    members: dict[tuple[int, int], tuple[UserInfo, datetime | None]] = field(default_factory=dict)
    member_events: list[tuple[int, int, int, datetime]] = field(
        default_factory=list
    )  # kind, guild, user, at
    feed: dict[int, deque] = field(default_factory=dict)  # guild -> (kind, channel, user, at)
    # Per source channel (where a message was posted): the id ranges this batch covers, its guild
    # and counted channel, and (id, hour, user) of each message it counted, so the writer can take
    # back a message another process committed meanwhile.
    claims: dict[int, Ranges] = field(default_factory=dict)
    sources: dict[int, tuple[int, int]] = field(default_factory=dict)
    counted: dict[int, array] = field(default_factory=dict)
    # Per source channel: ids counted although they arrived after a newer message of the same
    # session. They lie inside the run this collector committed itself, so the writer keeps them.
    late: dict[int, set[int]] = field(default_factory=dict)
    voice: dict[tuple[int, int, float], tuple[int, int, float | None]] = field(default_factory=dict)
    deleted_channels: set[int] = field(default_factory=set)
    roles: dict[int, RoleInfo] = field(default_factory=dict)
    deleted_roles: set[int] = field(default_factory=set)
    # (guild, user) -> every role the member holds now (replacing what was stored).
    member_roles: dict[tuple[int, int], frozenset[int]] = field(default_factory=dict)
    guild_counts: dict[int, list[int]] = field(
        default_factory=dict
    )  # messages, voice joins, member joins
    # When a shard was away: (shard, shard count, start, end).
    outages: list[tuple[int, int, float, float]] = field(default_factory=list)
    events: int = 0

    def merge_newer(self, newer: Batch) -> Batch:
        """Fold a later batch into this unwritten one (after a failed write)."""
        for key, (m, v) in newer.counters.items():
            c = self.counters.get(key)
            if c is None:
                self.counters[key] = [m, v]
            else:
                c[0] += m
                c[1] += v
        self.guilds.update(newer.guilds)
        self.channels.update(newer.channels)
        self.members.update(newer.members)
        self.member_events.extend(newer.member_events)
        self.outages.extend(newer.outages)
        for gid, items in newer.feed.items():
            self.feed.setdefault(gid, deque(maxlen=FEED_PER_GUILD)).extend(items)
        for source, claim in newer.claims.items():
            self.claim(source, *newer.sources[source]).update(claim)
            self.counted[source].extend(newer.counted[source])
        for source, ids in newer.late.items():
            self.late.setdefault(source, set()).update(ids)
        self.voice.update(newer.voice)
        self.deleted_channels |= newer.deleted_channels
        self.roles.update(newer.roles)
        self.deleted_roles |= newer.deleted_roles
        self.member_roles.update(newer.member_roles)
        for gid, counts in newer.guild_counts.items():
            mine = self.guild_counts.setdefault(gid, [0, 0, 0])
            for i, n in enumerate(counts):
                mine[i] += n
        self.events += newer.events
        return self

    def claim(self, source: int, gid: int, cid: int) -> Ranges:
        """The ranges this batch covers in `source` (created empty)."""
        claim = self.claims.get(source)
        if claim is None:
            claim = self.claims[source] = Ranges()
            self.sources[source] = (gid, cid)
            self.counted[source] = array("q")
        return claim


class Aggregator:
    """Applies the counting rules (docs/counting.md) to raw gateway payloads."""

    def __init__(self, cursors: dict[int, Ranges] | None = None) -> None:
        self.batch = Batch()
        self.config: dict[int, GuildConfig] = {}
        self.guild_info: dict[int, GuildInfo] = {}
        self.thread_parent: dict[int, int] = {}
        self.names: dict[tuple[int, int], UserInfo] = {}
        # (guild, user) -> the names and role list of their last counted message
        self._seen_authors: dict[tuple[int, int], tuple] = {}
        self.voice: dict[tuple[int, int], VoiceSession] = {}
        self.ranges: dict[int, Ranges] = dict(cursors or {})  # per source channel: ids processed
        self.tail: dict[int, int] = {}  # per source channel: newest id of this gateway session
        # Per source channel: where this session's run of messages starts, and the ids it received.
        # Messages of a channel normally arrive in order, so the run [start, tail] is recorded as
        # processed; one that arrives late (older than the tail, never received) is still counted.
        self.run_start: dict[int, int] = {}
        self.run_ids: dict[int, set[int]] = {}
        self.source_guild: dict[int, int] = {}  # per source channel with ranges: its guild
        self.skipped: dict[str, int] = {}  # reason -> payloads (or parts of one) skipped

    # --- configuration --------------------------------------------------
    def set_config(self, configs: dict[int, GuildConfig], now: float) -> None:
        """Adopt reloaded configuration; voice sessions that stop counting are closed now."""
        self.config = configs
        for (gid, uid), sess in list(self.voice.items()):
            if uid in self._cfg(gid).opted_out:
                del self.voice[(gid, uid)]  # not credited further; their stored rows are erased
            elif not self._voice_countable(gid, sess.channel_id, False):
                self._close_voice(gid, uid, sess, now)

    def _cfg(self, gid: int) -> GuildConfig:
        return self.config.get(gid, DEFAULT_CONFIG)

    # --- rejected payloads ----------------------------------------------------
    def skip(self, event: str, problem: Invalid) -> None:
        """One WARNING line and one count per payload (or part of one) that cannot be counted."""
        self.skipped[problem.reason] = self.skipped.get(problem.reason, 0) + 1
        log.warning("skipped %s: %s", event, problem)

    # --- messages (the hot path) ------------------------------------------
    def new_session(self) -> None:
        """A gateway session that did not resume: its messages join no earlier range."""
        self.tail.clear()
        self.run_start.clear()
        self.run_ids.clear()

    def message(self, d: dict, gateway: bool = True) -> None:
        """MESSAGE_CREATE payload (or a message read from history) → the rules → `count_message`."""
        msg = events.message(d)
        if msg is None:
            return  # a DM
        gid = msg.guild_id
        cfg = self.config.get(gid, DEFAULT_CONFIG)
        if not cfg.tracking or (msg.from_bot and not cfg.count_bots):
            return
        cid = msg.channel_id
        parent = self.thread_parent.get(cid, cid)
        if parent in cfg.excluded or cid in cfg.excluded:
            return
        uid = msg.user_id
        if uid in cfg.opted_out:
            return
        mid = lo = msg.message_id
        late = False
        if gateway:
            late, lo = self._gateway_run(cid, mid)
        if not self.count_message(gid, parent, uid, msg.hour, mid, cid, msg.timestamp, lo, late):
            return
        author, member = d["author"], events.message_member(d)
        # A live message's member object lists the author's roles now: the one source that covers
        # every active member (GUILD_CREATE lists few members without the presences intent).
        held = member.get("roles") if gateway and member is not None else None
        seen = (
            (
                author.get("username"),
                author.get("global_name"),
                member.get("nick") if member else None,
            ),
            held,
        )
        before = self._seen_authors.get((gid, uid))
        if before == seen:
            return  # names and roles change rarely: one lookup when they don't
        self._seen_authors[(gid, uid)] = seen
        if before is None or before[0] != seen[0]:
            self._note_user(gid, events.user_info(author, member, "author"), member is not None)
        if held is not None and (before is None or before[1] != held):
            self._member_roles("MESSAGE_CREATE", gid, uid, member)

    def _gateway_run(self, cid: int, mid: int) -> tuple[bool, int]:
        """(late, lo) for a gateway message: one session delivers a channel's messages in order,
        so [tail, mid] has no hole; a message older than the tail that this run never received
        is late, counted even though the run's range already covers it."""
        tail = self.tail.get(cid)
        if tail is None or mid > tail:
            self.tail[cid] = mid
            ranges = self.ranges.get(cid)
            ids = self.run_ids.get(cid)
            # A run continues only over ids nothing else had covered; else a new run starts here.
            if (
                tail is None
                or ids is None
                or (ranges is not None and ranges.top > tail)
                or len(ids) >= RUN_IDS_MAX
            ):
                self.run_start[cid] = mid
                self.run_ids[cid] = {mid}
            else:
                ids.add(mid)
            return False, mid if tail is None else tail
        ids = self.run_ids.get(cid)
        if ids is not None and mid > self.run_start[cid] and mid not in ids:
            ids.add(mid)
            return True, mid
        return False, mid

    def count_message(
        self,
        gid: int,
        cid: int,
        uid: int,
        hour: int,
        mid: int,
        source: int,
        ts: str,
        lo: int | None = None,
        late: bool = False,
    ) -> bool:
        """Count one normalised message (channel = parent of a thread; source = where it was
        posted).

        [lo, mid] is known processed along with it (lo defaults to mid). Returns False for a
        message processed before, by this run or another (its id is in the source's ranges),
        unless it is `late` (see `_gateway_run`).
        This is the hot path of the collector, hence the inlined dictionary work, and
        Ranges.add's common case (extending the newest range) inlined for both range sets.
        """
        batch = self.batch
        if lo is None:
            lo = mid
        ranges = self.ranges.get(source)
        if ranges is None:
            ranges = self.ranges[source] = Ranges()
            self.source_guild[source] = gid
        his = ranges.his
        known = not late and bool(his) and mid <= his[-1] and mid in ranges
        if his and ranges.los[-1] <= lo <= his[-1] + 1:
            if mid > his[-1]:
                his[-1] = mid
        else:
            ranges.add(lo, mid)
        claim = batch.claims.get(source)
        if claim is None:
            claim = batch.claim(source, gid, cid)
        his = claim.his
        if his and claim.los[-1] <= lo <= his[-1] + 1:
            if mid > his[-1]:
                his[-1] = mid
        else:
            claim.add(lo, mid)
        if known:
            return False
        if late:
            batch.late.setdefault(source, set()).add(mid)
        ids = batch.counted[source]
        ids.append(mid)
        ids.append(hour)
        ids.append(uid)
        key = (gid, hour, cid, uid)
        counters = batch.counters
        counter = counters.get(key)
        if counter is None:
            counters[key] = [1, 0]
        else:
            counter[0] += 1
        feed = batch.feed.get(gid)
        if feed is None:
            feed = batch.feed[gid] = deque(maxlen=FEED_PER_GUILD)
        feed.append(("message", cid, uid, ts))
        counts = batch.guild_counts.get(gid)
        if counts is None:
            counts = batch.guild_counts[gid] = [0, 0, 0]
        counts[0] += 1
        batch.events += 1
        return True

    def cover(self, gid: int, source: int, lo: int, hi: int) -> None:
        """History read [lo, hi] of `source` without a hole: all of it went through `message`."""
        self.ranges.setdefault(source, Ranges()).add(lo, hi)
        self.source_guild[source] = gid
        self.batch.claim(source, gid, self.thread_parent.get(source, source)).add(lo, hi)

    def adopt(self, committed: dict[int, Ranges]) -> None:
        """Ranges the database holds after a flush (other processes may have added some)."""
        for source, ranges in committed.items():
            self.ranges.setdefault(source, Ranges()).update(ranges)

    def _note_user(
        self, gid: int, info: UserInfo, has_member: bool, joined_at: datetime | None = None
    ) -> None:
        if info.user_id in self._cfg(gid).opted_out:
            return  # not even their name
        if not has_member:  # a payload without member data keeps the known nickname
            known = self.names.get((gid, info.user_id))
            if known is not None:
                info = info._replace(nick=known.nick)
        if self.names.get((gid, info.user_id)) != info or joined_at is not None:
            self.names[(gid, info.user_id)] = info
            self.batch.members[(gid, info.user_id)] = (info, joined_at)

    def _feed(
        self, gid: int, kind: str, cid: int | None, uid: int, at: datetime | str, count_index: int
    ) -> None:
        """Keep the newest events for the live feed; `at` may be a raw timestamp, parsed at write
        time."""
        batch = self.batch
        items = batch.feed.get(gid)
        if items is None:
            items = batch.feed[gid] = deque(maxlen=FEED_PER_GUILD)
        items.append((kind, cid, uid, at))
        counts = batch.guild_counts.get(gid)
        if counts is None:
            counts = batch.guild_counts[gid] = [0, 0, 0]
        if count_index >= 0:
            counts[count_index] += 1

    # --- guilds, channels, members ------------------------------------------
    def guild_create(self, d: dict, now: float) -> None:
        if d.get("unavailable") is True:
            return
        created = events.guild_create(d)
        for problem in created.problems:
            self.skip("GUILD_CREATE", problem)
        gid = created.guild.guild_id
        self._guild(created.guild, now)
        for info in created.channels:
            self._channel(info)
        for info, _m in created.members:
            self._note_user(gid, info, True)
        for role in created.roles:
            self.batch.roles[role.role_id] = role
        for uid, roles in created.member_roles.items():
            self._hold(gid, uid, roles)
        # Sessions we believed open but Discord no longer lists ended while we were away.
        for (g, uid), sess in list(self.voice.items()):
            if g == gid and created.voice.get(uid) != sess.channel_id:
                self._close_voice(gid, uid, sess, sess.credited_until)
        for uid, cid in created.voice.items():
            if (gid, uid) not in self.voice:
                # GUILD_CREATE's voice states carry no user: the bot flag comes from its members
                # list.
                known = self.names.get((gid, uid))
                self._open_voice(
                    gid, uid, cid, now, bot=known is not None and known.bot, feed=False
                )

    def guild_update(self, d: dict, now: float) -> None:
        self._guild(events.guild_info(d), now)

    def _guild(self, rec: events.GuildInfoRecord, now: float) -> None:
        """A guild's names and AFK channel; sessions in a channel that just became AFK stop
        counting."""
        old = self.guild_info.get(rec.guild_id)
        count = (
            rec.member_count if rec.member_count is not None else (old.member_count if old else 0)
        )
        self.guild_info[rec.guild_id] = self.batch.guilds[rec.guild_id] = GuildInfo(
            name=rec.name, member_count=count, afk_channel_id=rec.afk_channel_id, icon=rec.icon
        )
        if rec.afk_channel_id is not None:
            for (gid, uid), sess in list(self.voice.items()):
                if gid == rec.guild_id and sess.channel_id == rec.afk_channel_id:
                    self._close_voice(gid, uid, sess, now)

    def guild_delete(self, d: dict, now: float) -> None:
        """An outage (`unavailable`) or the bot being removed: open voice sessions end now either
        way.

        What happens in an outage is unknown; the next GUILD_CREATE lists who is in voice then.
        """
        gid, outage = events.guild_delete(d)
        for (g, uid), sess in list(self.voice.items()):
            if g == gid:
                self._close_voice(gid, uid, sess, now)
        info = self.guild_info.get(gid)
        if info is not None:
            info.available, info.removed = False, not outage
            self.batch.guilds[gid] = info

    def channel_update(self, d: dict, guild_id: int | str | None = None) -> None:
        info = events.channel_info(d, opt_snowflake(guild_id, "guild_id"))
        if info is not None:
            self._channel(info)

    def _channel(self, info: ChannelInfo) -> None:
        if info.type in THREAD_TYPES and info.parent_id:
            self.thread_parent[info.channel_id] = self.thread_parent.get(
                info.parent_id, info.parent_id
            )
        self.batch.channels[info.channel_id] = info

    def channel_delete(self, d: dict, now: float) -> None:
        """CHANNEL_DELETE / THREAD_DELETE: the channel is marked deleted, its counts stay."""
        gid, cid = events.channel_delete(d)
        if gid is None:
            return
        for (g, uid), sess in list(self.voice.items()):
            if g == gid and sess.channel_id == cid:
                self._close_voice(gid, uid, sess, now)
        self.batch.deleted_channels.add(cid)

    def _hold(self, gid: int, uid: int, roles: frozenset[int]) -> None:
        if uid not in self._cfg(gid).opted_out:
            self.batch.member_roles[(gid, uid)] = roles

    def listed_member(self, gid: int, member: dict) -> None:
        """A member from the member list (a history import): their current roles."""
        uid = snowflake(obj(member.get("user"), "user").get("id"), "user.id")
        self._member_roles("member list", gid, uid, member)

    def _member_roles(self, event: str, gid: int, uid: int, d: dict) -> None:
        """The member's roles from a member payload; bad roles are skipped, the event is not."""
        if event != "MESSAGE_CREATE":
            self._seen_authors.pop((gid, uid), None)  # the next message's roles are news again
        try:
            roles = events.member_roles(d)
        except Invalid as problem:
            self.skip(event, problem)
            return
        if roles is not None:
            self._hold(gid, uid, roles)

    def role_update(self, d: dict) -> None:
        """GUILD_ROLE_CREATE / GUILD_ROLE_UPDATE."""
        role = events.role_update(d)
        self.batch.roles[role.role_id] = role

    def role_delete(self, d: dict) -> None:
        """GUILD_ROLE_DELETE: the role is marked deleted and nobody holds it any more."""
        _gid, rid = events.role_delete(d)
        self.batch.roles.pop(rid, None)
        self.batch.deleted_roles.add(rid)

    def member_add(self, d: dict, now: float) -> None:
        gid, info = events.member(d)
        at = events.joined_at(d) or from_epoch(now)
        self._note_user(gid, info, True, joined_at=at)
        self._member_roles("GUILD_MEMBER_ADD", gid, info.user_id, d)
        self._member_count(gid, +1)
        if self._cfg(gid).tracking and info.user_id not in self._cfg(gid).opted_out:
            self.batch.member_events.append((1, gid, info.user_id, at))
            self._feed(gid, "member_join", None, info.user_id, at, 2)
            self.batch.events += 1

    def past_join(self, gid: int, member: dict, at: datetime) -> None:
        """A join read from the member list (`joined_at`); the writer keeps one per (member,
        time)."""
        info = events.user_info(member["user"], member, "member")
        self._note_user(gid, info, True, joined_at=at)
        if self._cfg(gid).tracking:
            self.batch.member_events.append((1, gid, info.user_id, at))

    def member_remove(self, d: dict, now: float) -> None:
        gid, info = events.member(d)
        uid = info.user_id
        self._note_user(gid, info, False)  # so the leave is recorded even for a member never seen
        self._hold(gid, uid, frozenset())  # a former member holds no role
        self._member_count(gid, -1)
        if self._cfg(gid).tracking and uid not in self._cfg(gid).opted_out:
            at = from_epoch(now)
            self.batch.member_events.append((2, gid, uid, at))
            self._feed(gid, "member_leave", None, uid, at, -1)
            self.batch.events += 1
        session = self.voice.get((gid, uid))
        if session is not None:
            self._close_voice(gid, uid, session, now)

    def member_update(self, d: dict) -> None:
        gid, info = events.member(d)
        self._note_user(gid, info, True)
        self._member_roles("GUILD_MEMBER_UPDATE", gid, info.user_id, d)

    def _member_count(self, gid: int, delta: int) -> None:
        info = self.guild_info.get(gid)
        if info is not None:
            info.member_count = max(0, info.member_count + delta)
            self.batch.guilds[gid] = info

    # --- voice ---------------------------------------------------------------
    def _voice_countable(self, gid: int, cid: int, bot: bool) -> bool:
        cfg = self._cfg(gid)
        if not (cfg.tracking and cfg.track_voice) or (bot and not cfg.count_bots):
            return False
        info = self.guild_info.get(gid)
        return (info is None or cid != info.afk_channel_id) and cid not in cfg.excluded

    def voice_state(self, d: dict, now: float) -> None:
        vs = events.voice_state(d)
        if vs is None:
            return
        gid, uid, cid = vs.guild_id, vs.user_id, vs.channel_id
        if vs.user is not None:
            self._note_user(gid, vs.user, True)
        session = self.voice.get((gid, uid))
        if session is not None and session.channel_id == cid:
            return  # mute, deafen, video: no change of channel
        if session is not None:
            self._close_voice(gid, uid, session, now)
        if cid is not None:
            self._open_voice(gid, uid, cid, now, bot=vs.user is not None and vs.user.bot, feed=True)
        self.batch.events += 1

    def _open_voice(self, gid: int, uid: int, cid: int, now: float, bot: bool, feed: bool) -> None:
        if not self._voice_countable(gid, cid, bot) or uid in self._cfg(gid).opted_out:
            return
        self.voice[(gid, uid)] = VoiceSession(cid, now, int(now))
        self.batch.voice[(gid, uid, now)] = (cid, int(now), None)
        if feed:
            self._feed(gid, "voice_join", cid, uid, from_epoch(now), 1)

    def _close_voice(self, gid: int, uid: int, session: VoiceSession, at: float) -> None:
        self._credit(gid, uid, session, int(at))
        del self.voice[(gid, uid)]
        self.batch.voice[(gid, uid, session.started_at)] = (
            session.channel_id,
            session.credited_until,
            at,
        )
        self._feed(gid, "voice_leave", session.channel_id, uid, from_epoch(at), -1)

    def _credit(self, gid: int, uid: int, session: VoiceSession, until: int) -> None:
        """Add the session's uncredited seconds to the rollups, split at hour boundaries."""
        start = session.credited_until
        counters = self.batch.counters
        while start < until:
            hour = start // 3600
            end = min(until, (hour + 1) * 3600)
            key = (gid, hour, session.channel_id, uid)
            counter = counters.get(key)
            if counter is None:
                counters[key] = [0, end - start]
            else:
                counter[1] += end - start
            start = end
        session.credited_until = max(session.credited_until, until)

    def credit_open_sessions(self, now: float) -> None:
        """Bring every open session's voice seconds up to now (before each flush)."""
        for (gid, uid), session in self.voice.items():
            if int(now) > session.credited_until:
                self._credit(gid, uid, session, int(now))
                self.batch.voice[(gid, uid, session.started_at)] = (
                    session.channel_id,
                    session.credited_until,
                    None,
                )

    def close_all_voice(self, now: float) -> None:
        """Close every open session at stop time."""
        for (gid, uid), session in list(self.voice.items()):
            self._close_voice(gid, uid, session, now)

    # --- flushing ------------------------------------------------------------
    def take_batch(self, now: float) -> Batch:
        """Hand the current batch to the writer and start a new one."""
        self.credit_open_sessions(now)
        batch, self.batch = self.batch, Batch()
        return batch
