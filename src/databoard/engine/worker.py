"""The worker: claims queued submissions, trains them with ``ramp-test`` and records the outcome.

The database holds every state; a worker only claims (a guarded UPDATE), runs, and records. Many
workers can run at once on PostgreSQL, and on SQLite on one machine.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass

from django.db import close_old_connections, connection

from databoard.challenges import services
from databoard.challenges.errors import InvalidTransition
from databoard.challenges.models import Submission
from databoard.config import get_config
from databoard.engine.run import SUBMISSION_DIR, RunOutcome, RunSpec, _failure_summary, execute  # noqa: F401
from databoard.engine.runner import RunLimits

logger = logging.getLogger("databoard.engine")


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def sandbox_mode() -> tuple[bool, str]:
    """Whether runs go in the bwrap sandbox, and a sentence saying so (for the worker's start and the
    admin pages). Raises RuntimeError when the config requires bwrap and it cannot be used."""
    from databoard.engine.sandbox import sandbox_problem

    wanted = get_config().sandbox
    if wanted == "off":
        return False, "sandbox OFF (config sandbox = \"off\"): submissions run with resource limits only"
    problem = sandbox_problem()
    if problem is None:
        return True, "sandbox on (bwrap: no network, read-only system, private work folder)"
    if wanted == "bwrap":
        raise RuntimeError(f"The config requires the bwrap sandbox, but {problem}.")
    return False, f"WARNING: sandbox OFF ({problem}): submissions run with resource limits only"


# --------------------------------------------------------------------------- leases, progress and cancels


class RunHandle:
    """One run a :class:`LeaseKeeper` holds: its latest progress, and ``cancel`` (set when it is taken away)."""

    def __init__(self, submission: Submission):
        self.submission = submission
        self.cancel = threading.Event()
        self._progress = None
        self._lock = threading.Lock()
        self.dirty = False

    def report(self, progress) -> None:
        with self._lock:
            self._progress, self.dirty = progress, True

    def take(self):
        with self._lock:
            progress, self.dirty = self._progress, False
            return progress


class LeaseKeeper:
    """A thread (with its own database connection) that, every ``progress_seconds``, stores the progress of the
    runs it holds, renews their leases every third of ``lease_seconds``, marks the worker alive, and sets a run's
    ``cancel`` when the worker no longer holds it (an admin cancelled it, or it was re-queued)."""

    def __init__(self, worker_name: str, stats: "WorkerStats | None" = None):
        self.worker_name = worker_name
        self.stats = stats
        self.handles: dict[int, RunHandle] = {}
        self._lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name=f"lease-keeper-{worker_name}", daemon=True)

    def hold(self, submission: Submission) -> RunHandle:
        handle = RunHandle(submission)
        with self._lock:
            self.handles[submission.pk] = handle
        return handle

    def release(self, submission: Submission) -> None:
        with self._lock:
            self.handles.pop(submission.pk, None)

    def tick(self, *, renew: bool) -> None:
        """One round: progress and leases of the runs held, cancels seen, the worker's heartbeat."""
        with self._lock:
            handles = [h for h in self.handles.values() if not h.cancel.is_set()]  # a stopped run is not watched
        lost = []
        quiet = []
        for handle in handles:
            progress = handle.take() if handle.dirty else None
            if progress is not None:
                if not services.submission_progress(submission=handle.submission, progress=progress.as_dict(),
                                                    log_tail=progress.tail):
                    lost.append(handle)
            elif renew:
                if not services.submission_heartbeat(submission=handle.submission):
                    lost.append(handle)
            else:
                quiet.append(handle)
        if quiet:
            held = services.submissions_still_held(worker=self.worker_name, ids=[h.submission.pk for h in quiet])
            lost += [h for h in quiet if h.submission.pk not in held]
        for handle in lost:
            logger.warning("Submission %s was taken from this worker (cancelled or re-queued): stopping it",
                           handle.submission.pk)
            handle.cancel.set()
        stats = self.stats
        services.worker_beat(name=self.worker_name, scored=stats.scored if stats else None,
                             failed=stats.failed if stats else None)

    def _loop(self) -> None:
        from django.db import connection as thread_connection

        config = get_config()
        interval = max(min(config.progress_seconds, config.lease_seconds / 3), 0.05)
        renew_every = max(config.lease_seconds / 3, interval)
        last_renew = time.monotonic()
        try:
            while not self.stop.wait(interval):
                renew = time.monotonic() - last_renew >= renew_every
                try:
                    self.tick(renew=renew)
                    if renew:
                        last_renew = time.monotonic()
                except Exception:  # noqa: BLE001 — a missed round only risks a requeue, never a wrong result
                    logger.exception("The lease keeper of %s missed a round", self.worker_name)
                    thread_connection.close()
        finally:
            thread_connection.close()

    def __enter__(self):
        if not connection.in_atomic_block:  # in a test transaction, another connection would not see the rows
            self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join()


# --------------------------------------------------------------------------- the local worker


def run_spec(submission: Submission, *, sandboxed: bool | None = None) -> RunSpec:
    """The :class:`RunSpec` of a claimed submission (the kit is unpacked into this machine's cache).
    ``sandboxed`` None: as :func:`sandbox_mode` says for this machine."""
    event = submission.event
    problem = event.problem
    config = get_config()
    kit_dir, data_dir = services.problem_materialize(problem=problem)
    if sandboxed is None:
        sandboxed, _ = sandbox_mode()
    limits = RunLimits(timeout_s=float(event.max_train_seconds), memory_mb=event.max_memory_mb,
                       cpu_s=int(event.max_train_seconds * max(os.cpu_count() or 1, 1)),
                       max_log_bytes=config.max_output_mb * 1024 * 1024, max_file_mb=config.max_file_mb,
                       max_processes=config.max_processes)
    return RunSpec(submission_id=submission.pk, kit_dir=str(kit_dir), data_dir=str(data_dir),
                   files=services.submission_files(submission=submission), limits=limits,
                   score_names=[s["name"] for s in problem.score_types], n_folds=problem.n_folds,
                   sandbox=sandboxed, hidden=[str(config.home.resolve())], work_root=str(config.work_dir))


