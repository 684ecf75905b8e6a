"""The Dask backend against a real LocalCluster (2 worker processes, 1 thread each): submissions are scored
as the local worker scores them, failures keep their reason, the sandbox holds on the Dask workers, progress
reaches the database while a run trains, a cancel kills the run, and named queues pick the pool."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import pytest

from databoard.challenges import services
from databoard.challenges.models import FoldResult, Submission, SubmissionScore, Worker
from databoard.engine.dask_backend import pack_kit, unpack_kit
from databoard.engine.sandbox import sandbox_problem
from databoard.engine.worker import run_worker
from tests.challenges.fixtures import Threads, shared_database, unique_slug
from tests.engine.kits import STARTING_KIT, classifier
from tests.factories import make_user
from tests.homes import wait_until

SLOTS = 2


@pytest.fixture(scope="module")
def cluster():
    """One LocalCluster for the module: starting it costs seconds."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=SLOTS, threads_per_worker=1, processes=True, dashboard_address=":0") as local:
        yield local


@pytest.fixture
def home(transactional_db, tmp_path, iris_kit, override_config):
    """An admin, an iris problem (the engine tests' kit: 2 folds), a participant; rows other threads see."""
    override_config(worker_poll_seconds=0.05, progress_seconds=0.2)
    with shared_database(tmp_path):
        admin = make_user(username="admin", is_superuser=True)
        problem = services.problem_import(source=iris_kit, name=unique_slug("iris-dask"), actor=admin)
        alice = make_user(username="alice")
        yield {"admin": admin, "problem": problem, "alice": alice}


def event_on(home, queue: str = "default", **options):
    event = services.event_create(problem=home["problem"], slug=unique_slug("dask"), actor=home["admin"],
                                  queue=queue, **options)
    services.signup_request(event=event, user=home["alice"])
    return event


def submit(home, event, name: str, code: str | bytes) -> Submission:
    files = {"classifier.py": code.encode() if isinstance(code, str) else code}
    return services.submission_create(event=event, user=home["alice"], name=name, files=files)


@contextmanager
def dispatcher(cluster, **options):
    """``run_dask_worker`` in a thread on the module's cluster; stopped (runs finished) at the end."""
    from databoard.engine.dask_backend import run_dask_worker

    stop = threading.Event()
    result = {}
    threads = Threads()
    threads.start(lambda: result.update(stats=run_dask_worker(scheduler=cluster.scheduler_address, stop=stop,
                                                              **options)))
    try:
        yield result
    finally:
        stop.set()
        threads.join(timeout=120)


def run_burst(cluster, **options):
    """``run_dask_worker --burst`` in this thread (its lease keeper has its own connection)."""
    from databoard.engine.dask_backend import run_dask_worker

    return run_dask_worker(scheduler=cluster.scheduler_address, burst=True, **options)


def scores_of(submission: Submission) -> tuple:
    return ({s.name: (s.valid, s.test) for s in SubmissionScore.objects.filter(submission=submission)},
            [(f.fold, f.train_scores, f.valid_scores, f.test_scores)
             for f in FoldResult.objects.filter(submission=submission).order_by("fold")])


# --------------------------------------------------------------------------- units (no cluster)


def test_a_packed_kit_unpacks_once_into_the_cache(tmp_path, iris_kit):
    packed = pack_kit(iris_kit, iris_kit)
    calls = []
    base = unpack_kit(tmp_path / "cache", "abc", lambda: calls.append(1) or packed)
    assert (base / "kit" / "problem.py").read_text() == (iris_kit / "problem.py").read_text()
    assert (base / "kit" / "data" / "train.csv").is_file() and not (base / "data").exists()
    assert unpack_kit(tmp_path / "cache", "abc", lambda: calls.append(1) or packed) == base
    assert calls == [1]  # the second run found it unpacked
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["abc"]  # no temporary folder left


def test_the_sandbox_is_decided_on_the_dask_worker(monkeypatch):
    from databoard.engine import dask_backend

    monkeypatch.setattr(dask_backend, "worker_sandbox_problem", lambda: "bwrap cannot start: no user namespaces")
    assert dask_backend._decide_sandbox("auto") == (False, None)  # limits only, as the dispatcher said at start
    assert dask_backend._decide_sandbox("off") == (False, None)
    sandboxed, refusal = dask_backend._decide_sandbox("bwrap")
    assert not sandboxed and refusal.startswith("The config requires the bwrap sandbox, but on the Dask worker ")
    assert refusal.endswith("bwrap cannot start: no user namespaces.")
    monkeypatch.setattr(dask_backend, "worker_sandbox_problem", lambda: None)
    assert dask_backend._decide_sandbox("bwrap") == (True, None) == dask_backend._decide_sandbox("auto")


# --------------------------------------------------------------------------- a real cluster


