"""Challenges API: problems, events, sign-ups, submissions, leaderboards."""



import csv
import io
import json
import tempfile
from pathlib import Path

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from ninja import File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import paginate

from databoard.accounts import selectors as account_selectors
from databoard.api import OPTIONAL_AUTH, Page, require_admin
from databoard.challenges import selectors, services
from databoard.challenges.downloads import starting_kit_zip
from databoard.challenges.kit_source import KitSourceError
from databoard.challenges.models import Event, Problem, Signup, Submission
from databoard.challenges.schemas import (
    DraftIn,
    DraftOut,
    EventDetailOut,
    EventIn,
    EventOut,
    EventPatch,
    LeaderboardOut,
    ParticipantIn,
    ProblemDetailOut,
    ProblemImportIn,
    ProblemOut,
    QuotaOut,
    RejectIn,
    ScoreOverTimeOut,
    SignupIn,
    SignupOut,
    CountOut,
    PriorityIn,
    SubmissionDetailOut,
    SubmissionIn,
    SubmissionOut,
    UsernameIn,
    WorkersOut,
)
from databoard.errors import NotFound, TooLarge, ValidationFailed
from databoard.web.request import client_ip

router = Router(tags=["challenges"])


# --------------------------------------------------------------------------- serializers


def problem_out(problem: Problem, *, detail: bool = False) -> dict:
    data = {"name": problem.name, "title": problem.title, "prediction_type": problem.prediction_type,
            "workflow": problem.workflow, "elements": problem.elements,
            "files": [services.element_filename(e) for e in problem.elements],
            "score_types": problem.score_types, "n_folds": problem.n_folds, "n_train": problem.n_train,
            "n_test": problem.n_test, "created_at": problem.created_at}
    if detail:
        data.update(readme=problem.readme, label_names=problem.label_names)
    return data


def event_out(event: Event) -> dict:
    data = {name: getattr(event, name) for name in EventOut.model_fields if hasattr(event, name)}
    data.update(problem=event.problem.name, is_open=event.is_open(at=timezone.now()))
    return data


def signup_out(signup: Signup) -> dict:
    return {"event": signup.event.slug, "username": signup.user.username, "team": signup.team.slug,
            "state": signup.state, "reason": signup.reason, "created_at": signup.created_at,
            "decided_at": signup.decided_at}


def quota_out(quota: services.Quota) -> dict:
    return {**quota.__dict__, "refusal": quota.refusal(at=timezone.now())}


def progress_out(submission: Submission) -> dict | None:
    """Where a run in training is; None otherwise."""
    if submission.state != Submission.State.TRAINING:
        return None
    progress = submission.progress if isinstance(submission.progress, dict) else {}
    return {"phase": str(progress.get("phase") or "starting"), "fold": progress.get("fold"),
            "n_folds": progress.get("n_folds"), "elapsed_s": progress.get("elapsed_s")}


def submission_out(submission: Submission, viewer, *, detail: bool = False, private: bool | None = None) -> dict:
    """A submission as ``viewer`` may see it: test scores only where private scores are shown, code and
    the run's output only to the team and event admins."""
    if private is None:
        private = selectors.can_see_private(event=submission.event, viewer=viewer)
    scores = list(submission.scores.all())
    data = {
        "id": submission.pk, "event": submission.event.slug, "team": submission.team.slug,
        "owner": submission.owner.username, "name": submission.name, "state": submission.state,
        "created_at": submission.created_at, "queued_at": submission.queued_at,
        "training_at": submission.training_at, "scored_at": submission.scored_at, "error_at": submission.error_at,
        "error_step": submission.error_step, "error_summary": submission.error_summary,
        "duration_seconds": submission.duration_seconds, "train_seconds": submission.train_seconds,
        "valid_seconds": submission.valid_seconds, "test_seconds": submission.test_seconds if private else None,
        "valid_scores": {s.name: s.valid for s in scores},
        "test_scores": {s.name: s.test for s in scores} if private else None,
        "priority": submission.priority, "attempts": submission.attempts,
        "progress": progress_out(submission),
    }
    if detail:
        own = selectors.can_see_error(submission=submission, viewer=viewer)
        data.update(
            files=[f.name for f in submission.files.all()],
            code_visible=selectors.can_see_code(submission=submission, viewer=viewer),
            error_output=submission.error_output if own else None,
            log_tail=submission.log_tail if own and submission.state == Submission.State.TRAINING else None,
            exit_code=submission.exit_code,
            folds=[{"fold": f.fold, "train_scores": f.train_scores, "valid_scores": f.valid_scores,
                    "test_scores": f.test_scores if private else None, "train_seconds": f.train_seconds,
                    "valid_seconds": f.valid_seconds, "test_seconds": f.test_seconds if private else None}
                   for f in submission.folds.all()],
            states=list(submission.state_changes.values("state", "at", "note")))
    return data