def record(submission: Submission, outcome: RunOutcome) -> Submission:
    """Store a run's outcome; a run that was taken from this worker meanwhile is dropped (InvalidTransition)."""
    try:
        if outcome.ok:
            return services.submission_record_scores(submission=submission, folds=outcome.folds,
                                                     bagged=outcome.bagged, duration_seconds=outcome.duration_s,
                                                     predictions=outcome.predictions)
        return services.submission_record_error(submission=submission, step=outcome.error_step,
                                                summary=outcome.summary, output=outcome.output,
                                                exit_code=outcome.exit_code, duration_seconds=outcome.duration_s)
    except InvalidTransition:
        logger.warning("Submission %s left this worker's hands during the run; result dropped", submission.pk)
        return Submission.objects.get(pk=submission.pk)


def record_crash(submission: Submission, exc: BaseException, started: float) -> Submission:
    """A bug in the worker must not leave the submission stuck in training: ``error``, and an admin can re-run it."""
    logger.error("Training submission %s failed in the worker", submission.pk, exc_info=exc)
    try:
        return services.submission_record_error(
            submission=submission, step=Submission.Step.TRAINING,
            summary=f"The worker failed while running this submission ({type(exc).__name__}); "
                    "an administrator can re-run it.", duration_seconds=time.monotonic() - started)
    except InvalidTransition:
        return Submission.objects.get(pk=submission.pk)


def train(submission: Submission, keeper: LeaseKeeper | None = None) -> Submission:
    """Train and score one claimed submission (state ``training``); returns it ``scored`` or ``error``.

    While it runs, ``keeper`` (a new one when not given) stores its progress, renews its lease and stops it
    when it is cancelled. Whatever happens, the submission leaves ``training``.
    """
    if keeper is None:
        with LeaseKeeper(submission.worker) as own:
            return train(submission, own)
    handle = keeper.hold(submission)
    started = time.monotonic()
    try:
        try:
            spec = run_spec(submission)
        except (ValueError, OSError) as exc:
            outcome = RunOutcome(ok=False, duration_s=time.monotonic() - started,
                                 error_step=Submission.Step.CHECKING,
                                 summary=f"The submission could not be prepared: {exc}")
        else:
            outcome = execute(spec, report=handle.report, cancel=handle.cancel)
        return record(submission, outcome)
    except Exception as exc:  # noqa: BLE001
        return record_crash(submission, exc, started)
    finally:
        keeper.release(submission)


@dataclass
class WorkerStats:
    scored: int = 0
    failed: int = 0

    @property
    def done(self) -> int:
        return self.scored + self.failed

    def count(self, finished: Submission) -> None:
        if finished.state == Submission.State.SCORED:
            self.scored += 1
        elif finished.state == Submission.State.ERROR:
            self.failed += 1


def run_worker(*, worker_id: str | None = None, burst: bool = False, queues: list[str] | None = None,
               poll_seconds: float | None = None, stop: threading.Event | None = None,
               max_submissions: int | None = None, on_done=None) -> WorkerStats:
    """Claim and train submissions, oldest first, until ``stop`` is set (or, with ``burst``, the queue is
    empty, or ``max_submissions`` are done). ``on_done(submission)`` is called after each one."""
    worker_id = worker_id or default_worker_id()
    poll = get_config().worker_poll_seconds if poll_seconds is None else poll_seconds
    stop = stop or threading.Event()
    stats = WorkerStats()
    sandboxed, note = sandbox_mode()
    services.worker_register(name=worker_id, host=socket.gethostname(), pid=os.getpid(), queues=queues or [],
                             sandboxed=sandboxed, sandbox_note=note)
    try:
        with LeaseKeeper(worker_id, stats) as keeper:
            _claim_loop(worker_id, keeper, stats, burst=burst, queues=queues, poll=poll, stop=stop,
                        max_submissions=max_submissions, on_done=on_done)
    finally:
        services.worker_stopped(name=worker_id, scored=stats.scored, failed=stats.failed)
    return stats


def _claim_loop(worker_id: str, keeper: LeaseKeeper, stats: WorkerStats, *, burst: bool, queues, poll: float,
                stop: threading.Event, max_submissions: int | None, on_done) -> None:
    while not stop.is_set():
        if not connection.in_atomic_block:  # a long-lived process: drop broken or expired connections
            close_old_connections()
        for lost in services.submission_reap():
            logger.warning("Submission %s was requeued or failed: its worker stopped answering", lost.pk)
        # A cheap read first: on SQLite a claim takes the write lock even when nothing is queued.
        waiting = Submission.objects.filter(state=Submission.State.QUEUED)
        if queues:
            waiting = waiting.filter(event__queue__in=queues)
        submission = services.submission_claim(worker=worker_id, queues=queues) if waiting.exists() else None
        if submission is None:
            if burst:
                break
            stop.wait(poll)
            continue
        finished = train(submission, keeper)
        stats.count(finished)
        if on_done is not None:
            on_done(finished)
        if max_submissions is not None and stats.done >= max_submissions:
            break
