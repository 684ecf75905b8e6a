"""Reads of the challenges. Every selector takes the viewer and filters in the query; hidden objects are 404."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.db.models import Count, F, Min, FilteredRelation, Q, QuerySet, Window
from django.db.models.functions import RowNumber, TruncDate
from django.utils import timezone

from databoard.accounts.models import AuditEvent, Team, User
from databoard.challenges.models import Draft, Event, Problem, Signup, Submission, SubmissionScore, Worker
from databoard.errors import NotAuthenticated, NotFound, PermissionDenied, ValidationFailed

Viewer = User | AnonymousUser
State = Submission.State
BOARD_KINDS = ("public", "private", "competition", "private_competition", "mine", "failed")
PRIVATE_KINDS = ("private", "private_competition")


def _authenticated(viewer: Viewer) -> bool:
    return bool(viewer and viewer.is_authenticated)


# --------------------------------------------------------------------------- problems


def problem_list(*, viewer: Viewer) -> QuerySet[Problem]:
    """Problems of public events (anyone), of events the viewer takes part in, or all (staff)."""
    if _authenticated(viewer) and viewer.is_staff:
        return Problem.objects.all()
    visible = Event.objects.filter(_event_visible_q(viewer))
    return Problem.objects.filter(events__in=visible).distinct()


def problem_get(*, name: str, viewer: Viewer) -> Problem:
    problem = (problem_list(viewer=viewer).filter(name=name).first()
               if isinstance(name, str) and len(name) <= 100 and "\x00" not in name else None)
    if problem is None:
        raise NotFound(f"No problem '{str(name)[:100]}'.")
    return problem


# --------------------------------------------------------------------------- events


def _event_visible_q(viewer: Viewer) -> Q:
    q = Q(is_public=True)
    if _authenticated(viewer):
        q |= Q(signups__user=viewer) | Q(admins=viewer)
    return q


def event_list(*, viewer: Viewer) -> QuerySet[Event]:
    """Public events, events the viewer signed up to or administers; staff see all."""
    qs = Event.objects.select_related("problem")
    if _authenticated(viewer) and viewer.is_staff:
        return qs
    ids = Event.objects.filter(_event_visible_q(viewer)).values("pk")
    return qs.filter(pk__in=ids)


def event_get(*, slug: str, viewer: Viewer) -> Event:
    """An event the viewer may see; else NotFound (a private event is not revealed)."""
    event = (event_list(viewer=viewer).filter(slug=slug).first()
             if isinstance(slug, str) and 0 < len(slug) <= 100 and "\x00" not in slug else None)
    if event is None:
        raise NotFound(f"No event '{str(slug)[:100]}'.")
    return event


def event_is_admin(*, event: Event, user: Viewer) -> bool:
    if not _authenticated(user):
        return False
    return user.is_staff or event.admins.filter(pk=user.pk).exists()


def require_event_admin(*, event: Event, user: Viewer) -> User:
    if not _authenticated(user):
        raise NotAuthenticated("Sign in first.")
    if not event_is_admin(event=event, user=user):
        raise PermissionDenied(f"Only the admins of '{event.slug}' may do this.")
    return user


def can_see_private(*, event: Event, viewer: Viewer, at: datetime | None = None) -> bool:
    """Private (test) scores: event admins always, everyone once the event is closed if it says so."""
    at = at or timezone.now()
    return event_is_admin(event=event, user=viewer) or (event.show_private_after_close and event.is_closed(at=at))


def signup_of(*, event: Event, user: Viewer) -> Signup | None:
    if not _authenticated(user):
        return None
    return Signup.objects.filter(event=event, user=user).select_related("team").first()


def signup_list(*, event: Event, viewer: Viewer, state: str | None = None) -> QuerySet[Signup]:
    require_event_admin(event=event, user=viewer)
    qs = Signup.objects.filter(event=event).select_related("user", "team")
    return qs.filter(state=state) if state else qs


def signup_get(*, event: Event, username: str, viewer: Viewer) -> Signup:
    require_event_admin(event=event, user=viewer)
    signup = (Signup.objects.filter(event=event, user__username__iexact=username).select_related("user", "team").first()
              if "\x00" not in username else None)
    if signup is None:
        raise NotFound(f"'{str(username)[:150]}' has not signed up to '{event.slug}'.")
    return signup


# --------------------------------------------------------------------------- submissions


def _viewer_team_ids(*, event: Event, viewer: Viewer) -> list[int]:
    if not _authenticated(viewer):
        return []
    return list(Team.objects.filter(memberships__user=viewer).values_list("pk", flat=True))


def submission_get(*, pk: int, viewer: Viewer) -> Submission:
    """A submission of an event the viewer may see. Its details are filtered by the ``can_*`` rules below."""
    submission = Submission.objects.select_related("event__problem", "team", "owner").filter(pk=pk).first()
    if submission is None:
        raise NotFound(f"No submission {pk}.")
    event_get(slug=submission.event.slug, viewer=viewer)  # 404 when the event is hidden
    finished = submission.state in (State.SCORED, State.ERROR)
    if not (finished or is_own(submission=submission, viewer=viewer)
            or event_is_admin(event=submission.event, user=viewer)):
        raise NotFound(f"No submission {pk}.")  # another team's work in progress is theirs alone
    return submission


def is_own(*, submission: Submission, viewer: Viewer) -> bool:
    return submission.team_id in _viewer_team_ids(event=submission.event, viewer=viewer)


def can_see_code(*, submission: Submission, viewer: Viewer, at: datetime | None = None) -> bool:
    """Code and predictions: the team and event admins; other signed-in users once the event's code is public."""
    at = at or timezone.now()
    if is_own(submission=submission, viewer=viewer) or event_is_admin(event=submission.event, user=viewer):
        return True
    return _authenticated(viewer) and submission.event.is_code_public(at=at)


