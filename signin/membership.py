"""Discord memberships of signed-in users: read at sign-in, then at most every
MOCHA_MEMBERSHIP_REFRESH_S.

Only guilds Mocha knows are kept, with the user's permissions there; roles are read (one call per
guild) only where the guild names manager roles. Access and refresh tokens are kept encrypted,
since refreshing needs them; a refresh that Discord refuses (token revoked) drops every membership.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import time
from datetime import timedelta

import requests
from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from signin.models import DiscordLink, DiscordMembership
from signin.rules import Standing

log = logging.getLogger("mocha.signin")
HTTP_TIMEOUT_S = 5
MEMO_S = 2.0  # a socket's user lives for hours: a memo must not
PERMISSION_BITS = 2**63 - 1  # what a signed 64-bit column holds; Discord's flags stay far below


class Revoked(Exception):
    """Discord no longer accepts the user's tokens."""


def _fernet() -> Fernet:
    key = hashlib.sha256(b"mocha.signin.tokens:" + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(text: str) -> bytes:
    return _fernet().encrypt(text.encode()) if text else b""


def unseal(blob: bytes | memoryview) -> str:
    """The plain token; empty when there is none or the secret key changed since it was sealed."""
    try:
        return _fernet().decrypt(bytes(blob)).decode() if blob else ""
    except InvalidToken:
        return ""


def discord_get(path: str, token: str) -> object:
    response = requests.get(
        f"{settings.DISCORD_OAUTH_API}/{path}",
        timeout=HTTP_TIMEOUT_S,
        headers={"Authorization": f"Bearer {token}"},
    )
    if response.status_code == 401:
        raise Revoked(path)
    response.raise_for_status()
    return response.json()


def store_tokens(link: DiscordLink, access: str, refresh: str, expires_in: float | None) -> None:
    link.access_token, link.refresh_token = seal(access), seal(refresh)
    link.expires_at = timezone.now() + timedelta(seconds=expires_in) if expires_in else None


def renew_tokens(link: DiscordLink) -> str:
    """A new access token from the refresh token (Discord's expire after a week)."""
    refresh = unseal(link.refresh_token)
    if not refresh:
        raise Revoked("no refresh token")
    response = requests.post(
        f"{settings.DISCORD_OAUTH_API}/oauth2/token",
        timeout=HTTP_TIMEOUT_S,
        data={"grant_type": "refresh_token", "refresh_token": refresh},
        auth=(settings.DISCORD_CLIENT_ID or "", settings.DISCORD_CLIENT_SECRET),
    )
    if response.status_code in (400, 401):
        raise Revoked("refresh refused")
    response.raise_for_status()
    data = response.json()
    store_tokens(
        link, data["access_token"], data.get("refresh_token", refresh), data.get("expires_in")
    )
    return data["access_token"]


def read_memberships(link: DiscordLink) -> list[DiscordMembership]:
    """The user's guilds that Mocha knows, as Discord says now."""
    from stats.models import Guild

    token = unseal(link.access_token)
    if not token or (link.expires_at and link.expires_at <= timezone.now()):
        token = renew_tokens(link)
    guilds = discord_get("users/@me/guilds", token)
    wanted = {int(g["id"]): g for g in guilds}
    rows = []
    for gid, roles_named in Guild.objects.filter(id__in=list(wanted)).values_list(
        "id", "manager_roles"
    ):
        g = wanted[gid]
        roles = discord_get(f"users/@me/guilds/{gid}/member", token)["roles"] if roles_named else []
        rows.append(
            DiscordMembership(
                link=link,
                guild_id=gid,
                owner=bool(g.get("owner")),
                roles=roles,
                permissions=int(g.get("permissions") or 0) & PERMISSION_BITS,
            )
        )
    return rows


def refresh(link: DiscordLink) -> None:
    """Replace the stored memberships with Discord's; on a network failure keep them until next
    time."""
    try:
        rows = read_memberships(link)
    except Revoked:
        log.info("Discord refused the tokens of user %s: memberships dropped", link.discord_id)
        rows = []
    except (requests.RequestException, KeyError, TypeError, ValueError) as exc:
        log.warning("could not refresh Discord memberships of %s (%s)", link.discord_id, exc)
        DiscordLink.objects.filter(pk=link.pk).update(refreshed_at=timezone.now())
        return
    with transaction.atomic():
        DiscordLink.objects.select_for_update().filter(pk=link.pk).first()  # one refresh at a time
        DiscordMembership.objects.filter(link=link).delete()
        DiscordMembership.objects.bulk_create(rows)
        link.refreshed_at = timezone.now()
        link.save(update_fields=["access_token", "refresh_token", "expires_at", "refreshed_at"])


def standings(user) -> dict[int, Standing]:
    """guild id → the user's standing there; refreshed first when older than the refresh period."""
    if user is None or not user.is_authenticated:
        return {}
    memo = getattr(user, "_mocha_standings", None)
    if memo is not None and time.monotonic() - memo[0] < MEMO_S:
        return memo[1]
    link = DiscordLink.objects.filter(user=user).first()
    if link is None:
        return {}
    period = timedelta(seconds=settings.MOCHA_MEMBERSHIP_REFRESH_S)
    if link.refreshed_at is None or timezone.now() - link.refreshed_at >= period:
        refresh(link)
    memo = {
        m.guild_id: Standing(m.owner, m.permissions, frozenset(int(r) for r in m.roles))
        for m in DiscordMembership.objects.filter(link=link)
    }
    user._mocha_standings = (time.monotonic(), memo)  # one look per request, however many checks
    return memo


def on_login(sender, request, user, sociallogin=None, **kwargs) -> None:
    """After a Discord sign-in: keep the tokens (encrypted) and read the memberships now."""
    if sociallogin is None or sociallogin.account.provider != "discord":
        return
    data = sociallogin.account.extra_data or {}
    link, _ = DiscordLink.objects.update_or_create(
        discord_id=int(sociallogin.account.uid),
        defaults={"user": user, "name": data.get("global_name") or data.get("username") or ""},
    )
    token = sociallogin.token
    if token is not None:
        expires_in = (
            (token.expires_at - timezone.now()).total_seconds() if token.expires_at else None
        )
        store_tokens(link, token.token, token.token_secret or "", expires_in)
    refresh(link)
