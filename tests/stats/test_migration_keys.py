"""Upgrading a database to the keyed HourlyStat and DailyMemberStat (migration 0018) keeps every
stored count, and going back restores the snowflake rows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BEFORE = [("stats", "0017_guild_hour_sums")]
AFTER = [("stats", "0018_member_keys")]
G1, G2 = 1_100_000_000_000_000_001, 1_100_000_000_000_000_002
U1, U2 = 1_200_000_000_000_000_001, 1_200_000_000_000_000_002
C1, C2 = 1_300_000_000_000_000_001, 1_300_000_000_000_000_002
# (guild, user, channel, hour, messages, voice seconds): a user in two guilds, a voice-only row,
# and one channel id in two guilds (Discord never does; the keys must not care).
HOURLY = [
    (G1, U1, C1, 490_000, 3, 0),
    (G1, U1, C2, 490_000, 0, 600),
    (G1, U2, C1, 490_001, 7, 0),
    (G2, U1, C1, 490_002, 2, 60),
    (G2, U2, C2, 490_002, 1, 0),
]
# (guild, day, user, messages, voice seconds)
DAILY = [(G1, 20_416, U1, 3, 600), (G1, 20_416, U2, 7, 0), (G2, 20_416, U1, 2, 60)]


def migrate(target) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(target)


def rows(sql: str) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(sql)
        return sorted(cur.fetchall())


def test_upgrade_maps_every_row_to_keys_and_going_back_maps_them_back():
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    migrate(BEFORE)
    try:
        with connection.cursor() as cur:
            cur.executemany(
                "INSERT INTO stats_hourlystat (guild_id, user_id, channel_id, hour, messages,"
                " voice_seconds) VALUES (%s, %s, %s, %s, %s, %s)",
                HOURLY,
            )
            cur.executemany(
                "INSERT INTO stats_dailymemberstat (guild_id, day, user_id, messages,"
                " voice_seconds) VALUES (%s, %s, %s, %s, %s)",
                DAILY,
            )
        migrate(AFTER)
        assert rows(
            "SELECT m.guild_id, m.user_id, c.channel_id, h.hour, h.messages, h.voice_seconds"
            " FROM stats_hourlystat h JOIN stats_key_member m ON m.id = h.member_key"
            " JOIN stats_key_channel c ON c.id = h.channel_key AND c.guild_id = m.guild_id"
        ) == sorted(HOURLY)
        assert rows(
            "SELECT g.guild_id, d.day, m.user_id, d.messages, d.voice_seconds"
            " FROM stats_dailymemberstat d JOIN stats_key_guild g ON g.id = d.guild_key"
            " JOIN stats_key_member m ON m.id = d.member_key AND m.guild_id = g.guild_id"
        ) == sorted(DAILY)
        # Small numbers: one per (guild, user), (guild, channel) and guild, counted from 1.
        assert rows("SELECT MIN(id), MAX(id), COUNT(*) FROM stats_key_member") == [(1, 4, 4)]
        assert rows("SELECT MIN(id), MAX(id), COUNT(*) FROM stats_key_channel") == [(1, 4, 4)]
        assert rows("SELECT MIN(id), MAX(id), COUNT(*) FROM stats_key_guild") == [(1, 2, 2)]

        migrate(BEFORE)
        assert rows(
            "SELECT guild_id, user_id, channel_id, hour, messages, voice_seconds"
            " FROM stats_hourlystat"
        ) == sorted(HOURLY)
        assert rows(
            "SELECT guild_id, day, user_id, messages, voice_seconds FROM stats_dailymemberstat"
        ) == sorted(DAILY)
    finally:
        migrate(latest)
