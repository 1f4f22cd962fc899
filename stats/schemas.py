"""Response schemas of the JSON API, for the OpenAPI document (CONTRACT section 6)."""
from __future__ import annotations

from typing import Optional

from ninja import Schema


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


class LeaderboardOut(Schema):
    guild_id: str
    metric: str
    days: int
    entries: list[Entry]


class Ranks(Schema):
    messages: Optional[int]
    voice: Optional[int]


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
