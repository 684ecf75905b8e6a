"""Web pages of the challenges: parse the request, call a selector or a service, render.

A refused action shows the service's own message (the same words as the API) with its status; hidden
objects are 404; a visitor who must sign in first is sent to the login page.
"""

from __future__ import annotations

import tempfile
from functools import wraps
from pathlib import Path
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from databoard.accounts import selectors as account_selectors
from databoard.accounts.models import User
from databoard.accounts.views import staff_required
from databoard.challenges import selectors, services
from databoard.challenges.downloads import starting_kit_paths, starting_kit_zip
from databoard.challenges.errors import InvalidTransition
from databoard.challenges.forms import (
    EventForm,
    ParticipantForm,
    PriorityForm,
    ProblemImportForm,
    RejectForm,
    SandboxForm,
    SignupForm,
    archive_suffix,
)
from databoard.challenges.models import Event, Signup, Submission
from databoard.config import get_config
from databoard.errors import DataboardError, NotAuthenticated, NotFound, ValidationFailed
from databoard.web.forms import page_of, submit_form
from databoard.web.request import client_ip
from databoard.web.views import error_page

BOARD_PAGE_SIZE = 50
MAX_PAGE = 100_000  # × 50 rows stays within the leaderboard selector's largest offset
CHART_MAX_POINTS = 500  # new bests are always kept; the rest is thinned evenly
RUNNING_STATES = services.UNFINISHED_STATES
BOARD_TITLES = {"public": "Public", "competition": "Competition", "private": "Private",
                "private_competition": "Private competition", "mine": "My submissions", "failed": "Failed"}


# --------------------------------------------------------------------------- helpers


