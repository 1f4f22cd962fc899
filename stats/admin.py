"""The Django admin: where a server owner configures Mocha (docs/configuration.md, "Per guild").

Guilds are edited (configuration only; names and counts come from Discord);
channels, members and collector health are read-only; stats rows are not
registered at all, so nothing here can invent a count. Maintenance actions
(purge, rebuild, clear caches) ask for confirmation like Django's delete, then
call stats.maintenance and write the admin log.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import (
    DateTimeField,
    Exists,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils import formats, timezone

from mocha.discord_types import CHANNEL_KINDS, MAX_SNOWFLAKE
from stats import guild_config, maintenance, rollups
from stats.forms import GuildConfigForm, GuildSettingsForm, RoleIdsField, channel_choices
from stats.models import (
    Channel,
    CollectorState,
    Guild,
    HourlyChannelStat,
    Member,
    QuarantinedRow,
    RecentEvent,
    VoiceSession,
    hour_of,
)


def snowflake(term: str) -> int | None:
    """The search term as an id, if it is one (an out-of-range number must not reach the
    database)."""
    term = term.strip()
    if term.isascii() and term.isdigit() and int(term) <= MAX_SNOWFLAKE:
        return int(term)
    return None


def channel_label(channel: Channel) -> str:
    kind = CHANNEL_KINDS.get(channel.type, f"type {channel.type}")
    return f"#{channel.name} ({kind}{', deleted' if channel.deleted else ''})"


# --- Confirmation pages -------------------------------------------------------------------


def confirm_or_run(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    *,
    action: str,
    title: str,
    intro: str,
    items: list[tuple[str, dict[str, int]]],
    run: Callable[[], None],
    note: str = "",
) -> TemplateResponse | None:
    """Show a confirmation page on the first POST; run the action when it comes back confirmed."""
    if request.POST.get("post") == "yes":
        run()
        return None  # back to the change list
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "subtitle": None,
        "intro": intro,
        "note": note,
        "items": items,
        "queryset": queryset,
        "action": action,
        "opts": modeladmin.model._meta,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "media": modeladmin.media,
    }
    return TemplateResponse(request, "admin/stats/confirm_action.html", context)


class MaintenanceMixin:
    """The permission of maintenance actions: whoever may change guild configuration."""

    def has_maintain_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("stats.change_guild")


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewable, never added, changed or deleted by hand: the collector owns these rows."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# --- Guilds ---------------------------------------------------------------------------------


class GuildAdminForm(GuildConfigForm):
    manager_roles = RoleIdsField(
        required=False,
        help_text="Role ids (comma-separated) whose holders see a guild set to Managers.",
    )

    class Meta:
        model = Guild
        fields = [*GuildSettingsForm.Meta.fields, "viewers"]  # staff also grant viewers


@admin.register(Guild)
class GuildAdmin(MaintenanceMixin, admin.ModelAdmin):
    form = GuildAdminForm
    list_display = [
        "name",
        "id_text",
        "member_count",
        "messages_7d",
        "last_event",
        "visibility",
        "tracking",
    ]
    list_filter = ["visibility", "tracking", "count_bots"]
    search_fields = ["name"]
    search_help_text = "Name, or a guild id."
    filter_horizontal = ["excluded_channels", "viewers"]
    readonly_fields = [
        "id_text",
        "name",
        "member_count",
        "messages_7d",
        "last_event",
        "available",
        "removed",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "name",
                    "id_text",
                    "member_count",
                    "messages_7d",
                    "last_event",
                    "available",
                    "removed",
                ]
            },
        ),
        (
            "Counting",
            {
                "fields": ["tracking", "count_bots", "track_voice", "excluded_channels"],
                "description": (
                    "The collector picks up changes within a few seconds, without a restart."
                ),
            },
        ),
        (
            "Dashboard",
            {"fields": ["visibility", "manager_roles", "viewers", "timezone", "default_days"]},
        ),
        (
            "Privacy",
            {
                "fields": ["retention_days"],
                "description": (
                    "Raw recent events (the live feed) and ended voice sessions older than "
                    "this are deleted by manage.py prune. Hourly totals are kept."
                ),
            },
        ),
    ]
    actions = ["purge_stats", "rebuild_voice", "clear_caches"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        """One query for the whole list: last-7-days messages and the last event as subqueries."""
        since = hour_of(timezone.now()) - 7 * 24 + 1
        excluded = Guild.excluded_channels.through.objects.filter(
            guild_id=OuterRef(OuterRef("pk"))
        ).values("channel_id")
        messages = (
            # The channel-hour rollup: a week of rows per channel, where the per-member table is
            # keyed member first and would be read whole.
            HourlyChannelStat.objects.filter(guild_id=OuterRef("pk"), hour__gte=since)
            .exclude(
                channel_id__in=excluded
            )  # hidden from the dashboard, so not counted here either
            .order_by()
            .values("guild_id")
            .annotate(total=Sum("messages"))
            .values("total")
        )
        last = RecentEvent.objects.filter(guild_id=OuterRef("pk")).order_by("-id").values("at")[:1]
        return (
            super()
            .get_queryset(request)
            .annotate(
                messages_7d=Coalesce(Subquery(messages, output_field=IntegerField()), Value(0))
            )
            .annotate(last_event_at=Subquery(last, output_field=DateTimeField()))
        )

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        """A numeric term also finds the guild with that snowflake."""
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        gid = snowflake(search_term)
        if gid is not None:
            results = results | queryset.filter(pk=gid)
        return results, may_have_duplicates

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        request._mocha_guild = obj  # formfield_for_manytomany limits channels to this guild's
        return super().get_form(request, obj, change, **kwargs)

    def formfield_for_manytomany(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "excluded_channels":
            guild = getattr(request, "_mocha_guild", None)
            queryset = Channel.objects.none()
            if guild is not None:
                queryset = channel_choices(guild)
            kwargs["queryset"] = queryset
            field = super().formfield_for_manytomany(db_field, request, **kwargs)
            field.label_from_instance = channel_label
            return field
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # guilds come from Discord

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # the collector would re-create it; "purge stats" removes the data

    def save_model(self, request: HttpRequest, obj: Guild, form, change: bool) -> None:
        # Only configuration: a concurrent collector flush owns name and member_count.
        request._rollup_key_before = rollups.config_key(Guild.objects.get(pk=obj.pk))
        obj.save(update_fields=[*guild_config.CONFIG_FIELDS, "updated_at"])

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        guild_config.rebuild_if_needed(form.instance, request._rollup_key_before)

    @admin.display(description="ID", ordering="id")
    def id_text(self, obj: Guild) -> str:
        return str(obj.id)

    @admin.display(description="Messages (7 days)", ordering="messages_7d")
    def messages_7d(self, obj: Guild) -> int:
        return getattr(obj, "messages_7d", 0)

    @admin.display(description="Last event", ordering="last_event_at")
    def last_event(self, obj: Guild) -> str:
        at = getattr(obj, "last_event_at", None)
        return (
            formats.localize(timezone.localtime(at)) if at else "—"
        )  # the change form shows str() otherwise

    # --- actions -------------------------------------------------------------------------

    @admin.action(description="Purge stats of selected guilds…", permissions=["maintain"])
    def purge_stats(self, request: HttpRequest, queryset: QuerySet):
        guilds = list(queryset)

        def run() -> None:
            for g in guilds:
                counts = maintenance.purge_guild_stats(g.id)
                self.log_change(request, g, f"Purged stats: {maintenance.describe(counts)}.")
            self.message_user(
                request, f"Purged the stats of {len(guilds)} guild(s).", messages.SUCCESS
            )

        return confirm_or_run(
            self,
            request,
            queryset,
            action="purge_stats",
            title="Purge stats?",
            run=run,
            intro=(
                "Every hourly total, voice session, join/leave event, live-feed event and message "
                "cursor of these guilds will be deleted. Configuration, channels and members stay. "
                "This cannot be undone."
            ),
            items=[(str(g), maintenance.guild_row_counts(g.id)) for g in guilds],
        )

    @admin.action(
        description="Rebuild voice minutes from voice sessions…", permissions=["maintain"]
    )
    def rebuild_voice(self, request: HttpRequest, queryset: QuerySet):
        guilds = list(queryset)

        def run() -> None:
            for g in guilds:
                counts = maintenance.rebuild_voice(g)
                self.log_change(
                    request, g, f"Rebuilt voice rollups: {maintenance.describe(counts)}."
                )
            self.message_user(
                request, f"Rebuilt voice minutes of {len(guilds)} guild(s).", messages.SUCCESS
            )

        items = []
        for g in guilds:
            first, last = maintenance.rebuild_window(g)
            items.append(
                (
                    str(g),
                    {
                        "hours in the rebuild window": last - first + 1,
                        "stored voice sessions": VoiceSession.objects.filter(guild_id=g.id).count(),
                    },
                )
            )
        return confirm_or_run(
            self,
            request,
            queryset,
            action="rebuild_voice",
            title="Rebuild rollups?",
            run=run,
            intro=(
                "Voice seconds of the hourly rollups will be recomputed from the stored voice "
                "sessions, for the hours within each guild's retention window (older sessions may "
                "have been pruned)."
            ),
            note=(
                "Message counts cannot be rebuilt: Mocha stores no per-message rows (the live feed "
                "is capped and pruned), so they are left as they are. Joins and leaves need no "
                "rebuild."
            ),
            items=items,
        )

    @admin.action(description="Clear caches (all guilds)…", permissions=["maintain"])
    def clear_caches(self, request: HttpRequest, queryset: QuerySet):
        guilds = list(queryset)

        def run() -> None:
            counts = maintenance.clear_caches()
            for g in guilds:
                self.log_change(
                    request, g, f"Cleared caches ({counts['guilds']} guilds' results made stale)."
                )
            self.message_user(
                request, "Cleared the query cache and every cached stats result.", messages.SUCCESS
            )

        return confirm_or_run(
            self,
            request,
            queryset,
            action="clear_caches",
            title="Clear caches?",
            run=run,
            intro=(
                "The ORM query cache (cachalot) is invalidated and every cached stats result of "
                "every guild becomes stale. Pages are slower until the caches warm up again; no "
                "data is lost."
            ),
            items=[(str(g), {}) for g in guilds],
        )


# --- Read-only views ---------------------------------------------------------------------------


@admin.register(Channel)
class ChannelAdmin(ReadOnlyAdmin):
    list_display = ["name", "id_text", "guild", "kind", "parent_id", "counted", "deleted"]
    list_filter = ["deleted", "type"]
    list_select_related = ["guild"]
    search_fields = ["name"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        excluded = Guild.excluded_channels.through.objects.filter(channel_id=OuterRef("pk"))
        return super().get_queryset(request).annotate(is_excluded=Exists(excluded))

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        results, dup = super().get_search_results(request, queryset, search_term)
        cid = snowflake(search_term)
        return (results | queryset.filter(pk=cid) if cid is not None else results), dup

    @admin.display(description="ID", ordering="id")
    def id_text(self, obj: Channel) -> str:
        return str(obj.id)

    @admin.display(description="Type", ordering="type")
    def kind(self, obj: Channel) -> str:
        return CHANNEL_KINDS.get(obj.type, str(obj.type))

    @admin.display(description="Counted", boolean=True, ordering="is_excluded")
    def counted(self, obj: Channel) -> bool:
        return not obj.is_excluded


@admin.register(Member)
class MemberAdmin(MaintenanceMixin, ReadOnlyAdmin):
    list_display = ["display_name", "user_id_text", "guild", "bot", "present", "joined_at"]
    list_filter = ["bot", "present"]
    list_select_related = ["guild"]
    search_fields = ["username", "global_name", "nick"]
    search_help_text = "Name, or a user id."
    actions = ["purge_member_data"]

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        results, dup = super().get_search_results(request, queryset, search_term)
        uid = snowflake(search_term)
        return (results | queryset.filter(user_id=uid) if uid is not None else results), dup

    @admin.display(description="User ID", ordering="user_id")
    def user_id_text(self, obj: Member) -> str:
        return str(obj.user_id)

    @admin.action(
        description="Purge all data of selected members (privacy request)…",
        permissions=["maintain"],
    )
    def purge_member_data(self, request: HttpRequest, queryset: QuerySet):
        members = list(queryset.select_related("guild"))

        def run() -> None:
            for m in members:
                counts = maintenance.purge_member(m.guild_id, m.user_id)
                # The log names the user by id only: their name is what was just erased.
                self.log_change(
                    request,
                    m.guild,
                    f"Purged member data of user {m.user_id}: {maintenance.describe(counts)}.",
                )
            self.message_user(
                request, f"Purged the data of {len(members)} member(s).", messages.SUCCESS
            )

        return confirm_or_run(
            self,
            request,
            queryset,
            action="purge_member_data",
            title="Purge member data?",
            run=run,
            intro=(
                "Every hourly total, voice session, join/leave event and live-feed event of these "
                "members in these guilds will be deleted, and their names with them. Guild totals "
                "drop accordingly. This cannot be undone. The collector counts their future "
                "activity again."
            ),
            items=[
                (
                    f"{m.display_name} ({m.user_id}) in {m.guild}",
                    maintenance.member_row_counts(m.guild_id, m.user_id),
                )
                for m in members
            ],
        )


@admin.register(CollectorState)
class CollectorStateAdmin(ReadOnlyAdmin):
    list_display = [
        "shard_id",
        "connected",
        "pid",
        "events_processed",
        "events_per_sec",
        "queue_depth",
        "last_flush_ms",
        "last_event_at",
        "errors",
        "gaps",
        "updated_at",
    ]
    exclude = ["rates"]


@admin.register(QuarantinedRow)
class QuarantinedRowAdmin(ReadOnlyAdmin):
    """Rows a flush could not write because the database refused their data (see docs)."""

    list_display = ["created_at", "kind", "error", "row"]
    list_filter = ["kind"]
