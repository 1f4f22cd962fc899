"""Reading and changing a guild's configuration: one place for the CLI, the admin and tests."""

from __future__ import annotations

import zoneinfo
from functools import lru_cache

from django.core.exceptions import ValidationError
from django.db import transaction

from stats import rollups
from stats.cache import bump_versions
from stats.models import Channel, Guild

DAYS_MIN, DAYS_MAX = 1, 3650
# The fields an owner edits; everything else on Guild comes from Discord.
CONFIG_FIELDS = [
    "tracking",
    "count_bots",
    "track_voice",
    "timezone",
    "default_days",
    "visibility",
    "manager_roles",
    "retention_days",
]


def check_days(label: str, value: int) -> None:
    """Lookback and retention are whole days from 1 to 3650, like the API's `days`."""
    if not DAYS_MIN <= value <= DAYS_MAX:
        raise ValidationError(f"{label} must be between {DAYS_MIN} and {DAYS_MAX}")


@lru_cache(maxsize=1)
def timezone_names() -> list[str]:
    """Every IANA zone this machine knows, sorted (the admin's timezone select)."""
    return sorted(zoneinfo.available_timezones())


def as_dict(guild: Guild) -> dict:
    """The configuration as the `guild` command prints it; snowflakes as strings."""
    return {
        "id": str(guild.id),
        "name": guild.name,
        "tracking": guild.tracking,
        "count_bots": guild.count_bots,
        "track_voice": guild.track_voice,
        "excluded_channels": [
            str(cid) for cid in guild.excluded_channels.order_by("id").values_list("id", flat=True)
        ],
        "timezone": guild.timezone,
        "default_days": guild.default_days,
        "visibility": guild.visibility,
        "manager_roles": [str(rid) for rid in guild.manager_roles],
        "viewers": list(guild.viewers.order_by("username").values_list("username", flat=True)),
        "retention_days": guild.retention_days,
    }


@transaction.atomic
def update(guild: Guild, fields: dict, exclude: list[int] = (), include: list[int] = ()) -> Guild:
    """Apply field changes and channel exclusions; raises ValidationError on bad values."""
    before = rollups.config_key(guild)
    for name, value in fields.items():
        setattr(guild, name, value)
    if "default_days" in fields:
        check_days("default days", guild.default_days)
    if "retention_days" in fields:
        check_days("retention days", guild.retention_days)
    guild.full_clean(exclude=["excluded_channels", "viewers"])
    known = set(
        Channel.objects.filter(guild=guild, id__in=[*exclude, *include]).values_list(
            "id", flat=True
        )
    )
    unknown = [cid for cid in [*exclude, *include] if cid not in known]
    if unknown:
        raise ValidationError(f"unknown channel {unknown[0]} in guild {guild.id}")
    guild.save()  # bumps updated_at, which the collector watches
    if exclude:
        guild.excluded_channels.add(*exclude)
    if include:
        guild.excluded_channels.remove(*include)
    rebuild_if_needed(guild, before)
    return guild


def rebuild_if_needed(guild: Guild, before: tuple) -> None:
    """Per-day rollups follow the timezone and exclusions: recompute them when either changed."""
    if rollups.config_key(guild) != before:
        rollups.rebuild_config_dependent(guild.id)
        transaction.on_commit(lambda: bump_versions([guild.id]))


@transaction.atomic
def save_form(form) -> Guild:
    """Save a configuration ModelForm (the settings page): configuration fields only, as the admin
    does, so a concurrent collector flush keeps the name and member count it writes; then
    rollups."""
    before = rollups.config_key(Guild.objects.get(pk=form.instance.pk))
    guild = form.save(commit=False)
    guild.save(update_fields=[*CONFIG_FIELDS, "updated_at"])
    form.save_m2m()
    rebuild_if_needed(guild, before)
    return guild
