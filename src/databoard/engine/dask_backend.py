"""The Dask backend of the engine: each claimed submission runs as a task on a Dask cluster.

The dispatcher (:func:`run_dask_worker`, the ``databoard worker --backend dask`` process) is the only part
that touches the database: it claims submissions, holds their leases (a :class:`~databoard.engine.worker.
LeaseKeeper`), sends one task per run and records each outcome, exactly as the local worker does. The task
(:func:`run_on_dask`) runs on a Dask worker, possibly on another machine, and needs no database and no
Django: it imports :mod:`databoard.engine.run` and what that imports, nothing else of databoard's.

What travels between them:

- the kit: packed once per problem (its ``kit_sha256``) into a tar, scattered to the cluster once and
  published as a dataset; a Dask worker fetches it only when its ``<local_directory>/databoard-kits/<sha>``
  is missing, and unpacks it there;
- the run's progress: the task logs a ``databoard-progress`` event when the phase, fold or log tail changed
  (checked every second, sent at least every 5 s), which the dispatcher receives (``Client.subscribe_topic``)
  and hands to the lease keeper, which stores it;
- a cancel: when the lease keeper sees that a run was taken away (an admin cancelled it, or it was
  re-queued), the dispatcher sets the Dask ``Event`` ``databoard-cancel-<id>-<attempt>``, which a thread of
  the task watches; the run's process tree is then killed and its late result dropped.

The sandbox and the limits apply on the Dask worker: the task decides there whether bwrap can be used.
"""

from __future__ import annotations

import importlib.util
import io
import logging
import os
import shutil
import socket
import tarfile
import threading
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from databoard.engine.run import TRAINING, RunOutcome, RunSpec, execute
from databoard.engine.runner import Progress

if TYPE_CHECKING:
    from distributed import Client, Future

    from databoard.challenges.models import Problem, Submission
    from databoard.engine.worker import LeaseKeeper, RunHandle, WorkerStats

logger = logging.getLogger("databoard.engine")

PROGRESS_TOPIC = "databoard-progress"
KITS_FOLDER = "databoard-kits"
WORK_FOLDER = "databoard-work"
#: The task logs the progress when it changed, and at least this often (seconds) to move the elapsed time.
PROGRESS_EVERY_S = 5.0
#: How often the task looks whether its run was cancelled.
CANCEL_POLL_S = 0.5
#: How often the dispatcher counts the cluster's threads (workers may join or leave).
SLOTS_EVERY_S = 5.0
#: Kits kept scattered on the cluster (the least recently used beyond are released when no run needs them).
KITS_KEPT = 4


def cancel_event_name(submission_id: int, attempt: int) -> str:
    return f"databoard-cancel-{submission_id}-{attempt}"


def task_key(submission_id: int, attempt: int) -> str:
    return f"databoard-submission-{submission_id}-{attempt}"


# --------------------------------------------------------------------------- on the Dask worker (no Django)


def worker_sandbox_problem() -> str | None:
    """Why bwrap cannot be used on this Dask worker (None when it can)."""
    from databoard.engine.sandbox import sandbox_problem

    return sandbox_problem()


def worker_ready() -> str | None:
    """Run on each Dask worker by ``Client.run`` when the dispatcher starts: does there once what the first
    run would do (find ``ramp-test`` and the options it knows, which imports rampwf: seconds), and says why
    bwrap cannot be used there (None when it can)."""
    from databoard.engine import runner

    runner._ramp_test_base()
    runner._has_ignore_warning()
    return worker_sandbox_problem()


def _decide_sandbox(wanted: str) -> tuple[bool, str | None]:
    """(sandboxed, reason to refuse the run) on this machine for the config's ``sandbox`` value."""
    if wanted == "off":
        return False, None
    problem = worker_sandbox_problem()
    if problem is None:
        return True, None
    if wanted == "bwrap":
        return False, f"The config requires the bwrap sandbox, but on the Dask worker {socket.gethostname()} {problem}."
    return False, None


def _fetch_kit(dataset: str) -> bytes:
    """The packed kit the dispatcher scattered and published as ``dataset`` (fetched only by a worker that
    has not unpacked it yet)."""
    from distributed import get_client

    return get_client().get_dataset(dataset).result()


