"""Mocha's storage: dimension tables (Guild, Channel, Member) and fact tables.

Facts are keyed by plain snowflake columns rather than foreign keys: the
collector writes them in bulk, for channels and members it may not have seen
yet, and a foreign-key check per row would cost more than it protects.
Hours are stored as whole hours since the Unix epoch (UTC): 4 bytes instead of
a 19-byte text timestamp, and any timezone's day is a range of them.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from mocha.discord_types import THREAD_TYPES, VOICE_TYPES
from mocha.utc import from_epoch


def validate_timezone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValidationError(f"unknown timezone {value!r}") from None


def hour_of(dt: datetime) -> int:
    """Whole hours since the epoch for an aware datetime."""
    return int(dt.timestamp()) // 3600


def hour_start(hour: int) -> datetime:
    return from_epoch(hour * 3600)


class Guild(models.Model):
    class Visibility(models.TextChoices):
        PUBLIC = "public", "Public — anyone"
        MEMBERS = "members", "Members — signed in with Discord and in the guild"
        MANAGERS = "managers", "Managers — Administrator, Manage Server or a manager role"
        PRIVATE = "private", "Private — granted viewers and staff"

    id = models.BigIntegerField(primary_key=True, help_text="Discord snowflake")
    name = models.CharField(max_length=100)
    icon = models.CharField(max_length=64, blank=True, default="")
    member_count = models.PositiveIntegerField(default=0)
    afk_channel_id = models.BigIntegerField(null=True, blank=True)
    available = models.BooleanField(
        default=True, help_text="False during a Discord outage of the guild"
    )
    removed = models.BooleanField(
        default=False, help_text="The bot was removed from the guild; its counts stay"
    )
    # Configuration (docs/configuration.md, "Per guild").
    tracking = models.BooleanField(default=True, help_text="Count this guild's events.")
    count_bots = models.BooleanField(
        default=False, help_text="Count messages from bots and webhooks."
    )
    track_voice = models.BooleanField(default=True, help_text="Count voice minutes.")
    excluded_channels = models.ManyToManyField(
        "Channel",
        blank=True,
        related_name="+",
        help_text="Channels whose messages and voice are not counted.",
    )
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    default_days = models.PositiveSmallIntegerField(
        default=30, help_text="Default lookback of the dashboard, in days."
    )
    visibility = models.CharField(
        max_length=16, choices=Visibility.choices, default=Visibility.PRIVATE
    )
    manager_roles = models.JSONField(
        default=list, blank=True, help_text="Discord role ids whose holders see a `managers` guild."
    )
    viewers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="granted_guilds",
        help_text="Who may see a private guild.",
    )
    retention_days = models.PositiveSmallIntegerField(
        default=30, help_text="Days raw recent events are kept."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name or str(self.id)

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


class Channel(models.Model):
    """A guild channel or thread; a thread's messages count for its parent."""

    id = models.BigIntegerField(primary_key=True)
    guild = models.ForeignKey(Guild, on_delete=models.CASCADE, related_name="channels")
    name = models.CharField(max_length=100)
    type = models.PositiveSmallIntegerField(default=0)
    parent_id = models.BigIntegerField(
        null=True, blank=True, help_text="Parent channel of a thread, or category"
    )
    position = models.IntegerField(default=0)
    deleted = models.BooleanField(default=False)

    class Meta:
        ordering = ["guild_id", "position", "id"]

    def __str__(self) -> str:
        return f"#{self.name}"

    @property
    def is_thread(self) -> bool:
        return self.type in THREAD_TYPES

    @property
    def is_voice(self) -> bool:
        return self.type in VOICE_TYPES


class Member(models.Model):
    """A user as seen in one guild; names are refreshed from every payload."""

    guild = models.ForeignKey(Guild, on_delete=models.CASCADE, related_name="members")
    user_id = models.BigIntegerField()
    username = models.CharField(max_length=64, default="")
    global_name = models.CharField(max_length=64, blank=True, default="")
    nick = models.CharField(max_length=64, blank=True, default="")
    bot = models.BooleanField(default=False)
    joined_at = models.DateTimeField(null=True, blank=True)
    present = models.BooleanField(default=True, help_text="Still a member of the guild")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["guild", "user_id"], name="member_guild_user")
        ]
        ordering = ["guild_id", "user_id"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.nick or self.global_name or self.username or str(self.user_id)


class Role(models.Model):
    """A guild role as Discord last described it; a deleted role keeps its row, not its holders."""

    id = models.BigIntegerField(primary_key=True)
    guild = models.ForeignKey(Guild, on_delete=models.CASCADE, related_name="roles")
    name = models.CharField(max_length=100)
    color = models.IntegerField(default=0, help_text="RGB as an integer; 0 is no colour")
    position = models.IntegerField(default=0)
    deleted = models.BooleanField(default=False)

    class Meta:
        ordering = ["guild_id", "-position", "id"]

    def __str__(self) -> str:
        return f"@{self.name}"


class MemberRole(models.Model):
    """A role a member holds now (kept by the collector from member payloads)."""

    guild_id = models.BigIntegerField()
    role_id = models.BigIntegerField()
    user_id = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["guild_id", "role_id", "user_id"], name="member_role_key"
            )
        ]
        indexes = [models.Index(fields=["guild_id", "user_id"], name="member_role_user")]

    def __str__(self) -> str:
        return f"user {self.user_id} holds role {self.role_id}"


