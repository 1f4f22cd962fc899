"""The whole chain in a browser: simulator → unmodified discord.py collector → database → live hub
→ page."""

from __future__ import annotations

import subprocess
import time

import pytest
from playwright.sync_api import expect

from stats.models import Guild
from tests.e2e.conftest import free_port, stop, wait_listening

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_live_feed_moves_with_simulated_gateway_traffic(server, page, e2e_env, manage_py):
    sim_port = free_port()
    sim = subprocess.Popen(
        manage_py + ["simulate", "--port", str(sim_port), "--rate", "30", "--seed", "7"],
        env=e2e_env,
        stdout=subprocess.DEVNULL,
    )
    collector = None
    try:
        wait_listening(sim_port, sim)
        collector_env = {
            **e2e_env,
            "DISCORD_API_BASE": f"http://127.0.0.1:{sim_port}/api/v10",
            "DISCORD_TOKEN": "e2e",
        }
        collector = subprocess.Popen(
            manage_py + ["collect", "--public"], env=collector_env, stdout=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 30
        while not Guild.objects.exists() and time.monotonic() < deadline:
            assert collector.poll() is None, "collector exited"
            time.sleep(0.3)
        guild = Guild.objects.get()
        assert guild.visibility == "public"
        page.goto(f"{server}/guilds/{guild.id}/")
        page.wait_for_selector(
            '[data-role="live-status"].on', timeout=15_000
        )  # collector connected
        # The page CSP forbids eval, so waits use locators rather than wait_for_function(string).
        page.wait_for_selector('[data-role="feed"] li:nth-child(5)', timeout=15_000)
        expect(page.locator('[data-rate="messages"]')).not_to_have_text("0", timeout=10_000)
        newest = page.locator('[data-role="feed"] li').first
        before = newest.get_attribute("data-t")  # event times: a new event on top changes it
        expect(newest).not_to_have_attribute("data-t", before, timeout=10_000)
        assert page.errors == []
        collector.terminate()
        assert collector.wait(30) == 0  # SIGTERM: flush and exit 0
    finally:
        for proc in (collector, sim):
            if proc is not None:
                stop(proc)