def unpack_kit(cache: Path, kit_sha: str, fetch: Callable[[], bytes]) -> Path:
    """``cache/<kit_sha>`` holding ``kit/`` (and ``data/``), unpacked from ``fetch()`` when missing.

    Safe across processes: unpacked into a private folder, then renamed into place.
    """
    base = cache / kit_sha
    if (base / ".complete").exists():
        return base
    cache.mkdir(parents=True, exist_ok=True)
    building = cache / f".{kit_sha}.{uuid.uuid4().hex}"
    try:
        with tarfile.open(fileobj=io.BytesIO(fetch()), mode="r:") as archive:
            if hasattr(tarfile, "data_filter"):  # Python 3.11.4+: refuse links and paths out of the folder
                archive.extractall(building, filter="data")
            else:  # made by pack_kit from the dispatcher's own copy of the kit
                archive.extractall(building)
        (building / "kit").mkdir(parents=True, exist_ok=True)
        (building / ".complete").touch()
        try:
            building.rename(base)
        except OSError:  # another process of this machine finished first: use its copy
            pass
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return base


def _scratch_root(local_directory: Path) -> Path:
    """The folder of every Dask worker's scratch space on this machine (hidden from the runs)."""
    parent = local_directory.parent
    return parent if parent.name == "dask-scratch-space" else local_directory


class _ProgressSender:
    """Logs the progress of a run as a Dask event when it changed (or every PROGRESS_EVERY_S seconds)."""

    def __init__(self, worker, submission_id: int, attempt: int):
        self.worker = worker
        self.submission_id = submission_id
        self.attempt = attempt
        self.last: tuple | None = None
        self.sent_at = 0.0

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        seen = (progress.phase, progress.fold, progress.tail)
        if seen == self.last and now - self.sent_at < PROGRESS_EVERY_S:
            return
        self.last, self.sent_at = seen, now
        self.worker.log_event(PROGRESS_TOPIC, {"submission": self.submission_id, "attempt": self.attempt,
                                               "progress": progress.as_dict(), "tail": progress.tail})


def _watch_cancel(name: str, cancel: threading.Event, finished: threading.Event) -> None:
    """A thread that sets ``cancel`` when the dispatcher sets the run's Dask Event."""
    from distributed import Event, get_client

    event = Event(name, client=get_client())  # the task's client: known in the task's thread only

    def watch() -> None:
        while not finished.is_set():
            try:
                if event.wait(timeout=CANCEL_POLL_S):
                    cancel.set()
                    return
            except Exception:  # noqa: BLE001 — the scheduler is gone: the dispatcher is too
                if finished.wait(CANCEL_POLL_S):
                    return

    threading.Thread(target=watch, name=name, daemon=True).start()


def run_on_dask(spec: RunSpec, kit_dataset: str, kit_sha: str, sandbox: str, attempt: int) -> RunOutcome:
    """The Dask task of one run: the kit unpacked on this worker, the sandbox decided here, then
    :func:`~databoard.engine.run.execute` with progress events and the cancel watched."""
    from distributed import get_worker

    worker = get_worker()
    local = Path(worker.local_directory).resolve()
    sandboxed, refusal = _decide_sandbox(sandbox)
    if refusal is not None:
        return RunOutcome(ok=False, duration_s=0.0, error_step=TRAINING, summary=refusal)
    base = unpack_kit(local / KITS_FOLDER, kit_sha, lambda: _fetch_kit(kit_dataset))
    kit_dir = base / "kit"
    data_dir = base / "data" if (base / "data").is_dir() else kit_dir
    hidden = list(dict.fromkeys([*spec.hidden, str(_scratch_root(local))]))
    here = replace(spec, kit_dir=str(kit_dir), data_dir=str(data_dir), sandbox=sandboxed, hidden=hidden,
                   work_root=str(local / WORK_FOLDER))
    cancel, finished = threading.Event(), threading.Event()
    _watch_cancel(cancel_event_name(spec.submission_id, attempt), cancel, finished)
    try:
        return execute(here, report=_ProgressSender(worker, spec.submission_id, attempt), cancel=cancel)
    finally:
        finished.set()  # the watcher ends within CANCEL_POLL_S: no need to wait for it


# --------------------------------------------------------------------------- the dispatcher (database side)


def pack_kit(kit_dir: Path, data_dir: Path) -> bytes:
    """A tar of the kit as ``kit/`` and, when it has a separate one, its data as ``data/``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:") as archive:
        archive.add(kit_dir, arcname="kit")
        if Path(data_dir).resolve() != Path(kit_dir).resolve():
            archive.add(data_dir, arcname="data")
    return buffer.getvalue()


def cluster_slots(client: Client) -> int:
    """Runs the cluster can hold at once: its workers' threads."""
    return sum(client.nthreads().values())


