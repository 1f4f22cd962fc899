"""`manage.py run` (what `make run` calls): first-run admin, hashed static files, demo traffic,
clean stop."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
import urllib.request

import pytest
import requests
from django.contrib.auth import get_user_model

from mocha.management.commands.run import ensure_admin
from tests.e2e.conftest import free_port, stop


def test_admin_is_created_once_with_a_generated_password(db):
    first = ensure_admin()
    assert first and len(first) >= 12
    assert get_user_model().objects.get(username="admin").check_password(first)
    assert ensure_admin() is None  # later runs neither re-create nor print
    get_user_model().objects.all().delete()  # as after deleting var/mocha.sqlite3
    second = ensure_admin()
    assert second and second != first  # re-created and printed again, never a fixed default


def test_admin_is_not_recreated_when_accounts_are_managed_by_hand(db):
    User = get_user_model()
    User.objects.create_superuser("owner", "", "a long passphrase")
    assert ensure_admin() is None
    assert not User.objects.filter(username="admin").exists()


def read_until(proc: subprocess.Popen, pattern: str, timeout: float, seen: list[str]) -> re.Match:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                raise AssertionError(f"run exited {proc.returncode}: {''.join(seen[-20:])}")
            continue
        seen.append(line)
        match = re.search(pattern, line)
        if match:
            return match
    raise AssertionError(f"no {pattern!r} within {timeout} s: {''.join(seen[-20:])}")


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode()


@pytest.mark.slow
def test_run_serves_the_demo_and_stops_cleanly_on_sigterm(
    subprocess_env, manage_py, tmp_path, settings
):
    settings.PASSWORD_HASHERS = [
        *settings.PASSWORD_HASHERS,
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]  # run used dev settings
    port = free_port()
    env = {
        **subprocess_env,
        "DJANGO_SETTINGS_MODULE": "mocha_site.settings.dev",
        "MOCHA_VAR_DIR": str(tmp_path),
    }
    proc = subprocess.Popen(
        manage_py + ["run", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen: list[str] = []
    try:
        read_until(proc, rf"running on http://127\.0\.0\.1:{port}/", 90, seen)
        password = read_until(proc, r"user admin, password (\S+)", 5, seen).group(1)
        assert get_user_model().objects.get(username="admin").check_password(password)
        status, home = get(f"http://127.0.0.1:{port}/")
        assert status == 200 and ">demo<" in home
        css = re.search(r'href="(/static/css/mocha\.[0-9a-f]{12}\.css)"', home)
        assert css, "static files are not the hashed, collected ones"
        assert get(f"http://127.0.0.1:{port}{css.group(1)}")[0] == 200
        deadline = time.monotonic() + 45
        guilds = []
        while not guilds and time.monotonic() < deadline:
            guilds = json.loads(get(f"http://127.0.0.1:{port}/api/guilds")[1])["guilds"]
            time.sleep(0.5)
        assert guilds, "the demo guild never appeared"
        assert_discord_sign_in_works(f"http://127.0.0.1:{port}")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
        rest = proc.stdout.read()
        assert "Stopped." in rest
        assert (
            "StreamingHttpResponse" not in "".join(seen) + rest
        )  # static files served quietly under ASGI
    finally:
        stop(proc)


def assert_discord_sign_in_works(base: str) -> None:
    """The demo's "Sign in with Discord" goes to the simulator and back, offline."""
    session = requests.Session()
    login = session.get(f"{base}/accounts/login/").text
    assert "Sign in with Discord" in login
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login).group(1)
    to_sim = session.post(
        f"{base}/accounts/discord/login/",
        data={"csrfmiddlewaretoken": token},
        headers={"Referer": f"{base}/accounts/login/"},
        allow_redirects=False,
    )
    authorize = to_sim.headers["Location"]
    assert authorize.startswith("http://127.0.0.1:") and "/oauth2/authorize?" in authorize
    page = session.get(authorize).text
    user = re.findall(r'<option value="(\d+)">', page)[1]  # the first is the user in no guild
    form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page))
    back = session.post(authorize.split("?")[0], data={**form, "user": user}, allow_redirects=True)
    assert back.url == f"{base}/" and "via Discord" in back.text