class MemberKey(models.Model):
    """The small number standing for a (guild, user) in the keys of the two largest rollups.

    A snowflake takes 8 bytes in every row; a number counted from 1 takes 1–3 in SQLite's
    records. HourlyStat and DailyMemberStat hold these instead of user ids, and the query layer
    joins this table where an answer names users. Kept apart from Member: a count may come before
    (or without) a member's profile, and erasing a member removes both.
    """

    id = models.AutoField(primary_key=True)
    guild_id = models.BigIntegerField()
    user_id = models.BigIntegerField()

    class Meta:
        # Not a name with another table's inside it ("stats_member…"): cachalot finds the tables a
        # raw query touches by substring.
        db_table = "stats_key_member"
        constraints = [
            models.UniqueConstraint(fields=["guild_id", "user_id"], name="member_key_user")
        ]

    def __str__(self) -> str:
        return f"member {self.id}: user {self.user_id} in guild {self.guild_id}"


class GuildKey(models.Model):
    """The small number standing for a guild in DailyMemberStat's key (see MemberKey)."""

    id = models.AutoField(primary_key=True)
    guild_id = models.BigIntegerField(unique=True)

    class Meta:
        db_table = "stats_key_guild"

    def __str__(self) -> str:
        return f"guild {self.id}: {self.guild_id}"


class ChannelKey(models.Model):
    """The small number standing for a channel in HourlyStat's key (see MemberKey)."""

    id = models.AutoField(primary_key=True)
    guild_id = models.BigIntegerField()
    channel_id = models.BigIntegerField()

    class Meta:
        db_table = "stats_key_channel"
        constraints = [
            models.UniqueConstraint(fields=["guild_id", "channel_id"], name="channel_key_channel")
        ]

    def __str__(self) -> str:
        return f"channel {self.id}: {self.channel_id} in guild {self.guild_id}"


class HourlyStat(models.Model):
    """Messages and voice seconds of one member in one channel in one UTC hour.

    Keyed by small numbers (MemberKey, ChannelKey), not snowflakes: this table holds about one row
    per three events, and its key is most of a row. A member's key names the guild too.
    """

    # The upsert key is the table (WITHOUT ROWID on SQLite): one b-tree, no row id, no second
    # copy of the key. Member before hour: member pages, role filters and the collector's
    # first-activity and already-active checks are all one member's hours; a guild's rows are
    # its members' ranges.
    pk = models.CompositePrimaryKey("member_key", "hour", "channel_key")
    member_key = models.IntegerField(help_text="MemberKey: the guild and user")
    hour = models.IntegerField(help_text="Hours since the Unix epoch, UTC")
    channel_key = models.IntegerField(help_text="ChannelKey")
    messages = models.IntegerField(default=0)
    voice_seconds = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"member {self.member_key} hour {self.hour} channel {self.channel_key}"


class HourlyChannelStat(models.Model):
    """Messages and voice seconds of one channel in one UTC hour: series, heatmap and channel
    totals."""

    pk = models.CompositePrimaryKey("guild_id", "hour", "channel_id")
    guild_id = models.BigIntegerField()
    hour = models.IntegerField()
    channel_id = models.BigIntegerField()
    messages = models.IntegerField(default=0)
    voice_seconds = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"guild {self.guild_id} hour {self.hour} channel {self.channel_id}"