def cluster_sandbox(client: Client, wanted: str) -> tuple[bool, str]:
    """Whether runs are sandboxed on every Dask worker of the cluster, and a sentence saying so (the workers
    are made ready meanwhile: :func:`worker_ready`)."""
    problems = client.run(worker_ready) if client.nthreads() else {}
    if wanted == "off":
        return False, "sandbox OFF (config sandbox = \"off\"): submissions run with resource limits only"
    if not problems:
        return False, "no Dask worker yet: each run decides its sandbox on its worker"
    bad = {address: problem for address, problem in problems.items() if problem}
    if not bad:
        return True, (f"sandbox on, on the {len(problems)} Dask worker(s) (bwrap: no network, read-only system, "
                      "private work folder)")
    address, problem = next(iter(bad.items()))
    if wanted == "bwrap":
        return False, (f"WARNING: the config requires bwrap, but {len(bad)} of {len(problems)} Dask worker(s) cannot "
                       f"use it ({address}: {problem}): their runs end in error")
    return False, (f"WARNING: sandbox OFF on {len(bad)} of {len(problems)} Dask worker(s) ({address}: {problem}): "
                   "submissions run there with resource limits only")


@dataclass
class _Run:
    submission: Submission
    handle: RunHandle
    started: float
    cancel_sent: bool = False


