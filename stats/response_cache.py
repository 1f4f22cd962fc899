"""Whole API responses of public guilds, answered before Django for anonymous viewers.

A cached document still cost a request ~2–3 ms: the ASGI hop into Django's
sync thread, fourteen middlewares, the URL resolver, ninja's validation, then
the result-cache read and JSON encoding. Of that, only the cache read is what
the viewer asked for. So the response Django produced for an anonymous GET of
a public guild's endpoint (or of the guild list) is kept whole (status 200,
headers, body) by
`StoreResponses`, and `ServeResponses`, an ASGI wrapper in front of Django,
answers the same request from it on the event loop: three cache reads, the
rate-limit charge and the request metrics, no thread hop.

The key holds everything the stored answer depends on: the guild's config
stamp and data version (as the result cache's keys do, so a flush or a
settings change makes it stale at once; the list's, the guild table's last
write), the current hour (windows move each
hour), and the request as sent: path, query string, Host and forwarded scheme
(a request Django would refuse or redirect never gets a 200 to store). Anything
else — a session cookie (signed-in viewers may see more), a guild that is not
public, a guild row this process has not read since its last change, a method
other than GET — goes through Django as before.
"""

from __future__ import annotations

import asyncio
import re
import time

from django.conf import settings
from django.http.cookie import parse_cookie
from django.utils import timezone

from stats import access, clients, instruments, throttle
from stats import cache as result_cache
from stats.models import Guild, hour_of

GUILD_LIST = "/api/guilds"
GUILD_PATH = re.compile(r"/api/guilds/([0-9]{1,19})/[a-z]")
LONGEST_QUERY = 256  # longer query strings are answered by Django and not kept


def session_cookie(cookie_header: str) -> bool:
    """Whether Django would read a session from this Cookie header (its own parser)."""
    return settings.SESSION_COOKIE_NAME in cookie_header and (
        settings.SESSION_COOKIE_NAME in parse_cookie(cookie_header)
    )


def depends_on(path: str, query: str, has_session: bool, fresh_only: bool) -> str | None:
    """What a kept answer to this anonymous request depends on (a key prefix), or None when it
    must be neither kept nor served.

    The guild list depends on the guild table alone; a guild's endpoints on its config stamp and
    data version, and only a public guild's are kept. fresh_only: use only this process's copy
    of the guild row (no query: the event loop may not run one).
    """
    if has_session or len(query) > LONGEST_QUERY:
        return None
    if path == GUILD_LIST:
        return f"list:{access.guild_table_stamp()}"
    match = GUILD_PATH.match(path)
    if match is None:
        return None
    gid = int(match.group(1))
    guild = access.kept_guild_row(gid) if fresh_only else access.guild_row(gid)
    if guild is None or guild.visibility != Guild.Visibility.PUBLIC:
        return None
    return f"{gid}:{result_cache.config_stamp(guild)}:{result_cache.data_version(gid)}"


def response_key(scoped: str, hour: int, path: str, query: str, host: str, proto: str) -> str:
    return f"stats:http:{scoped}:{hour}:{proto}:{host}:{path}?{query}"


class StoreResponses:
    """Django middleware (outermost but the metrics): keeps the 200 responses ServeResponses may
    answer with."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        query = request.META.get("QUERY_STRING", "")
        scoped = None
        if request.method == "GET":
            has_session = settings.SESSION_COOKIE_NAME in request.COOKIES
            scoped = depends_on(request.path, query, has_session, fresh_only=False)
        if scoped is None:
            return self.get_response(request)
        hour = hour_of(timezone.now())  # windows move each hour
        key = response_key(
            scoped,
            hour,
            request.path,
            query,
            request.META.get("HTTP_HOST", ""),
            request.META.get("HTTP_X_FORWARDED_PROTO", ""),
        )
        response = self.get_response(request)
        if (
            response.status_code == 200
            and not response.streaming
            and not response.cookies
            and hour == hour_of(timezone.now())
        ):
            match = getattr(request, "resolver_match", None)
            route = "/" + match.route if match is not None and match.route else "unmatched"
            headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.items()]
            result_cache.result_cache().set(
                key, (route, headers, response.content), timeout=settings.MOCHA_RESULT_CACHE_TTL
            )
        return response


class ServeResponses:
    """ASGI wrapper: answers a kept response without entering Django; everything else passes
    through to `app`.

    After a flush every kept answer of the guild is stale at once, and each viewer's next
    request would enter Django. Within a worker only the first request for a key does; the
    others wait for it (at most WAIT_S) and are then answered from what it kept.
    """

    WAIT_S = 10.0

    def __init__(self, app) -> None:
        self.app = app
        self.computing: dict[str, asyncio.Event] = {}

    async def __call__(self, scope, receive, send):
        key = self.key_of(scope) if scope["type"] == "http" and scope["method"] == "GET" else None
        if key is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        kept = result_cache.result_cache().get(key)
        if kept is None and key in self.computing:
            try:
                await asyncio.wait_for(self.computing[key].wait(), self.WAIT_S)
            except TimeoutError:
                pass
            kept = result_cache.result_cache().get(key)
        if kept is not None and self.admitted(scope, len(kept[2])):
            await self.serve(send, kept, started)
            return
        if kept is not None or key in self.computing:  # refused by the throttle, or still waiting
            await self.app(scope, receive, send)
            return
        done = self.computing[key] = asyncio.Event()
        try:
            await self.app(scope, receive, send)
        finally:
            del self.computing[key]
            done.set()

    @staticmethod
    async def serve(send, kept: tuple, started: float) -> None:
        route, headers, body = kept
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        result_cache.counters.hits += 1
        instruments.CACHE_LOOKUPS.labels("hit").inc()
        instruments.REQUEST_SECONDS.labels(route, "GET").observe(time.perf_counter() - started)
        instruments.RESPONSES.labels(route, "200").inc()
        instruments.sample_memory()

    @staticmethod
    def key_of(scope) -> str | None:
        """The key this request's kept answer has, or None when it may not have one."""
        headers = dict(scope.get("headers") or ())
        cookie = "; ".join(v.decode("latin-1") for k, v in scope["headers"] if k == b"cookie")
        path, query = scope["path"], scope.get("query_string", b"").decode("latin-1")
        scoped = depends_on(path, query, session_cookie(cookie), fresh_only=True)
        if scoped is None:
            return None
        return response_key(
            scoped,
            hour_of(timezone.now()),
            path,
            query,
            headers.get(b"host", b"").decode("latin-1"),
            headers.get(b"x-forwarded-proto", b"").decode("latin-1"),
        )

    @staticmethod
    def admitted(scope, size: int) -> bool:
        """Charge the client as Django's throttle would for a cache hit. A client short of tokens is
        handed to Django, whose throttle answers the 429."""
        client = clients.scope_client(scope)
        limited = throttle.budget(client)
        if limited is None:
            return True
        rate, burst = limited
        cost = throttle.cost_of(False, size)
        charged, _ = throttle.charge(
            client, cost, throttle.COMPUTED_COST, rate, burst, throttle.clock()
        )
        return charged