def domain_errors(view):
    """A DataboardError raised by a selector or service becomes our error page with its status and message;
    one that asks to sign in sends the visitor to the login page."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except NotAuthenticated:
            return redirect_to_login(request.get_full_path())
        except DataboardError as exc:
            return error_page(request, status=exc.status, message=str(exc))

    return wrapped


def _int_param(value, *, default: int = 1) -> int:
    try:
        return min(max(int(value), 1), MAX_PAGE)
    except (TypeError, ValueError):
        return default


def _bool_param(value) -> bool | None:
    """``1``/``true`` → True, ``0``/``false`` → False, anything else: None (the default order)."""
    return {"1": True, "true": True, "0": False, "false": False}.get((value or "").lower())


def event_status(event: Event, *, at) -> str:
    """``open``, ``upcoming`` or ``closed``: the badge of an event at ``at``."""
    if event.is_closed(at=at):
        return "closed"
    return "open" if event.is_open(at=at) else "upcoming"


def _name_param(value: str) -> str:
    """A name from the URL or a form, as a selector may take it: a NUL byte is in no stored name (and
    PostgreSQL refuses one even in a query), so such a name is simply not found."""
    if "\x00" in value:
        raise NotFound("No such name: it holds a NUL character.")
    return value


def _confirmed(request) -> bool:
    """A destructive action's form says ``confirm=yes`` once the user agreed: in the browser's dialog
    (databoard.js fills it in) or, without JavaScript, on the page :func:`_confirm_page` shows first."""
    return request.POST.get("confirm") == "yes"


def _confirm_page(request, *, title: str, question: str, button: str, back: str):
    return render(request, "challenges/confirm.html", {
        "title": title, "question": question, "button": button, "back": back, "action": request.path})


def _is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _as_text(content: str | bytes, filename: str) -> str:
    if isinstance(content, str):
        return content
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed(f"File '{filename}' is not UTF-8 text.", field="files") from None


# --------------------------------------------------------------------------- problems


@require_GET
@domain_errors
def problem_list(request):
    problems = page_of(request, selectors.problem_list(viewer=request.user))
    return render(request, "challenges/problem_list.html", {"problems": problems})


@require_GET
@domain_errors
def problem_detail(request, name: str):
    problem = selectors.problem_get(name=_name_param(name), viewer=request.user)
    context = {
        "problem": problem,
        "files": [services.element_filename(e) for e in problem.elements],
        "kit_files": starting_kit_paths(problem),
        "events": selectors.event_list(viewer=request.user).filter(problem=problem),
        "now": timezone.now(),
    }
    return render(request, "challenges/problem_detail.html", context)


@require_GET
@domain_errors
def problem_starting_kit(request, name: str):
    return starting_kit_zip(selectors.problem_get(name=_name_param(name), viewer=request.user), actor=request.user,
                            ip=client_ip(request))


def _save_upload(upload, folder: Path, stem: str) -> Path:
    """Write an uploaded archive to ``folder`` under a name of ours (the client's name is not a path)."""
    path = folder / f"{stem}{archive_suffix(upload.name)}"
    with open(path, "wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    return path


@staff_required
@require_http_methods(["GET", "POST"])
def problem_import(request):
    form = ProblemImportForm(request.POST or None, request.FILES or None)
    context = {"form": form}

    def run(data):
        with tempfile.TemporaryDirectory(prefix="kit-upload-") as tmp:
            source = _save_upload(data["kit"], Path(tmp), "kit") if data.get("kit") else data["git_url"]
            data_source = _save_upload(data["data"], Path(tmp), "data") if data.get("data") else None
            return services.problem_import(source=source, name=data["name"], title=data["title"] or None,
                                           data_source=data_source, actor=request.user, ip=client_ip(request))

    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                problem = run(form.cleaned_data)
            except DataboardError as exc:
                # A broken kit lists every problem found; any other refusal goes on the form.
                context["kit_errors"] = exc.details.get("errors") or []
                if not context["kit_errors"]:
                    field = exc.details.get("field")
                    form.add_error(field if field in form.fields else None, str(exc))
                status = exc.status
            else:
                messages.success(request, f"Problem '{problem.name}' is imported; open an event on it.")
                return redirect("challenges:problem_detail", name=problem.name)
    return render(request, "challenges/problem_import.html", context, status=status)


# --------------------------------------------------------------------------- events


@require_GET
@domain_errors
def event_list(request):
    now = timezone.now()
    events = page_of(request, selectors.event_list(viewer=request.user))
    rows = [(event, event_status(event, at=now)) for event in events]
    return render(request, "challenges/event_list.html", {"events": events, "rows": rows})


def _event_context(request, event: Event, *, signup_form=None) -> dict:
    now = timezone.now()
    user = request.user
    signup = selectors.signup_of(event=event, user=user)
    quota = refusal = None
    if signup is not None and signup.state == Signup.State.APPROVED:
        quota = services.submission_quota(event=event, team=signup.team, at=now)
        refusal = quota.refusal(at=now)
    if signup_form is None and user.is_authenticated and signup is None:
        signup_form = SignupForm(teams=account_selectors.team_list(viewer=user))
    return {
        "event": event, "problem": event.problem, "status": event_status(event, at=now), "now": now,
        "signup": signup, "signup_form": signup_form, "quota": quota, "refusal": refusal,
        "is_admin": selectors.event_is_admin(event=event, user=user),
        "can_see_private": selectors.can_see_private(event=event, viewer=user, at=now),
        "signup_open": event.is_signup_open(at=now) and not event.is_closed(at=now),
    }


@require_GET
@domain_errors
def event_detail(request, slug: str):
    event = selectors.event_get(slug=slug, viewer=request.user)
    return render(request, "challenges/event_detail.html", _event_context(request, event))


@login_required
@require_POST
@domain_errors
def event_signup(request, slug: str):
    event = selectors.event_get(slug=slug, viewer=request.user)
    form = SignupForm(request.POST, teams=account_selectors.team_list(viewer=request.user))

    def run(data):
        team = account_selectors.team_get(slug=data["team"], viewer=request.user)
        return services.signup_request(event=event, user=request.user, team=team, ip=client_ip(request))

    outcome = submit_form(request, form, run)
    if outcome.done:
        if outcome.result.state == Signup.State.APPROVED:
            messages.success(request, f"You take part in '{event.title}' with team '{outcome.result.team.name}'. "
                                      "Open the sandbox to write your first submission.")
        else:
            messages.info(request, f"Your sign-up to '{event.title}' waits for approval by the event's admins.")
        return redirect("challenges:event_detail", slug=event.slug)
    return render(request, "challenges/event_detail.html", _event_context(request, event, signup_form=form),
                  status=outcome.status)


@staff_required
@require_http_methods(["GET", "POST"])
@domain_errors
def event_create(request):
    problems = selectors.problem_list(viewer=request.user)
    initial = {"problem": request.GET.get("problem", "")[:100]}
    form = EventForm(request.POST or None, problems=problems, initial=initial)

    def run(data):
        problem = selectors.problem_get(name=data["problem"], viewer=request.user)
        return services.event_create(problem=problem, slug=data["slug"], actor=request.user, ip=client_ip(request),
                                     **form.options())

    outcome = submit_form(request, form, run)
    if outcome.done:
        messages.success(request, f"Event '{outcome.result.slug}' is created.")
        return redirect("challenges:event_detail", slug=outcome.result.slug)
    return render(request, "challenges/event_form.html", {"form": form, "event": None}, status=outcome.status)


@login_required
@require_http_methods(["GET", "POST"])
@domain_errors
def event_edit(request, slug: str):
    event = selectors.event_get(slug=slug, viewer=request.user)
    selectors.require_event_admin(event=event, user=request.user)
    form = EventForm(request.POST or None, event=event)

    def run(data):
        changes = {name: value for name, value in form.options().items() if name in form.changed_data}
        # A fresh copy: the service changes the object it is given before it checks the values.
        target = selectors.event_get(slug=slug, viewer=request.user)
        return services.event_update(event=target, actor=request.user, ip=client_ip(request), **changes)

    outcome = submit_form(request, form, run)
    if outcome.done:
        messages.success(request, f"Event '{event.slug}' is saved.")
        return redirect("challenges:event_detail", slug=event.slug)
    return render(request, "challenges/event_form.html", {
        "form": form, "event": event, "status": event_status(event, at=timezone.now())}, status=outcome.status)


# --------------------------------------------------------------------------- sandbox


def _editor_code(event: Event, user: User) -> dict[str, str]:
    """What the editors show first: the user's saved draft of each file, else the starting kit's."""
    code = {name: content.decode("utf-8", errors="replace")
            for name, content in services.problem_starting_kit(problem=event.problem).items()}
    code.update(dict(selectors.draft_list(event=event, user=user).values_list("element", "code")))
    return code


@login_required
@require_http_methods(["GET", "POST"])
@domain_errors
def sandbox(request, slug: str):
    event = selectors.event_get(slug=slug, viewer=request.user)
    now = timezone.now()
    filenames = [services.element_filename(e) for e in event.problem.elements]
    limit = get_config().max_submission_file_bytes
    if request.method == "POST":
        form = SandboxForm(request.POST, request.FILES, filenames=filenames, max_bytes=limit)
    else:
        code = _editor_code(event, request.user)
        form = SandboxForm(filenames=filenames, max_bytes=limit,
                           initial={f"code_{i}": code.get(name, "") for i, name in enumerate(filenames)})

    def run(data):
        files = {name: content.replace("\r\n", "\n") if isinstance(content, str) else content
                 for name, content in form.files_by_name().items()}
        if data["action"] == "save":
            return services.draft_save(event=event, user=request.user,
                                       files={name: _as_text(content, name) for name, content in files.items()})
        return services.submission_create(event=event, user=request.user, name=data["name"], files=files,
                                          ip=client_ip(request))

    outcome = submit_form(request, form, run)
    if outcome.done:
        if isinstance(outcome.result, Submission):
            messages.success(request, f"Submission '{outcome.result.name}' is queued for training; this page "
                                      "follows its progress.")
            return redirect("challenges:submission_detail", pk=outcome.result.pk)
        messages.success(request, "Your draft is saved; it will be in the editor next time.")
        return redirect("challenges:sandbox", slug=event.slug)
    signup = selectors.signup_of(event=event, user=request.user)
    quota = refusal = None
    if signup is not None and signup.state == Signup.State.APPROVED:
        quota = services.submission_quota(event=event, team=signup.team, at=now)
        refusal = quota.refusal(at=now)
    context = {"event": event, "form": form, "signup": signup, "quota": quota, "refusal": refusal,
               "status": event_status(event, at=now), "now": now}
    return render(request, "challenges/sandbox.html", context, status=outcome.status)


# --------------------------------------------------------------------------- submissions


def _state_context(request, submission: Submission) -> dict:
    """What the state block shows (the page and its polled fragment alike): the timeline, the queue
    position while queued, and — to the team and the event's admins only — the log's tail while training."""
    log_tail = None
    if (submission.state == Submission.State.TRAINING
            and selectors.can_see_error(submission=submission, viewer=request.user)):
        log_tail = submission.log_tail
    return {"running": submission.state in RUNNING_STATES, "states": list(submission.state_changes.all()),
            "queue_position": selectors.queue_position(submission=submission), "log_tail": log_tail}


def _submission_context(request, submission: Submission) -> dict:
    viewer = request.user
    event = submission.event
    now = timezone.now()
    code_visible = selectors.can_see_code(submission=submission, viewer=viewer, at=now)
    files = {}
    if code_visible:
        files = {name: content.decode("utf-8", errors="replace")
                 for name, content in services.submission_files(submission=submission).items()}
    is_admin = selectors.event_is_admin(event=event, user=viewer)
    return {
        "submission": submission, "event": event, "problem": event.problem,
        "score_types": event.problem.score_types,
        "is_admin": is_admin,
        "is_own": selectors.is_own(submission=submission, viewer=viewer),
        "private": selectors.can_see_private(event=event, viewer=viewer, at=now),
        "code_visible": code_visible, "files": files,
        "error_visible": selectors.can_see_error(submission=submission, viewer=viewer),
        "scores": list(submission.scores.all()), "folds": list(submission.folds.all()),
        "now": now, **_state_context(request, submission),
        "priority_form": PriorityForm(initial={"priority": submission.priority}) if is_admin else None,
    }


def _submission_refused(request, pk: int, exc: DataboardError):
    """The submission page again, with the refusal of an admin action on top and its status."""
    submission = selectors.submission_get(pk=pk, viewer=request.user)
    context = {**_submission_context(request, submission), "action_error": str(exc)}
    return render(request, "challenges/submission_detail.html", context, status=exc.status)


@require_GET
@domain_errors
def submission_detail(request, pk: int):
    submission = selectors.submission_get(pk=pk, viewer=request.user)
    return render(request, "challenges/submission_detail.html", _submission_context(request, submission))


@require_GET
@domain_errors
def submission_state(request, pk: int):
    """The state block alone (htmx polls it); once the run is over, the whole page is reloaded."""
    submission = selectors.submission_get(pk=pk, viewer=request.user)
    context = {"submission": submission, **_state_context(request, submission)}
    # Polled by htmx: the log card (in the page's other column) comes along, swapped out of band.
    context["oob"] = context["running"] and _is_htmx(request)
    response = render(request, "challenges/_submission_state.html", context)
    if not context["running"] and _is_htmx(request):
        response["HX-Refresh"] = "true"
    patch_vary_headers(response, ("HX-Request",))
    return response


@login_required
@require_POST
@domain_errors
def submission_rerun(request, pk: int):
    submission = selectors.submission_get(pk=pk, viewer=request.user)
    selectors.require_event_admin(event=submission.event, user=request.user)
    try:
        services.submission_requeue(submission=submission, actor=request.user, ip=client_ip(request))
    except DataboardError as exc:
        return _submission_refused(request, pk, exc)
    messages.success(request, f"Submission '{submission.name}' is queued again.")
    return redirect("challenges:submission_detail", pk=submission.pk)


@login_required
@require_POST
@domain_errors
def submission_cancel(request, pk: int):
    """Stop a submission that has not finished (event admins), once confirmed."""
    submission = selectors.submission_get(pk=pk, viewer=request.user)
    selectors.require_event_admin(event=submission.event, user=request.user)
    try:
        services.check_cancellable(submission)  # refused before the confirmation page is shown
    except InvalidTransition as exc:
        return _submission_refused(request, pk, exc)
    if not _confirmed(request):
        return _confirm_page(
            request, title=f"Cancel {submission.name}?",
            question=f"The submission '{submission.name}' of team {submission.team.name} is {submission.state}. "
                     "Cancelling stops it now (a run in training is killed by its worker) and marks it failed, "
                     f"'Cancelled by {request.user.username}'. It can be re-run later.",
            button="Cancel the submission", back=reverse("challenges:submission_detail", args=[submission.pk]))
    try:
        services.submission_cancel(submission=submission, actor=request.user, ip=client_ip(request))
    except DataboardError as exc:
        return _submission_refused(request, pk, exc)
    messages.success(request, f"Submission '{submission.name}' is cancelled.")
    return redirect("challenges:submission_detail", pk=submission.pk)


@login_required
@require_POST
@domain_errors
def submission_priority(request, pk: int):
    submission = selectors.submission_get(pk=pk, viewer=request.user)
    selectors.require_event_admin(event=submission.event, user=request.user)
    form = PriorityForm(request.POST)

    def run(data):
        return services.submission_set_priority(submission=submission, priority=data["priority"],
                                                actor=request.user, ip=client_ip(request))

    outcome = submit_form(request, form, run)
    if outcome.done:
        messages.success(request, f"The priority of '{submission.name}' is {outcome.result.priority} now.")
        return redirect("challenges:submission_detail", pk=submission.pk)
    submission = selectors.submission_get(pk=pk, viewer=request.user)
    context = {**_submission_context(request, submission), "priority_form": form}
    return render(request, "challenges/submission_detail.html", context, status=outcome.status)


# --------------------------------------------------------------------------- leaderboards


def _board_headers(board, *, kind: str, query: dict) -> list[dict]:
    official = f"score:{board.event.problem.score_types[0]['name']}"
    headers = []
    for column in board.columns:
        sortable = column.key == "submitted_at" if kind == "failed" else column.key != "rank"
        active = column.key == board.sort
        params = {**query, "sort": column.key}
        params.pop("desc", None)
        if active:
            params["desc"] = "0" if board.descending else "1"
        headers.append({
            "label": column.label, "key": column.key, "sortable": sortable, "active": active,
            "descending": board.descending, "url": "?" + urlencode(params),
            "is_score": column.key.startswith("score:"), "official": column.key == official,
            "lower_is_better": column.lower_is_better,
            "num": column.key.startswith("score:") or column.key.endswith("_seconds") or column.key == "rank",
        })
    return headers


def _board_cells(board, row: dict) -> list[dict]:
    cells = []
    for column in board.columns:
        value = row.get(column.key)
        cell = {"key": column.key, "value": value, "num": False, "text": "" if value is None else str(value)}
        if column.key.startswith("score:"):
            cell.update(num=True, text="—" if value is None else f"{value:.{column.precision or 0}f}")
        elif column.key.endswith("_seconds"):
            cell.update(num=True, text="—" if value is None else f"{value:.2f}")
        elif column.key == "rank":
            cell["num"] = True
        cells.append(cell)
    return cells


def _chart_fallback(data: dict) -> str:
    points = data["points"]
    if not points:
        return "No scored submissions yet."
    pick = min if data["lower_is_better"] else max
    best = pick(points, key=lambda p: p["score"])
    count = data["count"]  # the points may be thinned; the count is of every scored submission
    return (f"{count} scored submission{'s' if count != 1 else ''}; the best {data['score_name']} is "
            f"{best['score']:.4g} by {best['team']} ({best['submission']}).")


@require_GET
@domain_errors
def leaderboard(request, slug: str):
    event = selectors.event_get(slug=slug, viewer=request.user)
    now = timezone.now()
    kind = request.GET.get("kind") or "public"
    sort = request.GET.get("sort") or None
    descending = _bool_param(request.GET.get("desc"))
    page_number = _int_param(request.GET.get("page"))

    def load(number: int):
        return selectors.leaderboard(event=event, viewer=request.user, kind=kind, sort=sort, descending=descending,
                                     limit=BOARD_PAGE_SIZE, offset=(number - 1) * BOARD_PAGE_SIZE, at=now)

    board = load(page_number)
    pager = Paginator(range(board.count), BOARD_PAGE_SIZE).get_page(page_number)
    if pager.number != page_number:  # past the last page: show the last one
        board = load(pager.number)
    private = selectors.can_see_private(event=event, viewer=request.user, at=now)
    kinds = ["public", "competition"] + (["private", "private_competition"] if private else [])
    kinds += (["mine"] if request.user.is_authenticated else []) + ["failed"]
    query = {"kind": kind}
    if sort:
        query["sort"] = sort
    if descending is not None:
        query["desc"] = "1" if descending else "0"
    csv_query = {**query, "format": "csv"}
    context = {
        "event": event, "status": event_status(event, at=now), "board": board, "kind": kind,
        "kinds": [(k, BOARD_TITLES[k]) for k in kinds],
        "headers": _board_headers(board, kind=kind, query=query),
        "rows": [{"id": row["id"], "row": row, "cells": _board_cells(board, row)} for row in board.rows],
        "pager": pager, "query": urlencode(query), "is_admin": selectors.event_is_admin(event=event, user=request.user),
        "csv_url": f"{reverse('api:leaderboard_api', kwargs={'slug': event.slug})}?{urlencode(csv_query)}",
    }
    if kind in ("public", "competition"):
        chart = selectors.score_over_time(event=event, viewer=request.user, max_points=CHART_MAX_POINTS)
        context.update(chart_data=chart, chart_fallback=_chart_fallback(chart))
    return render(request, "challenges/leaderboard.html", context)


# --------------------------------------------------------------------------- dashboard


def _active_user(username: str) -> User:
    return account_selectors.user_find_active(username=_name_param(username))


def _dashboard_action(request, event: Event) -> str:
    """Run the POSTed dashboard action; returns the success message. Raises DataboardError."""
    action = request.POST.get("action", "")
    actor = request.user
    if action in ("approve", "reject"):
        signup = selectors.signup_get(event=event, username=_name_param(request.POST.get("username", "")[:150]),
                                      viewer=actor)
        if action == "approve":
            services.signup_decide(signup=signup, approve=True, actor=actor, ip=client_ip(request))
            return f"{signup.user.username} takes part now."
        form = RejectForm(request.POST)
        if not form.is_valid():
            raise ValidationFailed("Give the reason of the rejection; the user will see it.", field="reason")
        services.signup_decide(signup=signup, approve=False, reason=form.cleaned_data["reason"], actor=actor,
                               ip=client_ip(request))
        return f"The sign-up of {signup.user.username} is rejected."
    if action == "add":
        form = ParticipantForm(request.POST)
        if not form.is_valid():
            raise ValidationFailed("Give the username of the participant to add.", field="username")
        user = _active_user(form.cleaned_data["username"].strip())
        services.signup_add(event=event, user=user, actor=actor, ip=client_ip(request))
        return f"{user.username} takes part now."
    raise ValidationFailed(f"Unknown action '{action[:40]}'.")


@login_required
@require_POST
@domain_errors
def event_rerun_failed(request, slug: str):
    """Queue every failed submission of the event again (event admins), once confirmed."""
    event = selectors.event_get(slug=slug, viewer=request.user)
    selectors.require_event_admin(event=event, user=request.user)
    if not _confirmed(request):
        failed = selectors.submission_list(event=event, viewer=request.user, state=Submission.State.ERROR).count()
        return _confirm_page(
            request, title=f"Re-run the {failed} failed submission{'s' if failed != 1 else ''}?",
            question=f"Every failed submission of '{event.title}' goes back in the queue and is trained again; "
                     "their errors are replaced by the new runs' results.",
            button=f"Re-run all failed ({failed})", back=reverse("challenges:dashboard", args=[event.slug]))
    count = services.event_rerun_failed(event=event, actor=request.user, ip=client_ip(request))
    if count:
        messages.success(request, f"{count} failed submission{'s are' if count != 1 else ' is'} queued again.")
    else:
        messages.info(request, "No submission of this event has failed: nothing was queued.")
    return redirect("challenges:dashboard", slug=event.slug)


@login_required
@require_http_methods(["GET", "POST"])
@domain_errors
def dashboard(request, slug: str):
    event = selectors.event_get(slug=slug, viewer=request.user)
    selectors.require_event_admin(event=event, user=request.user)
    status, action_error, error_user = 200, None, None
    if request.method == "POST":
        try:
            message = _dashboard_action(request, event)
        except DataboardError as exc:
            status, action_error = exc.status, str(exc)
            error_user = request.POST.get("username", "")
        else:
            messages.success(request, message)
            return redirect("challenges:dashboard", slug=event.slug)
    data = selectors.event_dashboard(event=event, viewer=request.user)
    per_day_max = max((d["n"] for d in data["per_day"]), default=0)
    per_day = [{"day": d["day"], "n": d["n"], "width": round(100 * d["n"] / per_day_max) if per_day_max else 0}
               for d in data["per_day"]]
    official = event.problem.score_types[0]
    context = {
        "event": event, "status": event_status(event, at=timezone.now()), "data": data, "per_day": per_day[-60:],
        "official": official,
        "top": [{**row, "official": row.get(f"score:{official['name']}")} for row in data["top"]],
        "pending": page_of(request, selectors.signup_list(event=event, viewer=request.user,
                                                        state=Signup.State.PENDING), param="ppage"),
        "signups": page_of(request, selectors.signup_list(event=event, viewer=request.user).order_by("-created_at")),
        "signup_states": [(s, data["signups"].get(s, 0)) for s in Signup.State.values],
        "submission_states": [(s, data["states"].get(s, 0)) for s in Submission.State.values],
        "error_steps": [(s, data["errors"].get(s, 0)) for s in Submission.Step.values if data["errors"].get(s)],
        "action_error": action_error, "error_user": error_user,
        "participant_form": ParticipantForm(request.POST if request.POST.get("action") == "add" else None),
        "queue": selectors.event_queue(event=event, viewer=request.user),
        "failed_count": data["states"].get(Submission.State.ERROR, 0),
        "unsandboxed": selectors.workers_without_sandbox(viewer=request.user) if request.user.is_staff else [],
    }
    return render(request, "challenges/dashboard.html", context, status=status)


# --------------------------------------------------------------------------- workers


@staff_required
@require_GET
@domain_errors
def workers(request):
    """The workers and the queues (staff). htmx polls it for the live part alone."""
    show_stopped = _bool_param(request.GET.get("stopped")) is True
    now = timezone.now()
    views = selectors.worker_list(viewer=request.user, include_stopped=True)
    stopped = sum(1 for v in views if v.status == "stopped")
    rows = [{"worker": v.worker, "status": v.status, "running": v.running,
             "heartbeat_age_s": max(0.0, (now - v.worker.heartbeat_at).total_seconds())}
            for v in views if show_stopped or v.status != "stopped"]
    context = {
        "rows": rows, "queues": selectors.queue_summary(), "show_stopped": show_stopped, "stopped": stopped,
        "unsandboxed": [r["worker"] for r in rows if r["status"] in ("idle", "busy") and not r["worker"].sandboxed],
        "now": now,
    }
    template = "challenges/_workers.html" if _is_htmx(request) else "challenges/workers.html"
    response = render(request, template, context)
    patch_vary_headers(response, ("HX-Request",))
    return response