class Dispatcher:
    """Claims submissions while the cluster has free threads, sends each as a task and records its outcome."""

    def __init__(self, client: Client, *, worker_id: str, keeper: LeaseKeeper, stats: WorkerStats,
                 queues: list[str] | None, sandbox: str):
        self.client = client
        self.worker_id = worker_id
        self.keeper = keeper
        self.stats = stats
        self.queues = queues
        self.sandbox = sandbox
        self.runs: dict[Future, _Run] = {}
        self.by_id: dict[int, _Run] = {}
        self.kits: dict[str, tuple[Future, str]] = {}  # sha → (future, dataset)
        self.kits_used: dict[str, float] = {}
        self.slots = cluster_slots(client)
        self._slots_at = time.monotonic()

    # progress events arrive on the client's event-loop thread: only the handles are touched
    def on_progress(self, event: tuple[float, Any]) -> None:
        _, msg = event
        if not isinstance(msg, dict):
            return
        run = self.by_id.get(msg.get("submission"))
        if run is None or run.submission.attempts != msg.get("attempt"):
            return
        p = msg.get("progress") or {}
        run.handle.report(Progress(phase=p.get("phase") or "training", fold=p.get("fold"), n_folds=p.get("n_folds"),
                                   elapsed_s=float(p.get("elapsed_s") or 0.0), tail=msg.get("tail") or ""))

    def refresh_slots(self) -> int:
        from databoard.challenges import services

        if time.monotonic() - self._slots_at >= SLOTS_EVERY_S:
            slots = cluster_slots(self.client)
            if slots != self.slots:
                logger.info("The Dask cluster now has %s thread(s) (was %s)", slots, self.slots)
                self.slots = slots
                if slots:
                    services.worker_beat(name=self.worker_id, slots=slots)
            self._slots_at = time.monotonic()
        return self.slots

    def kit_dataset(self, problem: Problem, kit_dir: str, data_dir: str) -> str:
        """The name under which the packed kit is published on the cluster (scattered the first time, or
        again if the worker holding it left)."""
        sha = problem.kit_sha256
        held = self.kits.get(sha)
        if held is None or held[0].status != "finished":
            if held is not None:
                self._release_kit(sha)
            future = self.client.scatter(pack_kit(Path(kit_dir), Path(data_dir)), broadcast=False, hash=False)
            name = f"databoard-kit-{sha[:16]}-{uuid.uuid4().hex[:12]}"
            self.client.publish_dataset(future, name=name)
            held = self.kits[sha] = (future, name)
        self.kits_used[sha] = time.monotonic()
        in_use = {run.submission.event.problem.kit_sha256 for run in self.runs.values()} | {sha}
        for old in sorted(self.kits, key=lambda k: self.kits_used.get(k, 0))[:max(0, len(self.kits) - KITS_KEPT)]:
            if old not in in_use:
                self._release_kit(old)
        return held[1]

    def _release_kit(self, sha: str) -> None:
        future, name = self.kits.pop(sha)
        self.kits_used.pop(sha, None)
        try:
            self.client.unpublish_dataset(name)
        except KeyError:
            pass
        future.release()

    def release_kits(self) -> None:
        for sha in list(self.kits):
            try:
                self._release_kit(sha)
            except Exception:  # noqa: BLE001 — the scheduler is gone: nothing is left to release
                pass

    def start(self, submission: Submission, on_done=None) -> None:
        """Send a claimed submission to the cluster (or record why it cannot run)."""
        from databoard.engine.worker import record, record_crash, run_spec

        handle = self.keeper.hold(submission)
        started = time.monotonic()
        try:
            try:
                spec = run_spec(submission, sandboxed=False)  # the Dask worker decides the sandbox
            except (ValueError, OSError) as exc:
                outcome = RunOutcome(ok=False, duration_s=time.monotonic() - started, error_step="checking",
                                     summary=f"The submission could not be prepared: {exc}")
                self.finish(submission, record(submission, outcome), on_done)
                return
            dataset = self.kit_dataset(submission.event.problem, spec.kit_dir, spec.data_dir)
            future = self.client.submit(run_on_dask, spec, dataset, submission.event.problem.kit_sha256, self.sandbox,
                                        submission.attempts, pure=False, retries=0,
                                        key=task_key(submission.pk, submission.attempts))
        except Exception as exc:  # noqa: BLE001 — the submission must not stay in training
            self.finish(submission, record_crash(submission, exc, started), on_done)
            return
        run = _Run(submission, handle, started)
        self.runs[future] = run
        self.by_id[submission.pk] = run

    def finish(self, submission: Submission, finished: Submission, on_done=None) -> None:
        self.keeper.release(submission)
        self.by_id.pop(submission.pk, None)
        self.stats.count(finished)
        if on_done is not None:
            on_done(finished)

    def send_cancels(self) -> None:
        from distributed import Event

        for run in self.runs.values():
            if run.handle.cancel.is_set() and not run.cancel_sent:
                Event(cancel_event_name(run.submission.pk, run.submission.attempts), client=self.client).set()
                run.cancel_sent = True

    def collect(self, timeout: float, on_done=None) -> int:
        """Wait up to ``timeout`` seconds for runs to end; record those that did. Returns how many."""
        from concurrent.futures import CancelledError

        from distributed import Event, wait

        from databoard.engine.worker import record, record_crash

        if not self.runs:
            return 0
        try:
            wait(list(self.runs), timeout=timeout, return_when="FIRST_COMPLETED")
        except (TimeoutError, CancelledError):  # nothing ended yet, or a run the cluster lost: below
            pass
        done = [future for future in self.runs if future.status != "pending"]
        for future in done:
            run = self.runs.pop(future)
            if future.status not in ("finished", "error"):  # lost with the scheduler: as with a lost worker,
                logger.warning("The Dask cluster lost the run of submission %s (%s): its lease will run out "
                               "and it will be queued again", run.submission.pk, future.status)
                self.keeper.release(run.submission)  # no more heartbeats: reaped after lease_seconds
                self.by_id.pop(run.submission.pk, None)
                future.release()
                continue
            try:
                if future.status == "finished":
                    finished = record(run.submission, future.result())
                else:
                    finished = record_crash(run.submission, future.exception(), run.started)
            except Exception as exc:  # noqa: BLE001
                finished = record_crash(run.submission, exc, run.started)
            finally:
                future.release()
            if run.cancel_sent:
                try:
                    Event(cancel_event_name(run.submission.pk, run.submission.attempts), client=self.client).clear()
                except Exception:  # noqa: BLE001 — only a flag left on the scheduler
                    logger.warning("Could not clear the cancel event of submission %s", run.submission.pk)
            self.finish(run.submission, finished, on_done)
        return len(done)

    def abandon(self) -> None:
        """Stop every run still in flight (the dispatcher is leaving abnormally); their leases run out."""
        for run in self.runs.values():
            run.handle.cancel.set()
        try:
            self.send_cancels()
            for future in self.runs:
                future.release()
        except Exception:  # noqa: BLE001
            logger.warning("Could not reach the Dask scheduler to stop the runs in flight")
        for run in self.runs.values():
            self.keeper.release(run.submission)
        self.runs.clear()


def _local_cluster(n_workers: int | None, dashboard_address: str | None):
    from distributed import LocalCluster

    return LocalCluster(n_workers=n_workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                        dashboard_address=dashboard_address)


