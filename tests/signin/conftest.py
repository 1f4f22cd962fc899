"""A simulator on a thread as the Discord of these tests, and helpers to sign users in without a
browser."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from simulator.server import Simulator
from tests.simulator.harness import running


@pytest.fixture
def discord(settings):
    """A generated guild of 20 members; every OAuth2 URL of the site points at it."""
    with running(Simulator(members=20, seed=5)) as sim:
        settings.DISCORD_OAUTH_API = sim.api_base
        settings.DISCORD_OAUTH_ORIGIN = f"http://127.0.0.1:{sim.port}"
        settings.DISCORD_CLIENT_ID, settings.DISCORD_CLIENT_SECRET = "test-client", "test-secret"
        settings.SOCIALACCOUNT_PROVIDERS = {
            "discord": {"APPS": [{"client_id": "test-client", "secret": "s"}]}
        }
        yield sim


def sign_in(client, sim: Simulator, user_id: int) -> None:
    """The whole authorization code flow: our login view → the simulator's page → our callback."""
    start = client.post("/accounts/discord/login/")
    assert start.status_code == 302, start
    authorize = urlsplit(start["Location"])
    assert f"{authorize.scheme}://{authorize.netloc}" == f"http://127.0.0.1:{sim.port}"
    query = {k: v[0] for k, v in parse_qs(authorize.query).items()}
    assert sorted(query["scope"].split()) == ["guilds", "guilds.members.read", "identify"]
    answer = requests.post(
        f"http://127.0.0.1:{sim.port}/oauth2/authorize",
        allow_redirects=False,
        timeout=5,
        data={**query, "user": str(user_id)},
    )
    back = urlsplit(answer.headers["Location"])
    done = client.get(f"{back.path}?{back.query}")
    assert done.status_code == 302 and done["Location"] == "/", done
