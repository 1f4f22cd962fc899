from django.contrib import admin

from stats.models import Channel, Guild, Member


@admin.register(Guild)
class GuildAdmin(admin.ModelAdmin):
    list_display = ["name", "id", "member_count", "visibility", "tracking"]
    search_fields = ["name", "id"]
    filter_horizontal = ["excluded_channels", "viewers"]


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ["name", "id", "guild", "type"]


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    list_display = ["display_name", "user_id", "guild", "bot"]
