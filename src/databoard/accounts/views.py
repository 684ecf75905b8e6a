"""Web pages of the accounts app: parse the form, call a service or selector, render.

A refused action shows the service's own message (the same words as the API) with its status.
"""

from __future__ import annotations

from datetime import timedelta
from functools import wraps

from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import OuterRef, Subquery
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from databoard.accounts import selectors, services
from databoard.accounts.forms import (
    AuditFilterForm,
    ConfirmPasswordForm,
    CsvImportForm,
    InviteForm,
    LoginForm,
    PasswordChangeForm,
    PasswordResetRequestForm,
    ProfileForm,
    RejectForm,
    ResetPasswordForm,
    SignupForm,
    TeamCreateForm,
    TokenCreateForm,
)
from databoard.accounts.models import Membership
from databoard.config import get_config
from databoard.errors import DataboardError, ValidationFailed
from databoard.web.forms import page_of, submit_form
from databoard.web.request import client_ip
from databoard.web.views import error_page



def staff_required(view):
    """Anonymous visitors are sent to log in; signed-in non-staff get 403."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_staff:
            raise DjangoPermissionDenied("Only administrators can see this page.")
        return view(request, *args, **kwargs)

    return wrapped


def _safe_next(request) -> str | None:
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return None


# --------------------------------------------------------------------------- sign-up and sign-in


@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("web:home")
    form = SignupForm(request.POST or None)
    outcome = submit_form(request, form, lambda data: services.user_signup(
        username=data["username"], email=data["email"], password=data["password1"],
        first_name=data["first_name"], last_name=data["last_name"], affiliation=data["affiliation"],
        ip=client_ip(request)), error_field={"password": "password1"})
    if outcome.done:
        user = outcome.result
        return render(request, "accounts/signup_done.html", {
            "new_user": user, "needs_approval": not user.is_approved,
            "needs_verification": get_config().require_email_verification}, status=201)
    return render(request, "accounts/signup.html", {"form": form}, status=outcome.status)


@require_http_methods(["GET", "POST"])
def login_view(request):
    form = LoginForm(request.POST or None)
    outcome = submit_form(request, form, lambda data: services.login_check(
        username=data["username"], password=data["password"], ip=client_ip(request)))
    if outcome.done:
        user = outcome.result
        login(request, user, backend="databoard.accounts.backends.ApprovedUserBackend")
        return redirect(_safe_next(request) or "web:home")
    return render(request, "accounts/login.html", {"form": form, "next": _safe_next(request) or ""},
                  status=outcome.status)


@require_POST
def logout_view(request):
    logout(request)
    messages.info(request, "You are logged out.")
    return redirect("web:home")


def verify_email(request, token: str):
    try:
        user = services.user_verify_email(token=token)
    except DataboardError as exc:
        return error_page(request, status=exc.status, message=str(exc))
    if user.is_approved:
        messages.success(request, f"Your email address {user.email} is verified; you can log in.")
    else:
        messages.success(request, f"Your email address {user.email} is verified. An administrator still has to "
                                  "approve your account; you will get an email when it is done.")
    return redirect("accounts:login")


# --------------------------------------------------------------------------- passwords


@login_required
@require_http_methods(["GET", "POST"])
def password_change(request):
    form = PasswordChangeForm(request.POST or None)
    outcome = submit_form(request, form, lambda data: services.user_change_password(
        user=request.user, old_password=data["old_password"], new_password=data["new_password1"],
        ip=client_ip(request)), error_field={"password": "new_password1"})
    if outcome.done:
        update_session_auth_hash(request, request.user)
        messages.success(request, "Your password was changed.")
        return redirect("accounts:profile")
    return render(request, "accounts/password_change.html", {"form": form}, status=outcome.status)


class _BadFormIs400:
    """Django's auth views answer an invalid form with 200; ours say 400, like every other form."""

    def form_invalid(self, form):
        return self.render_to_response(self.get_context_data(form=form), status=400)


