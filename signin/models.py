"""What Mocha keeps of a Discord sign-in: the account's tokens (encrypted) and its guild
memberships."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class DiscordLink(models.Model):
    """A Django user signed in through Discord; tokens are Fernet-encrypted with a key derived from
    SECRET_KEY."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="discord"
    )
    discord_id = models.BigIntegerField(unique=True)
    name = models.CharField(max_length=100, default="")
    access_token = models.BinaryField(default=b"")
    refresh_token = models.BinaryField(default=b"")
    expires_at = models.DateTimeField(null=True)
    refreshed_at = models.DateTimeField(
        null=True, help_text="Last time guilds and roles were read from Discord"
    )

    def __str__(self) -> str:
        return f"{self.name} ({self.discord_id})"


class DiscordMembership(models.Model):
    """One guild the user was in at the last refresh, with their permissions and roles there."""

    link = models.ForeignKey(DiscordLink, on_delete=models.CASCADE, related_name="memberships")
    guild_id = models.BigIntegerField()
    owner = models.BooleanField(default=False)
    permissions = models.BigIntegerField(default=0)
    roles = models.JSONField(default=list, help_text="Role ids (strings)")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["link", "guild_id"], name="membership_link_guild")
        ]

    def __str__(self) -> str:
        return f"link {self.link_id} in guild {self.guild_id}"