def can_see_error(*, submission: Submission, viewer: Viewer) -> bool:
    """The run's output: the team and event admins (others see the step and the one-line summary)."""
    return is_own(submission=submission, viewer=viewer) or event_is_admin(event=submission.event, user=viewer)


def submission_list(*, event: Event, viewer: Viewer, state: str | None = None, team: str | None = None,
                    mine: bool = False) -> QuerySet[Submission]:
    """Submissions of an event: all for event admins, scored and failed ones for others (no code)."""
    qs = Submission.objects.filter(event=event).select_related("team", "owner")
    if mine:
        qs = qs.filter(team_id__in=_viewer_team_ids(event=event, viewer=viewer))
    elif not event_is_admin(event=event, user=viewer):
        qs = qs.filter(Q(state__in=[State.SCORED, State.ERROR])
                       | Q(team_id__in=_viewer_team_ids(event=event, viewer=viewer)))
    if state:
        if state not in State.values:
            raise ValidationFailed(f"'{state[:20]}' is not a state: use one of {', '.join(State.values)}.",
                                   field="state")
        qs = qs.filter(state=state)
    if team:
        qs = qs.filter(team__slug=team)
    return qs


def draft_list(*, event: Event, user: Viewer) -> QuerySet[Draft]:
    """The user's saved sandbox code for ``event``, by element."""
    if not _authenticated(user):
        return Draft.objects.none()
    return Draft.objects.filter(event=event, user=user).order_by("element")


# --------------------------------------------------------------------------- leaderboards


@dataclass
class Column:
    key: str  # "score:<name>", "rank", "team", "submission", "submitted_at", "train_seconds", "test_seconds"…
    label: str
    precision: int | None = None
    lower_is_better: bool | None = None


@dataclass
class Board:
    kind: str
    event: Event
    columns: list[Column]
    rows: list[dict]
    count: int
    sort: str
    descending: bool
    step: str  # "valid" or "test": which bagged scores the board shows
    extra: dict = field(default_factory=dict)


def _score_columns(problem: Problem) -> list[Column]:
    return [Column(key=f"score:{s['name']}", label=s["name"], precision=s.get("precision"),
                   lower_is_better=bool(s.get("lower_is_better"))) for s in problem.score_types]


def _best_first(score_type: dict) -> bool:
    """True when higher is better (sort descending to put the best first)."""
    return not score_type.get("lower_is_better")


