"""The simulator as a Discord OAuth2 provider: authorize page, code for tokens, the user's REST
calls."""

from __future__ import annotations

import base64
import hashlib
import re
from urllib.parse import parse_qs, urlsplit

import requests

from simulator.oauth import ALL_PERMISSIONS, OUTSIDER
from simulator.server import Simulator
from tests.simulator.harness import BASIC, running

CALLBACK = "http://127.0.0.1:9/accounts/discord/login/callback/"


def authorize(base: str, user: str, **extra) -> str:
    """Pick `user` on the authorize page; returns the code the redirect carries."""
    page = requests.get(
        f"{base}/oauth2/authorize",
        timeout=5,
        params={
            "client_id": "c",
            "redirect_uri": CALLBACK,
            "response_type": "code",
            "scope": "identify guilds",
            **extra,
        },
    )
    assert page.status_code == 200
    assert re.search(r'<select name="user">', page.text) and ">Authorize</button>" in page.text
    assert f'<option value="{user}">' in page.text
    form = {"user": user, "redirect_uri": CALLBACK, "client_id": "c", "state": "s-1", **extra}
    answer = requests.post(f"{base}/oauth2/authorize", data=form, allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    query = parse_qs(location.query)
    assert query["state"] == ["s-1"]
    return query["code"][0]


def token(api: str, code: str, **extra) -> requests.Response:
    return requests.post(
        f"{api}/oauth2/token",
        timeout=5,
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, **extra},
    )


def get(api: str, path: str, access: str) -> requests.Response:
    return requests.get(f"{api}/{path}", headers={"Authorization": f"Bearer {access}"}, timeout=5)


def test_generated_guild_has_owner_managers_members_and_an_outsider():
    with running(Simulator(members=20, seed=4)) as sim:
        model = sim.generator.guilds[0]
        base, api, gid = f"http://127.0.0.1:{sim.port}", sim.api_base, str(model.id)
        seen = {}
        for uid in (
            model.humans[0],
            model.humans[1],
            model.humans[2],
            model.humans[3],
            model.humans[9],
        ):
            grant = token(api, authorize(base, str(uid))).json()
            assert grant["token_type"] == "Bearer" and grant["refresh_token"]
            me = get(api, "users/@me", grant["access_token"]).json()
            assert me["id"] == str(uid)
            [guild] = get(api, "users/@me/guilds", grant["access_token"]).json()
            member = get(api, f"users/@me/guilds/{gid}/member", grant["access_token"]).json()
            seen[uid] = (guild["owner"], int(guild["permissions"]), member["roles"])
        owner, manager, admin, moderator, plain = (
            seen[u] for u in (*model.humans[:4], model.humans[9])
        )
        assert owner[0] is True and owner[1] == ALL_PERMISSIONS
        assert manager[1] & 0x20 and not manager[1] & 0x8 and manager[2]
        assert admin[1] == ALL_PERMISSIONS and admin[2]
        assert not moderator[1] & 0x28 and moderator[2]  # a role, without either permission
        assert not plain[1] & 0x28 and plain[2] == []
        outsider = token(api, authorize(base, OUTSIDER["id"])).json()["access_token"]
        assert get(api, "users/@me/guilds", outsider).json() == []
        assert get(api, f"users/@me/guilds/{gid}/member", outsider).status_code == 404


def test_codes_are_single_use_tokens_refresh_and_bad_ones_are_refused():
    with running(Simulator(BASIC, sleep_scale=0)) as sim:
        base, api = f"http://127.0.0.1:{sim.port}", sim.api_base
        member = sim.guild_payloads[700000000000000001]["members"][3]["user"]["id"]
        code = authorize(base, member)
        first = token(api, code)
        assert first.status_code == 200
        assert token(api, code).status_code == 400  # used
        refreshed = requests.post(
            f"{api}/oauth2/token",
            timeout=5,
            data={"grant_type": "refresh_token", "refresh_token": first.json()["refresh_token"]},
        ).json()
        assert get(api, "users/@me", refreshed["access_token"]).json()["id"] == member
        assert get(api, "users/@me", "nonsense").status_code == 401
        assert (
            requests.post(
                f"{api}/oauth2/token", data={"grant_type": "password"}, timeout=5
            ).status_code
            == 400
        )
        # The bot's own REST is untouched by all of this.
        assert requests.get(f"{api}/users/@me", timeout=5).json()["bot"] is True


def test_pkce_is_checked_when_the_client_asked_for_it():
    verifier = "v" * 50
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    with running(Simulator(members=10)) as sim:
        base, api = f"http://127.0.0.1:{sim.port}", sim.api_base
        user = str(sim.generator.guilds[0].humans[5])
        pkce = {"code_challenge": challenge, "code_challenge_method": "S256"}
        assert token(api, authorize(base, user, **pkce), code_verifier="wrong").status_code == 400
        assert token(api, authorize(base, user, **pkce), code_verifier=verifier).status_code == 200


def test_bad_authorize_requests_are_refused():
    with running(Simulator(members=10)) as sim:
        base = f"http://127.0.0.1:{sim.port}"
        assert (
            requests.get(
                f"{base}/oauth2/authorize", params={"client_id": "c"}, timeout=5
            ).status_code
            == 400
        )
        for form in (
            {"user": "1", "redirect_uri": CALLBACK},
            {"user": "x", "redirect_uri": CALLBACK},
            {"user": OUTSIDER["id"], "redirect_uri": "javascript:alert(1)"},
        ):
            answer = requests.post(
                f"{base}/oauth2/authorize", data=form, allow_redirects=False, timeout=5
            )
            assert answer.status_code == 400
