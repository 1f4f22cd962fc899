"""What the simulator remembers: each channel's messages and the guild's threads, served over REST.

Every message the simulator plays (dispatched or ``history_only``) and every generated backfill
message is kept in its channel's history. The REST routes answer as Discord does:

- ``GET /channels/{cid}/messages?before|after|around&limit`` (limit 1–100, default 50; newest first,
  ``after`` gives the oldest ``limit`` messages after the id);
- ``GET /guilds/{gid}``, ``/guilds/{gid}/channels``, ``/users/@me/guilds``;
- ``GET /guilds/{gid}/threads/active``, ``/channels/{cid}/threads/archived/public|private``;
- ``GET /guilds/{gid}/members?limit&after`` (the member list, by user id; 1–1000 a page);
- 403 (code 50001, Missing Access) for a channel whose permission overwrites deny the bot
  View Channel or Read Message History (threads follow their parent); 404 for unknown ids.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable

import orjson
from aiohttp import web

from simulator.ratelimit import RateLimits

VIEW_CHANNEL = 1 << 10
READ_MESSAGE_HISTORY = 1 << 16
THREAD_TYPES = (10, 11, 12)
PAGE_MAX = 100


def body(data: object, status: int = 200, headers: dict | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(data) if not isinstance(data, bytes) else data,
        status=status,
        content_type="application/json",
        headers=headers,
    )


def as_int(value: object) -> int:
    """A recorded payload's number, or 0 where it holds something else."""
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def error(status: int, message: str, code: int) -> web.Response:
    return body({"message": message, "code": code}, status)


