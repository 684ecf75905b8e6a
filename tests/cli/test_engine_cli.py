"""The engine's commands: `submit --wait --log` with live progress, `worker status`, `submission cancel |
priority | rerun` and `event rerun-failed`, as the API's permissions allow them."""

from __future__ import annotations

import io
import json
import threading

import pytest

from databoard.challenges import services
from databoard.challenges.models import Submission
from databoard.engine.worker import run_worker
from tests.challenges.fixtures import Threads, failed, scored, shared_database, slow_iris_code, submit
from tests.cli.test_challenges_cli import _local, alice, cli_problem, event, kit, problem, run  # noqa: F401
from tests.homes import submission_folder

pytestmark = pytest.mark.django_db
State = Submission.State


@pytest.mark.django_db(transaction=True)
def test_submit_wait_log_prints_the_runs_log_as_it_grows(capsys, kit, tmp_path, override_config):  # noqa: F811
    from databoard.challenges.models import Problem
    from tests.challenges.fixtures import make_event
    from tests.factories import make_user

    override_config(progress_seconds=0.2)
    admin = make_user(username="admin", is_superuser=True)
    user = make_user(username="alice")
    problem = Problem.objects.filter(name="iris-log").first() or services.problem_import(source=kit, name="iris-log")
    slow_event = make_event(problem, admin, slug="log-event")
    services.signup_request(event=slow_event, user=user)
    folder = submission_folder(tmp_path, "slow", slow_iris_code(1.5, "log"))
    stop = threading.Event()
    with shared_database(tmp_path):
        threads = Threads()
        threads.start(lambda: run_worker(worker_id="log-worker", stop=stop, poll_seconds=0.1))
        try:
            code, out, err = run(capsys, "--as", "alice", "submit", str(folder), "--event", "log-event", "--name",
                                 "slow", "--wait", "--log", "--timeout", "120")
        finally:
            stop.set()
            threads.join()
    assert code == 0, err
    assert "CV fold 0" in out  # a line of the log, printed while the run went on
    assert "[score table hidden]" in out or "CV fold 1" in out
    assert "Scored: acc " in out


def test_worker_status_lists_workers_runs_and_queues_for_admins_only(capsys, alice, event, admin_user):  # noqa: F811
    services.worker_register(name="box:7", host="box", pid=7, sandboxed=False,
                             sandbox_note="WARNING: sandbox OFF (bwrap is not installed)", queues=["default"])
    submit(event, alice, "running")
    submit(event, alice, "waiting")
    running = services.submission_claim(worker="box:7")
    services.submission_progress(submission=running, progress={"phase": "training", "fold": 2, "n_folds": 3,
                                                                "elapsed_s": 12.0}, log_tail="")
    code, out, err = run(capsys, "--as", "admin", "worker", "status")
    assert code == 0, err
    assert "box:7" in out and "busy" in out and "OFF" in out
    assert "fold" in out and "default" in out  # the run's progress, and the queue table
    code, out, _ = run(capsys, "--as", "admin", "worker", "status", "--json")
    status = json.loads(out)
    assert code == 0 and [w["status"] for w in status["workers"]] == ["busy"]
    assert status["workers"][0]["running"][0]["progress"] == {"phase": "training", "fold": 2, "n_folds": 3,
                                                              "elapsed_s": 12.0}
    assert status["queues"] == [{"queue": "default", "queued": 1, "training": 1,
                                 "oldest_wait_s": status["queues"][0]["oldest_wait_s"]}]
    code, _, err = run(capsys, "--as", "alice", "worker", "status")
    assert code == 1 and "administrators" in err.lower()


def test_submission_cancel_priority_and_rerun(capsys, alice, event, admin_user):  # noqa: F811
    first = submit(event, alice, "first")
    second = submit(event, alice, "second")
    code, out, err = run(capsys, "--as", "admin", "submission", "priority", str(second.pk), "10")
    assert code == 0 and "priority 10" in out, err
    assert services.submission_claim(worker="w").pk == second.pk  # the higher priority goes first
    code, out, err = run(capsys, "--as", "admin", "submission", "cancel", str(second.pk))
    assert code == 0 and "Cancelled by admin." in out, err
    code, _, err = run(capsys, "--as", "admin", "submission", "cancel", str(second.pk))
    assert code == 1 and "only a submission that has not finished can be cancelled" in err
    code, out, err = run(capsys, "--as", "admin", "submission", "rerun", str(second.pk))
    assert code == 0 and "queued" in out, err
    code, _, err = run(capsys, "--as", "alice", "submission", "cancel", str(first.pk))
    assert code == 1 and Submission.objects.get(pk=first.pk).state == State.QUEUED
    for bad in ("101", "abc", "-1000"):
        code, _, err = run(capsys, "--as", "admin", "submission", "priority", str(first.pk), bad)
        assert code == 2 and "PRIORITY" in err.upper()
    code, _, err = run(capsys, "--as", "admin", "submission", "cancel", "999999")
    assert code == 1 and "no submission 999999" in err.lower()


def test_event_rerun_failed_asks_first(capsys, alice, event, admin_user, monkeypatch):  # noqa: F811
    failed(event, alice, "bad-1")
    failed(event, alice, "bad-2")
    scored(event, alice, "good")
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    code, _, _ = run(capsys, "--as", "admin", "event", "rerun-failed", event.slug)
    assert code == 1 and Submission.objects.filter(state=State.ERROR).count() == 2
    code, out, err = run(capsys, "--as", "admin", "event", "rerun-failed", event.slug, "--yes")
    assert code == 0 and "2 failed submissions" in out, err
    assert Submission.objects.filter(state=State.QUEUED).count() == 2
    assert Submission.objects.get(name="good").state == State.SCORED
    code, _, err = run(capsys, "--as", "alice", "event", "rerun-failed", event.slug, "--yes")
    assert code == 1 and err
