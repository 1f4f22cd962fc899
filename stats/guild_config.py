"""Reading and changing a guild's configuration: one place for the CLI, the admin and tests."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from stats.models import Channel, Guild


def as_dict(guild: Guild) -> dict:
    """The configuration as the `guild` command prints it; snowflakes as strings."""
    return {
        "id": str(guild.id),
        "name": guild.name,
        "tracking": guild.tracking,
        "count_bots": guild.count_bots,
        "track_voice": guild.track_voice,
        "excluded_channels": [str(cid) for cid in guild.excluded_channels.order_by("id").values_list("id", flat=True)],
        "timezone": guild.timezone,
        "default_days": guild.default_days,
        "visibility": guild.visibility,
        "viewers": list(guild.viewers.order_by("username").values_list("username", flat=True)),
        "retention_days": guild.retention_days,
    }


@transaction.atomic
def update(guild: Guild, fields: dict, exclude: list[int] = (), include: list[int] = ()) -> Guild:
    """Apply field changes and channel exclusions; raises ValidationError on bad values."""
    for name, value in fields.items():
        setattr(guild, name, value)
    if "default_days" in fields and not 1 <= guild.default_days <= 3650:
        raise ValidationError("default days must be between 1 and 3650")
    if "retention_days" in fields and not 1 <= guild.retention_days <= 3650:
        raise ValidationError("retention days must be between 1 and 3650")
    guild.full_clean(exclude=["excluded_channels", "viewers"])
    known = set(Channel.objects.filter(guild=guild, id__in=[*exclude, *include]).values_list("id", flat=True))
    unknown = [cid for cid in [*exclude, *include] if cid not in known]
    if unknown:
        raise ValidationError(f"unknown channel {unknown[0]} in guild {guild.id}")
    guild.save()  # bumps updated_at, which the collector watches
    if exclude:
        guild.excluded_channels.add(*exclude)
    if include:
        guild.excluded_channels.remove(*include)
    return guild
