"""Server-rendered pages: names and guild basics from the models; the numbers come from the JSON
API in the browser."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse

from mocha.discord_types import MAX_SNOWFLAKE
from stats import access
from stats.models import Channel, Guild, Member
from stats.panels import health_document
from stats.windows import EPOCH, MAX_DAYS, Period, PeriodError, parse_date, window

LOOKBACKS = (7, 30, 90, 365)


def visible_guild_or_404(request, gid: int) -> Guild:
    """The guild if this viewer may see it; unknown and invisible guilds look the same (404)."""
    guild = access.guild_for(request.user, gid)
    if guild is None:
        raise Http404("no such guild")
    return guild


def url_period(request, guild: Guild) -> dict:
    """The period a shared URL asks for (`days`, or `start` and `end`); nothing when it is not a
    valid one: the page then opens on the default lookback."""
    q = request.GET
    try:
        days = int(q["days"]) if q.get("days", "").isdigit() else None
        start = parse_date(q["start"]) if "start" in q else None
        end = parse_date(q["end"]) if "end" in q else None
        period = Period.parse(days, start, end, 0)
        if not 1 <= period.days <= MAX_DAYS:
            return {}
        window(guild, period)
    except PeriodError:
        return {}
    if period.start is None:
        return {"days": period.days}
    return {"start": period.start.isoformat(), "end": period.end.isoformat()}


def page_config(guild: Guild, request=None, **extra) -> dict:
    """What the page's script needs, passed through json_script (ids as strings, as in the API)."""
    days = guild.default_days if guild.default_days in LOOKBACKS else 30
    today = EPOCH + timedelta(days=window(guild, 1).last_day)
    return {
        "guild_id": str(guild.id),
        "guild_url": reverse("guild", args=[guild.id]),
        "timezone": guild.timezone,
        "days": days,
        "lookbacks": list(LOOKBACKS),
        "today": today.isoformat(),
        "ws": f"/ws/guilds/{guild.id}/live/",
        **(url_period(request, guild) if request is not None else {}),
        **extra,
    }


def home(request):
    guilds = access.visible_guilds(request.user).annotate(
        channel_total=Count("channels", filter=Q(channels__deleted=False), distinct=True)
    )
    return render(request, "stats/home.html", {"guilds": guilds})


def guild(request, gid: int):
    g = visible_guild_or_404(request, gid)
    manages = access.managed_guild_for(request.user, g.id) is not None
    return render(
        request,
        "stats/guild.html",
        {
            "guild": g,
            "config": page_config(g, request),
            "manages": manages,
            "hours": range(24),
            "filters": True,
        },
    )


def member(request, gid: int, uid: int):
    g = visible_guild_or_404(request, gid)
    m = Member.objects.filter(guild=g, user_id=uid).first() if uid <= MAX_SNOWFLAKE else None
    if m is None:
        raise Http404("no such member")
    config = page_config(g, request, user_id=str(m.user_id))
    return render(request, "stats/member.html", {"guild": g, "member": m, "config": config})


def channel(request, gid: int, cid: int):
    g = visible_guild_or_404(request, gid)
    c = Channel.objects.filter(guild=g, pk=cid).first() if cid <= MAX_SNOWFLAKE else None
    if c is None or not access.can_view_channel(request.user, c):
        raise Http404("no such channel")
    config = page_config(g, request, channel_id=str(c.id))
    return render(request, "stats/channel.html", {"guild": g, "channel": c, "config": config})


def health(request):
    return render(request, "stats/health.html", {"health": health_document()})
