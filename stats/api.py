"""The JSON API (django-ninja; docs/api.md): thin views over stats.api_results.

Every error is `{"error": "…"}`: ninja's 422 validation errors become 400, its 404s
become ours, and a guild the viewer may not see is indistinguishable from an
unknown one. `?format=csv` turns an endpoint's table into CSV. `days` defaults
to the guild's default_days (30 unless its admin changed it); the heatmap's to 28.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import date
from typing import Annotated, Literal

import orjson
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import HttpError, ValidationError
from pydantic import BeforeValidator, Field

from mocha.discord_types import MAX_SNOWFLAKE
from stats import access, queries
from stats import api_results as results
from stats.models import Guild
from stats.outages import incomplete_doc
from stats.schemas import (
    ChannelsOut,
    Error,
    GuildList,
    HeatmapOut,
    IncompleteOut,
    LeaderboardOut,
    MemberContextOut,
    MemberOut,
    RetentionOut,
    RolesOut,
    StatsOut,
)
from stats.windows import Period, PeriodError, parse_date, window

WHOLE = re.compile(r"[0-9]{1,19}")


def whole_number(value):
    """Accept only plain ASCII digits: no signs, decimals, exponents, underscores or spaces."""
    if isinstance(value, str) and not WHOLE.fullmatch(value):
        raise ValueError("must be a whole number")
    return value


# Field before BeforeValidator: the bounds then reach the OpenAPI document as minimum/maximum
# (the other order publishes non-standard "ge"/"le" keys); the validator still runs first.
Snowflake = Annotated[int, Field(ge=0, le=MAX_SNOWFLAKE), BeforeValidator(whole_number)]
Days = Annotated[int, Field(ge=1, le=3650), BeforeValidator(whole_number)]
Limit = Annotated[int, Field(ge=1, le=100), BeforeValidator(whole_number)]
Weeks = Annotated[int, Field(ge=1, le=52), BeforeValidator(whole_number)]
Offset = Annotated[int, Field(ge=0, le=10**9), BeforeValidator(whole_number)]
Format = Literal["json", "csv"]
# A guild-local date: `start` and `end` (inclusive) replace `days` (stats.windows.Period).
LocalDate = Annotated[date, BeforeValidator(parse_date)]
Compare = Literal["previous"]

api = NinjaAPI(title="Mocha API", version="1", urls_namespace="api")
ERRORS = {400: Error, 404: Error, 429: Error}  # 429: stats.throttle, a client over its budget


# --- Errors ---------------------------------------------------------------------------


def error(request: HttpRequest, message: str, status: int) -> HttpResponse:
    return HttpResponse(
        orjson.dumps({"error": message}), status=status, content_type="application/json"
    )


@api.exception_handler(ValidationError)
def validation_error(request, exc: ValidationError) -> HttpResponse:
    first = exc.errors[0] if exc.errors else {}
    where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
    return error(request, f"{where}: {first.get('msg', 'invalid value')}", 400)


@api.exception_handler(Http404)
def not_found(request, exc) -> HttpResponse:
    return error(request, str(exc) or "not found", 404)


@api.exception_handler(HttpError)
def http_error(request, exc: HttpError) -> HttpResponse:
    return error(request, str(exc), exc.status_code)


# --- Helpers --------------------------------------------------------------------------


def visible_guild(request: HttpRequest, gid: int) -> Guild:
    """The guild if the viewer may see it; 404 otherwise (never reveal that it exists)."""
    guild = access.guild_for(request.user, gid)
    if guild is None:
        raise Http404("unknown guild")
    return guild


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """A cell a spreadsheet will not run: text starting like a formula gets a leading quote
    (OWASP)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def respond(
    doc: dict, fmt: str, name: str, table: Callable[[dict], tuple[list, list]]
) -> HttpResponse:
    """The document as JSON, or its table as CSV."""
    if fmt != "csv":
        return HttpResponse(orjson.dumps(doc), content_type="application/json")
    header, rows = table(doc)
    out = io.StringIO()
    # RFC 4180's CRLF: the writer then also quotes cells holding a lone CR, which "\n" would not.
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([csv_cell(v) for v in row] for row in rows)
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


def rows_of(list_key: str, keys: list[str]) -> Callable[[dict], tuple[list, list]]:
    """The CSV table of a document's list: one column per key."""
    return lambda doc: (keys, [[item[k] for k in keys] for item in doc[list_key]])


