# DailyGuildStat: distinct active members per guild and local day, counted from the member-days
# already stored, so an upgrade's daily series keep their numbers.

from django.db import migrations, models


def create_and_fill(apps, schema_editor):
    without_rowid = " WITHOUT ROWID" if schema_editor.connection.vendor == "sqlite" else ""
    schema_editor.execute(
        "CREATE TABLE stats_dailyguildstat (guild_id bigint NOT NULL, day integer NOT NULL,"
        f" active_members integer NOT NULL, PRIMARY KEY (guild_id, day)){without_rowid}"
    )
    schema_editor.execute(
        "INSERT INTO stats_dailyguildstat (guild_id, day, active_members)"
        " SELECT guild_id, day, COUNT(*) FROM stats_dailymemberstat GROUP BY guild_id, day"
    )


def drop(apps, schema_editor):
    schema_editor.execute("DROP TABLE stats_dailyguildstat")


class Migration(migrations.Migration):
    dependencies = [
        ("stats", "0015_member_days_in_day_order"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(create_and_fill, drop, elidable=False)],
            state_operations=[
                migrations.CreateModel(
                    name="DailyGuildStat",
                    fields=[
                        (
                            "pk",
                            models.CompositePrimaryKey(
                                "guild_id",
                                "day",
                                blank=True,
                                editable=False,
                                primary_key=True,
                                serialize=False,
                            ),
                        ),
                        ("guild_id", models.BigIntegerField()),
                        (
                            "day",
                            models.IntegerField(
                                help_text="Local days since 1970-01-01 in the guild's timezone"
                            ),
                        ),
                        ("active_members", models.IntegerField(default=0)),
                    ],
                ),
            ],
        ),
    ]