class DailyMemberStat(models.Model):
    """A member's messages and voice seconds per local day of the guild.

    Days follow the guild's timezone and leave out its excluded channels; when
    either setting changes the guild's rows are rebuilt from HourlyStat
    (stats.rollups). Leaderboards, ranks and active-member counts read this
    table: a month is ~30 rows per active member instead of one per hour and
    channel.
    """

    # Keyed in day order (WITHOUT ROWID on SQLite): the upsert, and today's rows read after every
    # flush (stats.periods) are one range of it.
    pk = models.CompositePrimaryKey("guild_key", "day", "member_key")
    guild_key = models.IntegerField(help_text="GuildKey")
    day = models.IntegerField(help_text="Local days since 1970-01-01 in the guild's timezone")
    member_key = models.IntegerField(help_text="MemberKey: the user")
    messages = models.IntegerField(default=0)
    voice_seconds = models.IntegerField(default=0)

    class Meta:
        indexes = [
            # Covering, in member order: leaderboards, ranks and distinct members stream one
            # guild's rows member by member without a sort. A slimmer (guild, day) index made
            # today's rows 3x slower to read (a key lookup per row) for nearly the same bytes.
            models.Index(
                fields=["guild_key", "member_key", "day", "messages", "voice_seconds"],
                name="member_day_user",
            ),
        ]

    def __str__(self) -> str:
        return f"guild {self.guild_key} day {self.day} member {self.member_key}"


class HourlyGuildStat(models.Model):
    """A guild's distinct active members, messages and voice seconds per UTC hour (excluded
    channels left out): totals, series and the heatmap read one row an hour, not one per channel.

    A distinct count cannot be summed from other rollups: the collector adds the
    members it sees for the first time in that hour at each flush; rebuilt from
    HourlyStat when exclusions change.
    """

    pk = models.CompositePrimaryKey("guild_id", "hour")
    guild_id = models.BigIntegerField()
    hour = models.IntegerField()
    active_members = models.IntegerField(default=0)
    messages = models.IntegerField(default=0)
    voice_seconds = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"guild {self.guild_id} hour {self.hour}"


class DailyGuildStat(models.Model):
    """Distinct active members of a guild per local day of its timezone (excluded channels left
    out): the daily series' active members, one row a day instead of counting the day's
    member-days.

    The count of the guild's DailyMemberStat rows of that day: a flush adds the members whose row
    of the day it creates; rebuilt with DailyMemberStat.
    """

    pk = models.CompositePrimaryKey("guild_id", "day")
    guild_id = models.BigIntegerField()
    day = models.IntegerField(help_text="Local days since 1970-01-01 in the guild's timezone")
    active_members = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"guild {self.guild_id} day {self.day}"


class ChannelMember(models.Model):
    """The last local day each member was active in each channel.

    Windows end today, so a channel's active members in the last N days are its
    rows with last_day in range: one small row per (channel, member) instead of
    a distinct count over a month of hourly rows.
    """

    # One guild's rows are few (a member is active in a handful of channels): the key alone serves
    # the upsert and the per-channel count of a window.
    pk = models.CompositePrimaryKey("guild_id", "channel_id", "user_id")
    guild_id = models.BigIntegerField()
    channel_id = models.BigIntegerField()
    user_id = models.BigIntegerField()
    last_day = models.IntegerField(help_text="Local days since 1970-01-01 in the guild's timezone")

    def __str__(self) -> str:
        return f"user {self.user_id} in channel {self.channel_id}"


class VoiceSession(models.Model):
    """A voice connection; open while ended_at is null. credited_until marks what rollups already
    hold."""

    guild_id = models.BigIntegerField()
    user_id = models.BigIntegerField()
    channel_id = models.BigIntegerField()
    started_at = models.DateTimeField()
    credited_until = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["guild_id", "user_id", "started_at"], name="voice_session_key"
            )
        ]
        indexes = [
            models.Index(fields=["guild_id", "ended_at"], name="voice_open"),
            models.Index(
                fields=["guild_id", "started_at"], name="voice_started"
            ),  # the live "last hour"
        ]

    def __str__(self) -> str:
        return f"user {self.user_id} in voice channel {self.channel_id} from {self.started_at}"


class MemberEvent(models.Model):
    class Kind(models.IntegerChoices):
        JOIN = 1, "join"
        LEAVE = 2, "leave"

    guild_id = models.BigIntegerField()
    user_id = models.BigIntegerField()
    kind = models.PositiveSmallIntegerField(choices=Kind.choices)
    at = models.DateTimeField()
    first_active_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="A join's first counted message or voice minute, to the hour, when it came "
        "within a week (written by the collector)",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["guild_id", "user_id", "kind", "at"], name="member_event_key"
            )
        ]
        indexes = [models.Index(fields=["guild_id", "at"], name="member_event_time")]

    def __str__(self) -> str:
        return (
            f"{self.get_kind_display()}: user {self.user_id} in guild {self.guild_id} at {self.at}"
        )


class RecentEvent(models.Model):
    """The live feed: a bounded, pruned log of recent counted events. No content, ever."""

    class Kind(models.TextChoices):
        MESSAGE = "message"
        VOICE_JOIN = "voice_join"
        VOICE_LEAVE = "voice_leave"
        MEMBER_JOIN = "member_join"
        MEMBER_LEAVE = "member_leave"

    guild_id = models.BigIntegerField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    channel_id = models.BigIntegerField(null=True)
    user_id = models.BigIntegerField()
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["guild_id", "id"], name="recent_guild")]

    def __str__(self) -> str:
        return (
            f"{self.get_kind_display()}: user {self.user_id} in guild {self.guild_id} at {self.at}"
        )