class _PasswordResetView(_BadFormIs400, auth_views.PasswordResetView):
    pass


class _PasswordResetConfirmView(_BadFormIs400, auth_views.PasswordResetConfirmView):
    pass


# Django's own reset views; the forms route the writes through the services (which email the
# link from accounts/email/password_reset*.txt and audit the change).
password_reset = _PasswordResetView.as_view(
    form_class=PasswordResetRequestForm, template_name="accounts/password_reset.html",
    email_template_name="accounts/email/password_reset.txt",
    subject_template_name="accounts/email/password_reset_subject.txt",
    success_url=reverse_lazy("accounts:password_reset_done"))
password_reset_done = auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html")
password_reset_confirm = _PasswordResetConfirmView.as_view(
    form_class=ResetPasswordForm, template_name="accounts/password_reset_confirm.html",
    success_url=reverse_lazy("accounts:password_reset_complete"))
password_reset_complete = auth_views.PasswordResetCompleteView.as_view(
    template_name="accounts/password_reset_complete.html")


# --------------------------------------------------------------------------- profile


@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    user = request.user
    initial = {"first_name": user.first_name, "last_name": user.last_name, "affiliation": user.affiliation,
               "email": user.email}
    form = ProfileForm(request.POST or None, initial=initial)
    outcome = submit_form(request, form, lambda data: services.user_update_profile(user=user, **data))
    if outcome.done:
        messages.success(request, "Your profile was saved.")
        return redirect("accounts:profile")
    return render(request, "accounts/profile.html", {"form": form}, status=outcome.status)


@login_required
@require_http_methods(["GET", "POST"])
def delete_account(request):
    form = ConfirmPasswordForm(request.POST or None)

    def delete(data):
        if not request.user.check_password(data["password"]):
            raise ValidationFailed("The password is not correct; the account was not deleted.", field="password")
        return services.user_delete(user=request.user, actor=request.user, ip=client_ip(request))

    outcome = submit_form(request, form, delete)
    if outcome.done:
        logout(request)
        messages.info(request, "Your account was deleted. Your results stay, shown as \"deleted user\".")
        return redirect("web:home")
    return render(request, "accounts/delete.html", {"form": form}, status=outcome.status)


# --------------------------------------------------------------------------- teams


@login_required
@require_http_methods(["GET", "POST"])
def teams(request):
    form = TeamCreateForm(request.POST or None)
    outcome = submit_form(request, form, lambda data: services.team_create(name=data["name"], owner=request.user))
    if outcome.done:
        messages.success(request, f"Team '{outcome.result.name}' created. Invite people below.")
        return redirect("accounts:team_detail", slug=outcome.result.slug)
    my_role = Membership.objects.filter(team=OuterRef("pk"), user=request.user).values("role")[:1]
    context = {"form": form,
               "teams": page_of(request, selectors.team_list(viewer=request.user).annotate(my_role=Subquery(my_role))),
               "invites": page_of(request, selectors.invite_list_for(user=request.user), param="ipage")}
    return render(request, "accounts/teams.html", context, status=outcome.status)


def _team_action(request, team) -> str:
    """Run the POSTed team action; returns the success message. Raises DataboardError."""
    action = request.POST.get("action", "")
    actor = request.user
    if action == "cancel_invite":
        invite = selectors.invite_get(pk=_int(request.POST.get("invite_id")), viewer=actor)
        services.invite_cancel(invite=invite, actor=actor)
        return f"The invitation of {invite.user.username if invite.user_id else invite.email} is withdrawn."
    if action in ("make_owner", "make_member"):
        member = selectors.user_in_team(team=team, username=request.POST.get("username", ""))
        role = Membership.Role.OWNER if action == "make_owner" else Membership.Role.MEMBER
        services.membership_set_role(team=team, actor=actor, user=member, role=role)
        return f"{member.username} is now {role}."
    if action == "remove":
        member = selectors.user_in_team(team=team, username=request.POST.get("username", ""))
        services.team_remove_member(team=team, actor=actor, user=member)
        return f"{member.username} was removed."
    if action == "leave":
        services.team_leave(team=team, user=actor)
        return f"You left '{team.name}'."
    raise ValidationFailed(f"Unknown action '{action[:40]}'.")


