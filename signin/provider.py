"""allauth's Discord provider, with every OAuth2 URL taken from DISCORD_API_BASE (the simulator
offline)."""

from __future__ import annotations

from allauth.socialaccount.providers.discord.provider import (
    DiscordProvider as StockDiscordProvider,
)

from signin.views import DiscordAdapter

SCOPES = ["identify", "guilds", "guilds.members.read"]


class DiscordProvider(StockDiscordProvider):
    oauth2_adapter_class = DiscordAdapter
    package = "signin"  # allauth finds urls and views here

    def get_default_scope(self) -> list[str]:
        return list(SCOPES)


provider_classes = [DiscordProvider]
