"""Pages: visibility like the API (invisible = unknown = 404), safe rendering, header, health
panels."""

from __future__ import annotations

import json
import re

import pytest

from stats.models import Channel, Guild, Member
from stats.panels import health_document
from stats.panels.base import Panel, fmt_bytes, fmt_count, fmt_duration

PUBLIC, PRIVATE = 9001, 9002


@pytest.fixture
def site(db) -> None:
    pub = Guild.objects.create(
        id=PUBLIC, name="Open <b>house</b>", visibility="public", member_count=1234
    )
    priv = Guild.objects.create(
        id=PRIVATE, name="Secret club", visibility="private", member_count=5
    )
    Channel.objects.create(id=41, guild=pub, name="general")
    Channel.objects.create(id=42, guild=priv, name="hidden")
    Member.objects.create(
        guild=pub, user_id=501, username="alice", nick="</script><script>alert(1)</script>"
    )
    Member.objects.create(guild=priv, user_id=502, username="bob")


def page_config(response) -> dict:
    match = re.search(
        rb'<script id="page-config" type="application/json">(.*?)</script>', response.content
    )
    return json.loads(match.group(1))


def test_home_lists_only_visible_guilds_with_member_counts(client, site):
    body = client.get("/").content.decode()
    assert "Open &lt;b&gt;house&lt;/b&gt;" in body and "1,234 members" in body
    assert "Secret club" not in body


def test_home_shows_private_guild_to_granted_viewer(client, site, django_user_model):
    user = django_user_model.objects.create_user("viewer", password="pw")
    Guild.objects.get(pk=PRIVATE).viewers.add(user)
    client.force_login(user)
    body = client.get("/").content.decode()
    assert "Secret club" in body and "Sign out" in body


@pytest.mark.parametrize(
    "path",
    [
        f"/guilds/{PRIVATE}/",
        f"/guilds/{PRIVATE}/members/502/",
        f"/guilds/{PRIVATE}/channels/42/",
        "/guilds/12345/",
        f"/guilds/{2**64}/",
        f"/guilds/{PUBLIC}/members/999/",
        f"/guilds/{PUBLIC}/members/{2**70}/",
        f"/guilds/{PUBLIC}/channels/42/",  # another guild's channel
    ],
)
def test_invisible_or_unknown_pages_are_404_pages(client, site, path):
    response = client.get(path)
    assert response.status_code == 404
    assert b"Not found" in response.content and b"Secret club" not in response.content


