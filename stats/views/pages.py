"""Server-rendered pages; thin: read parameters, call the query layer, render."""
from django.shortcuts import render

from stats.models import Guild


def home(request):
    guilds = Guild.objects.visible_to(request.user)
    return render(request, "stats/home.html", {"guilds": guilds})
