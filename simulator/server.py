"""The gateway simulator: REST and gateway endpoints that a stock discord.py ``Client`` accepts as
Discord.

Usage in-process::

    sim = Simulator(scenario_path="tests/fixtures/basic.jsonl")   # or a list of JSON lines
    port = await sim.start()                                      # 127.0.0.1, free port
    # DISCORD_API_BASE = f"http://127.0.0.1:{port}/api/v10"; see
    # collector.endpoints.configure_discord
    ...; await sim.stop()

Without a scenario it generates traffic (``simulator.generator``): ``guilds``, ``members``,
``channels``, ``seed``, ``backfill_days`` of history (kept for REST, not dispatched), then
live traffic at ``rate`` events/s. ``rest_limits=False`` turns the REST rate limits off
(``simulator.history``).
``burst=N`` (benchmarks): after the generated guilds are delivered, N MESSAGE_CREATE as fast as the
clients take them, then ``done``; no backfill, no live traffic. ``rate`` on a scenario paces its
dispatches (default: as fast as possible, with the scenario's own sleep lines).
``sleep_scale`` multiplies scenario sleeps (0 skips them; tests use it).
``start_delay`` is the grace between the last expected IDENTIFY and the first played step.

Playback starts once every shard of the first IDENTIFY's shard count has identified (or
``ready_timeout`` passed). Dispatches go only to the session of their guild's shard,
``(guild_id >> 22) % shard_count``; dispatches without a guild go to shard 0.
``GET /_sim/status`` → ``{"sent", "total", "done", "connections", "resumes", "transports", ...}``
(``transports``: connections per frame format, ``{"zlib-stream": 2, "text": 1}``); in generated
mode ``total`` is the backfill (or burst) size and ``done`` means it was all sent (live traffic
continues, ``sent`` keeps counting).
``"history"``: messages kept for REST. ``POST /_sim/rate_limit {"count": N, "retry_after": S}``: the
next N history requests answer 429.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path

import orjson
from aiohttp import WSMsgType, web

from simulator import intents, player
from simulator.gateway import COMPRESSIONS, Link, Session
from simulator.generator import TrafficGenerator
from simulator.history import History, HistoryApi, inject_rate_limit
from simulator.oauth import OAuthProvider
from simulator.ratelimit import RateLimits
from simulator.scenario import Dispatch, Scenario, dispatch_tail, load_scenario

log = logging.getLogger("mocha.simulator")

BOT_ID = "1100000000000000001"
BOT_USER = {
    "id": BOT_ID,
    "username": "mocha-sim",
    "discriminator": "0",
    "global_name": None,
    "avatar": None,
    "bot": True,
    "verified": True,
    "mfa_enabled": False,
    "flags": 0,
    "public_flags": 0,
    "email": None,
}
APPLICATION = {
    "id": BOT_ID,
    "name": "Mocha simulator",
    "description": "",
    "icon": None,
    "summary": "",
    "type": None,
    "bot_public": True,
    "bot_require_code_grant": False,
    "verify_key": "0" * 64,
    "owner": {k: BOT_USER[k] for k in ("id", "username", "discriminator", "global_name", "avatar")},
    "team": None,
    "flags": 0,
    "rpc_origins": [],
    "interactions_endpoint_url": None,
    "tags": [],
}
HEARTBEAT_MS = 41250
ACK_DELAY_S = 0.02


def json_response(data: object, status: int = 200) -> web.Response:
    # discord.py decodes JSON only for exactly "application/json": body bytes keep aiohttp from
    # adding a charset.
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


class Simulator:
    """A loopback Discord: scenario replay or generated traffic, served to any number of shards."""

    def __init__(
        self,
        scenario_path: str | Path | Iterable[str] | None = None,
        *,
        rate: float | None = None,
        guilds: int = 1,
        members: int = 200,
        channels: int = 8,
        backfill_days: int = 0,
        seed: int = 0,
        token: str | None = None,
        burst: int = 0,
        shards: int = 1,
        sleep_scale: float = 1.0,
        start_delay: float = 0.3,
        ready_timeout: float = 10.0,
        replay_buffer: int = 200_000,
        start=None,
        disallow_intents: int = 0,
        rest_limits: bool = True,
    ) -> None:
        self.token = token
        self.disallow_intents = (
            disallow_intents  # privileged intents "not enabled in the portal": 4014
        )
        self.rate = rate
        self.burst = burst
        self.recommended_shards = shards
        self.sleep_scale = sleep_scale
        self.start_delay = start_delay
        self.ready_timeout = ready_timeout
        self.replay_buffer = replay_buffer
        self.scenario: Scenario | None = None
        self.generator: TrafficGenerator | None = None
        if scenario_path is not None:
            self.scenario = load_scenario(scenario_path)
            guild_payloads = self.scenario.guilds
        else:
            self.generator = TrafficGenerator(
                guilds=guilds,
                members=members,
                channels=channels,
                seed=seed,
                backfill_days=backfill_days,
                start=start,
            )
            guild_payloads = self.generator.guild_creates()
        # Serialised once; every IDENTIFY of every shard reuses the same strings.
        self.guilds: dict[int, str] = {
            int(g["id"]): dispatch_tail("GUILD_CREATE", orjson.dumps(g)) for g in guild_payloads
        }
        # What a session without the presences intent gets instead (see intents.guild_create_for).
        self.guilds_bare: dict[int, str] = {
            int(g["id"]): dispatch_tail(
                "GUILD_CREATE", orjson.dumps(intents.guild_create_for(g, 0, BOT_ID))
            )
            for g in guild_payloads
        }
        self.members: dict[int, list] = {int(g["id"]): g.get("members", []) for g in guild_payloads}
        self.guild_payloads: dict[int, dict] = {int(g["id"]): g for g in guild_payloads}
        self.oauth = OAuthProvider(self)
        self.history = History(guild_payloads, BOT_ID)
        self.rate_limits = RateLimits(enabled=rest_limits)
        self.history_api = HistoryApi(self.history, self.rate_limits)
        if self.generator is not None and not burst:
            for message in self.generator.backfill():
                self.history.record(*message.record)  # type: ignore[misc]
        self.sessions: dict[str, Session] = {}
        self.by_shard: dict[int, Session] = {}
        self.links: set[Link] = set()
        self.shard_count = 1
        self.identified: set[int] = set()
        self.first_identify = asyncio.Event()
        self.all_identified = asyncio.Event()
        self.stats = {
            "sent": 0,
            "total": 0,
            "done": False,
            "connections": 0,
            "resumes": 0,
            "identifies": 0,
            "invalid_sessions": 0,
            "replayed": 0,
            "transports": {},
        }
        if self.scenario is not None:
            self.stats["total"] = len(self.scenario.steps)
        elif burst:
            self.stats["total"] = burst
        self.started_at = time.monotonic()
        self.port = 0
        self.host = "127.0.0.1"
        self._runner: web.AppRunner | None = None
        self._player: asyncio.Task | None = None
        self._stopping = False

    # ---- lifecycle -------------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on host:port (0 = any free port); start playback; return the actual port."""
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/_sim/status", self._status)
        self.oauth.add_routes(app)
        app.router.add_post("/_sim/rate_limit", self._rate_limit)
        app.router.add_route("*", "/api/{version}/{tail:.*}", self._rest)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        # SO_REUSEADDR: rebinding past TIME_WAIT; Linux still refuses a port someone listens on.
        site = web.TCPSite(self._runner, host, port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await self._runner.cleanup()
            raise
        self.host = host
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._player = asyncio.create_task(player.run(self), name="simulator-player")
        self._player.add_done_callback(self._report_playback_end)
        return self.port

    def _report_playback_end(self, task: asyncio.Task) -> None:
        """A playback that dies must say so at once: its status would otherwise just stop moving.
        A cancellation that stop() did not ask for is such a death too (a stray CancelledError
        from an await deep inside once ended a burst with nothing logged)."""
        if task.cancelled():
            if not self._stopping:
                log.error("playback was cancelled, not stopped: %s sent", self.stats["sent"])
        elif task.exception() is not None:
            log.error("playback stopped", exc_info=task.exception())

    async def stop(self) -> None:
        self._stopping = True
        if self._player is not None:
            self._player.cancel()
            try:
                await self._player
            except (asyncio.CancelledError, Exception):
                pass
        for link in list(self.links):
            link.abort()
        if self._runner is not None:
            await self._runner.cleanup()

    def status(self) -> dict:
        return {
            **self.stats,
            "history": self.history.count,
            "rest": dict(self.rate_limits.stats),
            "open": len(self.links),
            "sessions": len(self.sessions),
            "shard_count": self.shard_count,
            "uptime_s": round(time.monotonic() - self.started_at, 3),
        }

    @property
    def api_base(self) -> str:
        return f"http://{self.host}:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/gateway"

    # ---- routing
    # -----------------------------------------------------------------------------------
    def route(self, dispatch: Dispatch) -> None:
        """Send a dispatch to the session of its guild's shard (lost if that shard has no
        session)."""
        gid = dispatch.guild_id
        session = self.by_shard.get((gid >> 22) % self.shard_count if gid else 0)
        if session is not None:
            session.offer(dispatch)

    async def flush(self) -> None:
        """Write queued frames on every link, then wait for slow readers."""
        links = list(self.links)
        for link in links:
            link.flush()
        for link in links:
            await link.drain()

    # ---- REST
    # ---------------------------------------------------------------------------------------
    async def _status(self, request: web.Request) -> web.Response:
        return json_response(self.status())

    async def _rate_limit(self, request: web.Request) -> web.Response:
        return await inject_rate_limit(request, self.rate_limits)

    async def _not_found(self, request: web.Request) -> web.Response:
        return json_response({"message": "404: Not Found", "code": 0}, status=404)

    async def _rest(self, request: web.Request) -> web.Response:
        tail = request.match_info["tail"].rstrip("/")
        if tail == "oauth2/token" or request.headers.get("Authorization", "").startswith("Bearer "):
            return await self.oauth.rest(request, tail)  # a signed-in user, not the bot
        # The gateway URL is public here: configure_discord asks for it before any token is known.
        if (
            self.token
            and not tail.startswith("gateway")
            and request.headers.get("Authorization") != f"Bot {self.token}"
        ):
            return json_response({"message": "401: Unauthorized", "code": 0}, status=401)
        answer = await self.history_api.handle(request, tail)
        if answer is not None:
            return answer
        if request.method == "GET":
            if tail in ("gateway/bot", "gateway"):
                body: dict = {"url": self.gateway_url}
                if tail == "gateway/bot":
                    body |= {
                        "shards": self.recommended_shards,
                        "session_start_limit": {
                            "total": 1000,
                            "remaining": 1000,
                            "reset_after": 86_400_000,
                            "max_concurrency": 16,
                        },
                    }
                return json_response(body)
            if tail == "users/@me":
                return json_response(BOT_USER)
            if tail in ("oauth2/applications/@me", "applications/@me"):
                return json_response(APPLICATION)
        return json_response({"message": "404: Not Found", "code": 0}, status=404)

    # ---- gateway
    # ------------------------------------------------------------------------------------
    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        compression = request.query.get("compress")
        if compression is not None and compression not in COMPRESSIONS:
            return json_response(
                {"message": f"unsupported compress {compression!r}", "code": 0}, status=400
            )
        if request.query.get("encoding", "json") != "json":
            return json_response(
                {"message": "only encoding=json is supported", "code": 0}, status=400
            )
        ws = web.WebSocketResponse(compress=False, max_msg_size=0, autoping=True)
        await ws.prepare(request)
        link = Link(ws, request, compression)
        self.links.add(link)
        self.stats["connections"] += 1
        transports = self.stats["transports"]
        transports[compression or "text"] = transports.get(compression or "text", 0) + 1
        link.send_now(
            orjson.dumps(
                {"op": 10, "d": {"heartbeat_interval": HEARTBEAT_MS, "_trace": ["mocha-simulator"]}}
            ).decode()
        )
        session: Session | None = None
        try:
            async for msg in ws:
                if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    continue  # clients may send their JSON in either (hikari sends binary)
                try:
                    payload = orjson.loads(msg.data)
                    op, data = payload.get("op"), payload.get("d")
                except (orjson.JSONDecodeError, AttributeError):
                    await link.close(4002)  # decode error, as Discord
                    break
                if op == 1:
                    # Acknowledged after a network-like pause: discord.py stamps a heartbeat's send
                    # time only once its thread sees the send finish, so an instant loopback ACK can
                    # arrive "before" the send and read as a full heartbeat interval of latency.
                    asyncio.get_running_loop().call_later(ACK_DELAY_S, link.send_now, '{"op":11}')
                elif op == 2:
                    session = await self._identify(link, data, session)
                elif op == 6:
                    session = await self._resume(link, data)
                elif op == 8 and session is not None:
                    self._members_chunk(session, data)
                    link.flush()
        finally:
            self.links.discard(link)
            link.closed = True
            if session is not None and session.link is link:
                session.link = None
        return ws

    async def _identify(self, link: Link, data: object, current: Session | None) -> Session | None:
        if current is not None:
            await link.close(4005)  # already authenticated
            return None
        if not isinstance(data, dict) or (self.token and data.get("token") != self.token):
            await link.close(4004)  # authentication failed
            return None
        wanted = data.get("intents")
        if (
            not isinstance(wanted, int)
            or isinstance(wanted, bool)
            or wanted < 0
            or wanted & ~intents.KNOWN
        ):
            await link.close(4013)  # invalid intents
            return None
        if wanted & self.disallow_intents:
            await link.close(
                4014
            )  # disallowed intents: a privileged intent not enabled for the app
            return None
        shard = data.get("shard") or [0, 1]
        if (
            not isinstance(shard, list)
            or len(shard) != 2
            or not all(isinstance(x, int) for x in shard)
            or not 0 <= shard[0] < shard[1]
        ):
            await link.close(4010)  # invalid shard
            return None
        shard_id, count = shard
        self.shard_count = count
        old = self.by_shard.get(shard_id)
        if old is not None:
            self.sessions.pop(old.id, None)
        session = Session(os.urandom(16).hex(), shard_id, count, self.replay_buffer, wanted)
        self.sessions[session.id] = session
        self.by_shard[shard_id] = session
        session.link = link
        mine = [gid for gid in self.guilds if (gid >> 22) % count == shard_id]
        ready = {
            "v": 10,
            "user": BOT_USER,
            "guilds": [{"id": str(g), "unavailable": True} for g in mine],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "shard": [shard_id, count],
            "application": {"id": BOT_ID, "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "_trace": ["mocha-simulator"],
        }
        session.dispatch(dispatch_tail("READY", orjson.dumps(ready)))
        if wanted & intents.GUILDS:
            guilds = self.guilds if wanted & intents.GUILD_PRESENCES else self.guilds_bare
            for gid in mine:
                session.dispatch(guilds[gid])
        link.flush()
        self.stats["identifies"] += 1
        self.identified.add(shard_id)
        self.first_identify.set()
        if len(self.identified & set(range(count))) >= count:
            self.all_identified.set()
        return session

    async def _resume(self, link: Link, data: object) -> Session | None:
        data = data if isinstance(data, dict) else {}
        session = self.sessions.get(str(data.get("session_id")))
        seq = data.get("seq") or 0
        if (
            session is None
            or not isinstance(seq, int)
            or not session.can_resume_from(seq)
            or (self.token and data.get("token") != self.token)
        ):
            self.stats["invalid_sessions"] += 1
            link.send_now('{"op":9,"d":false}')
            return None
        if session.link is not None and session.link is not link:
            session.link.abort()
        # No await between replay and re-linking: no dispatch can slip between the two.
        missed = session.missed_since(seq)
        link.queue_many(missed)
        session.link = link
        session.dispatch(dispatch_tail("RESUMED", '{"_trace":["mocha-simulator"]}'))
        link.flush()
        self.stats["resumes"] += 1
        self.stats["replayed"] += len(missed)
        return session

    def _members_chunk(self, session: Session, data: object) -> None:
        """Answer REQUEST_GUILD_MEMBERS with the guild's members in one chunk."""
        data = data if isinstance(data, dict) else {}
        try:
            gid = int(data.get("guild_id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return
        chunk = {
            "guild_id": str(gid),
            "members": self.members.get(gid, []),
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        session.dispatch(dispatch_tail("GUILD_MEMBERS_CHUNK", orjson.dumps(chunk)))