def _team_invite(*, team, actor, who: str):
    """Invite by email when the text has an '@', else by username."""
    who = who.strip()
    by_email = "@" in who
    return services.team_invite(team=team, actor=actor, username=None if by_email else who,
                                email=who if by_email else None)


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValidationFailed("The form is missing a valid id.") from None


@login_required
@require_http_methods(["GET", "POST"])
def team_detail(request, slug: str):
    try:
        team = selectors.team_get(slug=slug, viewer=request.user)
    except DataboardError as exc:
        return error_page(request, status=exc.status, message=str(exc))
    action = request.POST.get("action", "") if request.method == "POST" else ""
    invite_form = InviteForm(request.POST if action == "invite" else None)
    status = 200
    if action == "invite":
        # The invite form shows a refusal next to its field, like every other form.
        outcome = submit_form(request, invite_form, lambda data: _team_invite(team=team, actor=request.user,
                                                                          who=data["who"]),
                          error_field={"username": "who", "email": "who"})
        if outcome.done:
            messages.success(request, f"Invited {invite_form.cleaned_data['who'].strip()}: the invitation waits on "
                                      "their Teams page, and they were emailed.")
            return redirect("accounts:team_detail", slug=team.slug)
        status = outcome.status
    elif request.method == "POST":
        try:
            message = _team_action(request, team)
        except DataboardError as exc:
            messages.error(request, str(exc))
            status = exc.status
        else:
            messages.success(request, message)
            if action == "leave":
                return redirect("accounts:teams")
            return redirect("accounts:team_detail", slug=team.slug)
    role = selectors.team_role(team=team, user=request.user)
    is_owner = role == Membership.Role.OWNER or request.user.is_staff
    context = {"team": team, "members": page_of(request, selectors.team_members(team=team)),
               "invites": page_of(request, selectors.team_invites(team=team), param="ipage"),
               "invite_form": invite_form, "is_owner": is_owner, "my_role": role,
               "can_manage": is_owner and not team.is_personal}
    return render(request, "accounts/team_detail.html", context, status=status)


@login_required
@require_POST
def invite_answer(request, invite_id: int, answer: str):
    try:
        invite = selectors.invite_get(pk=invite_id, viewer=request.user)
        if answer == "accept":
            services.invite_accept(invite=invite, user=request.user)
            messages.success(request, f"You joined '{invite.team.name}'.")
            return redirect("accounts:team_detail", slug=invite.team.slug)
        if answer == "decline":
            services.invite_decline(invite=invite, user=request.user)
            messages.info(request, f"You declined the invitation to '{invite.team.name}'.")
            return redirect("accounts:teams")
        raise ValidationFailed("Answer an invite with accept or decline.")
    except DataboardError as exc:
        return error_page(request, status=exc.status, message=str(exc))


# --------------------------------------------------------------------------- tokens

NEW_TOKEN_SESSION_KEY = "databoard_new_token"


@login_required
@require_http_methods(["GET", "POST"])
def tokens(request):
    form = TokenCreateForm(request.POST or None, user=request.user)

    def create(data):
        days = data.get("expires_in_days")
        return services.token_create(user=request.user, actor=request.user, name=data["name"], scope=data["scope"],
                                     expires_at=timezone.now() + timedelta(days=days) if days else None,
                                     ip=client_ip(request))

    outcome = submit_form(request, form, create)
    if outcome.done:
        token, raw = outcome.result
        # Post/redirect/get: the token is shown on the next page once, then never again.
        request.session[NEW_TOKEN_SESSION_KEY] = {"id": token.pk, "token": raw}
        return redirect("accounts:tokens")
    new_token = request.session.pop(NEW_TOKEN_SESSION_KEY, None)
    context = {"form": form, "tokens": page_of(request, selectors.token_list(viewer=request.user)),
               "new_token": new_token}
    return render(request, "accounts/tokens.html", context, status=outcome.status)


