"""Websocket routes (Channels); asgi.py wraps them in origin and auth middleware."""

from django.urls import re_path

from stats import consumers

websocket_urlpatterns = [
    re_path(r"^ws/guilds/(?P<gid>[0-9]{1,20})/live/$", consumers.GuildLiveConsumer.as_asgi()),
    re_path(r"^ws/health/$", consumers.HealthConsumer.as_asgi()),
]