def test_dashboard_renders_with_config_for_the_scripts(client, site):
    response = client.get(f"/guilds/{PUBLIC}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Open &lt;b&gt;house&lt;/b&gt;" in body and "<b>house</b>" not in body
    config = page_config(response)
    assert config["guild_id"] == str(PUBLIC) and config["ws"] == f"/ws/guilds/{PUBLIC}/live/"
    assert config["days"] == 30 and config["lookbacks"] == [7, 30, 90, 365]
    for hook in (
        'data-role="activity-chart"',
        'data-role="feed"',
        'data-role="heatmap"',
        'data-role="top-voice"',
    ):
        assert hook in body


@pytest.mark.parametrize(
    "query, expected",
    [
        ("?days=14", {"days": 14}),
        ("?start=2026-01-01&end=2026-01-31", {"start": "2026-01-01", "end": "2026-01-31"}),
        ("?start=2026-01-31&end=2026-01-01", {}),  # end before start
        ("?start=2026-02-30&end=2026-03-01", {}),  # no such date
        ("?days=0", {}),
        ("?days=9999", {}),
        ("?days=7&start=2026-01-01&end=2026-01-02", {}),
        ("?start=2999-01-01&end=2999-01-02", {}),  # after today
        ("?role=abc&compare=yes", {}),  # the script checks these against the API
    ],
)
@pytest.mark.parametrize("path", [f"/guilds/{PUBLIC}/", f"/guilds/{PUBLIC}/members/501/"])
def test_a_shared_url_opens_its_period_and_a_bad_one_the_default(
    client, site, path, query, expected
):
    config = page_config(client.get(path + query))
    assert {k: config[k] for k in ("start", "end") if k in config} | (
        {"days": config["days"]} if "days" in expected else {}
    ) == expected
    assert config["days"] == expected.get("days", 30) and config["today"]
    assert 'data-role="range"' in client.get(path + query).content.decode()


def test_private_dashboard_for_staff_and_member_page_escapes_names(client, site, django_user_model):
    client.force_login(django_user_model.objects.create_user("staff", password="pw", is_staff=True))
    assert client.get(f"/guilds/{PRIVATE}/").status_code == 200
    response = client.get(f"/guilds/{PUBLIC}/members/501/")
    assert response.status_code == 200
    assert b"<script>alert(1)</script>" not in response.content
    assert page_config(response)["user_id"] == "501"
    assert page_config(client.get(f"/guilds/{PUBLIC}/channels/41/"))["channel_id"] == "41"


def test_header_says_demo_without_a_token_and_offers_sign_in(client, site, settings):
    settings.DISCORD_TOKEN = None
    body = client.get("/").content.decode()
    assert ">demo<" in body and "/accounts/login/?next=/" in body
    settings.DISCORD_TOKEN = "real"
    assert ">demo<" not in client.get("/").content.decode()


def test_login_page_signs_in(client, site, django_user_model):
    django_user_model.objects.create_user("viewer", password="a-long-password")
    assert client.get("/accounts/login/").status_code == 200
    response = client.post(
        "/accounts/login/", {"username": "viewer", "password": "a-long-password", "next": "/"}
    )
    assert response.status_code == 302
    assert "Sign out" in client.get("/").content.decode()


def test_health_page_renders_every_configured_panel(admin_client, site):
    body = admin_client.get("/health/").content.decode()
    for title in ("Memory", "Cache", "Collector", "Database"):
        assert f"<h2>{title}</h2>" in body


def test_cache_panel_warns_under_80_percent_and_not_above():
    low = health_document(
        {"cache_hits": 70, "cache_misses": 30, "cache_hit_rate": 0.7, "cache": {"default": 12}}
    )
    high = health_document(
        {"cache_hits": 90, "cache_misses": 10, "cache_hit_rate": 0.9, "cache": {"default": 12}}
    )
    cache_low = next(p for p in low["panels"] if p["id"] == "cache")
    cache_high = next(p for p in high["panels"] if p["id"] == "cache")
    assert cache_low["warnings"] and cache_low["stats"][0] == {
        "label": "Hit rate",
        "value": "70.0 %",
        "warn": True,
    }
    assert not cache_high["warnings"] and not cache_high["stats"][0]["warn"]


def test_collector_panel_lists_shards_and_warns_when_down():
    snap = {
        "collector": {
            "connected": False,
            "shards": [
                {
                    "shard_id": 0,
                    "connected": True,
                    "latency_ms": 41.2,
                    "events_per_sec": 1500,
                    "events_processed": 2_500_000,
                    "queue_depth": 3,
                    "last_flush_ms": 4.25,
                    "last_flush_at": None,
                },
                {"shard_id": 1, "connected": False},
            ],
        }
    }
    panel = next(p for p in health_document(snap)["panels"] if p["id"] == "collector")
    assert panel["table"]["rows"][0][:5] == ["0", "connected", "41 ms", "1.5k/s", "2.5M"]
    assert panel["table"]["rows"][1][1] == "down"
    assert panel["warnings"] == ["collector not connected"]


def test_memory_panel_reads_rss_per_process():
    panel = next(
        p
        for p in health_document(
            {"memory": {"rss_bytes": {"web-1": 80_000_000, "collector-0": 60_500_000}}}
        )["panels"]
        if p["id"] == "memory"
    )
    assert panel["table"]["rows"] == [["collector-0", "60.5 MB"], ["web-1", "80.0 MB"]]
    assert panel["summary"] == "140.5 MB"


def test_a_failing_panel_reports_itself_instead_of_breaking_the_page():
    class Broken(Panel):
        title = "Broken"

        def content(self, snapshot):
            raise KeyError("x")

    assert Broken().render({})["warnings"] == ["panel error: KeyError"]


def test_formatting_for_people():
    assert [fmt_count(n) for n in (7, 1234, 1_250_000, 3.25)] == ["7", "1.2k", "1.2M", "3.2"]
    assert fmt_bytes(1_500_000) == "1.5 MB"
    assert [fmt_duration(s) for s in (45, 12000, 3600, 200000)] == [
        "45 s",
        "3 h 20 min",
        "1 h",
        "2 d 7 h",
    ]
