"""Date ranges, period comparison, the role filter, retention cohorts and the member page in a
real browser: what a viewer picks stays in the URL, and every view draws without errors."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest

from stats.models import MemberEvent, MemberRole, Role
from tests.e2e.conftest import DEMO_GID, artifact, publish_screenshot

pytestmark = [pytest.mark.slow, pytest.mark.browser]
BARISTAS = 7001


@pytest.fixture
def deeper(demo_guild):
    """The demo guild plus a coloured role (Bob and Carol) and eight weeks of joins."""
    Role.objects.create(id=BARISTAS, guild=demo_guild, name="Baristas", color=0xC0703A, position=2)
    Role.objects.create(id=7002, guild=demo_guild, name="Regulars", color=0x2ECC71, position=1)
    MemberRole.objects.bulk_create(
        [MemberRole(guild_id=DEMO_GID, role_id=BARISTAS, user_id=uid) for uid in (602, 603)]
    )
    now = datetime.now(UTC)
    joins = []
    for week in range(8):
        for n in range(3 + week % 4):
            at = now - timedelta(days=7 * week + n, hours=3)
            first = at + timedelta(hours=2 + 30 * (n % 3)) if n % 4 else None
            joins.append(
                MemberEvent(
                    guild_id=DEMO_GID,
                    user_id=9000 + week * 10 + n,
                    kind=MemberEvent.Kind.JOIN,
                    at=at,
                    first_active_at=first if first and first < now else None,
                )
            )
    MemberEvent.objects.bulk_create(joins)
    return demo_guild


def query(page) -> dict:
    return {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}


def test_range_compare_role_and_retention_on_the_dashboard(server, page, deeper):
    page.goto(f"{server}/guilds/{DEMO_GID}/")
    page.wait_for_selector('[data-role="top-messages"] li .rank-change')  # compare is on
    page.wait_for_selector('.u-legend :text("Previous period")')  # the chart overlays it
    # 14 days of data: the 30 days before the last 30 had none.
    assert page.inner_text('[data-card="messages"] .stat-delta') == "new this period"
    # Retention: eight weeks, newest first, and the cohort chart.
    page.wait_for_selector('[data-role="retention"] tbody tr:nth-child(8)')
    assert page.locator('[data-role="retention-chart"] rect').count() == 16
    assert "pending" in page.inner_text('[data-role="retention"] tbody tr:first-child')

    # A date range: the last three days before today.
    today = date.fromisoformat(page.get_attribute('input[name="end"]', "max"))
    start, end = today - timedelta(days=3), today - timedelta(days=1)
    page.fill('input[name="start"]', start.isoformat())
    page.fill('input[name="end"]', end.isoformat())
    page.click('[data-role="range"] button[type="submit"]')
    page.wait_for_function("() => location.search.includes('start=')")
    assert query(page) == {"start": start.isoformat(), "end": end.isoformat()}
    assert page.locator('[data-role="lookback"] button[aria-pressed="true"]').count() == 0
    page.wait_for_selector('[data-role="activity-chart"] .uplot canvas')

    # The role filter: only Bob and Carol on the leaderboard, and the choice is in the URL.
    page.wait_for_selector(
        f'[data-role="role-filter"] option[value="{BARISTAS}"]', state="attached"
    )
    page.select_option('[data-role="role-filter"]', str(BARISTAS))
    page.wait_for_function(f"() => location.search.includes('role={BARISTAS}')")
    page.wait_for_function(
        """() => { const names = [...document.querySelectorAll('[data-role="top-messages"] .name')]
             .map((n) => n.textContent); return names.length === 2 && !names.includes('Alice'); }"""
    )
    # Compare off: the cards say which period instead of a change.
    page.uncheck('[data-role="compare"]')
    page.wait_for_function("() => location.search.includes('compare=off')")
    page.wait_for_function(
        """() => document.querySelector('[data-card="messages"] .stat-delta').textContent
             .includes('–')"""
    )
    page.wait_for_function(
        """() => document.querySelector('[data-role="top-messages"] li a.name')
             && !document.querySelector('[data-role="top-messages"] .rank-change')"""
    )
    shared = page.url

    # The URL is the view: opened afresh, it shows the same range, role and comparison.
    page.goto(shared)
    page.wait_for_selector('[data-role="top-messages"] li a.name')
    assert page.input_value('input[name="start"]') == start.isoformat()
    assert page.input_value('[data-role="role-filter"]') == str(BARISTAS)
    assert not page.is_checked('[data-role="compare"]')
    page.wait_for_timeout(300)
    assert page.errors == []

    page.check('[data-role="compare"]')
    page.select_option('[data-role="role-filter"]', "")
    page.click('[data-role="lookback"] button[data-days="7"]')  # the week before has data too
    page.click('[data-role="interval"] button[data-interval="day"]')
    page.wait_for_selector('[data-role="top-messages"] li .rank-change')
    page.wait_for_selector('.u-legend :text("Previous period")')
    page.wait_for_timeout(800)
    shot = artifact("dashboard-deeper-views.png")
    page.screenshot(path=str(shot), full_page=True)
    publish_screenshot(shot, "screenshot-deeper-views.png")


def test_a_bad_range_in_the_url_falls_back_and_a_bad_pick_says_why(server, page, deeper):
    page.goto(f"{server}/guilds/{DEMO_GID}/?start=2025-02-30&end=nope&role=x")
    page.wait_for_selector('[data-role="lookback"] button[aria-pressed="true"]')
    page.wait_for_selector('[data-role="top-messages"] li a.name')
    page.fill('input[name="start"]', "2026-01-10")
    page.fill('input[name="end"]', "2026-01-01")
    page.click('[data-role="range"] button[type="submit"]')
    page.wait_for_selector('[data-role="period-error"]:not([hidden])')
    assert page.errors == []


def test_member_page_takes_a_range_from_the_url(server, page, deeper):
    today = datetime.now(UTC).date()
    start = (today - timedelta(days=6)).isoformat()
    page.goto(f"{server}/guilds/{DEMO_GID}/members/601/?start={start}&end={today.isoformat()}")
    page.wait_for_selector('[data-role="activity-chart"] .uplot canvas')
    page.wait_for_selector('[data-role="channels"] tbody tr td a')
    assert page.input_value('input[name="start"]') == start
    # Against the guild: the median member's line, the member's hours.
    page.wait_for_selector('.u-legend :text("Median member")')
    assert page.locator('[data-role="hours"] .hour-bar').count() == 24
    assert page.inner_text('[data-role="top-hours"]').startswith("Most active at")
    page.wait_for_selector('[data-role="rank-history"] li .place')
    assert "#1" in page.inner_text('[data-role="rank-history"]')  # Alice leads every week
    page.click('[data-role="lookback"] button[data-days="7"]')
    page.wait_for_function("() => location.search.includes('days=7')")
    page.wait_for_timeout(300)
    assert page.errors == []
    page.screenshot(path=str(artifact("member-range.png")), full_page=True)
