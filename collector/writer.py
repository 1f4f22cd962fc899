"""Write one flush's Batch in one transaction; runs on the collector's database thread.

The counters go to HourlyStat and every derived table through `stats.rollups.add_flush`
(each table's increment lives in its module of `stats.tables`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction

from collector.aggregate import Batch, GuildConfig
from collector.events import parse_time
from collector.ranges import Ranges
from mocha.utc import from_epoch
from stats import rollups
from stats.cache import bump_versions
from stats.models import (
    Channel,
    CollectorOutage,
    CollectorState,
    Guild,
    Member,
    MemberEvent,
    MemberRole,
    MessageCursor,
    OptOut,
    RecentEvent,
    Role,
    VoiceSession,
    hour_of,
    hour_start,
)
from stats.tables import hourly, keys

log = logging.getLogger("mocha.collector")

CURSOR = MessageCursor._meta.db_table
IN_CHUNK = 500  # ids per IN (...) list
INSERT_CURSOR = (
    f"INSERT INTO {CURSOR} (channel_id, guild_id, last_message_id, ranges) "
    f"VALUES (%s, %s, 0, '[]') "
    f"ON CONFLICT (channel_id) DO NOTHING"
)
UPDATE_CURSOR = f"UPDATE {CURSOR} SET ranges = %s, last_message_id = %s WHERE channel_id = %s"
FEED_KEEP_PER_GUILD = 5000
PRUNE_EVERY = 60  # flushes
ACTIVATION = timedelta(days=7)  # a join's first activity is kept when it comes within this


class Writer:
    """Owns the collector's database work; every method runs on one thread."""

    def __init__(self, public_new_guilds: bool = False) -> None:
        self.public_new_guilds = public_new_guilds
        self.known_guilds: set[int] = set()
        self.timezones: dict[int, str] = {}
        self.excluded: dict[int, frozenset[int]] = {}
        self.flushes = 0
        # Joins still waiting for their first activity: (guild, user) -> joined at. Loaded on the
        # first write, then kept as joins and activity are committed.
        self.awaiting: dict[tuple[int, int], datetime] | None = None

    # --- start-up -----------------------------------------------------------
    def load_cursors(self, channel_ids: list[int] | None = None) -> dict[int, Ranges]:
        """Per source channel, the message id ranges committed so far (all channels, or these)."""
        rows = MessageCursor.objects.all()
        if channel_ids is not None:
            rows = rows.filter(channel_id__in=channel_ids)
        return {
            cid: Ranges.from_json(text, last)
            for cid, text, last in rows.values_list(
                "channel_id", "ranges", "last_message_id"
            ).iterator()
        }

    def last_reports(self, shard_ids: list[int]) -> dict[int, float]:
        """When each shard's previous run last wrote its state (epoch seconds)."""
        rows = CollectorState.objects.filter(shard_id__in=shard_ids, updated_at__isnull=False)
        return {shard: at.timestamp() for shard, at in rows.values_list("shard_id", "updated_at")}

    def load_cursor_guilds(self) -> dict[int, int]:
        """The guild of every channel with stored ranges."""
        return dict(MessageCursor.objects.values_list("channel_id", "guild_id").iterator())

    def load_configs(self) -> dict[int, GuildConfig]:
        """Every guild's counting configuration (three queries, cached by cachalot)."""
        excluded: dict[int, set[int]] = {}
        for gid, cid in Guild.excluded_channels.through.objects.values_list(
            "guild_id", "channel_id"
        ):
            excluded.setdefault(gid, set()).add(cid)
        opted_out: dict[int, set[int]] = {}
        for gid, uid in OptOut.objects.values_list("guild_id", "user_id"):
            opted_out.setdefault(gid, set()).add(uid)
        configs = {}
        rows = Guild.objects.values_list("id", "tracking", "count_bots", "track_voice", "timezone")
        for gid, tracking, bots, voice, tz in rows:
            configs[gid] = GuildConfig(
                tracking,
                bots,
                voice,
                frozenset(excluded.get(gid, ())),
                tz,
                frozenset(opted_out.get(gid, ())),
            )
        self.known_guilds = set(configs)
        self.timezones = {gid: c.timezone for gid, c in configs.items()}
        self.excluded = {gid: c.excluded for gid, c in configs.items()}
        return configs

    def close_stale_sessions(self, owns_guild) -> int:
        """Sessions a killed collector left open end where it last credited them."""
        stale = [
            s for s in VoiceSession.objects.filter(ended_at__isnull=True) if owns_guild(s.guild_id)
        ]
        for session in stale:
            session.ended_at = session.credited_until
        VoiceSession.objects.bulk_update(stale, ["ended_at"])
        return len(stale)

    # --- one flush ------------------------------------------------------------
    def write(self, batch: Batch, health: dict[int, dict]) -> dict[int, Ranges]:
        """Commit the batch; returns the committed ranges of the channels it touched."""
        committed: dict[int, Ranges] = {}
        awaiting = self._awaiting_joins()
        hours: set[tuple[int, int]] = set()
        with self._known_guilds_kept_on_failure(), transaction.atomic():
            self._write_dimensions(batch)
            counters = batch.counters
            if batch.claims:
                committed, counters = self._write_ranges(batch)
            if counters:
                hours = self._write_rollups(counters)
            self._write_roles(batch)
            activated = self._write_first_activity(counters, awaiting)
            joined = self._write_member_events(batch)
            if batch.outages:
                CollectorOutage.objects.bulk_create(
                    [
                        CollectorOutage(
                            shard_id=s, shard_count=n, start=from_epoch(a), end=from_epoch(b)
                        )
                        for s, n, a, b in batch.outages
                    ]
                )
            self._write_voice(batch)
            self._write_feed(batch)
            self._write_health(health)
            self.flushes += 1
            if self.flushes % PRUNE_EVERY == 0:
                self._prune_feed()
        # Committed: only now does the in-memory list of waiting joins follow.
        for key in activated:
            awaiting.pop(key, None)
        awaiting.update(joined)
        if self.flushes % PRUNE_EVERY == 0:
            cutoff = datetime.now(UTC) - ACTIVATION
            self.awaiting = {k: at for k, at in awaiting.items() if at >= cutoff}
        try:
            bump_versions_of(
                {k[0] for k in batch.counters}
                | {e[1] for e in batch.member_events}
                | {gid for gid, _ in batch.member_roles}
                | {r.guild_id for r in batch.roles.values()}
                | set(batch.guilds),
                self._closed_days_written(hours, batch.member_events),
            )
        except (
            Exception
        ) as exc:  # committed already: a cache outage must not make the batch look unwritten
            log.warning("could not mark cached results stale (%s)", exc)
        return committed

    @contextmanager
    def _known_guilds_kept_on_failure(self) -> Iterator[None]:
        """Guilds of a rolled-back write are not in the database: forget them again."""
        known = self.known_guilds
        try:
            yield
        except BaseException:
            self.known_guilds = known
            raise

    def _write_ranges(self, batch: Batch) -> tuple[dict[int, Ranges], dict]:
        """Merge the batch's ranges into the stored ones, under a lock on each channel's row.

        A message the batch counted that another process (a history import, another collector)
        committed since this one loaded its ranges is taken back out of the counters. The
        batch itself is left untouched, so a failed write can be retried whole.
        """
        sources = sorted(batch.claims)
        counters = batch.counters
        with connection.cursor() as cur:
            cur.executemany(INSERT_CURSOR, [(cid, batch.sources[cid][0]) for cid in sources])
        committed: dict[int, Ranges] = {}
        for i in range(0, len(sources), IN_CHUNK):
            chunk = sources[i : i + IN_CHUNK]
            rows = (
                MessageCursor.objects.select_for_update()
                .filter(channel_id__in=chunk)
                .order_by("channel_id")
                .values_list("channel_id", "ranges", "last_message_id")
            )
            committed.update((cid, Ranges.from_json(text, last)) for cid, text, last in rows)
        for source in sources:
            stored = committed[source]
            ids = batch.counted[source]
            if stored and ids and min(ids[0::3]) <= stored.top:
                gid, cid = batch.sources[source]
                late = batch.late.get(source, ())
                for k in range(0, len(ids), 3):
                    if ids[k] in stored and ids[k] not in late:
                        if counters is batch.counters:
                            counters = {key: list(v) for key, v in counters.items()}
                        key = (gid, ids[k + 1], cid, ids[k + 2])
                        if key not in counters:  # a part of a split batch without that counter
                            continue
                        counters[key][0] -= 1
                        if counters[key] == [0, 0]:
                            del counters[key]
            stored.update(batch.claims[source])
        with connection.cursor() as cur:
            rows = [(committed[s].to_json(), committed[s].top, s) for s in sources]
            cur.executemany(UPDATE_CURSOR, rows)
        return committed, counters

    def _closed_days_written(self, hours: set[tuple[int, int]], member_events: list) -> set[int]:
        """Guilds this flush wrote into a local day before today: a late message, history, voice
        credited across midnight. Their cached closed days (stats.periods) are stale.

        Today is read after the commit: a reader that already counted a new day as today either
        saw these rows or gets its closed part made stale here.
        """
        now = hour_of(datetime.now(UTC))
        today: dict[int, int] = {}
        written = set(hours)
        written.update((gid, hour_of(at)) for _, gid, _, at in member_events)
        stale = set()
        for gid, hour in written:
            tz = self.timezones.get(gid)
            if tz is None:  # a guild not loaded yet: any earlier hour may be a closed day there
                if hour < now:
                    stale.add(gid)
                continue
            if gid not in today:
                today[gid] = rollups.local_day(tz, now)
            if rollups.local_day(tz, hour) < today[gid]:
                stale.add(gid)
        return stale

    def _write_rollups(self, counters: dict) -> set[tuple[int, int]]:
        """The hourly truth and every derived table, from the same counters (stats.rollups).

        Returns the (guild, hour) pairs written."""
        with connection.cursor() as cur:
            return rollups.add_flush(cur, counters, self.timezones, self.excluded)

    def _write_dimensions(self, batch: Batch) -> None:
        if batch.guilds:
            visibility = (
                Guild.Visibility.PUBLIC if self.public_new_guilds else Guild.Visibility.PRIVATE
            )
            Guild.objects.bulk_create(
                [
                    Guild(
                        id=gid,
                        name=g.name or str(gid),
                        member_count=g.member_count,
                        afk_channel_id=g.afk_channel_id,
                        icon=g.icon,
                        available=g.available,
                        removed=g.removed,
                        visibility=visibility,
                    )
                    for gid, g in batch.guilds.items()
                ],
                update_conflicts=True,
                unique_fields=["id"],
                update_fields=[
                    "name",
                    "member_count",
                    "afk_channel_id",
                    "icon",
                    "available",
                    "removed",
                ],
            )
            self.known_guilds = self.known_guilds | set(batch.guilds)
        channels = [c for c in batch.channels.values() if c.guild_id in self.known_guilds]
        if channels:
            upsert_by_id(
                Channel,
                [
                    {
                        "id": c.channel_id,
                        "guild_id": c.guild_id,
                        "name": c.name,
                        "type": c.type,
                        "parent_id": c.parent_id,
                        "position": c.position,
                    }
                    for c in channels
                ],
            )
        if batch.deleted_channels:  # its counts stay; the pages say "deleted"
            Channel.objects.filter(id__in=batch.deleted_channels).update(deleted=True)
        members = [(k, v) for k, v in batch.members.items() if k[0] in self.known_guilds]
        for joined in (False, True):
            rows = [
                Member(
                    guild_id=gid,
                    user_id=info.user_id,
                    username=info.username,
                    global_name=info.global_name,
                    nick=info.nick,
                    bot=info.bot,
                    joined_at=at,
                    present=True,
                )
                for (gid, _), (info, at) in members
                if (at is not None) == joined
            ]
            if rows:
                fields = ["username", "global_name", "nick", "bot"] + (
                    ["joined_at"] if joined else []
                )
                Member.objects.bulk_create(
                    rows,
                    batch_size=500,
                    update_conflicts=True,
                    unique_fields=["guild", "user_id"],
                    update_fields=fields,
                )

    def _write_roles(self, batch: Batch) -> None:
        """Roles, then who holds them: a member's stored roles are replaced by the batch's."""
        roles = [r for r in batch.roles.values() if r.guild_id in self.known_guilds]
        if roles:
            upsert_by_id(
                Role,
                [
                    {
                        "id": r.role_id,
                        "guild_id": r.guild_id,
                        "name": r.name,
                        "color": r.color,
                        "position": r.position,
                    }
                    for r in roles
                ],
            )
        held: dict[int, list[tuple[int, frozenset[int]]]] = {}
        for (gid, uid), ids in batch.member_roles.items():
            if gid in self.known_guilds:
                held.setdefault(gid, []).append((uid, ids))
        for gid, members in held.items():
            for i in range(0, len(members), IN_CHUNK):
                chunk = members[i : i + IN_CHUNK]
                MemberRole.objects.filter(
                    guild_id=gid, user_id__in=[uid for uid, _ in chunk]
                ).delete()
                MemberRole.objects.bulk_create(
                    [
                        MemberRole(guild_id=gid, user_id=uid, role_id=rid)
                        for uid, ids in chunk
                        for rid in sorted(ids)
                    ],
                    batch_size=500,
                    ignore_conflicts=True,
                )
        if batch.deleted_roles:
            Role.objects.filter(id__in=batch.deleted_roles).update(deleted=True)
            MemberRole.objects.filter(role_id__in=batch.deleted_roles).delete()

    def _write_member_events(self, batch: Batch) -> dict[tuple[int, int], datetime]:
        """A join is unique by its joined_at; a leave counts only for a member still present.

        Both make a replayed or re-sent event a no-op, across restarts too. Returns the new joins
        that have no activity yet.
        """
        waiting: dict[tuple[int, int], datetime] = {}
        for kind, gid, uid, at in batch.member_events:
            if gid not in self.known_guilds:
                continue
            members = Member.objects.filter(guild_id=gid, user_id=uid)
            if kind == MemberEvent.Kind.JOIN:
                if MemberEvent.objects.filter(guild_id=gid, user_id=uid, kind=kind, at=at).exists():
                    continue
                members.update(present=True)
                # Activity may be committed before its join (a history import reads messages
                # before the member list): look for it once, here, by the hourly key's (guild,
                # member) prefix.
                first = self._first_active_hour(gid, uid, at)
                first_active = None if first is None else max(hour_start(first), at)
                if first_active is None and datetime.now(UTC) - at < ACTIVATION:
                    waiting[(gid, uid)] = at
                MemberEvent.objects.create(
                    guild_id=gid, user_id=uid, kind=kind, at=at, first_active_at=first_active
                )
                continue
            if not members.filter(present=True).update(present=False):
                continue
            MemberEvent.objects.create(guild_id=gid, user_id=uid, kind=kind, at=at)
        return waiting

    def _first_active_hour(self, gid: int, uid: int, at: datetime) -> int | None:
        """The member's first counted hour within ACTIVATION of joining at `at`, if any."""
        not_in, excluded = keys.channels_not_in(gid, self.excluded.get(gid, ()))
        with connection.cursor() as cur:
            cur.execute(
                f"SELECT MIN(hour) FROM {hourly.TABLE} WHERE {keys.USER}"
                f" AND hour >= %s AND hour <= %s{not_in}",
                [gid, uid, hour_of(at), hour_of(at + ACTIVATION), *excluded],
            )
            return cur.fetchone()[0]

    def _awaiting_joins(self) -> dict[tuple[int, int], datetime]:
        if self.awaiting is None:
            since = datetime.now(UTC) - ACTIVATION
            rows = MemberEvent.objects.filter(
                kind=MemberEvent.Kind.JOIN, first_active_at__isnull=True, at__gte=since
            ).order_by("at")
            self.awaiting = {
                (g, u): at for g, u, at in rows.values_list("guild_id", "user_id", "at")
            }
        return self.awaiting

    def _write_first_activity(
        self, counters: dict, awaiting: dict[tuple[int, int], datetime]
    ) -> list[tuple[int, int]]:
        """Record the first activity of waiting joins found in this flush's counters."""
        if not awaiting or not counters:
            return []
        first: dict[tuple[int, int], int] = {}
        for (gid, hour, cid, uid), (m, v) in counters.items():
            at = awaiting.get((gid, uid))
            if (
                at is None
                or not (m or v)
                or cid in self.excluded.get(gid, ())
                or not hour_of(at) <= hour <= hour_of(at + ACTIVATION)
            ):
                continue
            if first.get((gid, uid), hour + 1) > hour:
                first[(gid, uid)] = hour
        for (gid, uid), hour in first.items():
            at = awaiting[(gid, uid)]
            MemberEvent.objects.filter(
                guild_id=gid,
                user_id=uid,
                kind=MemberEvent.Kind.JOIN,
                at=at,
                first_active_at__isnull=True,
            ).update(first_active_at=max(hour_start(hour), at))
        return list(first)

    def _write_voice(self, batch: Batch) -> None:
        if not batch.voice:
            return
        VoiceSession.objects.bulk_create(
            [
                VoiceSession(
                    guild_id=gid,
                    user_id=uid,
                    channel_id=cid,
                    started_at=from_epoch(start),
                    credited_until=from_epoch(credited),
                    ended_at=from_epoch(ended),
                )
                for (gid, uid, start), (cid, credited, ended) in batch.voice.items()
            ],
            update_conflicts=True,
            unique_fields=["guild_id", "user_id", "started_at"],
            update_fields=["channel_id", "credited_until", "ended_at"],
        )

    def _write_feed(self, batch: Batch) -> None:
        now = datetime.now(UTC)
        rows = [
            RecentEvent(
                guild_id=gid,
                kind=kind,
                channel_id=cid,
                user_id=uid,
                at=(parse_time(at) or now) if isinstance(at, str) else at,
            )
            for gid, items in batch.feed.items()
            for kind, cid, uid, at in items
        ]
        if rows:
            rows.sort(key=lambda r: r.at)
            RecentEvent.objects.bulk_create(rows)

    def _prune_feed(self) -> None:
        for gid in RecentEvent.objects.values_list("guild_id", flat=True).distinct():
            ids = (
                RecentEvent.objects.filter(guild_id=gid)
                .order_by("-id")
                .values_list("id", flat=True)
            )
            cutoff = ids[FEED_KEEP_PER_GUILD : FEED_KEEP_PER_GUILD + 1]
            if cutoff:
                RecentEvent.objects.filter(guild_id=gid, id__lte=cutoff[0]).delete()

    def _write_health(self, health: dict[int, dict]) -> None:
        for shard_id, fields in health.items():
            CollectorState.objects.update_or_create(shard_id=shard_id, defaults=fields)

    def mark_disconnected(self, shard_ids: list[int]) -> None:
        CollectorState.objects.filter(shard_id__in=shard_ids).update(connected=False)


def upsert_by_id(model, rows: list[dict]) -> None:
    """Insert rows of a dimension table keyed by Discord id, or update every field but the guild."""
    fields = [f for f in rows[0] if f not in ("id", "guild_id")]
    model.objects.bulk_create(
        [model(**row) for row in rows],
        update_conflicts=True,
        unique_fields=["id"],
        update_fields=fields,
    )


def bump_versions_of(guild_ids, closed=None) -> None:
    """Cached stats results of these guilds go stale (the web's result cache keys on a data
    version); so do their cached closed days for the guilds in `closed` (default: all)."""
    if guild_ids:
        bump_versions(guild_ids, closed)
