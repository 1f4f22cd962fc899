"""`manage.py guild GID [flags]`: show a guild's configuration as JSON, changing what the flags
say."""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError

from mocha.management.base import MochaCommand
from signin.rules import parse_role_ids
from stats import guild_config
from stats.models import Guild


def on_off(value: str) -> bool:
    if value not in ("on", "off"):
        raise ValueError(value)
    return value == "on"


on_off.__name__ = "on|off"


def role_ids(value: str) -> list[int]:
    return parse_role_ids(value)


role_ids.__name__ = "role id list"


class Command(MochaCommand):
    help = "Show a guild's configuration as JSON, changing what the flags say."

    def add_arguments(self, parser) -> None:
        parser.add_argument("guild_id", type=int, help="guild snowflake")
        parser.add_argument("--visibility", choices=[v.value for v in Guild.Visibility])
        parser.add_argument("--timezone")
        parser.add_argument(
            "--exclude-channel",
            dest="exclude",
            type=int,
            action="append",
            default=[],
            metavar="CID",
        )
        parser.add_argument(
            "--include-channel",
            dest="include",
            type=int,
            action="append",
            default=[],
            metavar="CID",
        )
        parser.add_argument("--count-bots", type=on_off, metavar="on|off")
        parser.add_argument("--tracking", type=on_off, metavar="on|off")
        parser.add_argument("--track-voice", type=on_off, metavar="on|off")
        parser.add_argument("--default-days", type=int, metavar="DAYS")
        parser.add_argument("--retention-days", type=int, metavar="DAYS")
        parser.add_argument(
            "--manager-roles",
            type=role_ids,
            metavar="RID,RID",
            help="role ids whose holders see a `managers` guild ('' for none)",
        )

    def handle(self, *args, guild_id: int, **options) -> None:
        try:
            guild = Guild.objects.get(pk=guild_id)
        except Guild.DoesNotExist:
            raise self.fail(f"unknown guild {guild_id}") from None
        changes = {
            "visibility": options["visibility"],
            "timezone": options["timezone"],
            "count_bots": options["count_bots"],
            "tracking": options["tracking"],
            "track_voice": options["track_voice"],
            "default_days": options["default_days"],
            "retention_days": options["retention_days"],
            "manager_roles": options["manager_roles"],
        }
        try:
            guild_config.update(
                guild,
                {k: v for k, v in changes.items() if v is not None},
                exclude=options["exclude"],
                include=options["include"],
            )
        except ValidationError as exc:
            raise self.fail("; ".join(exc.messages)) from None
        self.stdout.write(json.dumps(guild_config.as_dict(guild), indent=2))
