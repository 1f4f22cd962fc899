"""The dashboard in a real browser against a real server: it draws, it moves, it refuses what it
must."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from django.db import connection
from playwright.sync_api import expect

from stats.models import RecentEvent
from tests.e2e.conftest import DEMO_GID, PRIVATE_GID, artifact, publish_screenshot

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_dashboard_draws_every_section_without_console_errors(server, page, demo_guild):
    page.goto(f"{server}/guilds/{DEMO_GID}/")
    page.wait_for_selector('[data-role="activity-chart"] .uplot canvas')
    page.wait_for_selector('[data-role="top-messages"] li a.name')
    page.wait_for_selector('[data-role="heatmap"] .cell')
    page.wait_for_selector('[data-role="live-status"]:is(.on, .warn)')
    assert page.inner_text('[data-card="messages"] .stat-value') not in ("", "—")
    assert page.inner_text('[data-role="top-messages"] li:first-child .name') == "Alice"
    assert page.inner_text('[data-role="top-voice"] li:first-child .name') == "Bob"
    assert page.locator('[data-role="heatmap"] .cell').count() == 7 * 24
    assert "general" in page.inner_text('[data-role="channels"]')
    # Another lookback reloads everything from the API.
    page.click('[data-role="lookback"] button[data-days="7"]')
    page.wait_for_selector('[data-role="lookback"] button[data-days="7"][aria-pressed="true"]')
    page.wait_for_selector('[data-role="activity-chart"] .uplot canvas')
    page.click('[data-role="interval"] button[data-interval="hour"]')
    page.wait_for_selector('[data-role="activity-chart"] .uplot canvas')
    page.wait_for_timeout(500)
    assert page.errors == []
    shot = artifact("dashboard.png")
    page.click('[data-role="lookback"] button[data-days="30"]')
    page.wait_for_selector(
        '[data-role="interval"] button[data-interval="day"][aria-pressed="true"]'
    )
    page.wait_for_timeout(800)
    page.screenshot(path=str(shot), full_page=True)
    publish_screenshot(shot, "screenshot-dashboard.png")


def test_live_feed_and_rate_move_while_events_arrive(server, page, demo_guild):
    page.goto(f"{server}/guilds/{DEMO_GID}/")
    page.wait_for_selector('[data-role="live-status"]:is(.on, .warn)')
    assert page.locator('[data-role="feed"] li').count() == 0
    stop = threading.Event()
    inserted = [0]  # messages written so far

    def traffic():
        try:
            while not stop.is_set():
                now = datetime.now(UTC)
                inserted[0] += 5
                RecentEvent.objects.bulk_create(
                    [
                        RecentEvent(
                            guild_id=DEMO_GID, kind="message", channel_id=52, user_id=603, at=now
                        )
                        for _ in range(5)
                    ]
                    + [
                        RecentEvent(
                            guild_id=DEMO_GID,
                            kind="member_join",
                            channel_id=None,
                            user_id=604,
                            at=now,
                        )
                    ]
                )
                time.sleep(0.5)
        finally:
            # this thread's own connection; the test database is dropped at the end
            connection.close()

    writer = threading.Thread(target=traffic)
    writer.start()
    try:
        page.wait_for_selector('[data-role="feed"] li >> text=Carol', timeout=10_000)
        expect(page.locator('[data-rate="messages"]')).not_to_have_text("0", timeout=10_000)
        page.wait_for_selector('[data-role="feed"] li >> text=joined the server')
        rate = float(page.inner_text('[data-rate="messages"]'))
        # Bounded by what was written, not by a stopwatch: the hub averages over at least 0.2 s.
        assert 0 < rate <= inserted[0] / 0.2, (rate, inserted[0])
        first = page.locator('[data-role="feed"] li').count()
        page.wait_for_timeout(1500)
        assert page.locator('[data-role="feed"] li').count() > first or first == 40
    finally:
        stop.set()
        writer.join()
    assert (
        page.get_attribute('[data-role="feed"] li:first-child a.who', "href")
        == f"/guilds/{DEMO_GID}/members/604/"
    )
    assert page.errors == []


def test_health_panel_fills_live(server, page, demo_guild, django_user_model):
    """Staff only: the visitor is sent to sign in (the login page, with django-axes watching)
    first."""
    django_user_model.objects.create_user("ops", password="ops-password-123", is_staff=True)
    page.goto(f"{server}/health/")
    page.fill('input[name="username"]', "ops")
    page.fill('input[name="password"]', "ops-password-123")
    page.click('button[type="submit"], input[type="submit"]')
    page.wait_for_url(f"{server}/health/")
    # The page CSP forbids eval, so waits use selectors rather than wait_for_function(string).
    page.wait_for_selector('body[data-health-updates="2"]', state="attached", timeout=10_000)
    titles = page.locator(".panel h2").all_inner_texts()
    assert titles == ["Memory", "Cache", "Collector", "Database"]
    assert "web-" in page.inner_text('[data-panel="memory"]')
    assert page.inner_text('[data-panel="database"] dd') not in ("", "—")
    assert page.errors == []
    page.screenshot(path=str(artifact("health.png")), full_page=True)


def test_private_guild_is_a_404_page_for_anonymous_visitors(server, page, demo_guild):
    response = page.goto(f"{server}/guilds/{PRIVATE_GID}/")
    assert response.status == 404
    assert "Not found" in page.inner_text("main")
    assert "Private Roastery" not in page.content()
    page.goto(f"{server}/")
    assert "Espresso Lounge" in page.inner_text(
        "main"
    ) and "Private Roastery" not in page.inner_text("main")


def test_phone_width_has_no_horizontal_scroll(server, chromium, demo_guild):
    context = chromium.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
    )
    pg = context.new_page()
    try:
        pg.goto(f"{server}/guilds/{DEMO_GID}/")
        pg.wait_for_selector('[data-role="activity-chart"] .uplot canvas')
        pg.wait_for_selector('[data-role="heatmap"] .cell')
        assert pg.evaluate("document.documentElement.scrollWidth") <= 390
        pg.screenshot(path=str(artifact("dashboard-phone.png")), full_page=True)
    finally:
        context.close()


def test_empty_guild_shows_a_helpful_empty_state(server, page, demo_guild):
    from stats.models import Guild

    Guild.objects.create(id=515151, name="Brand New", visibility="public")
    page.goto(f"{server}/guilds/515151/")
    page.wait_for_selector('[data-role="activity-chart"] .placeholder >> text=No activity yet')
    page.wait_for_selector('[data-role="top-messages"] >> text=No messages yet')
    assert page.locator('[data-role="activity-chart"] canvas').count() == 0
    assert page.errors == []