def test_queues_pick_the_pool_and_runs_are_scored_as_by_the_local_worker(cluster, home):
    cpu, gpu = event_on(home), event_on(home, queue="gpu")
    good = submit(home, cpu, "good", STARTING_KIT)
    failing = submit(home, cpu, "failing", classifier(fit="raise ValueError('this fails on purpose')"))
    hostile = submit(home, gpu, "hostile", classifier(
        fit="import socket\nsocket.create_connection(('127.0.0.1', 5432), timeout=2)"))
    done = []

    stats = run_burst(cluster, worker_id="cpu-pool", queues=["big", "default"], on_done=lambda s: done.append(s.pk))

    assert (stats.scored, stats.failed) == (1, 1)
    assert sorted(done) == sorted([good.pk, failing.pk])
    good.refresh_from_db()
    assert good.state == "scored" and good.worker == "cpu-pool" and good.official_valid > 0.8
    assert [c.state for c in good.state_changes.all()] == ["new", "queued", "training", "scored"]
    failing.refresh_from_db()
    assert (failing.state, failing.error_step) == ("error", "training")
    assert failing.error_summary == "ValueError: this fails on purpose"
    assert Submission.objects.get(pk=hostile.pk).state == "queued"  # not this pool's queue
    row = Worker.objects.get(name="cpu-pool")
    assert (row.backend, row.slots, row.scheduler, row.queues) == ("dask", SLOTS, cluster.scheduler_address,
                                                                   ["big", "default"])
    assert (row.scored, row.failed) == (1, 1) and row.stopped_at is not None

    stats = run_burst(cluster, worker_id="gpu-pool", queues=["gpu"])

    assert (stats.scored, stats.failed) == (0, 1)
    hostile.refresh_from_db()
    assert (hostile.state, hostile.worker) == ("error", "gpu-pool")
    if sandbox_problem() is None:  # bwrap works here, so on the cluster's workers too
        assert hostile.error_summary.startswith("The network is not available to submissions"), \
            hostile.error_summary

    # The local worker scores the same code the same way.
    same = submit(home, cpu, "same", STARTING_KIT + "# the same code, trained by the local worker\n")
    run_worker(burst=True, worker_id="local-test")
    same.refresh_from_db()
    assert same.state == "scored"
    assert scores_of(same) == scores_of(good)


def test_progress_reaches_the_database_and_a_cancel_kills_the_run_then_the_next_one_runs(cluster, home):
    event = event_on(home, max_train_seconds=600)
    slow = submit(home, event, "slow", classifier(fit="time.sleep(60)"))  # 60 s a fold, 2 folds
    ended = {}
    with dispatcher(cluster, worker_id="dask-cancel",
                    on_done=lambda s: ended.setdefault(s.pk, (time.monotonic(), s.state))) as result:
        fold = wait_until(lambda: Submission.objects.get(pk=slow.pk).progress.get("fold"), 60,
                        "the progress of the first fold")
        row = Submission.objects.get(pk=slow.pk)
        assert fold == 1 and row.progress["n_folds"] == 2 and row.progress["phase"] == "training"
        assert "CV fold 0" in row.log_tail
        cancelled_at = time.monotonic()
        services.submission_cancel(submission=row, actor=home["admin"])
        wait_until(lambda: slow.pk in ended, 30, "the end of the cancelled run")
        next_one = submit(home, event, "next", STARTING_KIT)
        wait_until(lambda: next_one.pk in ended, 60, "the next submission")
    took = ended[slow.pk][0] - cancelled_at
    assert took < 30, f"the cancelled run went on for {took:.0f} s"  # not cancelled: 2 folds of 60 s
    assert (result["stats"].scored, result["stats"].failed) == (1, 1)
    slow.refresh_from_db()
    next_one.refresh_from_db()
    assert (slow.state, slow.error_summary) == ("error", "Cancelled by admin.")
    assert (next_one.state, next_one.worker) == ("scored", "dask-cancel")


# --------------------------------------------------------------------------- the command


@pytest.mark.parametrize("argv, code, message", [
    (["worker", "--scheduler", "tcp://127.0.0.1:9"], 1, "--scheduler and --dask-workers go with --backend dask."),
    (["worker", "--dask-workers", "2"], 1, "--scheduler and --dask-workers go with --backend dask."),
    (["worker", "--backend", "dask", "--scheduler", "tcp://127.0.0.1:9", "--dask-workers", "2"], 1,
     "--dask-workers sizes the LocalCluster started without --scheduler"),
    (["worker", "--backend", "spark"], 2, "'spark' is not one of 'local', 'dask'"),
])
def test_the_worker_command_checks_its_options(capsys, argv, code, message):
    from databoard.cli.main import main

    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == code
    assert message in capsys.readouterr().err


def test_the_worker_command_says_when_the_scheduler_cannot_be_reached(db, capsys):
    import dask
    import distributed  # noqa: F401 — its defaults join dask's config on import: not inside the set() below

    from databoard.cli.main import main

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}), pytest.raises(SystemExit) as stopped:
        main(["worker", "--backend", "dask", "--scheduler", "tcp://127.0.0.1:9"])
    assert stopped.value.code == 1
    assert "Cannot reach the Dask scheduler at tcp://127.0.0.1:9" in capsys.readouterr().err