class ChannelHistory:
    """One channel's messages: ids ascending and their JSON, side by side."""

    __slots__ = ("ids", "json")

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.json: list[bytes] = []

    def add(self, mid: int, payload: bytes) -> None:
        ids = self.ids
        if not ids or mid > ids[-1]:
            ids.append(mid)
            self.json.append(payload)
            return
        i = bisect_left(ids, mid)
        if i < len(ids) and ids[i] == mid:
            self.json[i] = payload  # the same message again (a replayed line)
            return
        insort(ids, mid)
        self.json.insert(i, payload)

    def page(
        self, before: int | None, after: int | None, around: int | None, limit: int
    ) -> list[bytes]:
        ids = self.ids
        if around is not None:
            start = max(0, bisect_left(ids, around) - limit // 2)
            window = slice(start, start + limit)
        elif after is not None:
            start = bisect_right(ids, after)
            window = slice(start, start + limit)
        else:
            end = bisect_left(ids, before) if before is not None else len(ids)
            window = slice(max(0, end - limit), end)
        return self.json[window][::-1]


class History:
    """Messages, channels and threads of the simulated guilds."""

    def __init__(self, guilds: Iterable[dict], bot_id: str) -> None:
        self.bot_id = bot_id
        self.guilds: dict[int, dict] = {}
        self.members: dict[int, list[dict]] = {}
        self.channels: dict[int, dict] = {}
        self.threads: dict[int, dict] = {}
        self.messages: dict[int, ChannelHistory] = {}
        self.count = 0
        for guild in guilds:
            gid = int(guild["id"])
            self.guilds[gid] = {
                k: v
                for k, v in guild.items()
                if k not in ("channels", "threads", "members", "voice_states", "presences")
            }
            self.members[gid] = sorted(guild.get("members", []), key=lambda m: int(m["user"]["id"]))
            for channel in guild.get("channels", []):
                self.channels[int(channel["id"])] = {**channel, "guild_id": str(gid)}
            for thread in guild.get("threads", []):
                self.threads[int(thread["id"])] = {**thread, "guild_id": str(gid)}

    # ---- what playback records ---------------------------------------------------------------
    def record(
        self, event: str, data: dict | bytes, channel_id: int = 0, message_id: int = 0
    ) -> None:
        """A played (or history-only) dispatch: a message joins its channel, a thread the list.

        A payload Discord would not keep (no usable id: scenarios hold such on purpose) is not
        recorded, and never stops the playback.
        """
        try:
            self._record(event, data, channel_id, message_id)
        except (KeyError, TypeError, ValueError):
            pass

    def _record(self, event: str, data: dict | bytes, channel_id: int, message_id: int) -> None:
        if event == "MESSAGE_CREATE":
            if isinstance(data, dict):
                channel_id, message_id, data = (
                    int(data["channel_id"]),
                    int(data["id"]),
                    orjson.dumps(data),
                )
            history = self.messages.get(channel_id)
            if history is None:
                history = self.messages[channel_id] = ChannelHistory()
            history.add(message_id, data)
            self.count += 1
        elif event in ("THREAD_CREATE", "THREAD_UPDATE") and isinstance(data, dict):
            tid = int(data["id"])
            self.threads[tid] = {**self.threads.get(tid, {}), **data}
        elif event == "THREAD_DELETE" and isinstance(data, dict):
            self.threads.pop(int(data["id"]), None)
        elif (
            event in ("CHANNEL_CREATE", "CHANNEL_UPDATE")
            and isinstance(data, dict)
            and data.get("guild_id")
        ):
            self.channels[int(data["id"])] = data

    # ---- permissions ---------------------------------------------------------------------------
    def readable(self, cid: int) -> bool:
        """False when an overwrite denies @everyone or the bot View Channel or Read History."""
        channel = self.channels.get(cid) or self.threads.get(cid) or {}
        if as_int(channel.get("type")) in THREAD_TYPES and channel.get("parent_id"):
            channel = self.channels.get(as_int(channel["parent_id"]), channel)
        needed = VIEW_CHANNEL | READ_MESSAGE_HISTORY
        denied = allowed = 0
        overwrites = channel.get("permission_overwrites")
        for ow in overwrites if isinstance(overwrites, list) else []:
            if not isinstance(ow, dict):
                continue
            if str(ow.get("id")) in (str(channel.get("guild_id")), self.bot_id):
                denied |= as_int(ow.get("deny"))
                if str(ow.get("id")) == self.bot_id:
                    allowed |= as_int(ow.get("allow"))
        return not (denied & needed & ~allowed)

    def known(self, cid: int) -> bool:
        return cid in self.channels or cid in self.threads or cid in self.messages

    # ---- REST ----------------------------------------------------------------------------------
    def messages_page(self, cid: int, query) -> web.Response:
        if not self.known(cid):
            return error(404, "Unknown Channel", 10003)
        if not self.readable(cid):
            return error(403, "Missing Access", 50001)
        try:
            limit = int(query.get("limit", 50))
            anchors = {k: int(query[k]) for k in ("before", "after", "around") if k in query}
        except ValueError:
            return error(400, "Invalid Form Body", 50035)
        if not 1 <= limit <= PAGE_MAX or len(anchors) > 1:
            return error(400, "Invalid Form Body", 50035)
        history = self.messages.get(cid)
        page = (
            history.page(anchors.get("before"), anchors.get("after"), anchors.get("around"), limit)
            if history
            else []
        )
        return body(b"[" + b",".join(page) + b"]")

    def guild_threads(self, gid: int, archived: bool, parent: int | None = None) -> list[dict]:
        out = []
        for thread in self.threads.values():
            if str(thread.get("guild_id")) != str(gid):
                continue
            if bool((thread.get("thread_metadata") or {}).get("archived")) != archived:
                continue
            if parent is not None and str(thread.get("parent_id")) != str(parent):
                continue
            out.append(thread)
        return out

    def archived(self, cid: int, kind: str, query) -> web.Response:
        channel = self.channels.get(cid)
        if channel is None:
            return error(404, "Unknown Channel", 10003)
        if not self.readable(cid):
            return error(403, "Missing Access", 50001)
        want = 11 if kind == "public" else 12
        threads = [
            t
            for t in self.guild_threads(int(channel["guild_id"]), True, cid)
            if t.get("type") == want
        ]

        def stamp(t: dict) -> str:
            return (t.get("thread_metadata") or {}).get("archive_timestamp") or ""

        threads.sort(key=stamp, reverse=True)
        before = query.get("before")
        if before:
            threads = [t for t in threads if stamp(t) < before]
        try:
            limit = max(2, min(100, int(query.get("limit", 50))))
        except ValueError:
            return error(400, "Invalid Form Body", 50035)
        return body({"threads": threads[:limit], "members": [], "has_more": len(threads) > limit})


ROUTES = [
    (re.compile(r"channels/(\d+)/messages"), "channels/{id}/messages"),
    (
        re.compile(r"channels/(\d+)/threads/archived/(public|private)"),
        "channels/{id}/threads/archived",
    ),
    (re.compile(r"guilds/(\d+)/threads/active"), "guilds/{id}/threads/active"),
    (re.compile(r"guilds/(\d+)/channels"), "guilds/{id}/channels"),
    (re.compile(r"guilds/(\d+)/members"), "guilds/{id}/members"),
    (re.compile(r"guilds/(\d+)"), "guilds/{id}"),
    (re.compile(r"users/@me/guilds"), "users/@me/guilds"),
]


class HistoryApi:
    """The REST routes over a History, behind per-route rate limits."""

    def __init__(self, history: History, limits: RateLimits) -> None:
        self.history = history
        self.limits = limits

    async def handle(self, request: web.Request, tail: str) -> web.Response | None:
        """The response for a history route, or None when `tail` is not one."""
        if request.method != "GET":
            return None
        for pattern, template in ROUTES:  # noqa: B007 - `template` is used after the loop's break
            match = pattern.fullmatch(tail)
            if match:
                break
        else:
            return None
        major = match.group(1) if match.groups() else ""
        limited, headers = self.limits.take(template, major)
        if limited is not None:
            return limited
        response = self.answer(template, match, request.query)
        response.headers.update(headers)
        return response

    def answer(self, template: str, match: re.Match, query) -> web.Response:
        h = self.history
        if template == "users/@me/guilds":
            return body(
                [
                    {k: g.get(k) for k in ("id", "name", "icon")}
                    | {"owner": False, "permissions": "0", "features": []}
                    for g in h.guilds.values()
                ]
            )
        ident = int(match.group(1))
        if template == "channels/{id}/messages":
            return h.messages_page(ident, query)
        if template == "channels/{id}/threads/archived":
            return h.archived(ident, match.group(2), query)
        if ident not in h.guilds:
            return error(404, "Unknown Guild", 10004)
        if template == "guilds/{id}":
            return body(h.guilds[ident])
        if template == "guilds/{id}/members":
            try:
                limit, after = int(query.get("limit", 1)), int(query.get("after", 0))
            except ValueError:
                return error(400, "Invalid Form Body", 50035)
            if not 1 <= limit <= 1000:
                return error(400, "Invalid Form Body", 50035)
            return body(
                [m for m in h.members.get(ident, []) if int(m["user"]["id"]) > after][:limit]
            )
        if template == "guilds/{id}/channels":
            return body([c for c in h.channels.values() if c.get("guild_id") == str(ident)])
        return body({"threads": h.guild_threads(ident, False), "members": []})


async def inject_rate_limit(request: web.Request, limits: RateLimits) -> web.Response:
    """``POST /_sim/rate_limit {"count": N, "retry_after": S}``: the next N requests get 429."""
    try:
        data = orjson.loads(await request.read())
        count, retry_after = int(data["count"]), float(data.get("retry_after", 0.2))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return error(400, 'expected {"count": N, "retry_after": S}', 0)
    limits.inject(count, retry_after)
    return body({"injected": count})
