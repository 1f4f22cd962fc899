# HourlyStat and DailyMemberStat are keyed by small numbers instead of snowflakes: a member key
# (MemberKey: guild and user), in HourlyStat a channel key (ChannelKey), in DailyMemberStat a
# guild key (GuildKey). HourlyStat loses its guild column, which the member key names. The keys
# are numbered from the rows already stored and the two tables rebuilt with their rows mapped:
# an upgrade in place keeps every count, and so does going back (snowflakes mapped back).

from django.db import migrations, models

KEYED = " WITHOUT ROWID"


def rebuild(ex, table: str, columns: str, key: str, select: str, without_rowid: str) -> None:
    """Replace `table` by one with these columns and key, filled by `select` from the old one.
    The key is named after its columns: PostgreSQL keeps a constraint's name through the table's
    rename, and going back and forth must not reuse one."""
    name = f"{table}_{key.split(',')[0]}_pkey"
    ex(
        f"CREATE TABLE {table}_new ({columns}, CONSTRAINT {name} PRIMARY KEY ({key})){without_rowid}"
    )
    ex(f"INSERT INTO {table}_new {select}")
    ex(f"DROP TABLE {table}")
    ex(f"ALTER TABLE {table}_new RENAME TO {table}")


def to_keys(apps, schema_editor):
    ex = schema_editor.execute
    without_rowid = KEYED if schema_editor.connection.vendor == "sqlite" else ""
    ex(
        "INSERT INTO stats_key_member (guild_id, user_id) SELECT guild_id, user_id FROM"
        " (SELECT guild_id, user_id FROM stats_hourlystat UNION"
        " SELECT guild_id, user_id FROM stats_dailymemberstat) AS u ORDER BY guild_id, user_id"
    )
    ex(
        "INSERT INTO stats_key_guild (guild_id) SELECT guild_id FROM stats_key_member"
        " GROUP BY guild_id ORDER BY guild_id"
    )
    ex(
        "INSERT INTO stats_key_channel (guild_id, channel_id) SELECT guild_id, channel_id"
        " FROM stats_hourlystat GROUP BY guild_id, channel_id ORDER BY guild_id, channel_id"
    )
    rebuild(
        ex,
        "stats_hourlystat",
        "member_key integer NOT NULL, hour integer NOT NULL, channel_key integer NOT NULL,"
        " messages integer NOT NULL, voice_seconds integer NOT NULL",
        "member_key, hour, channel_key",
        "SELECT m.id, h.hour, c.id, h.messages, h.voice_seconds FROM stats_hourlystat h"
        " JOIN stats_key_member m ON m.guild_id = h.guild_id AND m.user_id = h.user_id"
        " JOIN stats_key_channel c ON c.guild_id = h.guild_id AND c.channel_id = h.channel_id",
        without_rowid,
    )
    rebuild(
        ex,
        "stats_dailymemberstat",
        "guild_key integer NOT NULL, day integer NOT NULL, member_key integer NOT NULL,"
        " messages integer NOT NULL, voice_seconds integer NOT NULL",
        "guild_key, day, member_key",
        "SELECT g.id, d.day, m.id, d.messages, d.voice_seconds FROM stats_dailymemberstat d"
        " JOIN stats_key_guild g ON g.guild_id = d.guild_id"
        " JOIN stats_key_member m ON m.guild_id = d.guild_id AND m.user_id = d.user_id",
        without_rowid,
    )
    ex(
        "CREATE INDEX member_day_user ON stats_dailymemberstat"
        " (guild_key, member_key, day, messages, voice_seconds)"
    )


