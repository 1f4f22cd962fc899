"""Response schemas of the JSON API (docs/api.md) and of /metrics (docs/operations.md)."""

from __future__ import annotations

from ninja import Schema
from pydantic import ConfigDict


class Error(Schema):
    error: str


class GuildOut(Schema):
    id: str
    name: str
    member_count: int


class GuildList(Schema):
    guilds: list[GuildOut]


class Totals(Schema):
    messages: int
    voice_minutes: float
    active_members: int
    joins: int
    leaves: int


class Point(Schema):
    t: str
    messages: int
    voice_minutes: float
    active_members: int


class Span(Schema):
    start: str
    end: str


class StatsOut(Schema):
    guild_id: str
    days: int
    start: str
    end: str
    interval: str
    totals: Totals
    previous: Totals | None = None  # with compare=previous: the period just before
    series: list[Point]


class IncompleteOut(Schema):
    """Hours the collector was away: messages recovered from history; voice and joins are not."""

    guild_id: str
    days: int
    incomplete: list[Span]


class Entry(Schema):
    rank: int
    user_id: str
    name: str
    value: float
    previous_rank: int | None = None  # with compare=previous (null: not ranked then)


class LeaderboardOut(Schema):
    guild_id: str
    metric: str
    days: int
    entries: list[Entry]


class Ranks(Schema):
    messages: int | None
    voice: int | None


class MemberChannel(Schema):
    channel_id: str
    name: str
    deleted: bool
    messages: int
    voice_minutes: float


class MemberOut(Schema):
    guild_id: str
    user_id: str
    name: str
    days: int
    messages: int
    voice_minutes: float
    rank: Ranks
    channels: list[MemberChannel]
    series: list[Point]


class MedianPoint(Schema):
    t: str
    messages: float
    voice_minutes: float


class MemberPrevious(Schema):
    messages: int
    voice_minutes: float
    rank: Ranks


class WeekRank(Schema):
    week_start: str
    rank: int | None


class MemberContextOut(Schema):
    guild_id: str
    user_id: str
    days: int
    median: list[MedianPoint] | None
    hours: list[int]
    rank_history: list[WeekRank] | None
    previous: MemberPrevious | None = None


class ChannelOut(Schema):
    channel_id: str
    name: str
    deleted: bool
    messages: int
    voice_minutes: float
    active_members: int


class ChannelsOut(Schema):
    guild_id: str
    days: int
    channels: list[ChannelOut]


class HeatmapOut(Schema):
    guild_id: str
    days: int
    timezone: str
    cells: list[list[int]]


class RoleOut(Schema):
    id: str
    name: str
    color: str | None
    position: int
    members: int


class RolesOut(Schema):
    guild_id: str
    roles: list[RoleOut]


class Cohort(Schema):
    week_start: str
    joined: int
    active_first_day: int
    active_first_week: int
    still_member_after_30_days: int | None


class RetentionOut(Schema):
    guild_id: str
    weeks: int
    timezone: str
    cohorts: list[Cohort]


# --- /metrics ------------------------------------------------------------------------
# Open to extra fields: the document grows (a new collector figure needs no schema change
# to reach /metrics), while the fields listed here are checked.


class ShardOut(Schema):
    model_config = ConfigDict(extra="allow")

    shard_id: int
    shard_count: int
    pid: int
    connected: bool
    latency_ms: float | None
    last_event_at: str | None
    events_processed: int
    events_per_sec: float
    queue_depth: int
    last_flush_ms: float | None
    last_flush_at: str | None
    rss_bytes: int
    errors: int
    started_at: str | None
    updated_at: str | None


class CollectorOut(Schema):
    model_config = ConfigDict(extra="allow")

    connected: bool
    latency_ms: float | None
    last_event_at: str | None
    queue_depth: int
    last_flush_ms: float | None
    shards: list[ShardOut]


class MemoryOut(Schema):
    rss_bytes: dict[str, int]


class DatabaseOut(Schema):
    size_bytes: int
    wal_bytes: int


class MetricsOut(Schema):
    model_config = ConfigDict(extra="allow")

    events_processed: int
    events_per_sec: float
    queries_executed: int
    cache_hits: int
    cache_misses: int
    cache_hit_rate: float
    errors: int
    memory: MemoryOut
    cache: dict[str, int]
    cache_bytes: dict[str, int]
    collector: CollectorOut
    db: DatabaseOut
    uptime_s: float
