# Each rollup becomes one b-tree keyed by its upsert key: on SQLite a WITHOUT ROWID table (no row
# id, no separate unique index holding a second copy of every key), on PostgreSQL a primary key in
# place of the id column and the unique constraint. Indexes that the new key makes redundant go.
# The tables are rebuilt and their rows copied: an upgrade in place keeps every count.

from django.db import migrations, models

# (model, columns widest first, key, unique constraint and indexes the key replaces)
TABLES = [
    (
        "hourlystat",
        [
            ("guild_id", "bigint"),
            ("user_id", "bigint"),
            ("channel_id", "bigint"),
            ("hour", "integer"),
            ("messages", "integer"),
            ("voice_seconds", "integer"),
        ],
        ["guild_id", "user_id", "hour", "channel_id"],
        "hourly_key",
        ["hourly_user"],
    ),
    (
        "hourlychannelstat",
        [
            ("guild_id", "bigint"),
            ("channel_id", "bigint"),
            ("hour", "integer"),
            ("messages", "integer"),
            ("voice_seconds", "integer"),
        ],
        ["guild_id", "hour", "channel_id"],
        "channel_hour_key",
        [],
    ),
    (
        "dailymemberstat",
        [
            ("guild_id", "bigint"),
            ("user_id", "bigint"),
            ("day", "integer"),
            ("messages", "integer"),
            ("voice_seconds", "integer"),
        ],
        ["guild_id", "user_id", "day"],
        "member_day_key",
        ["member_day_user"],
    ),
    (
        "hourlyguildstat",
        [("guild_id", "bigint"), ("hour", "integer"), ("active_members", "integer")],
        ["guild_id", "hour"],
        "guild_hour_key",
        [],
    ),
    (
        "channelmember",
        [
            ("guild_id", "bigint"),
            ("channel_id", "bigint"),
            ("user_id", "bigint"),
            ("last_day", "integer"),
        ],
        ["guild_id", "channel_id", "user_id"],
        "channel_member_key",
        ["channel_member_day"],
    ),
]


def rebuild_table(schema_editor, table: str, columns: list, key: list) -> None:
    """Recreate `table` keyed by `key` (its other indexes are dropped with it), keeping its rows."""
    without_rowid = " WITHOUT ROWID" if schema_editor.connection.vendor == "sqlite" else ""
    names = ", ".join(name for name, _ in columns)
    defs = ", ".join(f"{name} {kind} NOT NULL" for name, kind in columns)
    schema_editor.execute(
        f"CREATE TABLE {table}_keyed ({defs}, PRIMARY KEY ({', '.join(key)})){without_rowid}"
    )
    schema_editor.execute(f"INSERT INTO {table}_keyed ({names}) SELECT {names} FROM {table}")
    schema_editor.execute(f"DROP TABLE {table}")
    schema_editor.execute(f"ALTER TABLE {table}_keyed RENAME TO {table}")


def rebuild_keyed(apps, schema_editor):
    for model, columns, key, _, _ in TABLES:
        rebuild_table(schema_editor, f"stats_{model}", columns, key)


def state_operations() -> list:
    """What the models now say: no id, the key as a CompositePrimaryKey, no replaced index."""
    ops = []
    for model, _, key, constraint, indexes in TABLES:
        ops.append(migrations.RemoveConstraint(model_name=model, name=constraint))
        ops += [migrations.RemoveIndex(model_name=model, name=index) for index in indexes]
        ops.append(migrations.RemoveField(model_name=model, name="id"))
        field = models.CompositePrimaryKey(
            *key, blank=True, editable=False, primary_key=True, serialize=False
        )
        ops.append(migrations.AddField(model_name=model, name="pk", field=field))
    return ops


class Migration(migrations.Migration):
    dependencies = [
        ("stats", "0013_roles"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(rebuild_keyed, elidable=False)],
            state_operations=state_operations(),
        ),
    ]
