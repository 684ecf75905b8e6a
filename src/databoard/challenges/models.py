"""Tables of the challenges: problems (RAMP kits), events, sign-ups, submissions and their scores."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from databoard.accounts.models import Team
from databoard.storage.models import Artifact


class Problem(models.Model):
    """A RAMP kit: ``problem.py``, its data and starting kit, as checked by rampwf at import.

    The facts below are read from the kit by ``rampwf`` in a subprocess; the files themselves live in the
    artifact store, listed by ``KitFile`` rows.
    """

    name = models.SlugField(max_length=100, unique=True)
    title = models.CharField(max_length=200)
    prediction_type = models.CharField(max_length=100, blank=True)
    workflow = models.CharField(max_length=100)
    elements = models.JSONField(default=list)  # workflow element names, in order
    score_types = models.JSONField(default=list)  # [{name, precision, lower_is_better, minimum, maximum}]
    label_names = models.JSONField(default=list, blank=True)
    n_folds = models.PositiveIntegerField()
    n_train = models.PositiveIntegerField()
    n_test = models.PositiveIntegerField()
    readme = models.TextField(blank=True)  # Markdown (a notebook is converted at import), sanitized when shown
    kit_sha256 = models.CharField(max_length=64)  # hash of the manifest: identifies this exact kit
    source = models.CharField(max_length=500, blank=True)  # where it was imported from
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def official_score(self) -> dict:
        return self.score_types[0]


class KitFile(models.Model):
    """One file of a problem's kit (``kit``) or of its private data folder (``data``)."""

    class Kind(models.TextChoices):
        KIT = "kit"
        DATA = "data"

    problem = models.ForeignKey(Problem, on_delete=models.CASCADE, related_name="files")
    kind = models.CharField(max_length=8, choices=Kind)
    path = models.CharField(max_length=500)  # relative, '/'-separated, checked at import
    artifact = models.ForeignKey(Artifact, on_delete=models.PROTECT, related_name="+")
    size_bytes = models.BigIntegerField()

    class Meta:
        ordering = ["kind", "path"]
        constraints = [models.UniqueConstraint(fields=["problem", "kind", "path"], name="kitfile_unique_path")]

    def __str__(self) -> str:
        return f"{self.problem.name}:{self.kind}/{self.path}"


class Event(models.Model):
    """A challenge on a problem: who may take part, when, and with which limits."""

    problem = models.ForeignKey(Problem, on_delete=models.PROTECT, related_name="events")
    slug = models.SlugField(max_length=100, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)  # Markdown
    is_public = models.BooleanField(default=True)  # listed and visible to anyone (even anonymous)
    approval_required = models.BooleanField(default=False)  # sign-ups wait for an event admin
    signup_opens_at = models.DateTimeField(null=True, blank=True)
    opens_at = models.DateTimeField(null=True, blank=True)  # submissions accepted from
    closes_at = models.DateTimeField(null=True, blank=True)  # submissions refused from; None: never closes
    public_opens_at = models.DateTimeField(null=True, blank=True)  # code visible to other participants from
    max_submissions_per_day = models.PositiveIntegerField(null=True, blank=True)
    max_submissions_total = models.PositiveIntegerField(null=True, blank=True)
    min_minutes_between = models.PositiveIntegerField(default=0)
    max_train_seconds = models.PositiveIntegerField(default=600)
    max_memory_mb = models.PositiveIntegerField(default=4096)
    show_private_after_close = models.BooleanField(default=True)
    queue = models.CharField(max_length=50, default="default")
    board_version = models.PositiveIntegerField(default=0)  # bumped when scores enter or leave the boards
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    admins = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="administered_events")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.slug

    def is_signup_open(self, *, at) -> bool:
        return self.signup_opens_at is None or at >= self.signup_opens_at

    def is_open(self, *, at) -> bool:
        """Submissions are accepted at ``at``."""
        return (self.opens_at is None or at >= self.opens_at) and (self.closes_at is None or at < self.closes_at)

    def is_closed(self, *, at) -> bool:
        return self.closes_at is not None and at >= self.closes_at

    def is_code_public(self, *, at) -> bool:
        return self.public_opens_at is not None and at >= self.public_opens_at


class Signup(models.Model):
    """A user's request to take part in an event, for one of their teams."""

    class State(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        REJECTED = "rejected"

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="signups")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="signups")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="signups")
    state = models.CharField(max_length=16, choices=State, default=State.PENDING, db_index=True)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["event", "user"], name="signup_one_per_user")]

    def __str__(self) -> str:
        return f"{self.user} → {self.event} ({self.state})"