class MessageCursor(models.Model):
    """Per channel, the message ids already processed: no message is ever counted twice.

    `ranges` is a JSON list of inclusive [lo, hi] id ranges (see collector.ranges); the gateway and
    history imports both add to it, in the same transaction as the counts.
    """

    channel_id = models.BigIntegerField(primary_key=True)
    guild_id = models.BigIntegerField()
    last_message_id = models.BigIntegerField(help_text="Highest id processed (the top of `ranges`)")
    ranges = models.TextField(default="[]")

    def __str__(self) -> str:
        return f"channel {self.channel_id} up to message {self.last_message_id}"


class OptOut(models.Model):
    """A member who asked not to be counted in a guild: their stats are erased and the collector
    skips them."""

    guild_id = models.BigIntegerField()
    user_id = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["guild_id", "user_id"], name="opt_out_key")]

    def __str__(self) -> str:
        return f"user {self.user_id} opted out of guild {self.guild_id}"


class CollectorState(models.Model):
    """Health of one collector shard, written each flush, read by /metrics and the health panel."""

    shard_id = models.IntegerField(primary_key=True)
    shard_count = models.IntegerField(default=1)
    pid = models.IntegerField(default=0)
    connected = models.BooleanField(default=False)
    latency_ms = models.FloatField(null=True)
    last_event_at = models.DateTimeField(null=True)
    events_processed = models.BigIntegerField(default=0)
    events_per_sec = models.FloatField(default=0)
    queue_depth = models.IntegerField(default=0)
    last_flush_ms = models.FloatField(default=0)
    last_flush_at = models.DateTimeField(null=True)
    rss_bytes = models.BigIntegerField(default=0)
    errors = models.IntegerField(default=0)
    gaps = models.IntegerField(
        default=0, help_text="Sessions lost without replay (non-resumable INVALID_SESSION)"
    )
    skipped = models.JSONField(
        default=dict,
        help_text='Invalid payloads skipped since start, by reason: {"bad_snowflake": n}',
    )
    gaps_found = models.IntegerField(
        default=0, help_text="Channel spans checked for missed messages (gap repair)"
    )
    gaps_repaired = models.IntegerField(default=0, help_text="Of those, read to their start")
    gaps_open = models.IntegerField(default=0, help_text="Of those, still to read or unreadable")
    rates = models.JSONField(
        default=dict,
        help_text=(
            'Per guild over the last flush: {"gid": {"messages": per_s, '
            '"voice_joins": …, "member_joins": …}}'
        ),
    )
    missing_intents = models.JSONField(
        default=list,
        help_text=(
            'Privileged intents Discord refused and the collector runs without, e.g. ["members"]'
        ),
    )
    telemetry = models.JSONField(
        default=dict,
        help_text=(
            "Cumulative flush histograms and events by type, "
            "for Prometheus (collector/telemetry.py)"
        ),
    )
    started_at = models.DateTimeField(null=True)
    updated_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"shard {self.shard_id}/{self.shard_count}"


class QuarantinedRow(models.Model):
    """A row of a flush the database refused for its data, set aside so the rest could be written.

    Rows come from the collector's in-memory batch (a counter, a member, a channel…); the value is
    kept as escaped ASCII text, so it can always be stored, whatever made the database refuse it.
    """

    created_at = models.DateTimeField(auto_now_add=True)
    kind = models.CharField(
        max_length=32, help_text="Which part of the batch: counters, members, channels…"
    )
    row = models.TextField(help_text="The refused row, as escaped text")
    error = models.CharField(max_length=300, help_text="What the database said")

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.kind} row quarantined at {self.created_at}"


class CollectorOutage(models.Model):
    """A time the collector of a shard was away (stopped, or its session lost): voice and joins of
    that time are not recoverable; its messages are recovered from history by gap repair."""

    shard_id = models.IntegerField()
    shard_count = models.IntegerField(default=1)
    start = models.DateTimeField()
    end = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["end"], name="outage_end")]

    def __str__(self) -> str:
        return f"shard {self.shard_id}/{self.shard_count} down {self.start} to {self.end}"


class ScheduledTask(models.Model):
    """The last UTC day a once-a-day task ran: the process whose UPDATE moves it on runs it."""

    name = models.CharField(max_length=40, primary_key=True)
    last_day = models.DateField(null=True)
    last_run_at = models.DateTimeField(null=True)
    last_result = models.JSONField(default=dict)

    def __str__(self) -> str:
        return self.name
