"""Django admin for accounts: users, teams, invites, tokens (read-only secrets), audit log (read-only).

Writes with rules (creating, approving and deleting users, revoking tokens) go through the same
services as the web pages and the API, so the admin cannot skip them.
"""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm
from django.db import transaction

from databoard.accounts import services
from databoard.accounts.models import ApiToken, AuditEvent, Invite, Membership, Team, User
from databoard.errors import DataboardError
from databoard.web.request import client_ip


class _DryRun(Exception):
    """Rolls back the trial creation in :meth:`UserCreationAdminForm.clean`."""


class UserCreationAdminForm(AdminUserCreationForm):
    """The admin's "add user" form, checked by the sign-up rules of ``services.user_create``."""

    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("username", "email", "first_name", "last_name", "affiliation")

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        # Run the service in a savepoint that is always rolled back: its rules (name format, taken
        # username, email or team name) land on the form's fields instead of failing on save.
        try:
            with transaction.atomic():
                services.user_create(**self._service_fields(), approved=True)
                raise _DryRun
        except _DryRun:
            pass
        except DataboardError as exc:
            field = exc.details.get("field")
            self.add_error(field if field in self.fields else None, str(exc))
        return data

    def _service_fields(self) -> dict:
        data = self.cleaned_data
        return {"username": data.get("username") or "", "email": data.get("email") or "",
                "first_name": data.get("first_name") or "", "last_name": data.get("last_name") or "",
                "affiliation": data.get("affiliation") or ""}


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    add_form = UserCreationAdminForm
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "email", "first_name", "last_name", "affiliation",
                                                 "usable_password", "password1", "password2")}),
    )
    list_display = ("username", "email", "first_name", "last_name", "affiliation", "approval", "is_staff",
                    "date_joined", "deleted_at")
    list_filter = ("approval", "is_staff", "is_superuser", "is_active")
    search_fields = ("username", "email", "first_name", "last_name", "affiliation")
    fieldsets = DjangoUserAdmin.fieldsets + (
        ("databoard", {"fields": ("affiliation", "approval", "approval_reason", "approved_at",
                                  "email_verified_at", "deleted_at"),
                       "description": "Approve with the action of the user list or in the approval queue, "
                                      "so the user is emailed."}),
    )
    readonly_fields = ("approval", "approval_reason", "approved_at", "deleted_at", "last_login", "date_joined")
    actions = ["approve_users", "delete_accounts"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        # A new account gets its personal team and an audit row, like every other way in.
        created = services.user_create(**form._service_fields(), approved=True, actor=request.user,
                                       ip=client_ip(request))
        created.password = obj.password  # hashed (or unusable) by the form, which checked its strength
        created.save(update_fields=["password"])
        obj.pk = created.pk
        obj.refresh_from_db()

    def has_delete_permission(self, request, obj=None):
        # A hard delete would take results with it; the "delete accounts" action keeps them.
        return False

    @admin.action(description="Approve the selected users (they are emailed)")
    def approve_users(self, request, queryset):
        self._each(request, queryset, lambda user: services.user_approve(user=user, actor=request.user,
                                                                         ip=client_ip(request)), "approved")

    @admin.action(description="Delete the selected accounts (their results stay, as \"deleted user\")")
    def delete_accounts(self, request, queryset):
        self._each(request, queryset, lambda user: services.user_delete(user=user, actor=request.user,
                                                                        ip=client_ip(request)), "deleted")

    def _each(self, request, queryset, action, done: str) -> None:
        count = 0
        for user in queryset:
            try:
                action(user)
                count += 1
            except DataboardError as exc:
                self.message_user(request, f"{user.username}: {exc}", messages.WARNING)
        self.message_user(request, f"{count} user{'s' if count != 1 else ''} {done}.", messages.SUCCESS)


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
    list_select_related = ("team", "user", "invited_by")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "user", "name", "scope", "created_at", "last_used_at", "expires_at", "revoked_at")
    list_filter = ("scope",)
    list_select_related = ("user",)
    search_fields = ("prefix", "user__username", "name")
    readonly_fields = ("user", "prefix", "token_hash", "scope", "created_at", "last_used_at", "revoked_at")
    fields = ("user", "name", "prefix", "token_hash", "scope", "created_at", "last_used_at", "expires_at",
              "revoked_at")
    actions = ["revoke_tokens"]

    def has_add_permission(self, request):
        return False  # tokens are created by their owner, who is shown the token once

    @admin.action(description="Revoke the selected tokens")
    def revoke_tokens(self, request, queryset):
        count = 0
        for token in queryset.filter(revoked_at__isnull=True):
            services.token_revoke(token=token, actor=request.user, ip=client_ip(request))
            count += 1
        self.message_user(request, f"{count} token{'s' if count != 1 else ''} revoked.", messages.SUCCESS)


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
