"""Django admin for the challenges: browse everything; writes with rules go through the services.

Problems and their files come from a checked kit, and scores from the engine, so those are read-only
here. Events are edited through ``services.event_create`` / ``event_update`` (the same checks as the web
pages and the API), sign-ups are decided and submissions re-run with admin actions calling the services.
"""

from django import forms
from django.contrib import admin, messages
from django.db import transaction

from databoard.challenges import services
from databoard.challenges.models import (
    Draft,
    Event,
    FoldResult,
    KitFile,
    Problem,
    Signup,
    StateChange,
    Submission,
    SubmissionFile,
    SubmissionScore,
)
from databoard.errors import DataboardError
from databoard.web.request import client_ip


class _ReadOnly:
    """No adding, changing or deleting through the admin: the rows are written by the services."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class KitFileInline(_ReadOnly, admin.TabularInline):
    model = KitFile
    fields = ("kind", "path", "size_bytes")
    readonly_fields = fields
    extra = 0
    show_change_link = True


@admin.register(Problem)
class ProblemAdmin(admin.ModelAdmin):
    list_display = ("name", "title", "workflow", "prediction_type", "n_folds", "n_train", "n_test", "created_at")
    list_filter = ("workflow", "prediction_type")
    search_fields = ("name", "title", "source")
    date_hierarchy = "created_at"
    readonly_fields = ("name", "prediction_type", "workflow", "elements", "score_types", "label_names", "n_folds",
                       "n_train", "n_test", "readme", "kit_sha256", "source", "created_at", "created_by")
    fields = ("title",) + readonly_fields
    inlines = [KitFileInline]

    def has_add_permission(self, request):
        return False  # problems are imported (and checked) from a kit: /problems/import/

    def delete_model(self, request, obj):
        services.problem_delete(problem=obj, actor=request.user, ip=client_ip(request))

    def has_delete_permission(self, request, obj=None):
        return bool(request.user.is_superuser) and (obj is None or not obj.events.exists())


@admin.register(KitFile)
class KitFileAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("problem", "kind", "path", "size_bytes")
    list_filter = ("kind", "problem")
    search_fields = ("path", "problem__name")
    list_select_related = ("problem",)

    def has_view_permission(self, request, obj=None):
        return request.user.is_staff


class EventAdminForm(forms.ModelForm):
    """The event's options, checked by the service in a savepoint that is always rolled back, so its
    refusals land on the form instead of failing on save."""

    class Meta:
        model = Event
        fields = ("problem", "slug", *services.EVENT_OPTIONS, "admins")

    request = None  # set by EventAdmin.get_form

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        options = {name: data.get(name) for name in services.EVENT_OPTIONS if name in data}
        try:
            with transaction.atomic():
                if self.instance.pk is None:
                    services.event_create(problem=data["problem"], slug=data["slug"], actor=self.request.user,
                                          **options)
                else:
                    services.event_update(event=Event.objects.get(pk=self.instance.pk), actor=self.request.user,
                                          **options)
                raise _DryRun
        except _DryRun:
            pass
        except DataboardError as exc:
            field = exc.details.get("field")
            self.add_error(field if field in self.fields else None, str(exc))
        return data


class _DryRun(Exception):
    """Rolls back the trial write in :meth:`EventAdminForm.clean`."""


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    form = EventAdminForm
    list_display = ("slug", "title", "problem", "is_public", "approval_required", "opens_at", "closes_at", "queue",
                    "created_at")
    list_filter = ("is_public", "approval_required", "queue", "problem")
    search_fields = ("slug", "title", "problem__name")
    date_hierarchy = "created_at"
    list_select_related = ("problem",)
    readonly_fields = ("created_at", "created_by")
    filter_horizontal = ("admins",)

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.request = request
        return form

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields + (("problem", "slug") if obj is not None else ())

    def save_model(self, request, obj, form, change):
        options = {name: form.cleaned_data[name] for name in services.EVENT_OPTIONS if name in form.cleaned_data}
        if change:
            services.event_update(event=obj, actor=request.user, ip=client_ip(request), **options)
        else:
            saved = services.event_create(problem=form.cleaned_data["problem"], slug=form.cleaned_data["slug"],
                                          actor=request.user, ip=client_ip(request), **options)
            obj.pk = saved.pk
            obj.created_at, obj.created_by = saved.created_at, saved.created_by
            obj._state.adding = False

    def has_delete_permission(self, request, obj=None):
        return bool(request.user.is_superuser)


@admin.register(Signup)
class SignupAdmin(admin.ModelAdmin):
    list_display = ("user", "event", "team", "state", "created_at", "decided_at", "decided_by")
    list_filter = ("state", "event")
    search_fields = ("user__username", "team__slug", "event__slug")
    list_select_related = ("user", "event", "team", "decided_by")
    readonly_fields = ("event", "user", "team", "state", "reason", "created_at", "decided_at", "decided_by")
    actions = ["approve"]

    def has_add_permission(self, request):
        return False  # event admins add participants on the event's dashboard

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Approve the selected sign-ups")
    def approve(self, request, queryset):
        for signup in queryset.select_related("user", "event"):
            services.signup_decide(signup=signup, approve=True, actor=request.user, ip=client_ip(request))
        self.message_user(request, f"{queryset.count()} sign-up(s) approved.", messages.SUCCESS)


class SubmissionFileInline(_ReadOnly, admin.TabularInline):
    model = SubmissionFile
    fields = ("name", "size_bytes")
    readonly_fields = fields
    extra = 0


class SubmissionScoreInline(_ReadOnly, admin.TabularInline):
    model = SubmissionScore
    fields = ("position", "name", "valid", "test")
    readonly_fields = fields
    extra = 0


class FoldResultInline(_ReadOnly, admin.TabularInline):
    model = FoldResult
    fields = ("fold", "train_scores", "valid_scores", "test_scores", "train_seconds", "valid_seconds", "test_seconds")
    readonly_fields = fields
    extra = 0


class StateChangeInline(_ReadOnly, admin.TabularInline):
    model = StateChange
    fields = ("state", "at", "note")
    readonly_fields = fields
    extra = 0


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "event", "team", "owner", "state", "official_valid", "official_test", "created_at")
    list_filter = ("state", "error_step", "event")
    search_fields = ("name", "team__slug", "owner__username", "event__slug", "code_sha256")
    date_hierarchy = "created_at"
    list_select_related = ("event", "team", "owner")
    readonly_fields = [f.name for f in Submission._meta.fields]
    inlines = [StateChangeInline, SubmissionScoreInline, FoldResultInline, SubmissionFileInline]
    actions = ["rerun"]

    def has_add_permission(self, request):
        return False  # submissions come from the sandbox, the API or the CLI

    def has_change_permission(self, request, obj=None):
        return False  # the engine writes states and scores; a save here could undo a worker's

    def has_delete_permission(self, request, obj=None):
        return bool(request.user.is_superuser)

    @admin.action(description="Re-run the selected submissions")
    def rerun(self, request, queryset):
        done = 0
        for submission in queryset.select_related("event"):
            try:
                services.submission_requeue(submission=submission, actor=request.user, ip=client_ip(request))
                done += 1
            except DataboardError as exc:
                self.message_user(request, str(exc), messages.WARNING)
        self.message_user(request, f"{done} submission(s) queued again.", messages.SUCCESS)


@admin.register(Draft)
class DraftAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("user", "event", "element", "updated_at")
    list_filter = ("event",)
    search_fields = ("user__username", "event__slug", "element")
    list_select_related = ("user", "event")

    def has_view_permission(self, request, obj=None):
        return request.user.is_staff
