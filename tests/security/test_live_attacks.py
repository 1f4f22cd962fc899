"""Attacks against a live server: gunicorn + uvicorn under production settings, behind a proxy.

The tests are the proxy: they talk to gunicorn from loopback (the default
trusted proxy) and set X-Forwarded-For to the client's address, as nginx's
`$proxy_add_x_forwarded_for` does. Each test performs one attack of the
security review and checks that it fails (docs/security.md).
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests
from django.contrib.sessions.backends.db import SessionStore
from websockets.exceptions import ConnectionClosed

from stats import rollups
from stats.models import Channel, Guild, Member, RecentEvent, hour_of
from tests.conftest import ROOT
from tests.e2e.conftest import gunicorn_server
from tests.rows import add_hourly, hourly
from tests.security.conftest import CSRF_INPUT, first_json, session_of, ws_connect

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
GID, OTHER_GID, PRIVATE_GID = 9100, 9200, 9300
NAMES = {
    701: '=HYPERLINK("http://evil.example","x")',
    702: "+1+1",
    703: "-2+3",
    704: "@SUM(A1)",
    705: "\tTab",
    706: "\rReturn",
    707: "Plain",
}


def xff(client: str) -> dict:
    return {"X-Forwarded-For": client}


def status(url: str, path: str, headers: dict | None = None) -> int:
    return requests.get(url + path, headers=headers or {}, timeout=60).status_code


@pytest.fixture
def public_guild(transactional_db) -> Guild:
    """A public guild with a week of hourly activity by members whose names look like formulas."""
    guild = Guild.objects.create(id=GID, name="Open", visibility="public")
    Channel.objects.bulk_create(
        [
            Channel(id=51, guild=guild, name="general"),
            Channel(id=52, guild=guild, name="=cmd|' /C calc'!A0"),
        ]
    )
    Member.objects.bulk_create(
        [Member(guild=guild, user_id=uid, username=name) for uid, name in NAMES.items()]
    )
    now = hour_of(datetime.now(UTC))
    add_hourly(
        [
            hourly(
                guild_id=GID, hour=now - h, channel_id=51 + h % 2, user_id=uid, messages=1 + h % 3
            )
            for h in range(7 * 24)
            for uid in NAMES
        ]
    )
    rollups.rebuild(GID)
    return guild


# --- 1. Cost flood ------------------------------------------------------------------------


def test_cost_flood_long_hourly_series_are_refused_and_cached_answers_are_charged(
    prod_server, public_guild
):
    with prod_server(MOCHA_API_RATE="0.2", MOCHA_API_BURST="5") as url:
        ten_years = requests.get(
            f"{url}/api/guilds/{GID}/stats?days=3650&interval=hour", headers=xff("203.0.113.10")
        )
        assert ten_years.status_code == 400
        assert ten_years.json() == {
            "error": "interval=hour is limited to 90 days; use interval=day"
        }
        # The same (cached after the first) answer over and over: 5 tokens, 0.2 back per second,
        # 0.2 per cached answer; 60 of them cost 12.8 tokens, far more than refills meanwhile.
        statuses = [
            status(url, f"/api/guilds/{GID}/stats?days=30", xff("203.0.113.11")) for _ in range(60)
        ]
        assert statuses[0] == 200 and 429 in statuses


def test_cost_flood_big_answers_cost_more_than_small_ones(prod_server, public_guild):
    with prod_server(MOCHA_API_RATE="0.01", MOCHA_API_BURST="10") as url:
        size = len(
            requests.get(
                f"{url}/api/guilds/{GID}/stats?days=90&interval=hour", headers=xff("203.0.113.12")
            ).content
        )
        assert size > 100_000  # 2,160 hourly points
        # Each costs 1 + size / 64 KiB tokens (about 3.5): the 10-token bucket admits three or four,
        # not ten.
        statuses = [
            status(url, f"/api/guilds/{GID}/stats?days={89 - i}&interval=hour", xff("203.0.113.13"))
            for i in range(10)
        ]
        assert 429 in statuses[:5]


# --- 2. Limiter races ----------------------------------------------------------------------


def test_parallel_requests_cannot_spend_the_same_tokens_twice(prod_server, public_guild):
    rate, burst = 1.0, 20
    with prod_server(workers=2, MOCHA_API_RATE=str(rate), MOCHA_API_BURST=str(burst)) as url:

        def one(days: int) -> int:  # a distinct window each: every request is computed
            return status(url, f"/api/guilds/{GID}/stats?days={days}", xff("203.0.113.20"))

        started = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(one, range(1, 301)))
        elapsed = time.monotonic() - started
    assert set(statuses) <= {200, 429}
    assert statuses.count(200) <= burst + rate * elapsed + 1, (statuses.count(200), elapsed)


# --- 3. Forwarded-for trust ----------------------------------------------------------------


def test_forwarded_for_is_read_only_from_trusted_proxies(prod_server, public_guild):
    tight = {"MOCHA_API_RATE": "0.05", "MOCHA_API_BURST": "3"}
    with prod_server(**tight) as url:
        # A proxy that sets no header: every client is the proxy's loopback address, exempt from
        # nothing.
        assert 429 in [status(url, f"/api/guilds/{GID}/stats?days={d}") for d in range(1, 8)]
        # The proxy appends the real address: a spoofed loopback or rotating left part buys nothing.
        spoofed = [
            status(
                url,
                f"/api/guilds/{GID}/stats?days={d}",
                xff(f"127.0.0.1, 10.0.0.{d}, 203.0.113.30"),
            )
            for d in range(1, 8)
        ]
        assert 429 in spoofed
        assert (
            status(url, f"/api/guilds/{GID}/stats?days=50", xff("203.0.113.31")) == 200
        )  # another client
    # A peer that is not a configured proxy: its header is the client's word, and ignored.
    with prod_server(MOCHA_TRUSTED_PROXIES="192.0.2.1", **tight) as url:
        rotating = [
            status(url, f"/api/guilds/{GID}/stats?days={d}", xff(f"198.51.100.{d}"))
            for d in range(1, 8)
        ]
        assert 429 in rotating


# --- 4. Revocation -------------------------------------------------------------------------


def closed_with(ws, deadline: float) -> tuple[int | None, float]:
    """Read until the server closes the socket; its close code and when."""
    try:
        while time.monotonic() < deadline:
            ws.recv(timeout=max(0.1, deadline - time.monotonic()))
    except ConnectionClosed as closed:
        return (closed.rcvd.code if closed.rcvd else None), time.monotonic()
    except TimeoutError:
        pass
    return None, time.monotonic()


def test_open_sockets_are_closed_within_10_s_of_losing_access(prod_server, django_user_model):
    granted, public, signed_out, deactivated = (
        Guild.objects.create(id=9400 + i, name=f"G{i}", visibility=v)
        for i, v in enumerate(["private", "public", "private", "private"])
    )
    users = [django_user_model.objects.create_user(f"viewer{i}", password="x") for i in range(4)]
    granted.viewers.add(users[0], users[3])
    signed_out.viewers.add(users[1])
    deactivated.viewers.add(users[2])
    sessions = [session_of(u) for u in users]
    with prod_server() as url:
        sockets = {
            "grant removed": ws_connect(url, f"/ws/guilds/{granted.id}/live/", sessions[0]),
            "made private": ws_connect(url, f"/ws/guilds/{public.id}/live/"),
            "signed out": ws_connect(url, f"/ws/guilds/{signed_out.id}/live/", sessions[1]),
            "deactivated": ws_connect(url, f"/ws/guilds/{deactivated.id}/live/", sessions[2]),
        }
        control = ws_connect(url, f"/ws/guilds/{granted.id}/live/", sessions[3])
        for ws in [*sockets.values(), control]:
            assert first_json(ws)["type"] == "tick"
        changed = time.monotonic()
        granted.viewers.remove(users[0])
        Guild.objects.filter(pk=public.id).update(visibility="private")
        SessionStore(sessions[1]).delete()  # what signing out does
        django_user_model.objects.filter(pk=users[2].pk).update(is_active=False)
        for what, ws in sockets.items():
            code, at = closed_with(ws, changed + 15)
            assert code == 4403, what
            assert at - changed <= 10.5, (what, at - changed)
        assert first_json(control, timeout=5)["type"] == "tick"  # still granted: still open
        control.close()


# --- 5. CSV formula injection --------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["leaderboard?days=30&limit=100", "channels?days=30", "members/701?days=30"]
)
def test_csv_cells_never_start_like_a_formula(prod_server, public_guild, path):
    with prod_server() as url:
        response = requests.get(
            f"{url}/api/guilds/{GID}/{path}&format=csv", headers=xff("203.0.113.50")
        )
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.text, newline="")))
    cells = [cell for row in rows[1:] for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    quoted = {c for c in cells if c.startswith("'")}
    assert quoted, "the formula-like names are there, neutralised"
    assert quoted <= {"'" + n for n in [*NAMES.values(), "=cmd|' /C calc'!A0"]}


# --- 6. Websocket input --------------------------------------------------------------------


def test_big_frames_close_the_socket_and_sockets_per_client_are_capped(prod_server, public_guild):
    with prod_server(MOCHA_WS_PER_CLIENT="3") as url:
        path = f"/ws/guilds/{GID}/live/"
        ws = ws_connect(url, path, headers=xff("203.0.113.60"))
        first_json(ws)
        ws.send("x" * (1 << 20))  # 1 MiB: uvicorn's default would buffer up to 16 MiB
        code, _ = closed_with(ws, time.monotonic() + 10)
        assert code == 1009  # message too big
        mine = [ws_connect(url, path, headers=xff("203.0.113.61")) for _ in range(3)]
        for socket in mine:
            first_json(socket)
        one_too_many = ws_connect(url, path, headers=xff("203.0.113.61"))
        assert closed_with(one_too_many, time.monotonic() + 10)[0] == 4429
        other = ws_connect(url, path, headers=xff("203.0.113.62"))
        assert first_json(other)["type"] == "tick"
        for socket in [*mine, other]:
            socket.close()


# --- 7. Sign-in ----------------------------------------------------------------------------


def sign_in(url: str, path: str, username: str, password: str, client: str) -> requests.Response:
    """The sign-in form as a browser posts it (CSRF cookie and token from the page)."""
    page = requests.get(url + path, headers=xff(client), timeout=60)
    token = CSRF_INPUT.search(page.text).group(1)
    return requests.post(
        url + path,
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": token,
            "next": "/",
        },
        headers={**xff(client), "Cookie": f"csrftoken={page.cookies['csrftoken']}"},
        allow_redirects=False,
        timeout=60,
    )


def signed_in(response: requests.Response) -> bool:
    return response.status_code == 302 and "sessionid" in response.cookies


def test_password_guessing_is_locked_out_by_account_and_address(prod_server, django_user_model):
    django_user_model.objects.create_user("victim", password="the-right-password", is_staff=True)
    django_user_model.objects.create_user("bystander", password="bystander-password")
    django_user_model.objects.create_user("neighbour", password="neighbour-password")
    with prod_server() as url:
        for i in range(40):
            assert not signed_in(
                sign_in(url, "/accounts/login/", "victim", f"guess-{i}", "203.0.113.70")
            )
        locked = sign_in(url, "/accounts/login/", "victim", "the-right-password", "203.0.113.70")
        assert not signed_in(locked) and locked.status_code == 429
        # The account is locked from every address, on the admin's sign-in as well.
        assert not signed_in(
            sign_in(url, "/admin/login/", "victim", "the-right-password", "203.0.113.71")
        )
        # The address is locked for every account.
        assert not signed_in(
            sign_in(url, "/accounts/login/", "bystander", "bystander-password", "203.0.113.70")
        )
        # Others sign in as usual.
        assert signed_in(
            sign_in(url, "/accounts/login/", "neighbour", "neighbour-password", "203.0.113.72")
        )


# --- 8. Excluded channels ------------------------------------------------------------------


def test_an_excluded_channel_shows_nowhere(prod_server, public_guild, django_user_model):
    private = Guild.objects.create(id=PRIVATE_GID, name="Hidden", visibility="private")
    Channel.objects.create(id=99, guild=private, name="private-plans")
    Channel.objects.filter(pk=52).update(name="secret-room")
    before = datetime.now(UTC) - timedelta(minutes=5)
    RecentEvent.objects.bulk_create(
        [
            RecentEvent(
                guild_id=GID, kind="message", channel_id=52, user_id=707, at=before
            ),  # before the exclusion
            RecentEvent(
                guild_id=GID, kind="message", channel_id=99, user_id=707, at=before
            ),  # another guild's channel
            RecentEvent(guild_id=GID, kind="message", channel_id=51, user_id=707, at=before),
        ]
    )
    public_guild.excluded_channels.add(52)
    staff = session_of(django_user_model.objects.create_user("staff", password="x", is_staff=True))
    with prod_server() as url:
        page = requests.get(f"{url}/guilds/{GID}/channels/52/", headers=xff("203.0.113.80"))
        assert page.status_code == 404 and "secret-room" not in page.text
        as_staff = requests.get(
            f"{url}/guilds/{GID}/channels/52/", headers={"Cookie": f"sessionid={staff}"}
        )
        assert as_staff.status_code == 200 and "secret-room" in as_staff.text
        for path in ["channels?days=30", "channels?days=30&format=csv", "members/707?days=30"]:
            body = requests.get(f"{url}/api/guilds/{GID}/{path}", headers=xff("203.0.113.80")).text
            assert "secret-room" not in body, path
        listed = requests.get(
            f"{url}/api/guilds/{GID}/channels?days=30", headers=xff("203.0.113.80")
        ).json()
        assert [c["channel_id"] for c in listed["channels"]] == ["51"]
        ws = ws_connect(url, f"/ws/guilds/{GID}/live/", headers=xff("203.0.113.80"))
        feed = first_json(ws)["feed"]
        ws.close()
    assert [(item["channel_id"], item["channel"]) for item in feed] == [
        ("99", None),
        ("51", "general"),
    ]


def test_answers_kept_for_anonymous_viewers_never_reach_staff_or_other_hosts(
    prod_server, public_guild, django_user_model
):
    """Whole responses kept for anonymous viewers (stats.response_cache) must not be served to a
    signed-in viewer, whose answer differs, nor for a Host or scheme Django would refuse."""
    Guild.objects.create(id=PRIVATE_GID, name="Hidden", visibility="private")
    staff = session_of(django_user_model.objects.create_user("staff", password="x", is_staff=True))

    def guild_names(headers: dict) -> list[str]:
        answer = requests.get(f"{url}/api/guilds", headers={**xff("203.0.113.85"), **headers})
        assert answer.status_code == 200
        return [g["name"] for g in answer.json()["guilds"]]

    with prod_server(workers=2) as url:
        for _ in range(3):  # kept by the first, served to the next, in both workers
            assert guild_names({}) == ["Open"]
            assert guild_names({"Cookie": f"sessionid={staff}"}) == ["Hidden", "Open"]
            assert guild_names({"Cookie": f'theme="1; sessionid={staff}'}) == ["Hidden", "Open"]
        stats = f"{url}/api/guilds/{GID}/stats?days=7"
        assert requests.get(stats, headers=xff("203.0.113.85")).status_code == 200
        assert requests.get(stats, headers={"Host": "evil.example"}).status_code == 400
        # Another scheme behind the proxy is another answer, with its own headers.
        https = requests.get(stats, headers={**xff("203.0.113.85"), "X-Forwarded-Proto": "https"})
        assert https.status_code == 200 and "Strict-Transport-Security" in https.headers


# --- 9. Operational endpoints --------------------------------------------------------------


def test_operational_endpoints_are_for_staff_and_the_scraper_token(
    prod_server, public_guild, django_user_model
):
    staff = session_of(django_user_model.objects.create_user("staff", password="x", is_staff=True))
    viewer = session_of(django_user_model.objects.create_user("viewer", password="x"))
    token = {"Authorization": "Bearer scrape-token-0123456789"}
    with prod_server(MOCHA_METRICS_TOKEN="scrape-token-0123456789") as url:
        for path in ["/metrics", "/metrics/prometheus"]:
            assert status(url, path) == 403
            assert status(url, path, {"Cookie": f"sessionid={viewer}"}) == 403
            assert status(url, path, {"Authorization": "Bearer wrong"}) == 403
            assert status(url, path, token) == 200
            assert status(url, path, {"Cookie": f"sessionid={staff}"}) == 200
        health = requests.get(f"{url}/health/", allow_redirects=False)
        assert health.status_code == 302 and "/accounts/login/" in health.headers["Location"]
        assert status(url, "/health/", {"Cookie": f"sessionid={staff}"}) == 200
        assert closed_with(ws_connect(url, "/ws/health/"), time.monotonic() + 10)[0] == 4403
        for who in [
            ws_connect(url, "/ws/health/", headers=token),
            ws_connect(url, "/ws/health/", staff),
        ]:
            assert "memory" in first_json(who)
            who.close()
        ws = ws_connect(url, f"/ws/guilds/{GID}/live/")
        tick = first_json(ws)
        ws.close()
    # The dashboard's own tick: this guild's rates, feed and last-hour counts, and whether the
    # collector is up; no global figure.
    assert set(tick) == {"type", "t", "rates", "feed", "last_hour", "collector"}
    assert set(tick["collector"]) == {"connected"}


# --- 10. Files -----------------------------------------------------------------------------


def test_var_is_private_and_the_secret_key_is_written_atomically(tmp_path, subprocess_env):
    var = tmp_path / "var"
    env = {
        k: v
        for k, v in subprocess_env.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "MOCHA_SECRET_KEY")
    }
    env.update(
        MOCHA_VAR_DIR=str(var),
        DJANGO_SETTINGS_MODULE="mocha_site.settings.dev",
        MOCHA_LOG_LEVEL="warning",
    )
    # Eight processes start at once (as workers do): each must read the one whole key.
    read_key = (
        "import django; django.setup(); "
        "from django.conf import settings; print(settings.SECRET_KEY)"
    )
    starting = [
        subprocess.Popen(
            [sys.executable, "-c", read_key], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(8)
    ]
    keys = {p.communicate(timeout=120)[0].strip() for p in starting}
    assert len(keys) == 1 and len(keys.pop()) >= 50
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    with gunicorn_server(env, workers=2) as url:
        assert requests.get(url + "/api/guilds", timeout=60).status_code == 200

    def mode(path) -> int:
        return os.stat(path).st_mode & 0o777

    assert mode(var) == 0o700
    assert mode(var / "secret_key") == 0o600
    for name in ("mocha.sqlite3", "mocha.sqlite3-wal", "mocha.sqlite3-shm"):
        if (var / name).exists():
            assert mode(var / name) == 0o600, name
    assert mode(var / "cache") == 0o700
    assert all(mode(f) == 0o600 for f in (var / "cache").iterdir())
