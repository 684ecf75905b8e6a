"""Django admin for accounts: users, teams, invites, tokens (read-only secrets), audit log (read-only)."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from databoard.accounts.models import ApiToken, AuditEvent, Invite, Membership, Team, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "email", "first_name", "last_name", "affiliation", "approval", "is_staff",
                    "date_joined", "deleted_at")
    list_filter = ("approval", "is_staff", "is_superuser", "is_active")
    search_fields = ("username", "email", "first_name", "last_name", "affiliation")
    fieldsets = DjangoUserAdmin.fieldsets + (
        ("databoard", {"fields": ("affiliation", "approval", "approval_reason", "approved_at",
                                  "email_verified_at", "deleted_at")}),
    )
    readonly_fields = ("approved_at", "deleted_at", "last_login", "date_joined")


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "is_personal", "created_at")
    list_filter = ("is_personal",)
    search_fields = ("slug", "name")
    inlines = [MembershipInline]


@admin.register(Invite)
class InviteAdmin(admin.ModelAdmin):
    list_display = ("team", "user", "email", "state", "invited_by", "created_at")
    list_filter = ("state",)
    search_fields = ("team__slug", "email", "user__username")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "user", "name", "scope", "created_at", "last_used_at", "expires_at", "revoked_at")
    list_filter = ("scope",)
    search_fields = ("prefix", "user__username", "name")
    readonly_fields = ("user", "prefix", "token_hash", "scope", "created_at", "last_used_at")
    fields = ("user", "name", "prefix", "token_hash", "scope", "created_at", "last_used_at", "expires_at",
              "revoked_at")

    def has_add_permission(self, request):
        return False  # tokens are created by their owner, who is shown the token once


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor_username", "action", "target_type", "target_repr", "ip")
    list_filter = ("action",)
    search_fields = ("actor_username", "action", "target_repr", "ip")
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