# --------------------------------------------------------------------------- problems


@router.get("/problems", response=list[ProblemOut], auth=OPTIONAL_AUTH)
@paginate(Page)
def problem_list_api(request: HttpRequest):
    """Problems of the events you can see (administrators: all)."""
    return [problem_out(p) for p in selectors.problem_list(viewer=request.user)]


@router.post("/problems", response={201: ProblemDetailOut})
def problem_upload_api(request: HttpRequest, name: Form[str], kit: File[UploadedFile],
                       data: File[UploadedFile | None] = None, title: Form[str | None] = None):
    """Import a RAMP kit from an uploaded .zip or .tar.gz (administrators). ``data``: an optional archive
    with the private ``data/`` folder, when the kit's own data are the public ones."""
    admin = require_admin(request)
    with tempfile.TemporaryDirectory() as tmp:
        kit_path = _save_upload(kit, Path(tmp), "kit")
        data_path = _save_upload(data, Path(tmp), "data") if data is not None else None
        problem = services.problem_import(source=kit_path, name=name, data_source=data_path, title=title,
                                          actor=admin, ip=client_ip(request))
    return Status(201, problem_out(problem, detail=True))


@router.post("/problems/git", response={201: ProblemDetailOut})
def problem_git_api(request: HttpRequest, data: ProblemImportIn):
    """Import a RAMP kit from a git repository (administrators)."""
    admin = require_admin(request)
    if not data.git_url.startswith(("https://", "http://", "git://", "ssh://", "git@")):
        raise ValidationFailed("Give a git URL (https://…, ssh://…, git@…).", field="git_url")
    problem = services.problem_import(source=data.git_url, name=data.name, title=data.title, actor=admin,
                                      ip=client_ip(request))
    return Status(201, problem_out(problem, detail=True))


