"""API schemas of the challenges."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Field, Schema
from pydantic import ConfigDict

from databoard.accounts.schemas import Instant


class ScoreTypeOut(Schema):
    name: str
    precision: int | None = None
    lower_is_better: bool
    minimum: float | None = None
    maximum: float | None = None


class ProblemOut(Schema):
    name: str
    title: str
    prediction_type: str
    workflow: str
    elements: list[str]
    files: list[str] = Field(description="The file each workflow element expects in a submission.")
    score_types: list[ScoreTypeOut]
    n_folds: int
    n_train: int
    n_test: int
    created_at: datetime


class ProblemDetailOut(ProblemOut):
    readme: str
    label_names: list[Any]


class ProblemImportIn(Schema):
    name: str = Field(..., min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    git_url: str = Field(..., min_length=1, max_length=500, description="A git repository holding the kit.")
    title: str | None = Field(None, max_length=200)


class EventIn(Schema):
    problem: str = Field(..., max_length=100)
    slug: str = Field(..., min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: str | None = Field(None, min_length=1, max_length=200)
    description: str = Field("", max_length=100_000)
    is_public: bool = True
    approval_required: bool = False
    signup_opens_at: Instant | None = None
    opens_at: Instant | None = None
    closes_at: Instant | None = None
    public_opens_at: Instant | None = None
    max_submissions_per_day: int | None = Field(None, ge=1, le=100_000)
    max_submissions_total: int | None = Field(None, ge=1, le=1_000_000)
    min_minutes_between: int = Field(0, ge=0, le=10_080)
    max_train_seconds: int = Field(600, ge=1, le=604_800)
    max_memory_mb: int = Field(4096, ge=512, le=1_048_576)
    show_private_after_close: bool = True
    queue: str = Field("default", min_length=1, max_length=50, pattern=r"^[A-Za-z0-9_-]+$")


class EventPatch(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt option is an error, not a silent no-op

    title: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=100_000)
    is_public: bool | None = None
    approval_required: bool | None = None
    signup_opens_at: Instant | None = None
    opens_at: Instant | None = None
    closes_at: Instant | None = None
    public_opens_at: Instant | None = None
    max_submissions_per_day: int | None = Field(None, ge=1, le=100_000)
    max_submissions_total: int | None = Field(None, ge=1, le=1_000_000)
    min_minutes_between: int | None = Field(None, ge=0, le=10_080)
    max_train_seconds: int | None = Field(None, ge=1, le=604_800)
    max_memory_mb: int | None = Field(None, ge=512, le=1_048_576)
    show_private_after_close: bool | None = None
    queue: str | None = Field(None, min_length=1, max_length=50, pattern=r"^[A-Za-z0-9_-]+$")


class EventOut(Schema):
    slug: str
    title: str
    problem: str
    description: str
    is_public: bool
    approval_required: bool
    signup_opens_at: datetime | None
    opens_at: datetime | None
    closes_at: datetime | None
    public_opens_at: datetime | None
    max_submissions_per_day: int | None
    max_submissions_total: int | None
    min_minutes_between: int
    max_train_seconds: int
    max_memory_mb: int
    show_private_after_close: bool
    queue: str
    is_open: bool
    created_at: datetime


class EventDetailOut(EventOut):
    admins: list[str]
    my_signup: SignupOut | None = None
    my_quota: QuotaOut | None = None


class SignupIn(Schema):
    team: str | None = Field(None, max_length=150, description="Team slug; default: your personal team.")


class ParticipantIn(Schema):
    username: str = Field(..., min_length=1, max_length=150)
    team: str | None = Field(None, max_length=150)


class RejectIn(Schema):
    reason: str = Field(..., min_length=1, max_length=2000)


class UsernameIn(Schema):
    username: str = Field(..., min_length=1, max_length=150)


class SignupOut(Schema):
    event: str
    username: str
    team: str
    state: str
    reason: str
    created_at: datetime
    decided_at: datetime | None


class QuotaOut(Schema):
    today_used: int
    today_limit: int | None
    total_used: int
    total_limit: int | None
    next_allowed_at: datetime | None
    refusal: str | None = Field(None, description="Why a submission would be refused now, if it would.")


class SubmissionIn(Schema):
    name: str = Field(..., description="1–40 letters, digits, '-' or '_', unique in your team.")
    files: dict[str, str] = Field(..., description="Each element's file name → its text.")


class DraftIn(Schema):
    files: dict[str, str]


class DraftOut(Schema):
    element: str
    code: str
    updated_at: datetime


class StateChangeOut(Schema):
    state: str
    at: datetime
    note: str


class FoldOut(Schema):
    fold: int
    train_scores: dict[str, float | None]
    valid_scores: dict[str, float | None]
    test_scores: dict[str, float | None] | None = Field(None, description="Only where private scores may be seen.")
    train_seconds: float | None
    valid_seconds: float | None
    test_seconds: float | None


class ProgressOut(Schema):
    phase: str = Field(..., description="starting, checking, training (a CV fold), averaging or bagging.")
    fold: int | None = Field(None, description="The CV fold being trained, from 1.")
    n_folds: int | None = None
    elapsed_s: float | None = Field(None, description="Seconds since ramp-test started.")


class SubmissionOut(Schema):
    id: int
    event: str
    team: str
    owner: str
    name: str
    state: str
    created_at: datetime
    queued_at: datetime | None
    training_at: datetime | None
    scored_at: datetime | None
    error_at: datetime | None
    error_step: str
    error_summary: str
    duration_seconds: float | None
    train_seconds: float | None
    valid_seconds: float | None
    test_seconds: float | None
    valid_scores: dict[str, float | None]
    test_scores: dict[str, float | None] | None = Field(None, description="Only where private scores may be seen.")
    priority: int = Field(0, description="Higher is trained first.")
    attempts: int = Field(0, description="How many times a worker took it.")
    progress: ProgressOut | None = Field(None, description="While training: where the run is.")


class SubmissionDetailOut(SubmissionOut):
    files: list[str]
    code_visible: bool
    error_output: str | None = Field(None, description="The run's last lines: the team and event admins only.")
    log_tail: str | None = Field(None, description="While training, the log's last lines with score tables "
                                                   "hidden: the team and event admins only.")
    exit_code: int | None
    folds: list[FoldOut]
    states: list[StateChangeOut]


class LeaderboardColumnOut(Schema):
    key: str
    label: str
    precision: int | None = None
    lower_is_better: bool | None = None


class LeaderboardOut(Schema):
    event: str
    kind: Literal["public", "private", "competition", "private_competition", "mine", "failed"]
    step: str
    sort: str
    descending: bool
    columns: list[LeaderboardColumnOut]
    rows: list[dict[str, Any]]
    count: int
    limit: int
    offset: int


class ScorePointOut(Schema):
    t: str
    score: float
    team: str
    submission: str


class ScoreOverTimeOut(Schema):
    score_name: str
    lower_is_better: bool
    count: int = Field(description="Scored submissions in all (the points may be thinned).")
    points: list[ScorePointOut]


EventDetailOut.model_rebuild()


class PriorityIn(Schema):
    priority: int = Field(..., description="-100 to 100; higher is trained first (0 by default).")


class CountOut(Schema):
    count: int


class RunningOut(Schema):
    id: int
    event: str
    team: str
    name: str
    training_at: datetime | None
    progress: ProgressOut | None


class WorkerOut(Schema):
    name: str
    host: str
    pid: int
    backend: str
    scheduler: str
    queues: list[str]
    slots: int
    sandboxed: bool
    sandbox_note: str
    status: Literal["idle", "busy", "lost", "stopped"]
    started_at: datetime
    heartbeat_at: datetime
    heartbeat_age_s: float
    stopped_at: datetime | None
    scored: int
    failed: int
    running: list[RunningOut]


class QueueOut(Schema):
    queue: str
    queued: int
    training: int
    oldest_wait_s: float


class WorkersOut(Schema):
    workers: list[WorkerOut]
    queues: list[QueueOut]
