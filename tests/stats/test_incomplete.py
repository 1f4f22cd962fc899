"""`/api/guilds/{gid}/incomplete`: hours a guild's collector was away, merged, within the window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stats.models import CollectorOutage, Guild

pytestmark = pytest.mark.django_db
GID = 730000000000000001  # shard (GID >> 22) % 2 == 0 of two
NOW = datetime.now(UTC).replace(minute=30, second=0, microsecond=0)


def outage(start: datetime, end: datetime, shard: int = 0, count: int = 1) -> None:
    CollectorOutage.objects.create(shard_id=shard, shard_count=count, start=start, end=end)


def test_outages_of_the_guilds_shard_become_whole_merged_hours(client):
    Guild.objects.create(id=GID, name="g", visibility=Guild.Visibility.PUBLIC)
    shard = (GID >> 22) % 2
    outage(NOW - timedelta(hours=5), NOW - timedelta(hours=4, minutes=50), shard, 2)
    outage(
        NOW - timedelta(hours=4, minutes=40), NOW - timedelta(hours=3), shard, 2
    )  # touches: one span
    outage(
        NOW - timedelta(hours=2), NOW - timedelta(hours=1), 1 - shard, 2
    )  # another shard's guilds
    outage(NOW - timedelta(days=40), NOW - timedelta(days=39))  # outside the window
    doc = client.get(f"/api/guilds/{GID}/incomplete", {"days": 30}).json()
    hour = (NOW - timedelta(hours=5)).replace(minute=0)
    assert doc == {
        "guild_id": str(GID),
        "days": 30,
        "incomplete": [
            {
                "start": hour.isoformat().replace("+00:00", "Z"),
                "end": (hour + timedelta(hours=3)).isoformat().replace("+00:00", "Z"),
            }
        ],
    }
    assert client.get(f"/api/guilds/{GID}/incomplete", {"days": 0}).status_code == 400
    assert client.get("/api/guilds/1/incomplete").status_code == 404
    assert (
        client.get(f"/api/guilds/{GID}/incomplete", {"format": "csv"})
        .content.decode()
        .startswith("start,end")
    )
