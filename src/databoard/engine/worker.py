"""The worker: claims queued submissions, trains them with ``ramp-test`` and records the outcome.

The database holds every state; a worker only claims (a guarded UPDATE), runs, and records. Many
workers can run at once on PostgreSQL, and on SQLite on one machine.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from django.db import close_old_connections, connection

from databoard.challenges import services
from databoard.challenges.errors import InvalidTransition
from databoard.challenges.models import Submission
from databoard.config import get_config
from databoard.engine.runner import OutputError, RunLimits, parse_training_output, prepare_workdir, run_ramp_test

logger = logging.getLogger("databoard.engine")

SUBMISSION_DIR = "submission"


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


def _failure_summary(result, limits: RunLimits) -> str:
    if result.timed_out:
        return f"Time limit of {limits.timeout_s:g} s exceeded."
    if result.memory_exceeded:
        return f"Memory limit of {limits.memory_mb} MB exceeded."
    if result.cpu_exceeded:
        return f"CPU time limit of {limits.cpu_s} s exceeded."
    return result.error_summary or f"ramp-test stopped with exit code {result.returncode}."


class _Heartbeat:
    """Renews the run's lease every third of ``lease_seconds`` in a thread (with its own connection)."""

    def __init__(self, submission: Submission):
        self.submission = submission
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"heartbeat-{submission.pk}", daemon=True)

    def _beat(self) -> None:
        from django.db import connection as thread_connection

        interval = max(get_config().lease_seconds / 3, 0.2)
        try:
            while not self.stop.wait(interval):
                if not services.submission_heartbeat(submission=self.submission):
                    break  # taken away: the result will be refused when recorded
        except Exception:  # noqa: BLE001 — a missed heartbeat only risks a requeue, never a wrong result
            logger.exception("Heartbeat of submission %s failed", self.submission.pk)
        finally:
            thread_connection.close()

    def __enter__(self):
        if not connection.in_atomic_block:  # in a test transaction, another connection would not see the row
            self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join()


def train(submission: Submission) -> Submission:
    """Train one claimed submission while its lease is kept alive; see :func:`_train`."""
    with _Heartbeat(submission):
        return _train(submission)


def _train(submission: Submission) -> Submission:
    """Train and score one claimed submission (state ``training``); returns it ``scored`` or ``error``.

    The run happens in a fresh folder holding only the submission's files; the kit and its data are
    read from this machine's cache. Whatever happens, the submission leaves ``training``.
    """
    event = submission.event
    problem = event.problem
    config = get_config()
    config.work_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"submission-{submission.pk}-", dir=config.work_dir))
    started = time.monotonic()
    try:
        try:
            kit_dir, data_dir = services.problem_materialize(problem=problem)
            prepare_workdir(work, services.submission_files(submission=submission), submission=SUBMISSION_DIR)
        except (ValueError, OSError) as exc:
            return services.submission_record_error(
                submission=submission, step=Submission.Step.CHECKING, summary=f"The submission could not be "
                f"prepared: {exc}", duration_seconds=time.monotonic() - started)
        limits = RunLimits(timeout_s=float(event.max_train_seconds), memory_mb=event.max_memory_mb)
        sandboxed, _ = sandbox_mode()
        result = run_ramp_test(kit_dir, data_dir, work, SUBMISSION_DIR, limits, sandbox=sandboxed,
                               hidden=[config.home.resolve()])
        if result.ok:
            names = [s["name"] for s in problem.score_types]
            try:
                output = parse_training_output(result.output_dir, names)
            except OutputError as exc:
                return services.submission_record_error(
                    submission=submission, step=Submission.Step.TESTING, summary=str(exc),
                    output=result.output_tail, exit_code=result.returncode, duration_seconds=result.duration_s)
            folds = [{"fold": f.index, "scores": f.scores, "train_time": f.train_time, "valid_time": f.valid_time,
                      "test_time": f.test_time} for f in output.folds]
            predictions = {f.index: {step: path for step, path in f.predictions.items() if path is not None}
                           for f in output.folds}
            return services.submission_record_scores(submission=submission, folds=folds, bagged=output.bagged,
                                                     duration_seconds=result.duration_s, predictions=predictions)
        return services.submission_record_error(
            submission=submission, step=result.error_step or Submission.Step.TRAINING,
            summary=_failure_summary(result, limits), output=result.output_tail, exit_code=result.returncode,
            duration_seconds=result.duration_s)
    except InvalidTransition:
        # The run was taken from this worker meanwhile (re-queued, cancelled): its result is not ours to record.
        logger.warning("Submission %s left this worker's hands during the run; result dropped", submission.pk)
        return Submission.objects.get(pk=submission.pk)
    except Exception as exc:  # noqa: BLE001 — a bug here must not leave the submission stuck in training
        logger.exception("Training submission %s failed in the worker", submission.pk)
        try:
            return services.submission_record_error(
                submission=submission, step=Submission.Step.TRAINING,
                summary=f"The worker failed while running this submission ({type(exc).__name__}); "
                        "an administrator can re-run it.", duration_seconds=time.monotonic() - started)
        except InvalidTransition:
            return Submission.objects.get(pk=submission.pk)
        except Exception:  # noqa: BLE001
            logger.exception("Could not record the failure of submission %s", submission.pk)
            raise exc from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


@dataclass
class WorkerStats:
    scored: int = 0
    failed: int = 0

    @property
    def done(self) -> int:
        return self.scored + self.failed


def run_worker(*, worker_id: str | None = None, burst: bool = False, queues: list[str] | None = None,
               poll_seconds: float | None = None, stop: threading.Event | None = None,
               max_submissions: int | None = None, on_done=None) -> WorkerStats:
    """Claim and train submissions, oldest first, until ``stop`` is set (or, with ``burst``, the queue is
    empty, or ``max_submissions`` are done). ``on_done(submission)`` is called after each one."""
    worker_id = worker_id or default_worker_id()
    poll = get_config().worker_poll_seconds if poll_seconds is None else poll_seconds
    stop = stop or threading.Event()
    stats = WorkerStats()
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
        finished = train(submission)
        if finished.state == Submission.State.SCORED:
            stats.scored += 1
        else:
            stats.failed += 1
        if on_done is not None:
            on_done(finished)
        if max_submissions is not None and stats.done >= max_submissions:
            break
    return stats