def leaderboard(*, event: Event, viewer: Viewer, kind: str = "public", sort: str | None = None,
                descending: bool | None = None, limit: int | None = 100, offset: int = 0,
                at: datetime | None = None) -> Board:
    """One leaderboard page of ``event``.

    ``public``: every scored submission with its bagged validation scores; ``private``: bagged test scores
    (event admins; everyone after close if the event says so); ``competition``: each team's best submission
    by the official validation score (ties: the earlier one); ``private_competition``: those same
    submissions ranked by their test score; ``mine``: the viewer's team's submissions in every state;
    ``failed``: submissions in error with the failing step and summary. ``sort`` is a column key; the
    default is the official score, best first ("lower is better" respected).
    """
    at = at or timezone.now()
    if kind not in BOARD_KINDS:
        raise ValidationFailed(f"'{str(kind)[:30]}' is not a leaderboard: use one of {', '.join(BOARD_KINDS)}.",
                               field="kind")
    if kind in PRIVATE_KINDS and not can_see_private(event=event, viewer=viewer, at=at):
        raise PermissionDenied("Private scores are shown to the event's admins"
                               + (" and to everyone after the event closes." if event.show_private_after_close else "."))
    if kind == "mine" and not _authenticated(viewer):
        raise NotAuthenticated("Sign in to see your submissions.")
    if not 0 <= offset <= 10_000_000:
        raise ValidationFailed("Use an offset between 0 and 10000000.", field="offset")
    if limit is not None and not 1 <= limit <= 10_000:
        raise ValidationFailed("Use a limit between 1 and 10000.", field="limit")
    problem = event.problem
    official = problem.score_types[0]
    step = "test" if kind in PRIVATE_KINDS else "valid"
    official_field = "official_test" if step == "test" else "official_valid"

    qs = Submission.objects.filter(event=event)
    if kind == "failed":
        qs = qs.filter(state=State.ERROR)
        columns = [Column("submission", "Submission"), Column("team", "Team"), Column("submitted_at", "Submitted"),
                   Column("error_step", "Failed at"), Column("error_summary", "Error")]
        sort_key, desc = "submitted_at", True if descending is None else descending
        qs = qs.order_by(("-" if desc else "") + "created_at", "-id")
    else:
        if kind == "mine":
            qs = qs.filter(team_id__in=_viewer_team_ids(event=event, viewer=viewer))
        else:
            qs = qs.filter(state=State.SCORED)
        if kind in ("competition", "private_competition"):
            best_valid = "-official_valid" if _best_first(official) else "official_valid"
            ranked = qs.filter(official_valid__isnull=False).annotate(
                team_rank=Window(RowNumber(), partition_by=[F("team_id")],
                                 order_by=[F(best_valid[1:]).desc() if best_valid.startswith("-")
                                           else F(best_valid).asc(), F("created_at").asc(), F("id").asc()]))
            best_ids = list(ranked.filter(team_rank=1).order_by().values_list("pk", flat=True))
            qs = Submission.objects.filter(pk__in=best_ids)
        columns = [Column("rank", "Rank"), Column("team", "Team"), Column("submission", "Submission"),
                   *_score_columns(problem), Column("train_seconds", "Train time (s)"),
                   Column(f"{'test' if step == 'test' else 'valid'}_seconds",
                          "Test time (s)" if step == "test" else "Valid time (s)"),
                   Column("submitted_at", "Submitted")]
        if kind == "mine":
            columns.insert(3, Column("state", "State"))
        sort_key = sort or f"score:{official['name']}"
        keys = {c.key for c in columns} - {"rank"}
        if sort_key not in keys:
            raise ValidationFailed(f"Cannot sort by '{str(sort_key)[:50]}': use one of {', '.join(sorted(keys))}.",
                                   field="sort")
        if sort_key.startswith("score:"):
            name = sort_key.split(":", 1)[1]
            score_type = next(s for s in problem.score_types if s["name"] == name)
            desc = _best_first(score_type) if descending is None else descending
            if name == official["name"]:
                expr = F(official_field)
            else:
                qs = qs.annotate(sort_score=FilteredRelation("scores", condition=Q(scores__name=name)))
                expr = F(f"sort_score__{step}")
        else:
            desc = (sort_key == "submitted_at") if descending is None else descending
            expr = F({"team": "team__slug", "submission": "name", "submitted_at": "created_at",
                      "state": "state"}.get(sort_key, sort_key))
        qs = qs.order_by(expr.desc(nulls_last=True) if desc else expr.asc(nulls_last=True), "created_at", "id")

    count = qs.count()
    # Only the shown columns: whole rows (error output, owner) would make the sort spill to disk.
    fields = ("pk", "name", "created_at", "state", "team__slug", "team__name", "train_seconds", "valid_seconds",
              "test_seconds", "error_step", "error_summary")
    window = qs[offset: offset + limit] if limit is not None else qs
    page = list(window.values_list(*fields))
    scores: dict[int, dict[str, float | None]] = {}
    if kind != "failed":
        wanted = ([pk for pk, *_ in page] if limit is not None
                  else qs.order_by().values("pk"))  # a whole board: a subquery, not a list of ids
        for pk, name, value in SubmissionScore.objects.filter(submission__in=wanted).values_list(
                "submission_id", "name", step):
            scores.setdefault(pk, {})[name] = value
    rows = []
    for i, (pk, name, created_at, state, team_slug, team_name, train_s, valid_s, test_s, error_step,
            error_summary) in enumerate(page):
        row = {"rank": offset + i + 1, "id": pk, "submission": name, "team": team_slug,
               "team_name": team_name, "submitted_at": created_at, "state": state}
        if kind == "failed":
            row.update(error_step=error_step, error_summary=error_summary)
        else:
            row.update({f"score:{n}": v for n, v in scores.get(pk, {}).items()})
            row.update(train_seconds=train_s, valid_seconds=valid_s, test_seconds=test_s if step == "test" else None)
        rows.append(row)
    return Board(kind=kind, event=event, columns=columns, rows=rows, count=count, sort=sort_key,
                 descending=desc, step=step)


