"""/guilds/<gid>/settings/: a guild's configuration for its Discord managers (staff also have the
admin)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.shortcuts import redirect, render

from stats import access, guild_config
from stats.forms import GuildSettingsForm


def guild_settings(request, gid: int):
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    guild = access.managed_guild_for(request.user, gid)
    if guild is None:
        raise Http404("no such guild")  # or not yours to manage: the same answer
    form = GuildSettingsForm(request.POST or None, instance=guild)
    if request.method == "POST" and form.is_valid():
        guild_config.save_form(form)
        messages.success(request, "Saved. The collector applies it within a few seconds.")
        return redirect("guild_settings", gid=guild.id)
    return render(request, "stats/settings.html", {"guild": guild, "form": form})
