"""Scenario files: JSON lines of gateway dispatches and control lines, parsed into replay steps.

A dispatch line ``{"t": "MESSAGE_CREATE", "d": {...}}`` becomes a :class:`Dispatch` whose frame tail
(``,"t":"MESSAGE_CREATE","d":{...}}``) is serialised once here, so the server only prefixes
``{"op":0,"s":N`` when it sends it. ``GUILD_CREATE`` lines before the first other line define the
guilds announced in READY. Control lines: ``{"op": "sleep", "ms": N}``, ``{"op": "drop"}``,
``{"op": "reconnect"}``, ``{"op": "invalid_session", "resumable": bool}``.
A dispatch line with ``"history_only": true`` is a :class:`HistoryOnly` step: it is recorded in the
simulator's REST state (a message in its channel's history) when its turn comes, never dispatched.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from simulator.intents import required_intent

CONTROL_OPS = ("sleep", "drop", "reconnect", "invalid_session")


class ScenarioError(ValueError):
    """A scenario line that cannot be replayed; the message names the file and the line."""


@dataclass(frozen=True, slots=True)
class Dispatch:
    """One gateway dispatch: the guild it belongs to (None for DMs) and its pre-serialised frame
    tail.

    ``intent`` is the intent bit a session needs to receive it (0: every session does).
    """

    guild_id: int | None
    tail: str
    record: tuple | None = None  # what the simulator's history keeps of it (History.record)
    intent: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        event = self.tail[6 : self.tail.index('"', 6)]  # the tail starts with ',"t":"EVENT"'
        object.__setattr__(self, "intent", required_intent(event, self.guild_id is not None))


@dataclass(frozen=True, slots=True)
class HistoryOnly:
    """A message (or thread change) that happened while nobody was connected: recorded, not sent."""

    record: tuple


@dataclass(frozen=True, slots=True)
class Control:
    """A control line: sleep (ms), drop, reconnect or invalid_session (resumable)."""

    op: str
    ms: int = 0
    resumable: bool = False


Step = Dispatch | Control | HistoryOnly
RECORDED = (
    "MESSAGE_CREATE",
    "THREAD_CREATE",
    "THREAD_UPDATE",
    "THREAD_DELETE",
    "CHANNEL_CREATE",
    "CHANNEL_UPDATE",
)


@dataclass
class Scenario:
    """The guilds (GUILD_CREATE payloads) and the steps to play after the clients are ready."""

    guilds: list[dict] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    name: str = "<scenario>"


def dispatch_tail(event: str, data_json: str | bytes) -> str:
    """The part of a dispatch frame after the sequence number."""
    if isinstance(data_json, bytes):
        data_json = data_json.decode()
    return f',"t":"{event}","d":{data_json}}}'


def guild_of(event: str, data: dict) -> int | None:
    """The guild a dispatch belongs to (routes it to its shard); None (shard 0) when there is none.

    A guild id that is not a number is played as it is, on shard 0: scenarios may hold payloads
    no well-behaved Discord sends, to test what the collector does with them.
    """
    raw = (
        data.get("id")
        if event.startswith("GUILD_") and "guild_id" not in data
        else data.get("guild_id")
    )
    if type(raw) is str and raw.isascii() and raw.isdigit() and len(raw) <= 40:
        return int(raw)
    return raw if type(raw) is int else None


def make_dispatch(event: str, data: dict) -> Dispatch:
    raw = orjson.dumps(data)
    tail = dispatch_tail(event, raw)
    return Dispatch(guild_of(event, data), tail, history_record(event, data, raw))


def history_record(event: str, data: dict, raw: bytes | None = None) -> tuple | None:
    """Arguments of History.record for a line, prepared once (playback only stores them)."""
    if event == "MESSAGE_CREATE":
        try:
            return event, raw or orjson.dumps(data), int(data["channel_id"]), int(data["id"])
        except (KeyError, TypeError, ValueError):
            return None  # not a message Discord would keep
    return (event, data) if event in RECORDED else None


def _parse_line(obj: object) -> Step | dict:
    """A step, or a GUILD_CREATE payload dict (the caller decides whether it is a header)."""
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    if "op" in obj and "t" not in obj:
        op = obj["op"]
        if op not in CONTROL_OPS:
            raise ValueError(f"unknown control op {op!r}")
        if op == "sleep":
            ms = obj.get("ms")
            if not isinstance(ms, (int, float)) or isinstance(ms, bool) or ms < 0:
                raise ValueError("sleep needs a non-negative number 'ms'")
            return Control("sleep", ms=int(ms))
        if op == "invalid_session":
            return Control(op, resumable=bool(obj.get("resumable", False)))
        return Control(op)
    event, data = obj.get("t"), obj.get("d")
    if not isinstance(event, str) or not event or not event.replace("_", "").isalnum():
        raise ValueError("a dispatch needs a string 't'")
    if not isinstance(data, dict):
        raise ValueError("a dispatch needs an object 'd'")
    if obj.get("history_only") is True:
        if event not in RECORDED:
            raise ValueError(f"history_only does not apply to {event}")
        ids = (data.get("id"), data.get("channel_id"))
        if event == "MESSAGE_CREATE" and not all(isinstance(v, str) for v in ids):
            raise ValueError("a message needs string 'id' and 'channel_id'")
        return HistoryOnly(history_record(event, data))
    if event == "GUILD_CREATE":
        if "id" not in data:
            raise ValueError("GUILD_CREATE without 'id'")
        return data
    return make_dispatch(event, data)


def parse_scenario(lines: Iterable[str | bytes], name: str = "<scenario>") -> Scenario:
    """Parse JSON lines; blank lines are skipped; raise ScenarioError naming `name` and the line."""
    scenario = Scenario(name=name)
    header = True
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            parsed = _parse_line(orjson.loads(line))
        except (orjson.JSONDecodeError, ValueError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ScenarioError(f"{name}:{number}: unreadable scenario line ({reason})") from None
        if isinstance(parsed, dict):
            if header:
                scenario.guilds.append(parsed)
                continue
            parsed = make_dispatch("GUILD_CREATE", parsed)  # a guild joined mid-stream
        header = False
        scenario.steps.append(parsed)
    return scenario


def load_scenario(source: str | Path | Iterable[str]) -> Scenario:
    """A scenario from a file path or from an iterable of JSON lines."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        try:
            with path.open("rb") as fh:
                return parse_scenario(fh, name=str(path))
        except OSError as exc:
            raise ScenarioError(f"{path}: cannot read scenario ({exc.strerror})") from None
    return parse_scenario(source)
