"""Live-server fixtures for the attack tests: gunicorn + uvicorn under production settings."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from django.test import override_settings

from signin.sessions import session_key_for
from tests.e2e.conftest import gunicorn_server

SECRET = "live-attack-tests-" + "k" * 40


@pytest.fixture
def prod_env(subprocess_env, monkeypatch) -> dict:
    # websockets' sync client and the server threads leave no event loop here, but be explicit.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    return {
        **subprocess_env,
        "DJANGO_SETTINGS_MODULE": "tests.security.prod_settings",
        "MOCHA_SECRET_KEY": SECRET,
        "MOCHA_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "MOCHA_SSL_REDIRECT": "0",
        "MOCHA_LOG_LEVEL": "warning",
    }


@pytest.fixture
def prod_server(prod_env) -> Callable[..., AbstractContextManager[str]]:
    """`with prod_server(workers=1, MOCHA_API_RATE="1") as url:` a live production server."""

    def start(workers: int = 1, **settings: str):
        return gunicorn_server({**prod_env, **settings}, workers=workers)

    return start


def session_of(user) -> str:
    """A session key for the user, as the live server's sign-in view would leave it (signed with
    its key)."""
    with override_settings(SECRET_KEY=SECRET):
        return session_key_for(user)


def ws_connect(url: str, path: str, session: str | None = None, headers: dict | None = None):
    """A websocket to the live server from its own origin (optionally signed in)."""
    from websockets.sync.client import connect

    extra = dict(headers or {})
    if session:
        extra["Cookie"] = f"sessionid={session}"
    ws_url = url.replace("http://", "ws://") + path
    return connect(ws_url, origin=url, additional_headers=extra, open_timeout=20, max_size=None)


def first_json(ws, timeout: float = 20) -> dict:
    return json.loads(ws.recv(timeout=timeout))


CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
