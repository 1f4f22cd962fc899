"""Every page passes axe-core's WCAG 2 A and AA rules in Chromium, light and dark, and works by
keyboard.

axe-core is vendored (tests/e2e/vendor/axe-core, MPL-2.0) so the check needs no network.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from stats.models import RecentEvent
from tests.e2e.conftest import DEMO_GID, artifact

pytestmark = [pytest.mark.slow, pytest.mark.browser]
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
# Each page, and what shows it has finished drawing (axe must see the page as people do).
PAGES = {
    "sign-in": ("/accounts/login/", "form"),  # first: the others are seen signed in as staff
    "guild list": ("/", ".guild-grid"),
    "dashboard": (f"/guilds/{DEMO_GID}/", '[data-role="heatmap"] .cell'),
    "member": (f"/guilds/{DEMO_GID}/members/601/", '[data-role="activity-chart"] .uplot canvas'),
    "channel": (f"/guilds/{DEMO_GID}/channels/51/", '[data-role="rank"]:not(:empty)'),
    "health": ("/health/", '[data-role="panels"] .panel'),
    "not found": ("/guilds/999/", "h1"),
}


def violations(page) -> list[str]:
    """axe-core's findings, one readable line per rule and element."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async (tags) => "
        "(await axe.run(document, {runOnly: {type: 'tag', values: tags}})).violations",
        WCAG,
    )
    return [
        f"{v['id']} ({v['impact']}): {n['target']} — {n['failureSummary']}"
        for v in result
        for n in v["nodes"]
    ]


@pytest.fixture
def feed(demo_guild):
    """A few live-feed items, so the feed's markup is checked too."""
    now = datetime.now(UTC)
    for kind, channel, user in (
        ("message", 51, 601),
        ("member_join", None, 602),
        ("voice_join", 53, 603),
    ):
        RecentEvent.objects.create(
            guild_id=DEMO_GID, kind=kind, channel_id=channel, user_id=user, at=now
        )


def sign_in(page, server: str) -> None:
    page.fill("#id_username", "staff")
    page.fill("#id_password", "a long passphrase")
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_passes_axe(server, chromium, feed, scheme, django_user_model):
    # /health/ is for staff: the pages are checked signed in as staff (the sign-in page before).
    django_user_model.objects.create_user("staff", password="a long passphrase", is_staff=True)
    # bypass_csp: the pages forbid inline scripts, and axe is injected as one.
    context = chromium.new_context(
        viewport={"width": 1280, "height": 900}, color_scheme=scheme, bypass_csp=True
    )
    found = {}
    try:
        page = context.new_page()
        for name, (path, ready) in PAGES.items():
            page.goto(f"{server}{path}")
            page.wait_for_selector(ready)
            page.evaluate(
                "document.querySelectorAll('details').forEach((d) => { d.open = true; })"
            )  # tables too
            page.wait_for_timeout(300)  # transitions of the first paint
            found[name] = violations(page)
            if name == "sign-in":
                sign_in(page, server)
    finally:
        context.close()
    failing = {name: v for name, v in found.items() if v}
    artifact(f"axe-{scheme}.json").write_text(json.dumps(failing, indent=1))
    assert failing == {}


def test_dashboard_by_keyboard_alone(server, page, demo_guild):
    page.goto(f"{server}/guilds/{DEMO_GID}/")
    page.wait_for_selector('[data-role="heatmap"] .cell')
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "content"
    # Tab reaches the lookback picker; Enter on "7 d" switches the whole dashboard.
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.days") == "7":
            break
    else:
        raise AssertionError("the lookback picker is not reachable by Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", ""), "no visible focus indicator"
    page.keyboard.press("Enter")
    page.wait_for_selector('[data-role="lookback"] button[data-days="7"][aria-pressed="true"]')
    # The charts' text alternatives: a table of the same numbers, opened from the keyboard.
    summary = page.locator('[data-role="activity-table"] summary')
    summary.focus()
    page.keyboard.press("Enter")
    rows = page.locator('[data-role="activity-table"] tbody tr')
    assert rows.count() > 0
    heat = page.locator('[data-role="heatmap-table"] summary')
    heat.focus()
    page.keyboard.press("Enter")
    assert page.locator('[data-role="heatmap-table"] tbody tr').count() == 7
    assert page.errors == []
