"""Guild configuration forms: the admin's and the managers' settings page share their fields'
rules."""

from __future__ import annotations

from django import forms
from django.db.models import Q

from signin.rules import parse_role_ids
from stats import guild_config
from stats.models import Channel, Guild


class GuildConfigForm(forms.ModelForm):
    timezone = forms.TypedChoiceField(
        choices=lambda: [(name, name) for name in guild_config.timezone_names()],
        help_text="Day boundaries and the heatmap follow this zone.",
    )

    def clean_default_days(self) -> int:
        value = self.cleaned_data["default_days"]
        guild_config.check_days("Default lookback", value)
        return value

    def clean_retention_days(self) -> int:
        value = self.cleaned_data["retention_days"]
        guild_config.check_days("Retention", value)
        return value


def channel_choices(guild: Guild):
    """The guild's channels; deleted ones only while still excluded, so they can be let go of."""
    return (
        Channel.objects.filter(guild=guild)
        .filter(Q(deleted=False) | Q(pk__in=guild.excluded_channels.values("pk")))
        .order_by("type", "position", "name")
    )


class RoleIdsField(forms.CharField):
    """Role ids typed as '123, 456'."""

    def prepare_value(self, value):
        return ", ".join(str(v) for v in value) if isinstance(value, list) else value

    def to_python(self, value) -> list[int]:
        try:
            return parse_role_ids(super().to_python(value) or "")
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


class GuildSettingsForm(GuildConfigForm):
    """/guilds/<gid>/settings/: what a guild's Discord managers may change (not who is granted a
    private guild)."""

    manager_roles = RoleIdsField(
        required=False,
        label="Manager roles",
        help_text="Role ids (comma-separated) whose holders see a dashboard set to Managers.",
    )

    class Meta:
        model = Guild
        fields = [
            "tracking",
            "count_bots",
            "track_voice",
            "excluded_channels",
            "timezone",
            "default_days",
            "visibility",
            "manager_roles",
            "retention_days",
        ]
        widgets = {"excluded_channels": forms.CheckboxSelectMultiple}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["excluded_channels"]
        field.queryset = channel_choices(self.instance)
        field.label_from_instance = lambda c: f"#{c.name}" + (" (deleted)" if c.deleted else "")
