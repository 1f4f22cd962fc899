"""Sign in with Discord in a real browser: the simulator is the OAuth2 provider, a real collector
counts.

One simulator, one collector and one web server for the module; each test signs in as another
simulated user in a fresh browser context (the simulator's authorize page: pick a user, Authorize).
"""

from __future__ import annotations

import subprocess
import time
from collections import defaultdict

import pytest
from django.db.models import Sum
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from mocha_site.loopback import free_port, wait_for
from simulator.generator import TrafficGenerator
from simulator.oauth import OUTSIDER
from stats import guild_config
from stats.models import Guild, Member, OptOut
from stats.rollups import local_day
from tests.e2e.conftest import start_gunicorn, stop, wait_listening
from tests.rows import hourly_stats, member_days

pytestmark = [pytest.mark.slow, pytest.mark.browser]
SIM = {"members": 30, "channels": 4, "seed": 11}
# Generous: two processes start on a shared two-core machine.
START_TIMEOUT_S = 60


@pytest.fixture
def world(e2e_env, manage_py):
    """Simulator (generated traffic), collector and gunicorn, all pointed at each other; the guild
    is set to `members`. Yields (base URL, guild id, the generator's model of the guild)."""
    model = TrafficGenerator(
        guilds=1, members=SIM["members"], channels=SIM["channels"], seed=SIM["seed"]
    ).guilds[0]
    sim_port, web_port = free_port(), free_port()
    api = f"http://127.0.0.1:{sim_port}/api/v10"
    env = {
        **e2e_env,
        "DISCORD_API_BASE": api,
        "DISCORD_CLIENT_ID": "e2e-client",
        "DISCORD_CLIENT_SECRET": "e2e",
    }
    procs = []
    try:
        procs.append(
            subprocess.Popen(
                manage_py
                + ["simulate", "--port", str(sim_port), "--rate", "40", "-v", "0"]
                + [f"--{k}={v}" for k, v in SIM.items()],
                env=e2e_env,
                stdout=subprocess.DEVNULL,
            )
        )
        wait_listening(sim_port, procs[0], START_TIMEOUT_S)
        procs.append(
            subprocess.Popen(
                manage_py + ["collect"],
                stdout=subprocess.DEVNULL,
                env={**env, "DISCORD_TOKEN": "e2e", "MOCHA_FLUSH_MS": "300"},
            )
        )
        wait_for(
            lambda: Guild.objects.filter(pk=model.id).exists(), START_TIMEOUT_S, "the collector"
        )
        guild_config.update(Guild.objects.get(pk=model.id), {"visibility": "members"})
        procs.append(start_gunicorn(env, web_port))
        wait_listening(web_port, procs[-1], START_TIMEOUT_S)
        yield f"http://127.0.0.1:{web_port}", model.id, model
    finally:
        for proc in reversed(procs):
            stop(proc)


def sign_in(chromium, base: str, user_id: int):
    """A fresh browser context signed in through the simulator's authorize page as `user_id`."""
    context = chromium.new_context()
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(f"{base}/accounts/login/")
    page.click("text=Sign in with Discord")
    page.wait_for_selector('select[name="user"]')
    page.select_option('select[name="user"]', str(user_id))
    page.click('button:has-text("Authorize")')
    page.wait_for_url(f"{base}/")
    page.wait_for_selector('[data-role="notice"]:has-text("Successfully signed in")')
    return context, page


def socket_close_code(base: str, context, gid: int) -> int | None:
    """Open the guild's live socket with the browser's session cookie: None if it stays open, else
    the code."""
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in context.cookies())
    url = base.replace("http", "ws") + f"/ws/guilds/{gid}/live/"
    with connect(url, additional_headers={"Cookie": cookie}, origin=base, open_timeout=10) as ws:
        try:
            ws.recv(timeout=5)  # the hello
            return None
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None


def plain_member(model) -> int:
    """The busiest member without a role: they post often, so their messages keep coming."""
    plain = [
        (w, uid)
        for uid, w in zip(model.humans, model.human_weights, strict=False)
        if uid not in model.staff
    ]
    return max(plain)[1]


def test_member_sees_a_members_guild_and_an_outsider_does_not(world, chromium):
    base, gid, model = world
    context, page = sign_in(chromium, base, plain_member(model))
    try:
        assert "via Discord" in page.inner_text('[data-role="whoami"]')
        page.click(f'a[href="/guilds/{gid}/"]')
        page.wait_for_selector('[data-role="activity-chart"] .uplot canvas')
        assert page.locator('[data-role="settings-link"]').count() == 0  # a member, not a manager
        assert socket_close_code(base, context, gid) is None
        page.click('button:has-text("Sign out")')
        page.wait_for_selector("text=Sign in")
        assert page.request.get(f"{base}/api/guilds/{gid}/stats").status == 404
        assert page.errors == []
    finally:
        context.close()
    context, page = sign_in(chromium, base, int(OUTSIDER["id"]))
    try:
        assert page.locator(f'a[href="/guilds/{gid}/"]').count() == 0
        assert page.goto(f"{base}/guilds/{gid}/").status == 404
        assert page.request.get(f"{base}/api/guilds/{gid}/stats").status == 404
        assert page.goto(f"{base}/guilds/{gid}/settings/").status == 404
        assert socket_close_code(base, context, gid) == 4403
    finally:
        context.close()


