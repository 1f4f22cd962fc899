"""Privacy: message content is stored nowhere; excluded channels are hidden from viewers.

The content tests push messages with distinctive strings (in content, embeds,
attachments, message edits) through the real collector path, then read every
row of every table, the SQLite files and the shared cache, looking for them.
A control string that Mocha does store (a member's display name) proves the
search would find a leak.
"""

from __future__ import annotations

import json
import pickle
import uuid
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.urls import reverse

from collector.aggregate import Aggregator
from collector.writer import Writer
from stats import rollups
from stats.models import Channel, Guild, Member
from tests.collector import payloads as p
from tests.rows import add_hourly, hourly, hourly_stats

SECRETS = [
    f"SECRET-{kind}-{uuid.uuid4().hex}" for kind in ("content", "embed", "file", "edit", "reply")
]
CONTROL = f"CONTROL{uuid.uuid4().hex[:12]}"  # a display name: stored on purpose
GENERAL, SECRET_CHANNEL, VOICE = 11, 12, 51


def leaky_message(uid: int, channel: int, ts: str) -> dict:
    d = p.message(uid, channel, ts=ts, content=f"hello {SECRETS[0]} there")
    d["embeds"] = [{"type": "rich", "title": "t", "description": SECRETS[1]}]
    d["attachments"] = [
        {
            "id": "1",
            "filename": f"{SECRETS[2]}.png",
            "size": 10,
            "url": f"https://cdn/{SECRETS[2]}.png",
        }
    ]
    d["referenced_message"] = {"id": "5", "content": SECRETS[4], "author": p.user(uid)}
    d["author"]["global_name"] = CONTROL
    return d


def scenario_lines() -> list[str]:
    ts = datetime.now(UTC).replace(microsecond=0).isoformat()
    lines = [
        json.dumps(
            {
                "t": "GUILD_CREATE",
                "d": p.guild_create(
                    channels=[p.channel(GENERAL, "general"), p.channel(VOICE, "voice", 2)],
                    members=[1, 2],
                ),
            }
        )
    ]
    for i in range(20):
        lines.append(
            json.dumps({"t": "MESSAGE_CREATE", "d": leaky_message(1 + i % 2, GENERAL, ts)})
        )
    edit = p.message(1, GENERAL, ts=ts, content=SECRETS[3])
    lines.append(json.dumps({"t": "MESSAGE_UPDATE", "d": edit}))
    return lines


# --- where to look -------------------------------------------------------------------------------


def rows_containing(strings: list[str]) -> set[tuple[str, str]]:
    """(table, string) for every string found in any column of any table."""
    found = set()
    with connection.cursor() as cur:
        for table in connection.introspection.table_names(cur):
            cur.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            text = repr(cur.fetchall())
            found |= {(table, s) for s in strings if s in text}
    return found


def sqlite_files_containing(strings: list[str]) -> set[str]:
    name = Path(connection.settings_dict["NAME"])
    blobs = b"".join(f.read_bytes() for f in (name, Path(f"{name}-wal")) if f.exists())
    return {s for s in strings if s.encode() in blobs}


def cache_containing(strings: list[str]) -> set[str]:
    """Strings found in any value of the shared cache (cachalot and the result cache)."""
    config = settings.CACHES["default"]
    values: list[bytes] = []
    if config["BACKEND"].endswith("FileBasedCache"):
        for f in Path(config["LOCATION"]).glob("*.djcache"):
            with f.open("rb") as fh:
                pickle.load(fh)  # expiry
                values.append(zlib.decompress(fh.read()))
    else:
        client = cache._cache.get_client(write=False)
        values = [client.get(k) or b"" for k in client.scan_iter(match=f"{config['KEY_PREFIX']}:*")]
    assert values, "the cache holds nothing: searching it would prove nothing"
    blob = b"".join(values)
    return {s for s in strings if s.encode() in blob}


def assert_no_content_anywhere() -> None:
    assert (Member._meta.db_table, CONTROL) in rows_containing([CONTROL]), (
        "the search cannot see stored text"
    )
    assert rows_containing(SECRETS) == set()
    if connection.vendor == "sqlite":
        connection.cursor().execute("PRAGMA wal_checkpoint(FULL)")
        assert sqlite_files_containing([CONTROL]) == {CONTROL}
        assert sqlite_files_containing(SECRETS) == set()
    assert cache_containing(SECRETS) == set()


def read_everything(client) -> None:
    """Serve the API so the result cache and cachalot hold what viewers get."""
    Guild.objects.filter(pk=p.GUILD).update(visibility="public")
    for path in ("stats", "leaderboard", "channels", "heatmap", "members/1"):
        assert client.get(f"/api/guilds/{p.GUILD}/{path}").status_code == 200


# --- tests
# -----------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_no_message_content_is_stored_by_the_collector_pipeline(client):
    agg, writer = Aggregator(), Writer()
    now = datetime.now(UTC).timestamp()
    for line in scenario_lines():
        event = json.loads(line)
        if event["t"] == "GUILD_CREATE":
            agg.guild_create(event["d"], now)
        elif event["t"] == "MESSAGE_CREATE":
            agg.message(event["d"])
    writer.write(agg.take_batch(now), {0: {"connected": True}})
    assert hourly_stats().filter(guild_id=p.GUILD).values_list("messages", flat=True).count() == 2
    read_everything(client)
    assert_no_content_anywhere()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_no_message_content_is_stored_through_the_gateway(client):
    from tests.collector.harness import run_collect

    run_collect(scenario_lines(), flush_ms=100)
    assert sum(hourly_stats().filter(guild_id=p.GUILD).values_list("messages", flat=True)) == 20
    read_everything(client)
    assert_no_content_anywhere()


@pytest.mark.django_db
def test_excluded_channels_are_hidden_from_viewers(client, admin_client):
    guild = Guild.objects.create(id=p.GUILD, name="g", visibility="public")
    Channel.objects.bulk_create(
        [
            Channel(id=GENERAL, guild=guild, name="general"),
            Channel(id=SECRET_CHANNEL, guild=guild, name="hush-hush"),
        ]
    )
    Member.objects.bulk_create(
        [Member(guild=guild, user_id=1, username="a"), Member(guild=guild, user_id=2, username="b")]
    )
    hour = int(datetime.now(UTC).timestamp()) // 3600
    add_hourly(
        [
            hourly(guild_id=p.GUILD, hour=hour, channel_id=GENERAL, user_id=1, messages=3),
            hourly(guild_id=p.GUILD, hour=hour, channel_id=SECRET_CHANNEL, user_id=2, messages=50),
        ]
    )
    rollups.rebuild(p.GUILD)  # as the collector would have written them
    base = f"/api/guilds/{p.GUILD}"
    assert "hush-hush" in client.get(f"{base}/channels").content.decode()  # visible before
    response = admin_client.post(
        reverse("admin:stats_guild_change", args=[p.GUILD]),
        {
            "tracking": "on",
            "track_voice": "on",
            "excluded_channels": [str(SECRET_CHANNEL)],
            "timezone": "UTC",
            "default_days": "30",
            "visibility": "public",
            "retention_days": "30",
        },
    )
    assert response.status_code == 302
    channels = client.get(f"{base}/channels").json()["channels"]
    assert [c["channel_id"] for c in channels] == [str(GENERAL)]
    assert client.get(f"{base}/stats").json()["totals"]["messages"] == 3
    board = client.get(f"{base}/leaderboard").json()["entries"]
    assert [e["user_id"] for e in board] == ["1"]
    member = client.get(f"{base}/members/2").json()
    assert member["messages"] == 0 and member["channels"] == []
