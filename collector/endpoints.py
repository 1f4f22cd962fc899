"""Point discord.py at another Discord (the simulator): REST base and gateway URL."""
from __future__ import annotations

import json
import urllib.request

import discord.gateway
import discord.http
import yarl


def configure_discord(api_base: str | None) -> str | None:
    """Send discord.py's REST calls to `api_base` and its gateway to that server's /gateway/bot url.

    A plain ``Client`` never asks ``/gateway/bot``: it connects to ``DiscordWebSocket.DEFAULT_GATEWAY``,
    so that class attribute is replaced too. Returns the gateway URL (None when `api_base` is unset).
    """
    if not api_base:
        return None
    api_base = api_base.rstrip("/")
    with urllib.request.urlopen(f"{api_base}/gateway/bot", timeout=10) as response:
        url = json.load(response)["url"]
    discord.http.Route.BASE = api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
    return url