def daily_matches_hourly(gid: int, tz: str) -> bool:
    """Whether the per-day rollups hold exactly the hourly rows mapped to days in `tz`."""
    expected: dict[int, int] = defaultdict(int)
    for hour, messages in hourly_stats().filter(guild_id=gid).values_list("hour", "messages"):
        expected[local_day(tz, hour)] += messages
    stored = dict(
        member_days()
        .filter(guild_id=gid)
        .values("day")
        .annotate(n=Sum("messages"))
        .values_list("day", "n")
    )
    return {d: n for d, n in expected.items() if n} == {d: n for d, n in stored.items() if n}


def counted(gid: int) -> int:
    return hourly_stats().filter(guild_id=gid).aggregate(n=Sum("messages"))["n"] or 0


def test_manager_changes_the_timezone_and_the_collector_applies_it(world, chromium):
    base, gid, model = world
    manager = next(uid for uid, roles in model.staff.items() if roles and uid == model.humans[1])
    # A zone whose today differs from UTC's now, so counting under the old zone would show.
    tz = "Etc/GMT-14" if time.gmtime().tm_hour >= 10 else "Etc/GMT+12"
    context, page = sign_in(chromium, base, manager)
    try:
        page.goto(f"{base}/guilds/{gid}/")
        page.click('[data-role="settings-link"]')
        page.select_option('select[name="timezone"]', tz)
        page.click('button:has-text("Save")')
        page.wait_for_selector('[data-role="notice"]:has-text("Saved")')
        assert Guild.objects.get(pk=gid).timezone == tz
        saved = counted(gid)
        # The collector reloads configuration every 5 s: once more messages than that were
        # committed afterwards, every one of them must sit on its day in the new zone.
        wait_for(lambda: counted(gid) > saved + 50, 30, "messages after the change")
        time.sleep(6)
        wait_for(lambda: daily_matches_hourly(gid, tz), 20, "per-day rollups in the new zone")
        before = counted(gid)
        wait_for(lambda: counted(gid) > before + 20, 30, "more messages")
        assert daily_matches_hourly(gid, tz)
        assert page.errors == []
    finally:
        context.close()


def test_member_stops_counting_and_is_not_counted_again(world, chromium):
    base, gid, model = world
    me = plain_member(model)
    wait_for(
        lambda: hourly_stats().filter(guild_id=gid, user_id=me).exists(),
        60,
        "a counted message",
    )
    context, page = sign_in(chromium, base, me)
    try:
        page.click('a:has-text("My data")')
        row = page.locator(f'[data-role="my-guilds"] tr[data-guild="{gid}"]')
        assert int(row.locator('[data-field="messages"]').inner_text().replace(",", "")) > 0
        row.locator('[data-role="stop-counting"]').click()
        clicked = time.monotonic()
        page.wait_for_selector('[data-role="notice"]:has-text("no longer counted")')
        assert row.locator('[data-field="messages"]').inner_text() == "0"
        assert row.locator('[data-role="resume-counting"]').count() == 1
        assert OptOut.objects.filter(guild_id=gid, user_id=me).exists()
        # The web erases the rows at once, but the collector keeps counting the member until its
        # next reload (every 5 s), then erases what it wrote meanwhile: the promise is "gone within
        # 10 s". So look once those 10 s have passed (rows seen gone earlier may come back), then
        # others keep being counted, this member never again, through several reloads.
        gone = lambda: not hourly_stats().filter(guild_id=gid, user_id=me).exists()  # noqa: E731
        time.sleep(max(0.0, clicked + 10 - time.monotonic()))
        wait_for(gone, 10, "the member's rows erased")
        total = counted(gid)
        end = time.monotonic() + 12
        while time.monotonic() < end:
            time.sleep(1)
            assert gone()
            assert not Member.objects.filter(guild_id=gid, user_id=me).exists()
        assert counted(gid) > total + 50  # traffic went on all along
        page.goto(f"{base}/guilds/{gid}/")
        page.wait_for_selector('[data-role="top-messages"] li a.name')
        assert f"/members/{me}/" not in page.inner_html('[data-role="top-messages"]')
        export = page.request.get(f"{base}/me/export.json").json()
        assert export["user_id"] == str(me)
        assert [g["hourly_stats"] for g in export["guilds"] if g["guild_id"] == str(gid)] == [[]]
        assert page.errors == []
    finally:
        context.close()