def run_dask_worker(*, worker_id: str | None = None, scheduler: str | None = None, n_workers: int | None = None,
                    queues: list[str] | None = None, burst: bool = False, stop: threading.Event | None = None,
                    poll_seconds: float | None = None, max_submissions: int | None = None, on_done=None,
                    on_start=None, dashboard_address: str | None = ":8787") -> WorkerStats:
    """Claim submissions and run them on a Dask cluster, as many at once as it has threads, until ``stop``
    is set (or, with ``burst``, the queue is empty, or ``max_submissions`` were taken); runs in flight are
    finished before it returns.

    ``scheduler``: the address of a running Dask scheduler; None starts a ``LocalCluster`` of ``n_workers``
    processes (default: one per CPU) with one thread each (its dashboard on ``dashboard_address``; None: no
    dashboard), closed at the end. ``on_start(info)`` receives ``{"scheduler", "dashboard", "slots",
    "sandboxed", "sandbox_note", "local"}`` once connected; ``on_done(submission)`` is called after each run.
    """
    from distributed import Client

    from databoard.challenges import services
    from databoard.config import get_config
    from databoard.engine.worker import LeaseKeeper, WorkerStats, default_worker_id

    worker_id = worker_id or default_worker_id()
    config = get_config()
    poll = config.worker_poll_seconds if poll_seconds is None else poll_seconds
    stop = stop or threading.Event()
    stats = WorkerStats()
    cluster = _local_cluster(n_workers, dashboard_address) if scheduler is None else None
    try:
        client = Client(cluster if cluster is not None else scheduler)
    except BaseException:
        if cluster is not None:
            cluster.close()
        raise
    try:
        address = client.scheduler.address
        sandboxed, note = cluster_sandbox(client, config.sandbox)
        slots = cluster_slots(client)
        services.worker_register(name=worker_id, host=socket.gethostname(), pid=os.getpid(), backend="dask",
                                 queues=queues or [], slots=slots, sandboxed=sandboxed, sandbox_note=note,
                                 scheduler=address)
        try:
            if on_start is not None:
                running = client.scheduler_info().get("services", {})
                shown = "dashboard" in running and importlib.util.find_spec("bokeh") is not None
                on_start({"scheduler": address, "dashboard": client.dashboard_link if shown else "",
                          "slots": slots, "sandboxed": sandboxed, "sandbox_note": note, "local": cluster is not None})
            with LeaseKeeper(worker_id, stats) as keeper:
                dispatcher = Dispatcher(client, worker_id=worker_id, keeper=keeper, stats=stats, queues=queues,
                                        sandbox=config.sandbox)
                client.subscribe_topic(PROGRESS_TOPIC, dispatcher.on_progress)
                try:
                    _dispatch(dispatcher, burst=burst, poll=poll, stop=stop, max_submissions=max_submissions,
                              on_done=on_done)
                except BaseException:
                    dispatcher.abandon()
                    raise
                finally:
                    dispatcher.release_kits()
        finally:
            services.worker_stopped(name=worker_id, scored=stats.scored, failed=stats.failed)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return stats


def _dispatch(dispatcher: Dispatcher, *, burst: bool, poll: float, stop: threading.Event,
              max_submissions: int | None, on_done) -> None:
    from django.db import close_old_connections, connection

    from databoard.challenges import services
    from databoard.challenges.models import Submission

    stats = dispatcher.stats

    def room() -> bool:
        return max_submissions is None or stats.done + len(dispatcher.runs) < max_submissions

    while True:
        if not connection.in_atomic_block:  # a long-lived process: drop broken or expired connections
            close_old_connections()
        claiming = not stop.is_set() and room()
        queue_empty = False
        if claiming:
            for lost in services.submission_reap():
                logger.warning("Submission %s was requeued or failed: its worker stopped answering", lost.pk)
            free = dispatcher.refresh_slots() - len(dispatcher.runs)
            while free > 0 and room() and not stop.is_set():
                # A cheap read first: on SQLite a claim takes the write lock even when nothing is queued.
                waiting = Submission.objects.filter(state=Submission.State.QUEUED)
                if dispatcher.queues:
                    waiting = waiting.filter(event__queue__in=dispatcher.queues)
                submission = (services.submission_claim(worker=dispatcher.worker_id, queues=dispatcher.queues)
                              if waiting.exists() else None)
                if submission is None:
                    queue_empty = True
                    break
                dispatcher.start(submission, on_done)
                free -= 1
        if not dispatcher.runs:
            if not claiming or (burst and queue_empty):
                return
            if queue_empty or dispatcher.slots == 0:
                stop.wait(poll)
            continue
        dispatcher.send_cancels()
        dispatcher.collect(poll, on_done)
