"""Every write of the challenges: problems, events, sign-ups, submissions and their results.

Web views, the API, the CLI and the engine call these, so all obey the same rules.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from databoard.accounts.models import Membership, Team, User
from databoard.accounts.services import audit_record
from databoard.challenges.errors import (
    DuplicateCode,
    EventClosed,
    InvalidTransition,
    LimitReached,
    NameTaken,
    NotSignedUp,
)
from databoard.challenges.kit_source import KitLimits, KitSourceError, fetch_kit, fetch_data, iter_kit_files
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
    Worker,
)
from databoard.config import get_config
from databoard.errors import Conflict, PermissionDenied, TooLarge, ValidationFailed
from databoard.storage.services import artifact_store
from databoard.storage.store import ArtifactStore

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
SUBMISSION_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
MAX_DRAFT_BYTES = 1024 * 1024
State = Submission.State

# Which states a submission may move to, from which (the engine's claims and results are guarded UPDATEs).
ALLOWED_FROM: dict[str, tuple[str, ...]] = {
    State.QUEUED: (State.NEW, State.TRAINING, State.ERROR, State.SCORED),
    State.TRAINING: (State.QUEUED,),
    State.SCORED: (State.TRAINING,),
    State.ERROR: (State.NEW, State.QUEUED, State.TRAINING),
}


def element_filename(element: str) -> str:
    """The file of a workflow element: ``classifier`` → ``classifier.py``; names with a dot stay as they are."""
    return element if "." in element else f"{element}.py"


def _check_slug(value: str, *, field: str, what: str) -> str:
    if not isinstance(value, str) or not SLUG_RE.match(value):
        raise ValidationFailed(f"'{str(value)[:100]}' is not a valid {what}: use 1–100 lower-case letters, digits, "
                               f"'-' or '_', starting with a letter or digit.", field=field)
    return value


# --------------------------------------------------------------------------- problems


def _readme_text(root: Path) -> str:
    """The kit's README (Markdown) or, failing that, its first notebook's cells as Markdown."""
    for name in ("README.md", "readme.md", "README.rst", "README.txt", "README"):
        if (root / name).is_file():
            return (root / name).read_text(encoding="utf-8", errors="replace")[:1_000_000]
    for notebook in sorted(root.glob("*.ipynb")):
        try:
            cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
        except (ValueError, UnicodeDecodeError, AttributeError):
            continue
        parts = []
        for cell in cells if isinstance(cells, list) else []:
            source = cell.get("source", "") if isinstance(cell, dict) else ""
            text = "".join(source) if isinstance(source, list) else str(source)
            if cell.get("cell_type") == "markdown":
                parts.append(text)
            elif cell.get("cell_type") == "code" and text.strip():
                parts.append(f"```python\n{text}\n```")
        return "\n\n".join(parts)[:1_000_000]
    return ""


def _store_tree(root: Path, *, kind: str, max_bytes: int) -> list[tuple[str, str, Any]]:
    rows = []
    for rel, full in iter_kit_files(root):
        with open(full, "rb") as stream:
            artifact = artifact_store(stream=stream, max_bytes=max_bytes)
        rows.append((kind, rel, artifact))
    return rows


@dataclass(frozen=True)
class KitFacts:
    """What rampwf says about a kit (read in a subprocess)."""

    title: str
    prediction_type: str
    workflow: str
    elements: list[str]
    score_types: list[dict]
    label_names: list
    n_folds: int
    n_train: int
    n_test: int


def _inspect(kit_root: Path, data_root: Path) -> KitFacts:
    from dataclasses import asdict

    from databoard.engine.kitinfo import KitError, inspect_kit
    from databoard.engine.worker import sandbox_mode

    try:
        sandboxed, _ = sandbox_mode()  # the kit's code is untrusted too: it runs as submissions do
        info = inspect_kit(kit_root, data_dir=data_root, sandbox=sandboxed, hidden=[get_config().home.resolve()])
    except RuntimeError as exc:
        raise KitSourceError([str(exc)]) from None
    except KitError as exc:
        raise KitSourceError(list(exc.errors)) from None
    return KitFacts(title=info.title, prediction_type=info.prediction_type, workflow=info.workflow,
                    elements=list(info.elements), score_types=[asdict(s) for s in info.score_types],
                    label_names=list(info.label_names or []), n_folds=info.n_folds, n_train=info.n_train or 0,
                    n_test=info.n_test or 0)


def problem_import(*, source: str | Path, name: str, actor: User | None = None, data_source: str | Path | None = None,
                   title: str | None = None, ip: str | None = None) -> Problem:
    """Import a RAMP kit from a folder, an archive or a git URL as problem ``name``.

    The kit is unpacked into a private folder (no links, no paths out of it, size limits), checked by
    loading ``problem.py`` with rampwf in a subprocess, then its files (and those of ``data_source``, a
    folder or archive holding the private ``data/``, when the kit's own data are public ones) go to the
    artifact store. Raises ValidationFailed (``invalid_kit``, with every problem listed) or Conflict when
    the name is taken; nothing is stored then.
    """
    _check_slug(name, field="name", what="problem name")
    if Problem.objects.filter(name=name).exists():
        raise Conflict(f"A problem named '{name}' already exists; choose another name.", field="name")
    config = get_config()
    limits = KitLimits(max_total_bytes=config.max_kit_bytes, max_file_bytes=config.max_kit_bytes)
    config.cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="import-", dir=config.cache_dir) as tmp:
        kit_root = fetch_kit(source, Path(tmp) / "kit", limits=limits)
        data_root = fetch_data(data_source, Path(tmp) / "data", limits=limits) if data_source else kit_root
        facts = _inspect(kit_root, data_root)
        readme = _readme_text(kit_root)
        rows = _store_tree(kit_root, kind=KitFile.Kind.KIT, max_bytes=config.max_kit_bytes)
        if data_source:
            rows += _store_tree(data_root, kind=KitFile.Kind.DATA, max_bytes=config.max_kit_bytes)
    manifest = "".join(f"{kind} {path} {artifact.sha256}\n" for kind, path, artifact in rows)
    with transaction.atomic():
        if Problem.objects.filter(name=name).exists():
            raise Conflict(f"A problem named '{name}' already exists; choose another name.", field="name")
        problem = Problem.objects.create(
            name=name, title=(title or facts.title or name)[:200], prediction_type=facts.prediction_type[:100],
            workflow=facts.workflow[:100], elements=facts.elements, score_types=facts.score_types,
            label_names=facts.label_names, n_folds=facts.n_folds, n_train=facts.n_train, n_test=facts.n_test,
            readme=readme, kit_sha256=hashlib.sha256(manifest.encode()).hexdigest(), source=str(source)[:500],
            created_by=actor if actor is not None and actor.pk else None)
        KitFile.objects.bulk_create([
            KitFile(problem=problem, kind=kind, path=path, artifact=artifact, size_bytes=artifact.size_bytes)
            for kind, path, artifact in rows
        ])
        audit_record(action="problem.import", actor=actor, target=problem, ip=ip, source=str(source)[:200])
    return problem


def problem_delete(*, problem: Problem, actor: User, ip: str | None = None) -> None:
    """Delete a problem that no event uses (Conflict otherwise). Stored blobs stay (other rows may share them)."""
    if problem.events.exists():
        raise Conflict(f"Problem '{problem.name}' is used by {problem.events.count()} event(s); delete them first.")
    audit_record(action="problem.delete", actor=actor, target=problem, ip=ip)
    problem.delete()


def problem_materialize(*, problem: Problem) -> tuple[Path, Path]:
    """The kit folder and the data folder of ``problem`` on this machine, unpacked once into the cache.

    Safe across processes: each copy is built in a private folder and renamed into place.
    """
    config = get_config()
    base = config.cache_dir / "kits" / problem.kit_sha256
    if not (base / ".complete").exists():
        base.parent.mkdir(parents=True, exist_ok=True)
        building = base.parent / f".{problem.kit_sha256}.{uuid.uuid4().hex}"
        store = ArtifactStore.from_config()
        for kit_file in problem.files.select_related("artifact"):
            target = building / kit_file.kind / kit_file.path
            target.parent.mkdir(parents=True, exist_ok=True)
            with store.open(kit_file.artifact.sha256) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out, 1024 * 1024)
        (building / "kit").mkdir(parents=True, exist_ok=True)
        (building / ".complete").touch()
        try:
            building.rename(base)
        except OSError:  # another process finished first: use its copy
            shutil.rmtree(building, ignore_errors=True)
    kit_dir = base / "kit"
    data_dir = base / "data" if (base / "data").is_dir() else kit_dir
    return kit_dir, data_dir


def problem_starting_kit(*, problem: Problem) -> dict[str, bytes]:
    """The starting kit's element files, as the sandbox editor shows them first."""
    store = ArtifactStore.from_config()
    files = {}
    wanted = {f"submissions/starting_kit/{element_filename(e)}": element_filename(e) for e in problem.elements}
    for kit_file in problem.files.filter(kind=KitFile.Kind.KIT, path__in=list(wanted)).select_related("artifact"):
        with store.open(kit_file.artifact.sha256) as handle:
            files[wanted[kit_file.path]] = handle.read(get_config().max_submission_file_bytes)
    return files


# --------------------------------------------------------------------------- events


EVENT_OPTIONS = ("title", "description", "is_public", "approval_required", "signup_opens_at", "opens_at",
                 "closes_at", "public_opens_at", "max_submissions_per_day", "max_submissions_total",
                 "min_minutes_between", "max_train_seconds", "max_memory_mb", "show_private_after_close", "queue")


def _event_check(event: Event) -> None:
    if event.opens_at and event.closes_at and event.closes_at <= event.opens_at:
        raise ValidationFailed("The event must close after it opens.", field="closes_at")
    if event.signup_opens_at and event.closes_at and event.closes_at <= event.signup_opens_at:
        raise ValidationFailed("Sign-up must open before the event closes.", field="signup_opens_at")
    for name in ("signup_opens_at", "opens_at", "closes_at", "public_opens_at"):
        value = getattr(event, name)
        if value is not None and timezone.is_naive(value):
            raise ValidationFailed("Give dates with a time zone, e.g. 2030-01-01T00:00:00Z.", field=name)
    if not 1 <= event.max_train_seconds <= 7 * 24 * 3600:
        raise ValidationFailed("The training time limit must be between 1 second and 7 days.", field="max_train_seconds")
    if not 512 <= event.max_memory_mb <= 1024 * 1024:
        # Below ~512 MB of address space, Python with numpy and scikit-learn cannot even start.
        raise ValidationFailed("The memory limit must be between 512 MB and 1 TB.", field="max_memory_mb")
    if event.min_minutes_between > 7 * 24 * 60:
        raise ValidationFailed("The time between submissions cannot exceed 7 days.", field="min_minutes_between")
    if not event.title.strip():
        raise ValidationFailed("The event needs a title.", field="title")
    if not re.match(r"^[A-Za-z0-9_-]{1,50}$", event.queue or ""):
        raise ValidationFailed("A queue name is 1–50 letters, digits, '-' or '_'.", field="queue")


def event_create(*, problem: Problem, slug: str, actor: User, ip: str | None = None, **options: Any) -> Event:
    """Open an event on ``problem``. With no dates it is open at once for sign-up and submissions and never
    closes. ``options`` are the fields of EVENT_OPTIONS. Raises ValidationFailed or Conflict (slug taken)."""
    _check_slug(slug, field="slug", what="event name")
    unknown = set(options) - set(EVENT_OPTIONS)
    if unknown:
        raise ValidationFailed(f"Unknown event option(s): {', '.join(sorted(unknown))}.")
    options = {k: v for k, v in options.items() if v is not None or k.endswith("_at") or k.startswith("max_sub")}
    options.setdefault("title", problem.title)
    event = Event(problem=problem, slug=slug, created_by=actor if actor.pk else None, **options)
    _event_check(event)
    with transaction.atomic():
        if Event.objects.filter(slug=slug).exists():
            raise Conflict(f"An event named '{slug}' already exists; choose another name.", field="slug")
        event.save()
        audit_record(action="event.create", actor=actor, target=event, ip=ip, event=event.slug)
    return event


def event_update(*, event: Event, actor: User, ip: str | None = None, **changes: Any) -> Event:
    """Change an event's options (event admins). Raises ValidationFailed for an unknown option or bad values."""
    unknown = set(changes) - set(EVENT_OPTIONS)
    if unknown:
        raise ValidationFailed(f"Unknown event option(s): {', '.join(sorted(unknown))}.")
    for name, value in changes.items():
        if value is None and not Event._meta.get_field(name).null:
            raise ValidationFailed(f"'{name}' cannot be empty; give a value or leave it out.", field=name)
    candidate = copy.copy(event)  # checked aside: a refused change leaves the caller's object as it was
    for name, value in changes.items():
        setattr(candidate, name, value)
    _event_check(candidate)
    for name, value in changes.items():
        setattr(event, name, value)
    with transaction.atomic():
        if changes:
            event.save(update_fields=sorted(changes))  # only these: never write back counters read earlier
        audit_record(action="event.update", actor=actor, target=event, ip=ip, event=event.slug,
                     fields=sorted(changes))
    return event


def event_admin_add(*, event: Event, user: User, actor: User, ip: str | None = None) -> None:
    """Make ``user`` an admin of ``event``."""
    with transaction.atomic():
        event.admins.add(user)
        audit_record(action="event.admin_add", actor=actor, target=event, ip=ip, event=event.slug, user=user.username)


def event_admin_remove(*, event: Event, user: User, actor: User, ip: str | None = None) -> None:
    with transaction.atomic():
        event.admins.remove(user)
        audit_record(action="event.admin_remove", actor=actor, target=event, ip=ip, event=event.slug,
                     user=user.username)


# --------------------------------------------------------------------------- sign-ups


def signup_request(*, event: Event, user: User, team: Team | None = None, ip: str | None = None,
                   at: datetime | None = None) -> Signup:
    """Ask to take part in ``event`` for ``team`` (default: the personal team). Approved at once unless the
    event needs approval. Raises EventClosed before sign-up opens or after close, PermissionDenied when the
    user is not in the team, Conflict when already signed up."""
    at = at or timezone.now()
    if not event.is_signup_open(at=at):
        raise EventClosed(f"Sign-up to '{event.slug}' opens at {event.signup_opens_at:%Y-%m-%d %H:%M %Z}.")
    if event.is_closed(at=at):
        raise EventClosed(f"Event '{event.slug}' is closed.")
    if team is None:
        team = Team.objects.filter(is_personal=True, memberships__user=user).first()
        if team is None:
            raise ValidationFailed("You have no personal team; choose a team to take part with.", field="team")
    elif not Membership.objects.filter(team=team, user=user).exists():
        raise PermissionDenied(f"You are not a member of team '{team.slug}'.", field="team")
    with transaction.atomic():
        existing = Signup.objects.filter(event=event, user=user).first()
        if existing is not None:
            raise Conflict(f"You already signed up to '{event.slug}' ({existing.state}).")
        approved = not event.approval_required
        signup = Signup.objects.create(
            event=event, user=user, team=team,
            state=Signup.State.APPROVED if approved else Signup.State.PENDING,
            decided_at=at if approved else None)
        audit_record(action="event.signup", actor=user, target=event, ip=ip, event=event.slug, team=team.slug,
                     state=signup.state)
    return signup


def signup_add(*, event: Event, user: User, actor: User, team: Team | None = None, ip: str | None = None) -> Signup:
    """Sign ``user`` up and approve at once (event admins), or approve their pending request."""
    with transaction.atomic():
        signup = Signup.objects.filter(event=event, user=user).first()
        if signup is None:
            if team is None:
                team = Team.objects.filter(is_personal=True, memberships__user=user).first()
            if team is None:
                raise ValidationFailed(f"'{user.username}' has no personal team; give a team.", field="team")
            signup = Signup(event=event, user=user, team=team)
        signup.state, signup.decided_at, signup.decided_by = Signup.State.APPROVED, timezone.now(), actor
        signup.reason = ""
        signup.save()
        audit_record(action="event.signup_approve", actor=actor, target=event, ip=ip, event=event.slug,
                     user=user.username)
    return signup


def signup_decide(*, signup: Signup, approve: bool, actor: User, reason: str = "", ip: str | None = None) -> Signup:
    """Approve or reject a sign-up request (event admins); a rejection keeps its reason for the user."""
    if not approve and not reason.strip():
        raise ValidationFailed("Give the reason of the rejection; the user will see it.", field="reason")
    with transaction.atomic():
        signup.state = Signup.State.APPROVED if approve else Signup.State.REJECTED
        signup.reason = "" if approve else reason.strip()[:2000]
        signup.decided_at, signup.decided_by = timezone.now(), actor
        signup.save()
        audit_record(action=f"event.signup_{'approve' if approve else 'reject'}", actor=actor, target=signup.event,
                     ip=ip, event=signup.event.slug, user=signup.user.username)
    return signup


# --------------------------------------------------------------------------- submissions


@dataclass(frozen=True)
class Quota:
    """What a team has left in an event right now (shown before submitting, enforced at submission)."""

    today_used: int
    today_limit: int | None
    total_used: int
    total_limit: int | None
    next_allowed_at: datetime | None  # end of the cool-down, None when none applies

    def refusal(self, *, at: datetime) -> str | None:
        if self.total_limit is not None and self.total_used >= self.total_limit:
            return f"Your team has used all {self.total_limit} submissions of this event."
        if self.today_limit is not None and self.today_used >= self.today_limit:
            return f"Your team has used its {self.today_limit} submissions of today; try again tomorrow."
        if self.next_allowed_at is not None and at < self.next_allowed_at:
            wait = max(1, int((self.next_allowed_at - at).total_seconds() // 60) + 1)
            return f"Wait {wait} more minute(s) between submissions (until {self.next_allowed_at:%H:%M %Z})."
        return None


def submission_quota(*, event: Event, team: Team, at: datetime | None = None) -> Quota:
    """Submissions used today and in total (failed ones do not count) and the end of the cool-down."""
    at = at or timezone.now()
    counted = Submission.objects.filter(event=event, team=team).exclude(state=State.ERROR)
    day_start = timezone.localtime(at).replace(hour=0, minute=0, second=0, microsecond=0)
    last = Submission.objects.filter(event=event, team=team).order_by("-created_at").values_list(
        "created_at", flat=True).first()
    next_allowed = (last + timedelta(minutes=event.min_minutes_between)
                    if last is not None and event.min_minutes_between else None)
    return Quota(today_used=counted.filter(created_at__gte=day_start).count(), today_limit=event.max_submissions_per_day,
                 total_used=counted.count(), total_limit=event.max_submissions_total,
                 next_allowed_at=next_allowed if next_allowed and next_allowed > at else None)


def _approved_signup(*, event: Event, user: User, lock: bool = False) -> Signup:
    qs = Signup.objects.filter(event=event, user=user).select_related("team")
    if lock:
        qs = qs.select_for_update()
    signup = qs.first()
    if signup is None:
        raise NotSignedUp(f"Sign up to '{event.slug}' before submitting.")
    if signup.state == Signup.State.PENDING:
        raise NotSignedUp(f"Your sign-up to '{event.slug}' waits for approval by the event's admins.")
    if signup.state == Signup.State.REJECTED:
        raise NotSignedUp(f"Your sign-up to '{event.slug}' was rejected: {signup.reason}")
    return signup


def _check_files(event: Event, files: dict[str, bytes]) -> dict[str, bytes]:
    expected = [element_filename(e) for e in event.problem.elements]
    limit = get_config().max_submission_file_bytes
    if not isinstance(files, dict):
        raise ValidationFailed("Send the submission's files by name.", field="files")
    unknown = sorted(set(files) - set(expected))
    if unknown:
        raise ValidationFailed(f"'{str(unknown[0])[:100]}' is not a file of this problem; it expects "
                               f"{', '.join(expected)}.", field="files", expected=expected)
    missing = [name for name in expected if name not in files]
    if missing:
        raise ValidationFailed(f"The submission lacks {', '.join(missing)}; this problem expects "
                               f"{', '.join(expected)}.", field="files", expected=expected)
    checked = {}
    for name in expected:
        content = files[name]
        if isinstance(content, str):
            content = content.encode("utf-8")
        if not isinstance(content, bytes):
            raise ValidationFailed(f"The content of '{name}' must be text or bytes.", field="files")
        if len(content) > limit:
            raise TooLarge(f"File '{name}' is {len(content) // 1024} KB; the limit is {limit // 1024} KB.",
                           field="files", limit_bytes=limit)
        if name.endswith(".py"):
            try:
                content.decode("utf-8")
            except UnicodeDecodeError:
                raise ValidationFailed(f"File '{name}' is not UTF-8 text.", field="files") from None
        checked[name] = content
    return checked


def code_digest(files: dict[str, bytes]) -> str:
    """One hash of a submission's files (names and bytes; line endings normalized)."""
    digest = hashlib.sha256()
    for name in sorted(files):
        content = files[name].replace(b"\r\n", b"\n")
        digest.update(name.encode() + b"\0" + hashlib.sha256(content).hexdigest().encode() + b"\n")
    return digest.hexdigest()


def _log_state(submission: Submission, state: str, at: datetime, note: str = "") -> None:
    StateChange.objects.create(submission=submission, state=state, at=at, note=note[:200])


def submission_create(*, event: Event, user: User, name: str, files: dict[str, bytes], ip: str | None = None,
                      at: datetime | None = None) -> Submission:
    """Submit code to ``event`` as the user's team; it is queued for training at once.

    Refused with the reason when the event is not open (EventClosed), the user is not signed up
    (NotSignedUp), a limit is reached (LimitReached), the name is invalid or taken (NameTaken), the files
    are not the workflow's elements, or the code equals an earlier submission of the team (DuplicateCode).
    """
    at = at or timezone.now()
    if not event.is_open(at=at):
        if event.opens_at and at < event.opens_at:
            raise EventClosed(f"Event '{event.slug}' opens for submissions at {event.opens_at:%Y-%m-%d %H:%M %Z}.")
        raise EventClosed(f"Event '{event.slug}' is closed to submissions.")
    if not isinstance(name, str) or not SUBMISSION_NAME_RE.match(name):
        raise ValidationFailed("A submission name is 1–40 letters, digits, '-' or '_'.", field="name")
    files = _check_files(event, files)
    digest = code_digest(files)
    with transaction.atomic():
        signup = _approved_signup(event=event, user=user, lock=True)  # serializes a team's submissions
        team = signup.team
        refusal = submission_quota(event=event, team=team, at=at).refusal(at=at)
        if refusal:
            raise LimitReached(refusal)
        if Submission.objects.filter(event=event, team=team, name=name).exists():
            raise NameTaken(f"Your team already has a submission named '{name}'; choose another name.", field="name")
        same = Submission.objects.filter(event=event, team=team, code_sha256=digest).values_list("name", flat=True).first()
        if same is not None:
            raise DuplicateCode(f"This code is identical to your team's submission '{same}'.", submission=same)
        artifacts = {fname: artifact_store(stream=io.BytesIO(content)) for fname, content in files.items()}
        submission = Submission.objects.create(event=event, team=team, owner=user, name=name, code_sha256=digest,
                                               state=State.QUEUED, created_at=at, queued_at=at)
        SubmissionFile.objects.bulk_create([
            SubmissionFile(submission=submission, name=fname, artifact=artifact, size_bytes=artifact.size_bytes)
            for fname, artifact in artifacts.items()
        ])
        _log_state(submission, State.NEW, at)
        _log_state(submission, State.QUEUED, at)
        for fname, content in files.items():  # the sandbox opens on what was submitted last
            if fname.endswith(".py"):
                Draft.objects.update_or_create(event=event, user=user, element=fname,
                                               defaults={"code": content.decode("utf-8"), "updated_at": at})
        audit_record(action="submission.create", actor=user, target=submission, ip=ip, event=event.slug,
                     team=team.slug, name=name)
    return submission


def submission_files(*, submission: Submission) -> dict[str, bytes]:
    """The submitted files' contents by name."""
    store = ArtifactStore.from_config()
    files = {}
    for row in submission.files.select_related("artifact"):
        with store.open(row.artifact.sha256) as handle:
            files[row.name] = handle.read()
    return files


def draft_save(*, event: Event, user: User, files: dict[str, str]) -> list[Draft]:
    """Keep the sandbox's code of ``user`` for ``event`` (signed-up users only)."""
    _approved_signup(event=event, user=user)
    expected = {element_filename(e) for e in event.problem.elements}
    saved = []
    with transaction.atomic():
        for element, code in files.items():
            if element not in expected:
                raise ValidationFailed(f"'{str(element)[:100]}' is not a file of this problem.", field="files")
            if not isinstance(code, str) or len(code.encode("utf-8")) > MAX_DRAFT_BYTES:
                raise TooLarge(f"The draft of '{element}' is over {MAX_DRAFT_BYTES // 1024} KB.", field="files")
            draft, _ = Draft.objects.update_or_create(event=event, user=user, element=element,
                                                      defaults={"code": code, "updated_at": timezone.now()})
            saved.append(draft)
    return saved


# --------------------------------------------------------------------------- engine side


def submission_claim(*, worker: str, queues: list[str] | None = None) -> Submission | None:
    """Take the queued submission of highest priority, oldest first, for ``worker`` (state → training), or
    None when the queue is empty.

    Safe with many workers: ``SELECT … FOR UPDATE SKIP LOCKED`` where the database has it (PostgreSQL,
    MariaDB), SQLite's write lock otherwise (transactions start IMMEDIATE), and a guarded UPDATE always.
    """
    for _ in range(20):
        with transaction.atomic():
            qs = Submission.objects.filter(state=State.QUEUED).order_by("-priority", "queued_at", "id")
            if queues:
                qs = qs.filter(event__queue__in=queues)
            if connection.features.has_select_for_update_skip_locked:
                qs = qs.select_for_update(skip_locked=True, of=("self",))
            candidate = qs.values_list("pk", flat=True).first()
            if candidate is None:
                return None
            now = timezone.now()
            moved = Submission.objects.filter(pk=candidate, state=State.QUEUED).update(
                state=State.TRAINING, training_at=now, worker=worker[:200], attempts=F("attempts") + 1,
                lease_expires_at=now + timedelta(seconds=get_config().lease_seconds),
                progress={"phase": "starting"}, log_tail="")
            if moved:
                submission = Submission.objects.select_related("event__problem", "team").get(pk=candidate)
                _log_state(submission, State.TRAINING, now, note=worker)
                return submission
    return None


def submission_heartbeat(*, submission: Submission) -> bool:
    """Extend the lease of a run this worker still holds; False when it was taken away (re-queued)."""
    return bool(Submission.objects.filter(pk=submission.pk, state=State.TRAINING, worker=submission.worker).update(
        lease_expires_at=timezone.now() + timedelta(seconds=get_config().lease_seconds)))


def submission_progress(*, submission: Submission, progress: dict, log_tail: str) -> bool:
    """Store where a run is (fold, phase, elapsed, the log's sanitized tail) and renew its lease. False when
    this worker no longer holds the run (cancelled, re-queued): it should then stop the run."""
    return bool(Submission.objects.filter(pk=submission.pk, state=State.TRAINING, worker=submission.worker).update(
        progress=progress, log_tail=log_tail[-20_000:],
        lease_expires_at=timezone.now() + timedelta(seconds=get_config().lease_seconds)))


def submissions_still_held(*, worker: str, ids: list[int]) -> set[int]:
    """Which of the runs ``ids`` ``worker`` still holds (one query; the others were cancelled or re-queued)."""
    return set(Submission.objects.filter(pk__in=ids, state=State.TRAINING, worker=worker)
               .values_list("pk", flat=True))


def submission_reap(*, now: datetime | None = None) -> list[Submission]:
    """Give back the runs whose worker stopped sending heartbeats: queued again, or ``error`` ("worker lost
    N times") after ``max_attempts``. Safe to call from every worker: each move is a guarded UPDATE."""
    now = now or timezone.now()
    limit = get_config().max_attempts
    reaped = []
    for submission in Submission.objects.filter(state=State.TRAINING, lease_expires_at__lt=now).select_related("event"):
        lost = submission.worker or "a worker"
        with transaction.atomic():
            guard = Submission.objects.filter(pk=submission.pk, state=State.TRAINING, worker=submission.worker,
                                              lease_expires_at__lt=now)
            if submission.attempts >= limit:
                summary = (f"The worker running this submission was lost {submission.attempts} times "
                           f"(last: {lost}); it is not tried again.")
                moved = guard.update(state=State.ERROR, error_at=now, error_step=Submission.Step.TRAINING,
                                     error_summary=summary[:500], lease_expires_at=None, progress={}, log_tail="")
                state, note = State.ERROR, summary
            else:
                moved = guard.update(state=State.QUEUED, queued_at=now, worker="", lease_expires_at=None, progress={},
                                     log_tail="")
                state, note = State.QUEUED, f"requeued: {lost} stopped answering"
            if moved:
                _log_state(submission, state, now, note=note)
                submission.state = state
                reaped.append(submission)
    return reaped


def _move(submission: Submission, to: str, **fields: Any) -> None:
    guard = Submission.objects.filter(pk=submission.pk, state__in=ALLOWED_FROM[to])
    if submission.state == State.TRAINING and to in (State.SCORED, State.ERROR):
        guard = guard.filter(worker=submission.worker)  # only the worker that holds the run records its end
    moved = guard.update(state=to, **fields)
    if not moved:
        raise InvalidTransition(f"Submission {submission.pk} cannot move to '{to}' from its current state.")
    submission.state = to
    for name, value in fields.items():
        setattr(submission, name, value)


def _board_changed(event_id: int) -> None:
    """The event's boards changed: cached views of them (the score plot) are stale from now on."""
    Event.objects.filter(pk=event_id).update(board_version=F("board_version") + 1)


def submission_record_scores(*, submission: Submission, folds: list[dict], bagged: dict[str, dict[str, float]],
                             duration_seconds: float,
                             predictions: dict[int, dict[str, Path | bytes]] | None = None) -> Submission:
    """Store a finished training: per-fold rows, bagged scores, prediction files; state → scored.

    ``folds``: ``[{"fold", "scores": {"train"|"valid"|"test": {name: value}}, "train_time", "valid_time",
    "test_time"}]``; ``bagged``: ``{"valid": {name: value}, "test": {...}}``.
    """
    names = [s["name"] for s in submission.event.problem.score_types]
    stored_predictions: dict[int, dict[str, Any]] = {}
    for fold, files in (predictions or {}).items():
        for step, content in files.items():
            with (io.BytesIO(content) if isinstance(content, bytes) else open(content, "rb")) as stream:
                stored_predictions.setdefault(fold, {})[step] = artifact_store(stream=stream)
    now = timezone.now()
    with transaction.atomic():
        _move(submission, State.SCORED, scored_at=now, duration_seconds=duration_seconds,
              official_valid=bagged.get("valid", {}).get(names[0]),
              official_test=bagged.get("test", {}).get(names[0]),
              train_seconds=sum(f.get("train_time") or 0 for f in folds),
              valid_seconds=sum(f.get("valid_time") or 0 for f in folds),
              test_seconds=sum(f.get("test_time") or 0 for f in folds),
              error_step="", error_summary="", error_output="", exit_code=0, progress={}, log_tail="",
              lease_expires_at=None)
        FoldResult.objects.filter(submission=submission).delete()
        SubmissionScore.objects.filter(submission=submission).delete()
        FoldResult.objects.bulk_create([
            FoldResult(submission=submission, fold=f["fold"], train_scores=f["scores"].get("train", {}),
                       valid_scores=f["scores"].get("valid", {}), test_scores=f["scores"].get("test", {}),
                       train_seconds=f.get("train_time"), valid_seconds=f.get("valid_time"),
                       test_seconds=f.get("test_time"),
                       train_predictions=stored_predictions.get(f["fold"], {}).get("train"),
                       test_predictions=stored_predictions.get(f["fold"], {}).get("test"))
            for f in folds
        ])
        SubmissionScore.objects.bulk_create([
            SubmissionScore(submission=submission, name=name, position=i, valid=bagged.get("valid", {}).get(name),
                            test=bagged.get("test", {}).get(name))
            for i, name in enumerate(names)
        ])
        _log_state(submission, State.SCORED, now)
        _board_changed(submission.event_id)
    return submission


def submission_record_error(*, submission: Submission, step: str, summary: str, output: str = "",
                            exit_code: int | None = None, duration_seconds: float | None = None) -> Submission:
    """Mark a submission failed, with the failing step, the error's last line and the run's last lines."""
    if step not in Submission.Step.values:
        step = Submission.Step.CHECKING
    now = timezone.now()
    with transaction.atomic():
        _move(submission, State.ERROR, error_at=now, error_step=step, error_summary=summary[:500],
              error_output=output[-20_000:], exit_code=exit_code, duration_seconds=duration_seconds, progress={},
              log_tail="", lease_expires_at=None)
        _log_state(submission, State.ERROR, now, note=summary[:200])
    return submission


def submission_requeue(*, submission: Submission, actor: User | None = None, ip: str | None = None) -> Submission:
    """Put a scored or failed submission back in the queue (admins' re-run); its previous results are kept
    until replaced. A queued or training submission is refused (InvalidTransition)."""
    if submission.state not in (State.SCORED, State.ERROR) and actor is not None:
        raise InvalidTransition(f"Submission {submission.pk} is {submission.state}; re-run it once it has finished.")
    now = timezone.now()
    was_scored = submission.state == State.SCORED
    with transaction.atomic():
        _move(submission, State.QUEUED, queued_at=now, worker="", progress={}, log_tail="")
        if was_scored:
            _board_changed(submission.event_id)
        _log_state(submission, State.QUEUED, now, note=f"re-run by {actor.username}" if actor else "re-run")
        if actor is not None:
            audit_record(action="submission.rerun", actor=actor, target=submission, ip=ip,
                         event=submission.event.slug)
    return submission


# --------------------------------------------------------------------------- admin actions on runs

PRIORITY_RANGE = (-100, 100)


UNFINISHED_STATES = (State.NEW, State.QUEUED, State.TRAINING)


def check_cancellable(submission: Submission) -> None:
    """Raise InvalidTransition unless ``submission`` has not finished (the only ones a cancel can stop)."""
    if submission.state not in UNFINISHED_STATES:
        raise InvalidTransition(f"Submission {submission.pk} is {submission.state}: only a submission that has "
                                "not finished can be cancelled.")


def submission_cancel(*, submission: Submission, actor: User, ip: str | None = None) -> Submission:
    """Stop a submission that has not finished: ``error`` "Cancelled by NAME." at once. A run in training is
    killed by its worker, which sees within about a second that it no longer holds it."""
    check_cancellable(submission)
    summary = f"Cancelled by {actor.username}."
    step = Submission.Step.TRAINING if submission.state == State.TRAINING else Submission.Step.CHECKING
    now = timezone.now()
    with transaction.atomic():
        _move(submission, State.ERROR, error_at=now, error_step=step, error_summary=summary,
              error_output=submission.log_tail, progress={}, log_tail="", lease_expires_at=None)
        _log_state(submission, State.ERROR, now, note=summary)
        audit_record(action="submission.cancel", actor=actor, target=submission, ip=ip, event=submission.event.slug)
    return submission


def submission_set_priority(*, submission: Submission, priority: int, actor: User, ip: str | None = None) -> Submission:
    """Set the claim priority of a submission (higher first; 0 by default)."""
    low, high = PRIORITY_RANGE
    if isinstance(priority, bool) or not isinstance(priority, int) or not low <= priority <= high:
        raise ValidationFailed(f"The priority must be a whole number from {low} to {high}.")
    Submission.objects.filter(pk=submission.pk).update(priority=priority)
    submission.priority = priority
    audit_record(action="submission.priority", actor=actor, target=submission, ip=ip, priority=priority)
    return submission


def event_rerun_failed(*, event: Event, actor: User, ip: str | None = None) -> int:
    """Queue again every failed submission of ``event``; returns how many."""
    now = timezone.now()
    count = 0
    with transaction.atomic():
        for submission in Submission.objects.filter(event=event, state=State.ERROR).order_by("created_at", "id"):
            if Submission.objects.filter(pk=submission.pk, state=State.ERROR).update(
                    state=State.QUEUED, queued_at=now, worker="", progress={}, log_tail=""):
                _log_state(submission, State.QUEUED, now, note=f"re-run by {actor.username}")
                count += 1
        audit_record(action="event.rerun_failed", actor=actor, target=event, ip=ip, count=count)
    return count


# --------------------------------------------------------------------------- workers


def worker_register(*, name: str, host: str, pid: int, backend: str = Worker.Backend.LOCAL, queues: list[str] = (),
                    slots: int = 1, sandboxed: bool, sandbox_note: str = "", scheduler: str = "") -> Worker:
    """Say that a worker started (a name seen before is reused: its counters start again)."""
    now = timezone.now()
    worker, _ = Worker.objects.update_or_create(name=name[:200], defaults=dict(
        host=host[:200], pid=pid, backend=backend, queues=list(queues or []), slots=max(1, slots),
        sandboxed=sandboxed, sandbox_note=sandbox_note[:300], scheduler=scheduler[:200], started_at=now,
        heartbeat_at=now, stopped_at=None, scored=0, failed=0))
    return worker


def worker_beat(*, name: str, scored: int | None = None, failed: int | None = None, slots: int | None = None) -> None:
    fields: dict[str, Any] = {"heartbeat_at": timezone.now()}
    if scored is not None:
        fields.update(scored=scored, failed=failed or 0)
    if slots is not None:  # a Dask cluster grew or shrank
        fields.update(slots=max(1, slots))
    Worker.objects.filter(name=name).update(**fields)


def worker_stopped(*, name: str, scored: int | None = None, failed: int | None = None) -> None:
    now = timezone.now()
    fields: dict[str, Any] = {"heartbeat_at": now, "stopped_at": now}
    if scored is not None:
        fields.update(scored=scored, failed=failed or 0)
    Worker.objects.filter(name=name).update(**fields)
