"""Sign-in views: allauth's OAuth2 login and callback over an adapter that reads DISCORD_API_BASE;
/me/ with a Discord user's own counts, their export and "Stop counting me"."""

from __future__ import annotations

from allauth.socialaccount.providers.discord.views import DiscordOAuth2Adapter
from allauth.socialaccount.providers.oauth2.views import (
    OAuth2CallbackView,
    OAuth2LoginView,
)
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from signin.membership import standings
from signin.models import DiscordLink
from stats import access, maintenance, personal
from stats.models import Guild


class DiscordAdapter(DiscordOAuth2Adapter):
    """Discord's, or the server DISCORD_API_BASE names (authorize page at its origin, the rest
    under it)."""

    @property
    def authorize_url(self) -> str:
        return f"{settings.DISCORD_OAUTH_ORIGIN}/oauth2/authorize"

    @property
    def access_token_url(self) -> str:
        return f"{settings.DISCORD_OAUTH_API}/oauth2/token"

    @property
    def profile_url(self) -> str:
        return f"{settings.DISCORD_OAUTH_API}/users/@me"


oauth2_login = OAuth2LoginView.adapter_view(DiscordAdapter)
oauth2_callback = OAuth2CallbackView.adapter_view(DiscordAdapter)


# --- /me/: a Discord user's own data ------------------------------------------------------------


def _discord_id(request) -> int | None:
    link = DiscordLink.objects.filter(user=request.user).only("discord_id").first()
    return link.discord_id if link is not None else None


def _own_guilds(request, discord_id: int) -> set[int]:
    """Guilds the user may opt out of: where Mocha saw them, or Discord says they are."""
    return set(personal.guild_ids_of(discord_id)) | set(standings(request.user))


@login_required
def me(request):
    discord_id = _discord_id(request)
    rows = personal.own_counts(discord_id) if discord_id is not None else []
    known = {int(r["guild_id"]) for r in rows}
    if discord_id is not None:  # a guild they are in that Mocha has not seen them in yet
        names = dict(
            Guild.objects.filter(id__in=set(standings(request.user)) - known).values_list(
                "id", "name"
            )
        )
        rows += [
            {
                "guild_id": str(gid),
                "name": name,
                "messages": 0,
                "voice_minutes": 0,
                "first_day": None,
                "last_day": None,
                "counted": True,
            }
            for gid, name in sorted(names.items(), key=lambda kv: kv[1])
        ]
    managed = access.managed_guilds(request.user).order_by("name") if discord_id is not None else []
    return render(
        request, "signin/me.html", {"discord_id": discord_id, "guilds": rows, "managed": managed}
    )


@login_required
def me_export(request):
    discord_id = _discord_id(request)
    if discord_id is None:
        return JsonResponse({"error": "sign in with Discord to export your data"}, status=404)
    response = JsonResponse(personal.export(discord_id), json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="mocha-{discord_id}.json"'
    return response


@login_required
@require_POST
def me_counting(request, gid: int):
    """Stop counting me (erase and skip) or count me again, in one guild."""
    discord_id = _discord_id(request)
    if discord_id is None or gid not in _own_guilds(request, discord_id):
        raise Http404("no such guild")
    choice = request.POST.get("counting")
    if choice == "stop":
        maintenance.opt_out(gid, discord_id)
        messages.success(request, "Your stats there are erased, and you are no longer counted.")
    elif choice == "resume":
        maintenance.opt_in(gid, discord_id)
        messages.success(request, "You are counted again from now on.")
    else:
        return JsonResponse({"error": "counting must be stop or resume"}, status=400)
    return redirect("me")