def score_over_time(*, event: Event, viewer: Viewer, max_points: int | None = None) -> dict:
    """Scored submissions' official validation scores by submission time (the event's plot).

    With ``max_points``, every submission that set a new best is kept (the best-so-far line stays exact)
    and the others are thinned evenly, so a page never carries thousands of points. Cached per event
    until a submission is scored.
    """
    official = event.problem.score_types[0]
    version = Event.objects.filter(pk=event.pk).values_list("board_version", flat=True).first()
    key = f"score-over-time-{event.pk}-{version}-{max_points}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    scored = Submission.objects.filter(event=event, state=State.SCORED, official_valid__isnull=False)
    lower = bool(official.get("lower_is_better"))
    rows = list(scored.order_by("created_at", "id").values_list("created_at", "official_valid", "team__slug", "name"))
    count = len(rows)
    if max_points is not None and len(rows) > max_points:
        best, frontier = None, set()
        for i, (_, score, _, _) in enumerate(rows):
            if best is None or (score < best if lower else score > best):
                best = score
                frontier.add(i)
        room = max(max_points - len(frontier), 1)
        step = max(len(rows) // room, 1)
        keep = frontier | set(range(0, len(rows), step))
        rows = [row for i, row in enumerate(rows) if i in keep]
    result = {"score_name": official["name"], "lower_is_better": lower, "count": count,
              "points": [{"t": created.isoformat(), "score": score, "team": team, "submission": name}
                         for created, score, team, name in rows]}
    cache.set(key, result, 3600)
    return result


def event_dashboard(*, event: Event, viewer: Viewer) -> dict:
    """Figures for the event's admins: sign-ups, submissions per day and per state, errors, top teams,
    and the latest interactions from the audit log."""
    require_event_admin(event=event, user=viewer)
    signups = dict(Signup.objects.filter(event=event).values_list("state").annotate(n=Count("id")))
    states = dict(Submission.objects.filter(event=event).values_list("state").annotate(n=Count("id")))
    per_day = list(Submission.objects.filter(event=event).annotate(day=TruncDate("created_at")).values("day")
                   .annotate(n=Count("id")).order_by("day"))
    errors = dict(Submission.objects.filter(event=event, state=State.ERROR).values_list("error_step")
                  .annotate(n=Count("id")))
    top = leaderboard(event=event, viewer=viewer, kind="competition", limit=10).rows
    interactions = AuditEvent.objects.filter(
        Q(target_type="event", target_id=str(event.pk)) | Q(data__event=event.slug)).order_by("-created_at")[:50]
    return {"signups": signups, "states": states, "per_day": per_day, "errors": errors, "top": top,
            "interactions": list(interactions)}


# --------------------------------------------------------------------------- workers and the queue


@dataclass
class WorkerView:
    worker: Worker
    status: str
    """``idle``, ``busy``, ``lost`` (no heartbeat for ``lease_seconds``) or ``stopped``."""
    running: list[Submission]


def _worker_status(worker: Worker, silent_since: datetime, busy: bool) -> str:
    if worker.stopped_at is not None:
        return "stopped"
    if worker.heartbeat_at < silent_since:
        return "lost"
    return "busy" if busy else "idle"


def worker_statuses(workers) -> dict[tuple[str, str, bool], int]:
    """How many workers per (status, backend, sandboxed), for /metrics."""
    from databoard.config import get_config

    silent_since = timezone.now() - timedelta(seconds=get_config().lease_seconds)
    busy = set(Submission.objects.filter(state=State.TRAINING).values_list("worker", flat=True).distinct())
    counts: dict[tuple[str, str, bool], int] = {}
    for worker in workers:
        key = (_worker_status(worker, silent_since, worker.name in busy), worker.backend, worker.sandboxed)
        counts[key] = counts.get(key, 0) + 1
    return counts


def worker_list(*, viewer: Viewer, include_stopped: bool = True) -> list[WorkerView]:
    """Workers (staff only), live ones first, each with the runs it holds."""
    if not (_authenticated(viewer) and viewer.is_staff):
        raise PermissionDenied("Only administrators can see the workers.")
    from databoard.config import get_config

    silent_since = timezone.now() - timedelta(seconds=get_config().lease_seconds)
    workers = list(Worker.objects.all() if include_stopped else Worker.objects.filter(stopped_at=None))
    running: dict[str, list[Submission]] = {}
    for submission in (Submission.objects.filter(state=State.TRAINING, worker__in=[w.name for w in workers])
                       .select_related("event", "team").order_by("training_at")):
        running.setdefault(submission.worker, []).append(submission)
    views = [WorkerView(worker=worker, status=_worker_status(worker, silent_since, bool(running.get(worker.name))),
                        running=running.get(worker.name, [])) for worker in workers]
    order = {"busy": 0, "idle": 1, "lost": 2, "stopped": 3}
    return sorted(views, key=lambda v: (order[v.status], v.worker.name))


def queue_summary() -> list[dict]:
    """Per queue: submissions waiting and training, and the oldest wait (seconds). For admins and /metrics."""
    rows = (Submission.objects.filter(state__in=[State.QUEUED, State.TRAINING])
            .values("event__queue", "state").annotate(n=Count("id"), oldest=Min("queued_at")))
    now = timezone.now()
    queues: dict[str, dict] = {}
    for row in rows:
        entry = queues.setdefault(row["event__queue"], {"queue": row["event__queue"], "queued": 0, "training": 0,
                                                        "oldest_wait_s": 0.0})
        entry[row["state"]] = row["n"]
        if row["state"] == State.QUEUED and row["oldest"] is not None:
            entry["oldest_wait_s"] = round((now - row["oldest"]).total_seconds(), 1)
    return sorted(queues.values(), key=lambda q: q["queue"])


# --------------------------------------------------------------------------- the engine on the web pages


def queue_position(*, submission: Submission) -> tuple[int, int] | None:
    """Where a queued submission stands in its event's queue, as workers claim (priority, then age):
    ``(position from 1, how many wait in that queue)``; None when it is not queued. Two counts."""
    if submission.state != State.QUEUED or submission.queued_at is None:
        return None
    waiting = Submission.objects.filter(state=State.QUEUED, event__queue=submission.event.queue)
    p, at = submission.priority, submission.queued_at
    ahead = waiting.filter(Q(priority__gt=p) | Q(priority=p, queued_at__lt=at)
                           | Q(priority=p, queued_at=at, pk__lt=submission.pk)).count()
    return ahead + 1, waiting.count()


def event_queue(*, event: Event, viewer: Viewer) -> dict:
    """The event's submissions waiting and training, and its oldest wait in seconds (event admins)."""
    require_event_admin(event=event, user=viewer)
    rows = (Submission.objects.filter(event=event, state__in=[State.QUEUED, State.TRAINING])
            .values("state").annotate(n=Count("id"), oldest=Min("queued_at")).order_by())
    figures = {"queue": event.queue, "queued": 0, "training": 0, "oldest_wait_s": None}
    for row in rows:
        figures[row["state"]] = row["n"]
        if row["state"] == State.QUEUED and row["oldest"] is not None:
            figures["oldest_wait_s"] = max(0.0, (timezone.now() - row["oldest"]).total_seconds())
    return figures


def workers_without_sandbox(*, viewer: Viewer) -> list[Worker]:
    """Live workers (idle or busy) that run submissions without the sandbox (staff only)."""
    return [view.worker for view in worker_list(viewer=viewer, include_stopped=False)
            if view.status in ("idle", "busy") and not view.worker.sandboxed]