def to_snowflakes(apps, schema_editor):
    ex = schema_editor.execute
    without_rowid = KEYED if schema_editor.connection.vendor == "sqlite" else ""
    rebuild(
        ex,
        "stats_hourlystat",
        "guild_id bigint NOT NULL, user_id bigint NOT NULL, channel_id bigint NOT NULL,"
        " hour integer NOT NULL, messages integer NOT NULL, voice_seconds integer NOT NULL",
        "guild_id, user_id, hour, channel_id",
        "SELECT m.guild_id, m.user_id, c.channel_id, h.hour, h.messages, h.voice_seconds"
        " FROM stats_hourlystat h JOIN stats_key_member m ON m.id = h.member_key"
        " JOIN stats_key_channel c ON c.id = h.channel_key",
        without_rowid,
    )
    rebuild(
        ex,
        "stats_dailymemberstat",
        "guild_id bigint NOT NULL, user_id bigint NOT NULL, day integer NOT NULL,"
        " messages integer NOT NULL, voice_seconds integer NOT NULL",
        "guild_id, day, user_id",
        "SELECT m.guild_id, m.user_id, d.day, d.messages, d.voice_seconds"
        " FROM stats_dailymemberstat d JOIN stats_key_member m ON m.id = d.member_key",
        without_rowid,
    )
    ex(
        "CREATE INDEX member_day_user ON stats_dailymemberstat"
        " (guild_id, user_id, day, messages, voice_seconds)"
    )


def key(*fields):
    return models.CompositePrimaryKey(
        *fields, blank=True, editable=False, primary_key=True, serialize=False
    )


class Migration(migrations.Migration):
    dependencies = [
        ("stats", "0017_guild_hour_sums"),
    ]

    operations = [
        migrations.CreateModel(
            name="MemberKey",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                ("guild_id", models.BigIntegerField()),
                ("user_id", models.BigIntegerField()),
            ],
            options={
                "db_table": "stats_key_member",
                "constraints": [
                    models.UniqueConstraint(fields=("guild_id", "user_id"), name="member_key_user")
                ],
            },
        ),
        migrations.CreateModel(
            name="GuildKey",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                ("guild_id", models.BigIntegerField(unique=True)),
            ],
            options={"db_table": "stats_key_guild"},
        ),
        migrations.CreateModel(
            name="ChannelKey",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                ("guild_id", models.BigIntegerField()),
                ("channel_id", models.BigIntegerField()),
            ],
            options={
                "db_table": "stats_key_channel",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("guild_id", "channel_id"), name="channel_key_channel"
                    )
                ],
            },
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(to_keys, to_snowflakes, elidable=False)],
            state_operations=[
                migrations.AddField(
                    model_name="hourlystat",
                    name="member_key",
                    field=models.IntegerField(default=0, help_text="MemberKey: the guild and user"),
                    preserve_default=False,
                ),
                migrations.AddField(
                    model_name="hourlystat",
                    name="channel_key",
                    field=models.IntegerField(default=0, help_text="ChannelKey"),
                    preserve_default=False,
                ),
                migrations.AlterField(
                    model_name="hourlystat",
                    name="pk",
                    field=key("member_key", "hour", "channel_key"),
                ),
                migrations.RemoveField(model_name="hourlystat", name="guild_id"),
                migrations.RemoveField(model_name="hourlystat", name="user_id"),
                migrations.RemoveField(model_name="hourlystat", name="channel_id"),
                migrations.RemoveIndex(model_name="dailymemberstat", name="member_day_user"),
                migrations.AddField(
                    model_name="dailymemberstat",
                    name="member_key",
                    field=models.IntegerField(default=0, help_text="MemberKey: the user"),
                    preserve_default=False,
                ),
                migrations.AddField(
                    model_name="dailymemberstat",
                    name="guild_key",
                    field=models.IntegerField(default=0, help_text="GuildKey"),
                    preserve_default=False,
                ),
                migrations.AlterField(
                    model_name="dailymemberstat",
                    name="pk",
                    field=key("guild_key", "day", "member_key"),
                ),
                migrations.RemoveField(model_name="dailymemberstat", name="user_id"),
                migrations.RemoveField(model_name="dailymemberstat", name="guild_id"),
                migrations.AddIndex(
                    model_name="dailymemberstat",
                    index=models.Index(
                        fields=["guild_key", "member_key", "day", "messages", "voice_seconds"],
                        name="member_day_user",
                    ),
                ),
            ],
        ),
    ]
