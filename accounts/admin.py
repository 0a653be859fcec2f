from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.http import HttpResponseRedirect
from django.urls import reverse

from accounts import services
from accounts.models import (
    ApiToken,
    Invitation,
    InvitationStatus,
    Membership,
    Organization,
    Team,
    TeamMembership,
    User,
)
from kanban.exceptions import DomainError
from kanban.publisher import close_sockets


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    # Removing someone goes through remove_member (their team places go, their websockets
    # close): from the Memberships list, not by a checkbox here.
    can_delete = False


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
    """Deleting a membership is remove_member: the owner rules hold, the user's team
    memberships in the organisation go too and their open websockets there close."""

    list_display = ["user", "organization", "role", "wip_limit", "created_at"]
    list_filter = ["role", "organization"]
    search_fields = ["user__username", "organization__name"]
    autocomplete_fields = ["user", "organization"]

    def delete_model(self, request, obj):
        try:
            services.remove_member(obj, actor=request.user)
        except DomainError as exc:
            request.membership_not_removed = exc.detail  # said by response_delete

    def response_delete(self, request, obj_display, obj_id):
        refusal = getattr(request, "membership_not_removed", None)
        if refusal is None:
            return super().response_delete(request, obj_display, obj_id)
        self.message_user(request, f"{obj_display} was not removed: {refusal}", messages.ERROR)
        return HttpResponseRedirect(
            reverse(
                "admin:accounts_membership_change", args=[obj_id], current_app=self.admin_site.name
            )
        )

    def delete_queryset(self, request, queryset):
        for membership in queryset.select_related("user", "organization"):
            try:
                services.remove_member(membership, actor=request.user)
            except DomainError as exc:
                self.message_user(request, f"{membership}: {exc.detail}", messages.ERROR)


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


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Invitations are made through the API (the key is shown once); here they are listed
    and can be revoked."""

    list_display = [
        "prefix",
        "organization",
        "role",
        "email",
        "status",
        "created_by",
        "created_at",
        "expires_at",
        "accepted_by",
    ]
    list_filter = ["role", "organization", "created_at"]
    search_fields = ["email", "prefix", "organization__name", "created_by__username"]
    list_select_related = ["organization", "created_by", "accepted_by"]
    readonly_fields = [
        "organization",
        "role",
        "email",
        "prefix",
        "created_by",
        "created_at",
        "expires_at",
        "accepted_at",
        "accepted_by",
        "revoked_at",
    ]
    exclude = ["key_hash"]
    actions = ["revoke"]

    @admin.display(description="Status")
    def status(self, obj: Invitation) -> str:
        return InvitationStatus(obj.status).label

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke the selected invitations", permissions=["change"])
    def revoke(self, request, queryset):
        revoked = 0
        for invitation in queryset.select_related("organization"):
            try:
                services.revoke_invitation(invitation, actor=request.user)
                revoked += 1
            except DomainError as exc:
                self.message_user(request, f"{invitation}: {exc.detail}", messages.ERROR)
        if revoked:
            self.message_user(request, f"Revoked {revoked} invitation(s).", messages.SUCCESS)
