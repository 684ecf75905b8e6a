"""A real worker thread on the database: it stores progress and the log tail while training, stops a run an
admin cancels, goes on after hostile submissions, trains higher priorities first, and says who it is."""

from __future__ import annotations

import threading
import time

import pytest

from databoard.challenges import services
from databoard.challenges.errors import InvalidTransition
from databoard.challenges.models import StateChange, Submission, Worker
from databoard.config import get_config
from databoard.engine.worker import run_worker
from tests.challenges.fixtures import IRIS_CODE, Threads, make_event, record_scores, shared_database, slow_iris_code
from tests.factories import make_user
from tests.homes import wait_until

State = Submission.State


def send(event, user, name: str, code: str, **fields) -> Submission:
    submission = services.submission_create(event=event, user=user, name=name,
                                            files={"classifier.py": (code + f"# {name}\n").encode()})
    if fields:
        Submission.objects.filter(pk=submission.pk).update(**fields)
    return submission


@pytest.fixture
def setting(kits_root, override_config):
    override_config(progress_seconds=0.2, worker_poll_seconds=0.05, max_output_mb=2)
    admin = make_user(username="boss", is_superuser=True)
    problem = services.problem_import(source=kits_root / "iris", name="iris-live")
    event = make_event(problem, admin, max_memory_mb=1024)
    alice = make_user(username="alice")
    services.signup_request(event=event, user=alice)
    return admin, event, alice


@pytest.mark.django_db(transaction=True)
def test_progress_cancel_hostile_runs_and_priorities_with_a_real_worker(setting, tmp_path):
    admin, event, alice = setting
    slow = send(event, alice, "slow", slow_iris_code(30))
    hog = send(event, alice, "hog", IRIS_CODE.replace("self.clf.fit(X, y)", "self.hog = bytearray(10 << 30)"))
    chatty = send(event, alice, "chatty", IRIS_CODE.replace(
        "self.clf.fit(X, y)", "for _ in range(1000):\n            print('x' * (1 << 20))"))
    last = send(event, alice, "last", IRIS_CODE)
    urgent = send(event, alice, "urgent", IRIS_CODE, priority=50)
    stop = threading.Event()
    done: list[Submission] = []

    with shared_database(tmp_path):
        threads = Threads()
        threads.start(lambda: run_worker(worker_id="live-1", stop=stop, on_done=done.append))
        try:
            # The urgent one jumps the queue; the slow one comes next and shows where it is.
            wait_until(lambda: done and done[0].pk == urgent.pk, 60, "the urgent submission first")
            assert done[0].state == State.SCORED
            running = wait_until(lambda: Submission.objects.filter(pk=slow.pk, progress__phase="training").first(),
                                 60, "progress of the slow run")
            assert running.state == State.TRAINING and running.progress["fold"] == 1
            assert running.progress["n_folds"] == event.problem.n_folds and running.progress["elapsed_s"] > 0
            assert "CV fold 0" in running.log_tail
            assert str(get_config().home) not in running.log_tail  # no server paths for the team
            worker = Worker.objects.get(name="live-1")
            assert worker.backend == "local" and worker.stopped_at is None
            assert worker.sandbox_note  # on or OFF, it says which

            # An admin cancels it: the worker kills it within seconds and goes on.
            cancelled_at = time.monotonic()
            services.submission_cancel(submission=Submission.objects.get(pk=slow.pk), actor=admin)
            wait_until(lambda: any(d.pk == slow.pk for d in done), 20, "the worker to drop the run")
            assert time.monotonic() - cancelled_at < 10

            wait_until(lambda: len(done) == 5, 180, "every submission")
        finally:
            stop.set()
            threads.join()

        rows = {s.name: s for s in Submission.objects.filter(event=event)}
        assert rows["slow"].state == State.ERROR and rows["slow"].error_summary == "Cancelled by boss."
        assert rows["hog"].state == State.ERROR and rows["hog"].error_summary == "Memory limit of 1 GB exceeded."
        assert rows["chatty"].state == State.ERROR
        assert rows["chatty"].error_summary.startswith("Output limit of 2 MB exceeded")
        assert rows["last"].state == State.SCORED and rows["urgent"].state == State.SCORED
        for row in rows.values():  # nothing left of the live view once a run has ended
            assert row.progress == {} and row.log_tail == "" and row.lease_expires_at is None
        assert StateChange.objects.filter(submission=rows["slow"], state=State.ERROR).count() == 1
        worker = Worker.objects.get(name="live-1")
        assert worker.stopped_at is not None and (worker.scored, worker.failed) == (2, 3)  # the cancel counts


