"""Leases: a claimed run is kept alive by heartbeats; a silent worker's run is requeued, and after
``max_attempts`` lost runs it fails with the reason. A worker killed with SIGKILL mid-training loses its
run to the next worker, and the submission is scored exactly once."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from databoard.challenges import services
from databoard.challenges.errors import InvalidTransition
from databoard.challenges.models import Submission
from tests.challenges.fixtures import committed_problem, make_event, slow_iris_code, submit
from tests.factories import make_user
from tests.homes import HomeRows, cli_home, kill_group, submission_folder, wait_until

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def lease_problem(django_db_setup, django_db_blocker, kits_root):
    with committed_problem(kits_root / "iris", "iris-leases", django_db_blocker) as problem:
        yield problem


@pytest.fixture
def claimed(lease_problem, admin_user, override_config):
    override_config(lease_seconds=30, max_attempts=2)
    event = make_event(lease_problem, admin_user)
    alice = make_user(username="alice")
    services.signup_request(event=event, user=alice)
    submit(event, alice, "run")
    return services.submission_claim(worker="worker-a")


def expire(submission):
    Submission.objects.filter(pk=submission.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))


def test_a_claim_holds_a_lease_that_heartbeats_extend(claimed):
    first = claimed.lease_expires_at
    assert first is not None and first > timezone.now() + timedelta(seconds=25)
    time.sleep(0.01)
    assert services.submission_heartbeat(submission=claimed)
    claimed.refresh_from_db()
    assert claimed.lease_expires_at > first
    assert services.submission_reap() == []  # a live lease is left alone


def test_a_silent_workers_run_is_requeued_then_fails_after_max_attempts(claimed):
    expire(claimed)
    assert [s.pk for s in services.submission_reap()] == [claimed.pk]
    claimed.refresh_from_db()
    assert (claimed.state, claimed.worker, claimed.attempts) == ("queued", "", 1)
    assert claimed.state_changes.last().note == "requeued: worker-a stopped answering"
    assert not services.submission_heartbeat(submission=Submission(pk=claimed.pk, worker="worker-a"))

    again = services.submission_claim(worker="worker-b")
    assert (again.pk, again.attempts) == (claimed.pk, 2)
    expire(again)
    services.submission_reap()
    again.refresh_from_db()
    assert again.state == "error" and again.error_summary.startswith("The worker running this submission was lost 2 times")
    with pytest.raises(InvalidTransition):  # worker-b's late result is refused
        services.submission_record_error(submission=again,
                                         step="training", summary="late")


def home_with_a_slow_submission(tmp_path, kits_root, **settings):
    """A fresh SQLite data home (built by the CLI) with one queued submission whose training takes ~3 s."""
    slow = submission_folder(tmp_path, "slow", slow_iris_code(3))
    return cli_home(tmp_path, kits_root / "iris", {"slow": slow}, worker_poll_seconds=0.1, **settings)


def submission_row(home) -> tuple:
    return HomeRows(home)("SELECT state, worker, attempts FROM challenges_submission")[0]


def wait_for_training(home) -> None:
    wait_until(lambda: submission_row(home)[0] == "training", 60, "the worker never started training")


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_training_loses_its_run_and_it_is_scored_once(tmp_path, kits_root):
    home, env = home_with_a_slow_submission(tmp_path, kits_root, lease_seconds=2)
    doomed = subprocess.Popen([sys.executable, "-m", "databoard", "worker"], env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_training(home)
    kill_group(doomed)  # as a crash or OOM kill would (its ramp-test, in its own session, dies with it)
    time.sleep(2.5)  # its lease runs out

    rescuer = subprocess.run([sys.executable, "-m", "databoard", "worker", "--burst"], env=env,
                             capture_output=True, text=True, timeout=120)
    assert rescuer.returncode == 0, rescuer.stderr
    assert "Done: 1 scored, 0 failed." in rescuer.stdout
    final_state, worker, attempts = submission_row(home)
    assert (final_state, attempts) == ("scored", 2) and worker != ""
    timeline = [row[0] for row in HomeRows(home)("SELECT state FROM challenges_statechange ORDER BY at, id")]
    assert timeline == ["new", "queued", "training", "queued", "training", "scored"]


@pytest.mark.django_db(transaction=True)
def test_sigterm_lets_the_worker_finish_its_run_then_stop(tmp_path, kits_root):
    home, env = home_with_a_slow_submission(tmp_path, kits_root)
    worker = subprocess.Popen([sys.executable, "-m", "databoard", "worker"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    wait_for_training(home)
    worker.send_signal(signal.SIGTERM)
    out, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    assert "e/root/slow: scored" in out and "Done: 1 scored, 0 failed." in out
    assert submission_row(home)[::2] == ("scored", 1)
