"""Pages; the JSON API lives in stats/urls_api.py."""

from django.urls import path

from stats.operational import staff_or_token
from stats.views import pages, settings

urlpatterns = [
    path("", pages.home, name="home"),
    path("guilds/<int:gid>/", pages.guild, name="guild"),
    path("guilds/<int:gid>/settings/", settings.guild_settings, name="guild_settings"),
    path("guilds/<int:gid>/members/<int:uid>/", pages.member, name="member"),
    path("guilds/<int:gid>/channels/<int:cid>/", pages.channel, name="channel"),
    path("health/", staff_or_token(pages.health, page=True), name="health"),
]
