from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts import services
from accounts.models import ApiToken, Membership, Organization, Team, TeamMembership, User
from boards.events import close_sockets


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class TeamMembershipInline(admin.TabularInline):
    model = TeamMembership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "email", "first_name", "last_name", "is_staff", "is_active"]

    def save_model(self, request, obj, form, change):
        if change and "is_active" in form.changed_data:
            # Deactivation goes through the service, which also closes the user's websockets.
            active, obj.is_active = obj.is_active, not obj.is_active
            super().save_model(request, obj, form, change)
            services.set_user_active(obj, active=active, actor=request.user)
        else:
            super().save_model(request, obj, form, change)

    def delete_model(self, request, obj):
        close_sockets(user_id=obj.pk)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for user_id in queryset.values_list("pk", flat=True):
            close_sockets(user_id=user_id)
        super().delete_queryset(request, queryset)


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organization", "role", "wip_limit", "created_at"]
    list_filter = ["role", "organization"]
    search_fields = ["user__username", "organization__name"]
    autocomplete_fields = ["user", "organization"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "slug", "created_at"]
    list_filter = ["organization"]
    search_fields = ["name", "slug"]
    inlines = [TeamMembershipInline]


@admin.register(TeamMembership)
class TeamMembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "team"]
    list_filter = ["team__organization", "team"]
    search_fields = ["user__username", "team__name"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are made through the API (the key is shown once); here they can be revoked."""

    list_display = ["prefix", "user", "name", "created_at", "last_used_at"]
    list_filter = ["created_at"]
    search_fields = ["user__username", "name", "prefix"]
    readonly_fields = ["prefix", "key_hash", "created_at", "last_used_at", "user", "name"]

    def has_add_permission(self, request):
        return False

    def delete_model(self, request, obj):
        services.revoke_api_token(obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for token in queryset:
            services.revoke_api_token(token, actor=request.user)
