"""The simulator as Discord's OAuth2 provider for its own guilds' users: sign-in that works offline.

Authorization code flow as Discord runs it: ``GET /oauth2/authorize`` (a page where you pick who you
are instead of logging in), ``POST /api/v10/oauth2/token`` (``authorization_code`` and
``refresh_token`` grants, PKCE when the client asked for it), then with ``Authorization: Bearer …``:
``/users/@me``, ``/users/@me/guilds`` (with ``owner`` and ``permissions``) and
``/users/@me/guilds/{gid}/member`` (with ``roles``). Permissions follow Discord's rule: the owner
and holders of Administrator have every permission, others the union of @everyone and their roles.
Membership is the guild's as it is now: a member the generated traffic removed is no longer in it.
Any client id and secret are accepted, as any bot token is.
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

from aiohttp import web

if TYPE_CHECKING:
    from simulator.server import Simulator

ADMINISTRATOR, MANAGE_GUILD = 0x8, 0x20
ALL_PERMISSIONS = (1 << 51) - 1
TOKEN_TTL_S = 7 * 86400  # Discord's access tokens last a week
CODE_TTL_S = 600
# Someone who shares no guild with the bot: signing in works, and they see only public guilds.
OUTSIDER = {
    "id": "1100000000000000099",
    "username": "outsider",
    "discriminator": "0",
    "global_name": "Outside Olivia",
    "avatar": None,
}


@dataclass
class Grant:
    user_id: int
    client_id: str
    redirect_uri: str
    scope: str
    challenge: str = ""
    expires: float = 0.0


def _json(data: object, status: int = 200) -> web.Response:
    from simulator.server import json_response

    return json_response(data, status)


def _error(status: int, message: str, code: int = 0) -> web.Response:
    return _json({"message": message, "code": code}, status)


def guild_permissions(guild: dict, user_id: int, role_ids: list[str]) -> int:
    """A member's guild-wide permissions as Discord computes them (channel overwrites aside)."""
    if str(user_id) == str(guild.get("owner_id")):
        return ALL_PERMISSIONS
    by_id = {r["id"]: int(r["permissions"]) for r in guild.get("roles", [])}
    perms = by_id.get(str(guild["id"]), 0)  # @everyone's role id is the guild's id
    for rid in role_ids:
        perms |= by_id.get(rid, 0)
    return ALL_PERMISSIONS if perms & ADMINISTRATOR else perms