def _save_upload(upload: UploadedFile, folder: Path, stem: str) -> Path:
    name = (upload.name or "").lower()
    for suffix in (".tar.gz", ".tgz", ".zip", ".tar", ".tar.bz2", ".tar.xz"):
        if name.endswith(suffix):
            break
    else:
        refusal = KitSourceError([f"'{(upload.name or '')[:100]}' is not a .zip or .tar.gz archive."])
        refusal.details["field"] = stem
        raise refusal
    path = folder / f"{stem}{suffix}"
    with open(path, "wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    return path


@router.get("/problems/{name}", response=ProblemDetailOut, auth=OPTIONAL_AUTH)
def problem_get_api(request: HttpRequest, name: str):
    """A problem: its workflow, score types, data sizes and description."""
    return problem_out(selectors.problem_get(name=name, viewer=request.user), detail=True)


@router.delete("/problems/{name}", response={204: None})
def problem_delete_api(request: HttpRequest, name: str):
    """Delete a problem no event uses (administrators)."""
    admin = require_admin(request)
    services.problem_delete(problem=selectors.problem_get(name=name, viewer=admin), actor=admin,
                            ip=client_ip(request))
    return Status(204, None)


@router.get("/problems/{name}/starting-kit", auth=OPTIONAL_AUTH, response={200: None})
def problem_starting_kit_api(request: HttpRequest, name: str):
    """The starting kit as a .zip: the kit without the private data or other example submissions."""
    problem = selectors.problem_get(name=name, viewer=request.user)
    return starting_kit_zip(problem, actor=request.user, ip=client_ip(request))


# --------------------------------------------------------------------------- events


@router.get("/events", response=list[EventOut], auth=OPTIONAL_AUTH)
@paginate(Page)
def event_list_api(request: HttpRequest):
    """Events you can see: public ones, yours, and all for administrators."""
    return [event_out(e) for e in selectors.event_list(viewer=request.user)]


@router.post("/events", response={201: EventDetailOut})
def event_create_api(request: HttpRequest, data: EventIn):
    """Open an event on a problem (administrators). With no dates it is open at once and never closes."""
    admin = require_admin(request)
    problem = selectors.problem_get(name=data.problem, viewer=admin)
    options = data.dict(exclude={"problem", "slug"})
    event = services.event_create(problem=problem, slug=data.slug, actor=admin, ip=client_ip(request), **options)
    return Status(201, _event_detail(event, admin))


def _event_detail(event: Event, viewer) -> dict:
    data = event_out(event)
    data["admins"] = list(event.admins.values_list("username", flat=True))
    signup = selectors.signup_of(event=event, user=viewer)
    data["my_signup"] = signup_out(signup) if signup else None
    data["my_quota"] = (quota_out(services.submission_quota(event=event, team=signup.team))
                        if signup and signup.state == Signup.State.APPROVED else None)
    return data


@router.get("/events/{slug}", response=EventDetailOut, auth=OPTIONAL_AUTH)
def event_get_api(request: HttpRequest, slug: str):
    """An event, with your sign-up and what you have left to submit."""
    return _event_detail(selectors.event_get(slug=slug, viewer=request.user), request.user)


@router.patch("/events/{slug}", response=EventDetailOut)
def event_update_api(request: HttpRequest, slug: str, data: EventPatch):
    """Change an event's dates, limits or options (event admins)."""
    event = selectors.event_get(slug=slug, viewer=request.user)
    selectors.require_event_admin(event=event, user=request.user)
    changes = data.dict(exclude_unset=True)
    services.event_update(event=event, actor=request.user, ip=client_ip(request), **changes)
    return _event_detail(event, request.user)


@router.post("/events/{slug}/admins", response=EventDetailOut)
def event_admin_add_api(request: HttpRequest, slug: str, data: UsernameIn):
    """Make a user an admin of the event (administrators)."""
    admin = require_admin(request)
    event = selectors.event_get(slug=slug, viewer=admin)
    user = account_selectors.user_get(username=data.username, viewer=admin)
    services.event_admin_add(event=event, user=user, actor=admin, ip=client_ip(request))
    return _event_detail(event, admin)


@router.delete("/events/{slug}/admins/{username}", response=EventDetailOut)
def event_admin_remove_api(request: HttpRequest, slug: str, username: str):
    """Remove an admin of the event (administrators)."""
    admin = require_admin(request)
    event = selectors.event_get(slug=slug, viewer=admin)
    user = account_selectors.user_get(username=username, viewer=admin)
    services.event_admin_remove(event=event, user=user, actor=admin, ip=client_ip(request))
    return _event_detail(event, admin)


# --------------------------------------------------------------------------- sign-ups


@router.post("/events/{slug}/signup", response={201: SignupOut})
def signup_api(request: HttpRequest, slug: str, data: SignupIn):
    """Ask to take part, for your personal team or one you belong to."""
    event = selectors.event_get(slug=slug, viewer=request.user)
    team = account_selectors.team_get(slug=data.team, viewer=request.user) if data.team else None
    signup = services.signup_request(event=event, user=request.user, team=team, ip=client_ip(request))
    return Status(201, signup_out(signup))


@router.get("/events/{slug}/signups", response=list[SignupOut])
@paginate(Page)
def signup_list_api(request: HttpRequest, slug: str, state: str | None = None):
    """Sign-ups of the event (event admins), optionally by state."""
    event = selectors.event_get(slug=slug, viewer=request.user)
    if state and state not in Signup.State.values:
        raise ValidationFailed(f"'{state[:20]}' is not a sign-up state: use one of "
                               f"{', '.join(Signup.State.values)}.", field="state")
    return [signup_out(s) for s in selectors.signup_list(event=event, viewer=request.user, state=state)]


@router.post("/events/{slug}/signups", response={201: SignupOut})
def participant_add_api(request: HttpRequest, slug: str, data: ParticipantIn):
    """Sign a user up, approved (event admins)."""
    event = selectors.event_get(slug=slug, viewer=request.user)
    actor = selectors.require_event_admin(event=event, user=request.user)
    user = account_selectors.user_find_active(username=data.username)
    team = account_selectors.team_get(slug=data.team, viewer=user) if data.team else None
    signup = services.signup_add(event=event, user=user, team=team, actor=actor, ip=client_ip(request))
    return Status(201, signup_out(signup))


@router.post("/events/{slug}/signups/{username}/approve", response=SignupOut)
def signup_approve_api(request: HttpRequest, slug: str, username: str):
    """Approve a sign-up request (event admins)."""
    event = selectors.event_get(slug=slug, viewer=request.user)
    signup = selectors.signup_get(event=event, username=username, viewer=request.user)
    return signup_out(services.signup_decide(signup=signup, approve=True, actor=request.user, ip=client_ip(request)))


@router.post("/events/{slug}/signups/{username}/reject", response=SignupOut)
def signup_reject_api(request: HttpRequest, slug: str, username: str, data: RejectIn):
    """Reject a sign-up request with a reason the user sees (event admins)."""
    event = selectors.event_get(slug=slug, viewer=request.user)
    signup = selectors.signup_get(event=event, username=username, viewer=request.user)
    return signup_out(services.signup_decide(signup=signup, approve=False, reason=data.reason, actor=request.user,
                                             ip=client_ip(request)))


@router.get("/events/{slug}/quota", response=QuotaOut)
def quota_api(request: HttpRequest, slug: str):
    """What your team has left: submissions today, in total, and the end of the cool-down."""
    event = selectors.event_get(slug=slug, viewer=request.user)
    signup = services._approved_signup(event=event, user=request.user)
    return quota_out(services.submission_quota(event=event, team=signup.team))


# --------------------------------------------------------------------------- drafts and submissions


@router.get("/events/{slug}/drafts", response=list[DraftOut])
def draft_list_api(request: HttpRequest, slug: str):
    """Your saved sandbox code for the event."""
    event = selectors.event_get(slug=slug, viewer=request.user)
    return list(selectors.draft_list(event=event, user=request.user))


@router.put("/events/{slug}/drafts", response=list[DraftOut])
def draft_save_api(request: HttpRequest, slug: str, data: DraftIn):
    """Save sandbox code without submitting it."""
    event = selectors.event_get(slug=slug, viewer=request.user)
    return services.draft_save(event=event, user=request.user, files=data.files)


@router.post("/events/{slug}/submissions", response={201: SubmissionDetailOut})
def submission_create_api(request: HttpRequest, slug: str, data: SubmissionIn):
    """Submit code (each element's file as text); it is queued for training at once."""
    event = selectors.event_get(slug=slug, viewer=request.user)
    submission = services.submission_create(event=event, user=request.user, name=data.name, files=data.files,
                                            ip=client_ip(request))
    return Status(201, submission_out(submission, request.user, detail=True))


@router.post("/events/{slug}/submissions/upload", response={201: SubmissionDetailOut})
def submission_upload_api(request: HttpRequest, slug: str, name: Form[str], files: File[list[UploadedFile]]):
    """Submit code as uploaded files (multipart ``files``, named as the problem's elements)."""
    event = selectors.event_get(slug=slug, viewer=request.user)
    from databoard.config import get_config

    limit = get_config().max_submission_file_bytes
    contents = {}
    for upload in files:
        if upload.size is not None and upload.size > limit:
            raise TooLarge(f"File '{upload.name[:100]}' is over the {limit // 1024} KB limit.", field="files")
        if upload.name in contents:
            raise ValidationFailed(f"'{upload.name[:100]}' is sent twice.", field="files")
        contents[upload.name] = upload.read(limit + 1)
    submission = services.submission_create(event=event, user=request.user, name=name, files=contents,
                                            ip=client_ip(request))
    return Status(201, submission_out(submission, request.user, detail=True))


class SubmissionFilter(Schema):
    state: str | None = None
    team: str | None = None
    mine: bool = False


@router.get("/events/{slug}/submissions", response=list[SubmissionOut], auth=OPTIONAL_AUTH)
@paginate(Page)
def submission_list_api(request: HttpRequest, slug: str, filters: Query[SubmissionFilter]):
    """Submissions of the event: scored and failed ones (event admins: all; ``mine=true``: your team's)."""
    event = selectors.event_get(slug=slug, viewer=request.user)
    private = selectors.can_see_private(event=event, viewer=request.user)
    qs = selectors.submission_list(event=event, viewer=request.user, state=filters.state, team=filters.team,
                                   mine=filters.mine).select_related("event").prefetch_related("scores")
    return _LazyList(qs, lambda s: submission_out(s, request.user, private=private))


class _LazyList:
    """A queryset whose sliced items are serialized on the way out (pagination slices first)."""

    def __init__(self, qs, convert):
        self.qs, self.convert = qs, convert

    def __getitem__(self, item):
        return [self.convert(x) for x in self.qs[item]]

    def count(self):
        return self.qs.count()

    def __len__(self):
        return self.count()


@router.get("/submissions/{submission_id}", response=SubmissionDetailOut, auth=OPTIONAL_AUTH)
def submission_get_api(request: HttpRequest, submission_id: int):
    """A submission: state history, per-fold scores, and (for the team and event admins) the error output."""
    submission = selectors.submission_get(pk=submission_id, viewer=request.user)
    return submission_out(submission, request.user, detail=True)


@router.get("/submissions/{submission_id}/files/{filename}", auth=OPTIONAL_AUTH, response={200: None})
def submission_file_api(request: HttpRequest, submission_id: int, filename: str):
    """One submitted file, as text (the team, event admins, and others once the event's code is public)."""
    submission = selectors.submission_get(pk=submission_id, viewer=request.user)
    if not selectors.can_see_code(submission=submission, viewer=request.user):
        raise NotFound(f"The code of submission {submission_id} is not visible to you.")
    content = services.submission_files(submission=submission).get(filename)
    if content is None:
        raise NotFound(f"Submission {submission_id} has no file '{filename[:100]}'.")
    response = HttpResponse(content, content_type="text/plain; charset=utf-8")
    response["X-Content-Type-Options"] = "nosniff"
    return response


@router.post("/submissions/{submission_id}/rerun", response=SubmissionDetailOut)
def submission_rerun_api(request: HttpRequest, submission_id: int):
    """Queue a submission again (event admins)."""
    submission = selectors.submission_get(pk=submission_id, viewer=request.user)
    selectors.require_event_admin(event=submission.event, user=request.user)
    services.submission_requeue(submission=submission, actor=request.user, ip=client_ip(request))
    return submission_out(submission, request.user, detail=True)


@router.post("/submissions/{submission_id}/cancel", response=SubmissionDetailOut)
def submission_cancel_api(request: HttpRequest, submission_id: int):
    """Stop a submission that has not finished (event admins): state ``error`` "Cancelled by NAME."; a run in
    training is killed by its worker within about a second."""
    submission = selectors.submission_get(pk=submission_id, viewer=request.user)
    selectors.require_event_admin(event=submission.event, user=request.user)
    services.submission_cancel(submission=submission, actor=request.user, ip=client_ip(request))
    return submission_out(submission, request.user, detail=True)


@router.post("/submissions/{submission_id}/priority", response=SubmissionDetailOut)
def submission_priority_api(request: HttpRequest, submission_id: int, data: PriorityIn):
    """Set a submission's priority, -100 to 100 (event admins): queued submissions of higher priority are
    trained first."""
    submission = selectors.submission_get(pk=submission_id, viewer=request.user)
    selectors.require_event_admin(event=submission.event, user=request.user)
    services.submission_set_priority(submission=submission, priority=data.priority, actor=request.user,
                                     ip=client_ip(request))
    return submission_out(submission, request.user, detail=True)


@router.post("/events/{slug}/rerun-failed", response=CountOut)
def event_rerun_failed_api(request: HttpRequest, slug: str):
    """Queue again every failed submission of the event (event admins); answers how many."""
    event = selectors.event_get(slug=slug, viewer=request.user)
    admin = selectors.require_event_admin(event=event, user=request.user)
    return {"count": services.event_rerun_failed(event=event, actor=admin, ip=client_ip(request))}


@router.get("/workers", response=WorkersOut)
def worker_list_api(request: HttpRequest, all: bool = False):  # noqa: A002 - the query parameter's name
    """Workers (administrators): status, heartbeat, backend, sandbox, the runs they hold; and the queues."""
    require_admin(request)
    now = timezone.now()
    workers = []
    for view in selectors.worker_list(viewer=request.user, include_stopped=all):
        w = view.worker
        workers.append({
            **{name: getattr(w, name) for name in ("name", "host", "pid", "backend", "scheduler", "queues", "slots",
                                                   "sandboxed", "sandbox_note", "started_at", "heartbeat_at",
                                                   "stopped_at", "scored", "failed")},
            "status": view.status, "heartbeat_age_s": round((now - w.heartbeat_at).total_seconds(), 1),
            "running": [{"id": s.pk, "event": s.event.slug, "team": s.team.slug, "name": s.name,
                         "training_at": s.training_at, "progress": progress_out(s)} for s in view.running]})
    return {"workers": workers, "queues": selectors.queue_summary()}


# --------------------------------------------------------------------------- leaderboards


class BoardQuery(Schema):
    kind: str = "public"
    sort: str | None = None
    desc: bool | None = None
    limit: int = 100
    offset: int = 0
    format: str = "json"


@router.get("/events/{slug}/leaderboard", response=LeaderboardOut, auth=OPTIONAL_AUTH)
def leaderboard_api(request: HttpRequest, slug: str, query: Query[BoardQuery]):
    """A leaderboard: ``kind`` = public, private, competition, private_competition, mine or failed;
    ``format=csv`` for the whole board as CSV."""
    event = selectors.event_get(slug=slug, viewer=request.user)
    if query.format not in ("json", "csv"):
        raise ValidationFailed("Use format=json or format=csv.", field="format")
    if query.format == "csv":
        board = selectors.leaderboard(event=event, viewer=request.user, kind=query.kind, sort=query.sort,
                                      descending=query.desc, limit=None)
        return leaderboard_csv_response(board)
    board = selectors.leaderboard(event=event, viewer=request.user, kind=query.kind, sort=query.sort,
                                  descending=query.desc, limit=query.limit, offset=query.offset)
    return {"event": event.slug, "kind": board.kind, "step": board.step, "sort": board.sort,
            "descending": board.descending, "columns": [c.__dict__ for c in board.columns],
            "rows": [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
                     for row in board.rows],
            "count": board.count, "limit": query.limit, "offset": query.offset}


def leaderboard_csv_response(board) -> StreamingHttpResponse:
    def rows():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([c.label for c in board.columns])
        for i, row in enumerate(board.rows, 1):
            writer.writerow([_cell(row.get(c.key), c) for c in board.columns])
            if i % 500 == 0:  # a chunk per row would be thousands of sends
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{board.event.slug}-{board.kind}.csv"'
    return response


def _cell(value, column) -> str:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, float) and column.precision is not None:
        return f"{value:.{column.precision}f}"
    return str(value)