def series_table(doc: dict) -> tuple[list, list]:
    keys = ["t", "messages", "voice_minutes", "active_members"]
    return keys, [[p[k] for k in keys] for p in doc["series"]]


def period_of(
    guild: Guild, days: int | None, start: date | None, end: date | None, default: int
) -> Period:
    """The request's period (`days`, or `start` and `end`), checked against the guild's today."""
    try:
        period = Period.parse(days, start, end, default)
        window(guild, period)
    except PeriodError as exc:
        raise HttpError(400, str(exc)) from None
    return period


def role_of(guild: Guild, role: int | None) -> int | None:
    """The `role` filter when the guild has that role now; 400 otherwise."""
    if role is not None and not queries.is_role(guild, role):
        raise HttpError(400, "role: not a current role of this guild")
    return role


# --- Endpoints ------------------------------------------------------------------------


@api.get(
    "/guilds",
    response={200: GuildList, 400: Error, 429: Error},
    summary="Guilds the viewer may see",
)
def guilds(request, format: Format = "json"):
    doc = {"guilds": queries.visible_guilds(request.user)}
    return respond(
        doc,
        format,
        "guilds",
        lambda d: (
            ["id", "name", "member_count"],
            [[g["id"], g["name"], g["member_count"]] for g in d["guilds"]],
        ),
    )


@api.get(
    "/guilds/{gid}/stats", response={200: StatsOut, **ERRORS}, summary="Totals and activity series"
)
def guild_stats(
    request,
    gid: Snowflake,
    days: Days | None = None,
    start: LocalDate | None = None,
    end: LocalDate | None = None,
    interval: Literal["day", "hour"] = "day",
    compare: Compare | None = None,
    role: Snowflake | None = None,
    format: Format = "json",
):
    guild = visible_guild(request, gid)
    period = period_of(guild, days, start, end, results.default_days(guild))
    role = role_of(guild, role)
    if interval == "hour" and period.days > settings.MOCHA_API_HOURLY_MAX_DAYS:
        # An hour per point: 90 days is 2,160 points; ten years would be 87,600.
        raise HttpError(
            400,
            f"interval=hour is limited to {settings.MOCHA_API_HOURLY_MAX_DAYS} days; "
            "use interval=day",
        )
    doc = results.stats(guild, period, interval, compare=compare is not None, role=role)
    return respond(doc, format, f"mocha-{gid}-stats", series_table)


@api.get(
    "/guilds/{gid}/incomplete",
    response={200: IncompleteOut, **ERRORS},
    summary="Hours the collector was away (their voice and joins are not recoverable)",
)
def incomplete(
    request,
    gid: Snowflake,
    days: Days | None = None,
    start: LocalDate | None = None,
    end: LocalDate | None = None,
    format: Format = "json",
):
    guild = visible_guild(request, gid)
    doc = incomplete_doc(guild, period_of(guild, days, start, end, results.default_days(guild)))
    return respond(
        doc,
        format,
        f"mocha-{gid}-incomplete",
        lambda d: (["start", "end"], [[s["start"], s["end"]] for s in d["incomplete"]]),
    )


@api.get(
    "/guilds/{gid}/leaderboard", response={200: LeaderboardOut, **ERRORS}, summary="Top members"
)
def leaderboard(
    request,
    gid: Snowflake,
    metric: Literal["messages", "voice"] = "messages",
    days: Days | None = None,
    start: LocalDate | None = None,
    end: LocalDate | None = None,
    limit: Limit = 10,
    offset: Offset = 0,
    compare: Compare | None = None,
    role: Snowflake | None = None,
    format: Format = "json",
):
    guild = visible_guild(request, gid)
    period = period_of(guild, days, start, end, results.default_days(guild))
    doc = results.leaderboard(
        guild,
        metric,
        period,
        limit,
        offset,
        compare=compare is not None,
        role=role_of(guild, role),
    )
    keys = ["rank", "user_id", "name", "value"] + (["previous_rank"] if compare else [])
    return respond(
        doc,
        format,
        f"mocha-{gid}-leaderboard-{metric}",
        lambda d: (keys, [[e[k] for k in keys] for e in d["entries"]]),
    )


