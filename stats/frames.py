"""The websocket frames, one pydantic model per type (docs/websockets.md).

The live hub builds every frame through `encode()`, which validates it against
its model, so a frame that drifts from its documented shape fails where it is
built instead of in somebody's browser. The models mirror the HTTP schemas in
stats/schemas.py: ids are strings, times ISO-8601 UTC with a Z.

- /ws/guilds/<gid>/live/: `Tick` about once a second, `Leaderboard` when a top ten changes.
- /ws/health/: `Health` once a second (the /metrics document plus rendered panels).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from stats.schemas import Entry, MetricsOut

FeedKind = Literal["message", "voice_join", "voice_leave", "member_join", "member_leave"]


class Rates(BaseModel):
    """Events per second, averaged over the last few seconds."""

    messages: float
    voice_joins: float
    member_joins: float


class LastHour(BaseModel):
    """Counts over the last 60 minutes, for events too rare for a per-second rate to mean
    anything."""

    voice_joins: int
    member_joins: int


class FeedItem(BaseModel):
    id: int  # increasing: the page drops items it already shows
    kind: FeedKind
    user_id: str
    name: str
    channel_id: str | None  # None for joins and leaves
    channel: str | None
    t: str


class CollectorBadge(BaseModel):
    """What the dashboard's live badge needs (stats.collector_health decides `connected`)."""

    connected: bool


class Tick(BaseModel):
    type: Literal["tick"] = "tick"
    t: str
    rates: Rates
    last_hour: LastHour
    feed: list[FeedItem]
    collector: CollectorBadge


class Leaderboard(BaseModel):
    type: Literal["leaderboard"] = "leaderboard"
    guild_id: str
    metric: Literal["messages", "voice"]
    days: int
    entries: list[Entry]


Cell = str | int | float  # formatted for people, mostly strings


class PanelStat(BaseModel):
    label: str
    value: Cell
    warn: bool


class PanelTable(BaseModel):
    columns: list[str]
    rows: list[list[Cell]]


class Panel(BaseModel):
    """One health panel, rendered for people (stats/panels/base.py)."""

    id: str
    title: str
    summary: str
    stats: list[PanelStat]
    table: PanelTable | None
    warnings: list[str]


class Health(MetricsOut):
    model_config = ConfigDict(extra="allow")

    type: Literal["health"] = "health"
    panels: list[Panel]


Frame = Tick | Leaderboard | Health


def encode(model: type[Frame], **fields) -> str:
    """Validate the fields as a frame of that type and serialise it, once for all its sockets."""
    return model.model_validate(fields).model_dump_json()
