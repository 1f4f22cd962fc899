# HourlyGuildStat gains the guild's messages and voice seconds per hour (outside its excluded
# channels), computed here from HourlyStat with its active members, so an upgrade keeps every
# number its dashboards showed.

from django.db import migrations, models

TABLE = "stats_hourlyguildstat"


def add_and_fill(apps, schema_editor):
    for column in ("messages", "voice_seconds"):
        schema_editor.execute(f"ALTER TABLE {TABLE} ADD COLUMN {column} integer NOT NULL DEFAULT 0")
    schema_editor.execute(f"DELETE FROM {TABLE}")
    schema_editor.execute(
        f"INSERT INTO {TABLE} (guild_id, hour, active_members, messages, voice_seconds)"
        " SELECT h.guild_id, h.hour, COUNT(DISTINCT h.user_id), SUM(h.messages),"
        " SUM(h.voice_seconds) FROM stats_hourlystat AS h WHERE h.channel_id NOT IN"
        " (SELECT e.channel_id FROM stats_guild_excluded_channels AS e"
        " WHERE e.guild_id = h.guild_id) GROUP BY h.guild_id, h.hour"
    )


def drop(apps, schema_editor):
    for column in ("messages", "voice_seconds"):
        schema_editor.execute(f"ALTER TABLE {TABLE} DROP COLUMN {column}")


class Migration(migrations.Migration):
    dependencies = [
        ("stats", "0016_guild_days"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(add_and_fill, drop, elidable=False)],
            state_operations=[
                migrations.AddField(
                    model_name="hourlyguildstat",
                    name="messages",
                    field=models.IntegerField(default=0),
                ),
                migrations.AddField(
                    model_name="hourlyguildstat",
                    name="voice_seconds",
                    field=models.IntegerField(default=0),
                ),
            ],
        ),
    ]