@api.get(
    "/guilds/{gid}/members/{uid}",
    response={200: MemberOut, **ERRORS},
    summary="One member's activity",
)
def member(
    request,
    gid: Snowflake,
    uid: Snowflake,
    days: Days | None = None,
    start: LocalDate | None = None,
    end: LocalDate | None = None,
    format: Format = "json",
):
    guild = visible_guild(request, gid)
    doc = results.member(
        guild, uid, period_of(guild, days, start, end, results.default_days(guild))
    )
    if doc is None:
        raise Http404("unknown member")
    keys = ["channel_id", "name", "messages", "voice_minutes"]
    return respond(
        doc,
        format,
        f"mocha-{gid}-member-{uid}",
        lambda d: (keys, [[c[k] for k in keys] for c in d["channels"]]),
    )


@api.get(
    "/guilds/{gid}/members/{uid}/context",
    response={200: MemberContextOut, **ERRORS},
    summary="One member against the guild: its median member per day, the member's hours",
)
def member_context(
    request,
    gid: Snowflake,
    uid: Snowflake,
    days: Days | None = None,
    start: LocalDate | None = None,
    end: LocalDate | None = None,
    compare: Compare | None = None,
    format: Format = "json",
):
    guild = visible_guild(request, gid)
    period = period_of(guild, days, start, end, results.default_days(guild))
    doc = results.member_context_doc(guild, uid, period, compare=compare is not None)
    if doc is None:
        raise Http404("unknown member")
    return respond(
        doc,
        format,
        f"mocha-{gid}-member-{uid}-hours",
        lambda d: (["hour", "messages"], [[f"{h:02d}", n] for h, n in enumerate(d["hours"])]),
    )


@api.get(
    "/guilds/{gid}/channels", response={200: ChannelsOut, **ERRORS}, summary="Channels by activity"
)
def channels(
    request,
    gid: Snowflake,
    days: Days | None = None,
    start: LocalDate | None = None,
    end: LocalDate | None = None,
    role: Snowflake | None = None,
    format: Format = "json",
):
    guild = visible_guild(request, gid)
    period = period_of(guild, days, start, end, results.default_days(guild))
    doc = results.channels(guild, period, role=role_of(guild, role))
    keys = ["channel_id", "name", "messages", "voice_minutes", "active_members"]
    return respond(
        doc,
        format,
        f"mocha-{gid}-channels",
        lambda d: (keys, [[c[k] for k in keys] for c in d["channels"]]),
    )


WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


@api.get(
    "/guilds/{gid}/heatmap",
    response={200: HeatmapOut, **ERRORS},
    summary="Messages by weekday and hour",
)
def heatmap(
    request,
    gid: Snowflake,
    days: Days | None = None,
    start: LocalDate | None = None,
    end: LocalDate | None = None,
    role: Snowflake | None = None,
    format: Format = "json",
):
    guild = visible_guild(request, gid)
    period = period_of(guild, days, start, end, results.HEATMAP_DAYS)
    doc = results.heatmap(guild, period, role=role_of(guild, role))
    header = ["weekday", *(f"{h:02d}" for h in range(24))]
    return respond(
        doc,
        format,
        f"mocha-{gid}-heatmap",
        lambda d: (header, [[WEEKDAYS[i], *row] for i, row in enumerate(d["cells"])]),
    )


@api.get(
    "/guilds/{gid}/retention",
    response={200: RetentionOut, **ERRORS},
    summary="New members per join week: active within a day, a week; still members after 30 days",
)
def retention(request, gid: Snowflake, weeks: Weeks = 8, format: Format = "json"):
    guild = visible_guild(request, gid)
    doc = results.retention(guild, weeks)
    keys = [
        "week_start",
        "joined",
        "active_first_day",
        "active_first_week",
        "still_member_after_30_days",
    ]
    return respond(doc, format, f"mocha-{gid}-retention", rows_of("cohorts", keys))


@api.get(
    "/guilds/{gid}/roles",
    response={200: RolesOut, **ERRORS},
    summary="The guild's roles (for the role filter), with how many members hold each",
)
def roles(request, gid: Snowflake, format: Format = "json"):
    guild = visible_guild(request, gid)
    keys = ["id", "name", "color", "position", "members"]
    return respond(results.roles(guild), format, f"mocha-{gid}-roles", rows_of("roles", keys))