class Submission(models.Model):
    """Code a team sent to an event; trained and scored by the engine."""

    class State(models.TextChoices):
        NEW = "new"
        QUEUED = "queued"
        TRAINING = "training"
        SCORED = "scored"
        ERROR = "error"

    class Step(models.TextChoices):
        CHECKING = "checking"
        TRAINING = "training"
        VALIDATING = "validating"
        TESTING = "testing"

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="submissions")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="submissions")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="submissions")
    name = models.CharField(max_length=40)
    code_sha256 = models.CharField(max_length=64, db_index=True)  # of the element files, to refuse copies
    state = models.CharField(max_length=16, choices=State, default=State.NEW, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    training_at = models.DateTimeField(null=True, blank=True)
    scored_at = models.DateTimeField(null=True, blank=True)
    error_at = models.DateTimeField(null=True, blank=True)
    error_step = models.CharField(max_length=16, choices=Step, blank=True)
    error_summary = models.CharField(max_length=500, blank=True)  # e.g. "ValueError: bad shape"
    error_output = models.TextField(blank=True)  # last lines of the run, scores redacted
    exit_code = models.IntegerField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    train_seconds = models.FloatField(null=True, blank=True)  # summed over folds
    valid_seconds = models.FloatField(null=True, blank=True)
    test_seconds = models.FloatField(null=True, blank=True)
    official_valid = models.FloatField(null=True, blank=True)  # bagged, official score type (for ranking)
    official_test = models.FloatField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)  # the worker's heartbeats push it forward
    attempts = models.PositiveIntegerField(default=0)
    priority = models.SmallIntegerField(default=0)  # higher is claimed first; set by event admins
    progress = models.JSONField(default=dict, blank=True)  # while training: {phase, fold, n_folds, elapsed_s}
    log_tail = models.TextField(blank=True)  # while training: the log's last lines, score tables hidden

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "team", "name"], name="submission_name_unique_per_team"),
        ]
        indexes = [
            models.Index(fields=["state", "-priority", "queued_at"], name="submission_queue_priority"),
            models.Index(fields=["state", "lease_expires_at"], name="submission_lease"),
            models.Index(fields=["event", "state", "official_valid"], name="submission_board"),
            models.Index(fields=["event", "state", "official_test"], name="submission_board_test"),
        ]

    def __str__(self) -> str:
        return f"{self.event.slug}/{self.team.slug}/{self.name}"


class SubmissionFile(models.Model):
    """One workflow element's file of a submission (e.g. ``classifier.py``)."""

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="files")
    name = models.CharField(max_length=100)
    artifact = models.ForeignKey(Artifact, on_delete=models.PROTECT, related_name="+")
    size_bytes = models.BigIntegerField()

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["submission", "name"], name="submissionfile_unique_name")]

    def __str__(self) -> str:
        return f"{self.submission_id}:{self.name}"


class SubmissionScore(models.Model):
    """A bagged score of a submission for one score type: validation (public) and test (private)."""

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="scores")
    name = models.CharField(max_length=100)
    position = models.PositiveSmallIntegerField()  # order of the problem's score types; 0 is official
    valid = models.FloatField(null=True)
    test = models.FloatField(null=True)

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["submission", "name"], name="submissionscore_unique")]

    def __str__(self) -> str:
        return f"{self.submission_id}:{self.name}"


class FoldResult(models.Model):
    """One cross-validation fold of a scored submission."""

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="folds")
    fold = models.PositiveSmallIntegerField()
    train_scores = models.JSONField(default=dict)
    valid_scores = models.JSONField(default=dict)
    test_scores = models.JSONField(default=dict)
    train_seconds = models.FloatField(null=True)
    valid_seconds = models.FloatField(null=True)
    test_seconds = models.FloatField(null=True)
    # rampwf's y_pred_train.npz: predictions on the whole training set, this fold's validation rows among them.
    train_predictions = models.ForeignKey(Artifact, null=True, blank=True, on_delete=models.PROTECT,
                                          related_name="+")
    test_predictions = models.ForeignKey(Artifact, null=True, blank=True, on_delete=models.PROTECT,
                                         related_name="+")

    class Meta:
        ordering = ["fold"]
        constraints = [models.UniqueConstraint(fields=["submission", "fold"], name="foldresult_unique")]

    def __str__(self) -> str:
        return f"{self.submission_id}:fold {self.fold}"


class StateChange(models.Model):
    """Every state a submission went through, with its time (the submission page's timeline)."""

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="state_changes")
    state = models.CharField(max_length=16, choices=Submission.State)
    at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.submission_id}→{self.state}"


class Draft(models.Model):
    """Code a participant is editing in the sandbox, saved but not submitted."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="drafts")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="drafts")
    element = models.CharField(max_length=100)
    code = models.TextField()
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "user", "element"], name="draft_unique")]

    def __str__(self) -> str:
        return f"{self.user}:{self.event}:{self.element}"


class Worker(models.Model):
    """A running (or stopped) ``databoard worker`` process, as it last said: for the admin page and
    ``databoard worker status``. Its runs are the submissions in training whose ``worker`` is its name."""

    class Backend(models.TextChoices):
        LOCAL = "local"
        DASK = "dask"

    name = models.CharField(max_length=200, unique=True)
    host = models.CharField(max_length=200)
    pid = models.PositiveIntegerField()
    backend = models.CharField(max_length=8, choices=Backend, default=Backend.LOCAL)
    scheduler = models.CharField(max_length=200, blank=True)  # the Dask scheduler's address
    queues = models.JSONField(default=list, blank=True)  # [] means every queue
    slots = models.PositiveIntegerField(default=1)  # runs at once
    sandboxed = models.BooleanField(default=False)
    sandbox_note = models.CharField(max_length=300, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    heartbeat_at = models.DateTimeField(default=timezone.now)
    stopped_at = models.DateTimeField(null=True, blank=True)
    scored = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-heartbeat_at"]

    def __str__(self) -> str:
        return self.name