@login_required
@require_http_methods(["GET", "POST"])
def token_revoke(request, token_id: int):
    """GET: a page asking to confirm; POST: revoke. From htmx (the list's inline button, which
    confirms in the browser), answer with the updated table row instead of a redirect."""
    is_htmx = request.headers.get("HX-Request") == "true"
    try:
        token = selectors.token_get(pk=token_id, viewer=request.user)
        if request.method == "POST":
            token = services.token_revoke(token=token, actor=request.user, ip=client_ip(request))
            if is_htmx:
                return render(request, "accounts/_token_row.html", {"t": token})
            messages.success(request, f"Token {token.prefix}… is revoked; programs using it now get '401 revoked'.")
            return redirect("accounts:tokens")
    except DataboardError as exc:
        if is_htmx:
            # htmx does not swap error answers: reload the list, which shows the message.
            messages.error(request, str(exc))
            response = HttpResponse(str(exc), status=exc.status, content_type="text/plain; charset=utf-8")
            response["HX-Redirect"] = reverse("accounts:tokens")
            return response
        return error_page(request, status=exc.status, message=str(exc))
    return render(request, "accounts/token_revoke.html", {"token": token})


# --------------------------------------------------------------------------- administrators


@staff_required
@require_http_methods(["GET", "POST"])
def approvals(request):
    status = 200
    reject_errors = {}
    if request.method == "POST":
        username = request.POST.get("username", "")
        try:
            target = selectors.user_get(username=username, viewer=request.user)
            if request.POST.get("action") == "approve":
                services.user_approve(user=target, actor=request.user, ip=client_ip(request))
                messages.success(request, f"{target.username} is approved and was emailed; they can log in now.")
            elif request.POST.get("action") == "reject":
                form = RejectForm(request.POST)
                if not form.is_valid():
                    raise ValidationFailed("Give a reason: the user is told why their sign-up was rejected.",
                                           field="reason")
                services.user_reject(user=target, reason=form.cleaned_data["reason"], actor=request.user,
                                     ip=client_ip(request))
                messages.success(request, f"{target.username} was rejected; they were emailed the reason.")
            else:
                raise ValidationFailed("Choose approve or reject.")
            return redirect("accounts:approvals")
        except DataboardError as exc:
            if exc.details.get("field") == "reason":
                reject_errors[username] = str(exc)  # shown next to that row's reason field
            else:
                messages.error(request, str(exc))
            status = exc.status
    context = {"pending": page_of(request, selectors.approval_queue(viewer=request.user)),
               "errors": reject_errors, "require_approval": get_config().require_approval}
    return render(request, "accounts/approvals.html", context, status=status)


@staff_required
@require_http_methods(["GET", "POST"])
def users_import(request):
    form = CsvImportForm(request.POST or None, request.FILES or None)
    context = {"form": form}
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                result = services.users_import_csv(data=form.cleaned_data["file"], actor=request.user,
                                                   send_emails=form.cleaned_data["send_emails"],
                                                   ip=client_ip(request))
            except DataboardError as exc:
                # Bad rows are listed in a table, each with its line; other refusals go on the form.
                context["bad_rows"] = exc.details.get("errors", [])
                if not context["bad_rows"]:
                    form.add_error("file", str(exc))
                status = exc.status
            else:
                context.update(result=result, result_csv=result.as_csv())
                status = 201
        else:
            status = 400
    return render(request, "accounts/users_import.html", context, status=status)


@staff_required
def audit(request):
    form = AuditFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    events = selectors.audit_list(viewer=request.user, action=filters.get("action"), actor=filters.get("actor"),
                                  ip=filters.get("ip") or None, since=filters.get("since"),
                                  until=filters.get("until"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "events": page_of(request, events), "query": query.urlencode()}
    return render(request, "accounts/audit.html", context, status=200 if not form.errors else 400)