class OAuthProvider:
    """Codes and tokens live in memory: a restarted simulator signs everyone out, as a revoked app
    would."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.codes: dict[str, Grant] = {}
        self.tokens: dict[str, Grant] = {}
        self.refresh_tokens: dict[str, Grant] = {}

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/oauth2/authorize", self.authorize_page)
        app.router.add_post("/oauth2/authorize", self.authorize)

    # ---- who is who ------------------------------------------------------------------------------
    def members(self, guild_id: int) -> dict[int, tuple[dict, list[str]]]:
        """user id → (user, role ids) of the guild's members now."""
        gen = self.sim.generator
        model = next((g for g in gen.guilds if g.id == guild_id), None) if gen is not None else None
        if model is not None:
            return {uid: (model.users[uid], model.staff.get(uid, [])) for uid in model.humans}
        payload = self.sim.guild_payloads.get(guild_id, {})
        return {
            int(m["user"]["id"]): (m["user"], m.get("roles", []))
            for m in payload.get("members", [])
            if not m["user"].get("bot")
        }

    def users(self) -> dict[int, dict]:
        found: dict[int, dict] = {}
        for gid in self.sim.guild_payloads:
            found |= {uid: user for uid, (user, _) in self.members(gid).items()}
        return found | {int(OUTSIDER["id"]): OUTSIDER}

    def membership(self, user_id: int) -> list[tuple[dict, list[str]]]:
        """(guild payload, role ids) for each guild the user is in."""
        out = []
        for gid, payload in self.sim.guild_payloads.items():
            member = self.members(gid).get(user_id)
            if member is not None:
                out.append((payload, member[1]))
        return out

    # ---- authorize -------------------------------------------------------------------------------
    def _label(self, uid: int, user: dict) -> str:
        parts = []
        for payload, roles in self.membership(uid):
            perms = guild_permissions(payload, uid, roles)
            names = {r["id"]: r["name"] for r in payload.get("roles", [])}
            kind = (
                "owner"
                if str(uid) == str(payload.get("owner_id"))
                else "administrator"
                if perms == ALL_PERMISSIONS
                else "manager"
                if perms & MANAGE_GUILD
                else ", ".join(names.get(r, r) for r in roles)
                if roles
                else "member"
            )
            parts.append(f"{payload.get('name')}: {kind}")
        where = "; ".join(parts) or "in no guild"
        return f"{user.get('global_name') or user['username']} (@{user['username']}) — {where}"

    async def authorize_page(self, request: web.Request) -> web.Response:
        q = request.query
        if (
            q.get("response_type", "code") != "code"
            or not q.get("redirect_uri")
            or not q.get("client_id")
        ):
            return web.Response(
                status=400, text="client_id, redirect_uri and response_type=code are required"
            )
        hidden = "".join(
            f'<input type="hidden" name="{k}" value="{html.escape(q.get(k, ""))}">'
            for k in (
                "client_id",
                "redirect_uri",
                "scope",
                "state",
                "code_challenge",
                "code_challenge_method",
            )
        )
        users = sorted(self.users().items(), key=lambda kv: (kv[1] is not OUTSIDER, kv[0]))
        options = "".join(
            f'<option value="{uid}">{html.escape(self._label(uid, user))}</option>'
            for uid, user in users
        )
        body = (
            f"<!doctype html><html><head><meta charset='utf-8'><title>Authorize — Mocha simulator"
            f"</title></head><body><h1>Sign in to the simulated Discord</h1>"
            f"<p>An application asks for: {html.escape(q.get('scope', 'identify'))}</p>"
            f'<form method="post" action="/oauth2/authorize">{hidden}'
            f'<label>Who are you? <select name="user">{options}</select></label> '
            f'<button type="submit">Authorize</button></form></body></html>'
        )
        return web.Response(text=body, content_type="text/html")

    async def authorize(self, request: web.Request) -> web.Response:
        form = await request.post()
        redirect_uri = str(form.get("redirect_uri", ""))
        if urlsplit(redirect_uri).scheme not in ("http", "https"):
            return web.Response(status=400, text="bad redirect_uri")
        try:
            uid = int(str(form.get("user")))
        except ValueError:
            return web.Response(status=400, text="pick a user")
        if uid not in self.users():
            return web.Response(status=400, text="unknown user")
        code = secrets.token_urlsafe(24)
        self.codes[code] = Grant(
            uid,
            str(form.get("client_id", "")),
            redirect_uri,
            str(form.get("scope", "")),
            str(form.get("code_challenge", "")),
            time.monotonic() + CODE_TTL_S,
        )
        params = {"code": code} | ({"state": str(form["state"])} if form.get("state") else {})
        sep = "&" if "?" in redirect_uri else "?"
        raise web.HTTPFound(redirect_uri + sep + urlencode(params))

    # ---- token -----------------------------------------------------------------------------------
    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        kind = form.get("grant_type")
        if kind == "authorization_code":
            grant = self.codes.pop(str(form.get("code", "")), None)
            if (
                grant is None
                or grant.expires < time.monotonic()
                or grant.redirect_uri != form.get("redirect_uri")
            ):
                return _json({"error": "invalid_grant"}, 400)
            if grant.challenge:
                digest = hashlib.sha256(str(form.get("code_verifier", "")).encode()).digest()
                if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant.challenge:
                    return _json({"error": "invalid_grant", "error_description": "PKCE"}, 400)
        elif kind == "refresh_token":
            grant = self.refresh_tokens.pop(str(form.get("refresh_token", "")), None)
            if grant is None:
                return _json({"error": "invalid_grant"}, 400)
        else:
            return _json({"error": "unsupported_grant_type"}, 400)
        access, refresh = secrets.token_urlsafe(30), secrets.token_urlsafe(30)
        grant.expires = time.monotonic() + TOKEN_TTL_S
        self.tokens[access] = self.refresh_tokens[refresh] = grant
        return _json(
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": TOKEN_TTL_S,
                "refresh_token": refresh,
                "scope": grant.scope,
            }
        )

    # ---- the user's REST
    # ---------------------------------------------------------------------------
    async def rest(self, request: web.Request, tail: str) -> web.Response:
        """Calls made with a user's Bearer token."""
        if tail == "oauth2/token" and request.method == "POST":
            return await self.token(request)
        grant = self.tokens.get(request.headers.get("Authorization", "").removeprefix("Bearer "))
        if grant is None or grant.expires < time.monotonic():
            return _error(401, "401: Unauthorized")
        if request.method != "GET":
            return _error(405, "405: Method Not Allowed")
        uid = grant.user_id
        if tail == "users/@me":
            return _json(
                {
                    **self.users().get(uid, OUTSIDER),
                    "mfa_enabled": False,
                    "locale": "en-US",
                    "flags": 0,
                    "public_flags": 0,
                    "premium_type": 0,
                }
            )
        if tail == "users/@me/guilds":
            return _json(
                [
                    {
                        "id": p["id"],
                        "name": p.get("name"),
                        "icon": p.get("icon"),
                        "owner": str(uid) == str(p.get("owner_id")),
                        "features": p.get("features", []),
                        "permissions": str(guild_permissions(p, uid, roles)),
                    }
                    for p, roles in self.membership(uid)
                ]
            )
        parts = tail.split("/")
        if len(parts) == 5 and parts[:3] == ["users", "@me", "guilds"] and parts[4] == "member":
            for payload, roles in self.membership(uid):
                if payload["id"] == parts[3]:
                    return _json(
                        {
                            "user": self.users()[uid],
                            "roles": roles,
                            "nick": None,
                            "joined_at": "2021-06-01T12:00:00.000000+00:00",
                            "deaf": False,
                            "mute": False,
                            "flags": 0,
                        }
                    )
            return _error(404, "Unknown Guild", 10004)
        return _error(404, "404: Not Found")
