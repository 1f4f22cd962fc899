"""History tests' scenarios and helpers: one guild with a readable and a forbidden channel, a forum,
threads; a collector run against an in-process simulator.

Message ids are snowflakes of their timestamps (as Discord's), one author per message (so the
stored rows say exactly which messages were counted), in hours before a fixed moment.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from django.db.models import Sum

from collector.endpoints import configure_discord
from collector.service import Collector
from simulator.generator import iso, snowflake
from simulator.server import Simulator
from tests.rows import hourly_stats

GID = 720000000000000001
GENERAL, RANDOM, SECRET, FORUM, EXCLUDED = (
    720000000000000011,
    720000000000000012,
    720000000000000013,
    720000000000000015,
    720000000000000016,
)
THREAD, OLD_THREAD, POST = 720000000000000900, 720000000000000901, 720000000000000902
BOT_AUTHOR = 720000000000199999
START = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DENY_HISTORY = str((1 << 10) | (1 << 16))  # View Channel, Read Message History
PARENT = {THREAD: GENERAL, OLD_THREAD: GENERAL, POST: FORUM}


def channel(cid: int, name: str, type_: int = 0, parent: int | None = None, **extra) -> dict:
    return {
        "id": str(cid),
        "type": type_,
        "name": name,
        "position": 0,
        "guild_id": str(GID),
        "parent_id": str(parent) if parent else None,
        "permission_overwrites": [],
        **extra,
    }


def thread(cid: int, parent: int, archived: bool = False) -> dict:
    return channel(
        cid,
        f"thread {cid % 1000}",
        11,
        parent,
        owner_id=str(BOT_AUTHOR),
        message_count=0,
        member_count=1,
        last_message_id=None,
        rate_limit_per_user=0,
        flags=0,
        thread_metadata={
            "archived": archived,
            "auto_archive_duration": 1440,
            "locked": False,
            "archive_timestamp": iso(int(START.timestamp() * 1000)),
        },
    )


def guild_create() -> dict:
    channels = [
        channel(GENERAL, "general"),
        channel(RANDOM, "random"),
        channel(
            SECRET,
            "secret",
            permission_overwrites=[{"id": str(GID), "type": 0, "allow": "0", "deny": DENY_HISTORY}],
        ),
        channel(FORUM, "forum", 15),
        channel(EXCLUDED, "excluded"),
    ]
    return {
        "id": str(GID),
        "name": "History Guild",
        "icon": None,
        "afk_channel_id": None,
        "member_count": 3,
        "channels": channels,
        "threads": [thread(THREAD, GENERAL), thread(POST, FORUM)],
        "members": [member(720000000000100000 + n, joined) for n, joined in MEMBERS],
        "voice_states": [],
        "roles": [{"id": str(GID), "name": "@everyone", "permissions": "0"}],
    }


MEMBERS = [
    (1, "2024-05-01T10:00:00+00:00"),
    (2, "2026-11-20T15:30:00+00:00"),
    (3, "2026-11-20T16:10:00+00:00"),
]


def member(uid: int, joined_at: str) -> dict:
    return {
        "user": {
            "id": str(uid),
            "username": f"m{uid % 1000}",
            "discriminator": "0",
            "global_name": None,
            "avatar": None,
        },
        "roles": [],
        "joined_at": joined_at,
        "nick": None,
        "deaf": False,
        "mute": False,
        "flags": 0,
    }


class Script:
    """Builds scenario lines; `message` returns the id of the message it adds."""

    def __init__(self) -> None:
        self.lines = [json.dumps({"t": "GUILD_CREATE", "d": guild_create()})]
        self.ms = int(START.timestamp() * 1000)
        self.sent: list[tuple[int, int, int]] = []  # (id, source channel, author)
        self.n = 0

    def message(
        self, cid: int, history_only: bool = False, bot: bool = False, minutes: float = 7
    ) -> int:
        self.ms += int(minutes * 60_000)
        self.n += 1
        mid = snowflake(self.ms, self.n)
        author = BOT_AUTHOR if bot else 720000000000100000 + self.n
        user = {
            "id": str(author),
            "username": f"u{self.n}",
            "discriminator": "0",
            "global_name": None,
            "avatar": None,
            **({"bot": True} if bot else {}),
        }
        d = {
            "id": str(mid),
            "channel_id": str(cid),
            "guild_id": str(GID),
            "author": user,
            "content": "",
            "timestamp": iso(self.ms),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "type": 0,
            "flags": 0,
            "components": [],
        }
        line = {"t": "MESSAGE_CREATE", "d": d}
        if history_only:
            line["history_only"] = True
        self.lines.append(json.dumps(line))
        if not bot:
            self.sent.append((mid, cid, author))
        return mid

    def archive(self, tid: int, parent: int, history_only: bool = True) -> None:
        line = {"t": "THREAD_UPDATE", "d": thread(tid, parent, archived=True)}
        if history_only:
            line["history_only"] = True
        self.lines.append(json.dumps(line))

    def sleep(self, ms: int) -> None:
        self.lines.append(json.dumps({"op": "sleep", "ms": ms}))

    def expected(self, readable=lambda cid: cid not in (SECRET, EXCLUDED)) -> dict[int, int]:
        """author -> 1 for each human message the rules count (in a readable, tracked channel)."""
        return {
            author: 1
            for mid, cid, author in self.sent
            if readable(cid) and readable(PARENT.get(cid, cid))
        }

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.ms / 1000, UTC) + timedelta(minutes=1)


def counted() -> dict[int, int]:
    rows = hourly_stats().filter(guild_id=GID).values("user_id").annotate(m=Sum("messages"))
    return {r["user_id"]: r["m"] for r in rows if r["m"]}


async def with_collector(sim: Simulator, during=None, until_done: bool = True) -> object:
    """Run a collector on `sim` until playback is done (and `during` returned); stop it as SIGTERM
    does."""
    collector = Collector("test-token", flush_ms=100)
    run = asyncio.create_task(collector.run())
    result = None
    try:
        while until_done and not sim.status()["done"]:
            assert not run.done(), run.exception() if run.done() else None
            await asyncio.sleep(0.05)
        if during is not None:
            result = await during()
        await asyncio.sleep(0.3)
    finally:
        collector.stop()
        await asyncio.wait_for(run, 15)
    return result


async def started(lines, **options) -> Simulator:
    sim = Simulator(lines, start_delay=0.05, **options)
    await sim.start()
    await asyncio.to_thread(configure_discord, sim.api_base)
    return sim