@router.get("/events/{slug}/score-over-time", response=ScoreOverTimeOut, auth=OPTIONAL_AUTH)
def score_over_time_api(request: HttpRequest, slug: str, max_points: int | None = None):
    """Scored submissions' official validation scores by time (the event's plot). ``max_points`` thins
    the points, keeping every new best."""
    event = selectors.event_get(slug=slug, viewer=request.user)
    if max_points is not None and not 10 <= max_points <= 100_000:
        raise ValidationFailed("Use max_points between 10 and 100000.", field="max_points")
    data = selectors.score_over_time(event=event, viewer=request.user, max_points=max_points)
    # Built here, not by the response schema: checking thousands of points one by one costs more than the query.
    return HttpResponse(json.dumps(data), content_type="application/json")


@router.get("/events/{slug}/dashboard", response=dict)
def dashboard_api(request: HttpRequest, slug: str):
    """Figures for the event's admins: sign-ups, submissions per day and state, errors, top teams."""
    event = selectors.event_get(slug=slug, viewer=request.user)
    data = selectors.event_dashboard(event=event, viewer=request.user)
    return {
        "signups": data["signups"], "states": data["states"], "errors": data["errors"],
        "per_day": [{"day": d["day"].isoformat(), "count": d["n"]} for d in data["per_day"]],
        "top": [{"rank": r["rank"], "team": r["team"], "submission": r["submission"],
                 **{k: v for k, v in r.items() if k.startswith("score:")}} for r in data["top"]],
        "interactions": [{"at": e.created_at.isoformat(), "action": e.action, "actor": e.actor_username,
                          "ip": e.ip} for e in data["interactions"]],
    }
