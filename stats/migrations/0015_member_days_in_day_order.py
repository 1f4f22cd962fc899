# DailyMemberStat keyed (guild, day, user) again, with its covering index in member order back:
# keyed in member order alone, today's rows (read after every flush) were a scan of the guild's
# whole table. Rebuilt in place like 0014, keeping every row.

from importlib import import_module

from django.db import migrations, models

keyed = import_module("stats.migrations.0014_keyed_rollups")
COLUMNS = next(columns for model, columns, *_ in keyed.TABLES if model == "dailymemberstat")
KEY = ["guild_id", "day", "user_id"]


def rekey(apps, schema_editor):
    keyed.rebuild_table(schema_editor, "stats_dailymemberstat", COLUMNS, KEY)


class Migration(migrations.Migration):
    dependencies = [
        ("stats", "0014_keyed_rollups"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(rekey, elidable=False)],
            state_operations=[
                migrations.AlterField(
                    model_name="dailymemberstat",
                    name="pk",
                    field=models.CompositePrimaryKey(
                        *KEY, blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="dailymemberstat",
            index=models.Index(
                fields=["guild_id", "user_id", "day", "messages", "voice_seconds"],
                name="member_day_user",
            ),
        ),
    ]