@pytest.mark.django_db
def test_cancel_is_refused_once_finished_and_priority_is_checked(kits_root, admin_user, override_config):
    problem = services.problem_import(source=kits_root / "iris", name="iris-cancel")
    event = make_event(problem, admin_user)
    alice = make_user(username="alice2")
    services.signup_request(event=event, user=alice)
    queued = send(event, alice, "q", IRIS_CODE)
    services.submission_cancel(submission=queued, actor=admin_user)
    queued.refresh_from_db()
    assert (queued.state, queued.error_summary, queued.error_step) == (State.ERROR, "Cancelled by admin.", "checking")
    with pytest.raises(InvalidTransition, match="only a submission that has not finished"):
        services.submission_cancel(submission=queued, actor=admin_user)
    for bad in (101, -101, True, "5", 2.5):
        with pytest.raises(Exception, match="whole number from -100 to 100"):
            services.submission_set_priority(submission=queued, priority=bad, actor=admin_user)
    assert services.event_rerun_failed(event=event, actor=admin_user) == 1
    queued.refresh_from_db()
    assert queued.state == State.QUEUED
    assert services.event_rerun_failed(event=event, actor=admin_user) == 0


@pytest.mark.django_db
def test_metrics_give_the_queue_workers_failures_and_durations(kits_root, admin_user, client):
    from prometheus_client.parser import text_string_to_metric_families

    problem = services.problem_import(source=kits_root / "iris", name="iris-metrics")
    event = make_event(problem, admin_user, queue="big")
    alice = make_user(username="alice3")
    services.signup_request(event=event, user=alice)
    for name in ("a", "b", "c", "d"):
        send(event, alice, name, IRIS_CODE)
    claimed = services.submission_claim(worker="w-1")
    services.worker_register(name="w-1", host="h", pid=1, sandboxed=False, sandbox_note="OFF")
    services.submission_record_error(submission=claimed, step="training", summary="boom", duration_seconds=3)
    record_scores(Submission.objects.get(event=event, name="b"), valid={"acc": 0.9, "nll": 0.3, "bal_acc": 0.9},
                  test={"acc": 0.8, "nll": 0.4, "bal_acc": 0.8}, worker="w-1")
    services.submission_claim(worker="w-1")

    text = client.get("/metrics").content.decode()
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    assert samples[("databoard_queue_submissions", (("queue", "big"), ("state", "queued")))] == 1
    assert samples[("databoard_queue_submissions", (("queue", "big"), ("state", "training")))] == 1
    assert samples[("databoard_queue_oldest_wait_seconds", (("queue", "big"),))] >= 0
    assert samples[("databoard_workers", (("backend", "local"), ("sandbox", "off"), ("status", "busy")))] == 1
    assert samples[("databoard_submissions_finished_total", (("state", "error"), ("step", "training")))] == 1
    assert samples[("databoard_submissions_finished_total", (("state", "scored"), ("step", "")))] == 1
    duration = Submission.objects.get(event=event, name="b").duration_seconds
    assert samples[("databoard_submission_duration_seconds_count", ())] == 1
    assert samples[("databoard_submission_duration_seconds_sum", ())] == pytest.approx(duration)
    assert samples[("databoard_submission_duration_seconds_bucket", (("le", "+Inf"),))] == 1
