"""Claiming queued submissions: oldest first, each to exactly one worker (also from many threads at once),
queue filters, guarded state transitions, and the event admins' re-run."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from databoard.challenges import services
from databoard.challenges.errors import InvalidTransition
from databoard.challenges.models import FoldResult, StateChange, Submission, SubmissionScore
from databoard.engine.worker import run_worker
from tests.challenges.fixtures import (
    Threads,
    committed_problem,
    error,
    make_event,
    record_scores,
    scored,
    shared_database,
    submit,
)
from tests.conftest import ApiClient
from tests.factories import make_token, make_user

pytestmark = pytest.mark.django_db

State = Submission.State
SCORES = {"acc": 0.5, "nll": 1.5, "bal_acc": 0.5}


@pytest.fixture(scope="module")
def claim_problem(django_db_setup, django_db_blocker, kits_root):
    with committed_problem(kits_root / "iris", "iris-claim", django_db_blocker) as problem:
        yield problem


@pytest.fixture
def iris(claim_problem, db):
    return claim_problem


def states_of(*submissions) -> list[str]:
    return [Submission.objects.get(pk=s.pk).state for s in submissions]


# --------------------------------------------------------------------------- one worker


def test_claims_take_the_oldest_queued_submission_first(event, participant):
    now = timezone.now()
    newer = submit(event, participant, "newer", at=now - timedelta(minutes=5))
    older = submit(event, participant, "older", at=now - timedelta(minutes=50))
    newest = submit(event, participant, "newest", at=now - timedelta(minutes=1))

    claimed = [services.submission_claim(worker="w1") for _ in range(3)]

    assert [s.pk for s in claimed] == [older.pk, newer.pk, newest.pk]
    assert services.submission_claim(worker="w1") is None
    first = Submission.objects.get(pk=older.pk)
    assert (first.state, first.worker, first.attempts) == (State.TRAINING, "w1", 1)
    assert first.training_at is not None and first.training_at >= now
    assert list(first.state_changes.values_list("state", "note")) == [("new", ""), ("queued", ""), ("training", "w1")]


def test_two_claims_never_return_the_same_submission(event, participant, rival):
    a = submit(event, participant)
    b = submit(event, rival)

    first = services.submission_claim(worker="w1")
    second = services.submission_claim(worker="w2")

    assert {first.pk, second.pk} == {a.pk, b.pk}
    assert services.submission_claim(worker="w3") is None
    assert dict(Submission.objects.values_list("pk", "worker")) == {first.pk: "w1", second.pk: "w2"}


def test_an_empty_queue_gives_none_and_moves_nothing(event, participant):
    done = scored(event, participant)
    assert services.submission_claim(worker="w1") is None
    assert states_of(done) == [State.SCORED]


def test_queues_filter_what_a_worker_claims(iris, admin_user, participant):
    cpu = make_event(iris, admin_user)
    gpu = make_event(iris, admin_user, queue="gpu")
    for event in (cpu, gpu):
        services.signup_add(event=event, user=participant, actor=admin_user)
    on_cpu = submit(cpu, participant, "cpu", at=timezone.now() - timedelta(hours=1))  # the oldest
    on_gpu = submit(gpu, participant, "gpu")

    assert services.submission_claim(worker="w", queues=["nowhere"]) is None
    claimed = services.submission_claim(worker="w", queues=["gpu"])

    assert claimed.pk == on_gpu.pk
    assert states_of(on_cpu, on_gpu) == [State.QUEUED, State.TRAINING]
    assert services.submission_claim(worker="w", queues=["gpu"]) is None
    assert services.submission_claim(worker="w", queues=["default", "gpu"]).pk == on_cpu.pk


# --------------------------------------------------------------------------- guarded transitions


def test_scores_for_a_submission_not_in_training_are_refused_and_write_nothing(event, participant):
    queued = submit(event, participant)

    with pytest.raises(InvalidTransition) as info:
        services.submission_record_scores(submission=queued, folds=[{"fold": 0, "scores": {"valid": SCORES}}],
                                          bagged={"valid": SCORES, "test": SCORES}, duration_seconds=1.0)

    assert info.value.status == 409 and info.value.code == "invalid_transition"
    queued.refresh_from_db()
    assert queued.state == State.QUEUED and queued.official_valid is None and queued.scored_at is None
    assert not FoldResult.objects.exists() and not SubmissionScore.objects.exists()
    assert list(queued.state_changes.values_list("state", flat=True)) == ["new", "queued"]


def test_a_finished_submission_cannot_be_finished_again(event, participant):
    done = scored(event, participant, valid=0.7, test=0.6)

    with pytest.raises(InvalidTransition):
        services.submission_record_error(submission=done, step="training", summary="late failure")
    with pytest.raises(InvalidTransition):
        services.submission_record_scores(submission=done, folds=[], bagged={"valid": {"acc": 0.1}},
                                          duration_seconds=1.0)

    done.refresh_from_db()
    assert (done.state, done.official_valid, done.error_summary) == (State.SCORED, 0.7, "")
    assert FoldResult.objects.filter(submission=done).count() == 3
    assert done.state_changes.filter(state=State.ERROR).count() == 0


def test_an_unknown_error_step_is_recorded_as_checking(event, participant):
    submit(event, participant)
    claimed = services.submission_claim(worker="w")
    services.submission_record_error(submission=claimed, step="nonsense", summary="x" * 900, output="y" * 30_000)
    claimed.refresh_from_db()
    assert claimed.error_step == Submission.Step.CHECKING
    assert len(claimed.error_summary) == 500 and len(claimed.error_output) == 20_000


# --------------------------------------------------------------------------- many workers at once


@pytest.mark.django_db(transaction=True)
def test_claims_from_many_threads_give_each_submission_to_exactly_one_worker(kits_root, tmp_path):
    admin = make_user(username="admin", is_superuser=True)
    problem = services.problem_import(source=kits_root / "iris", name="iris-threads")
    fast = make_event(problem, admin)
    other_queue = make_event(problem, admin, queue="other")
    teams = [make_user(username=f"racer{i}") for i in range(3)]
    for user in teams:
        services.signup_request(event=fast, user=user)
    services.signup_request(event=other_queue, user=teams[0])
    queued = [submit(fast, teams[i % 3]) for i in range(24)]
    elsewhere = submit(other_queue, teams[0])
    claims: dict[str, list[int]] = {}
    start = threading.Barrier(6)

    def worker(name: str) -> None:
        mine = claims.setdefault(name, [])
        start.wait()
        while (submission := services.submission_claim(worker=name, queues=["default"])) is not None:
            mine.append(submission.pk)
            time.sleep(0.005)  # a worker trains between claims: let the others in

    with shared_database(tmp_path):
        threads = Threads()
        for n in range(6):
            threads.start(worker, f"thread-{n}")
        threads.join()

        got = [pk for pks in claims.values() for pk in pks]
        assert sorted(got) == sorted(s.pk for s in queued)  # every one claimed, none twice
        assert len([pks for pks in claims.values() if pks]) >= 2  # they did run side by side
        rows = {s.pk: s for s in Submission.objects.all()}
        for name, pks in claims.items():
            assert all(rows[pk].worker == name and rows[pk].state == State.TRAINING for pk in pks)
        assert all(rows[s.pk].attempts == 1 for s in queued)
        assert StateChange.objects.filter(state=State.TRAINING).count() == len(queued)
        assert rows[elsewhere.pk].state == State.QUEUED


# --------------------------------------------------------------------------- re-run


def test_requeue_puts_a_submission_back_and_the_worker_trains_it_again(event, participant, event_admin):
    submission = submit(event, participant, "again")
    record_scores(submission, valid={"acc": 0.11, "nll": 9.0, "bal_acc": 0.1},
                  test={"acc": 0.12, "nll": 9.0, "bal_acc": 0.1})
    api = ApiClient(make_token(event_admin))

    r = api.post(f"challenges/submissions/{submission.pk}/rerun")

    assert r.status_code == 200, r.content
    assert r.json()["state"] == "queued"
    submission.refresh_from_db()
    assert submission.state == State.QUEUED and submission.worker == ""
    assert submission.state_changes.last().note == "re-run by carol"

    stats = run_worker(burst=True, worker_id="rerun-worker")

    assert (stats.scored, stats.failed) == (1, 0)
    submission.refresh_from_db()
    assert (submission.state, submission.attempts, submission.worker) == (State.SCORED, 2, "rerun-worker")
    assert submission.official_valid > 0.5  # the real training's score replaced the recorded one
    assert FoldResult.objects.filter(submission=submission).count() == 3
    assert SubmissionScore.objects.filter(submission=submission).count() == 3
    assert [c.state for c in submission.state_changes.all()] == [
        "new", "queued", "training", "scored", "queued", "training", "scored"]


def test_rerun_is_for_event_admins_and_only_from_a_final_state(event, participant, rival, event_admin):
    done = scored(event, participant)
    waiting = submit(event, participant)

    error(ApiClient(make_token(participant)).post(f"challenges/submissions/{done.pk}/rerun"), 403, "forbidden")
    error(ApiClient(make_token(rival)).post(f"challenges/submissions/{done.pk}/rerun"), 403, "forbidden")
    error(ApiClient().post(f"challenges/submissions/{done.pk}/rerun"), 401)
    assert states_of(done) == [State.SCORED]

    r = ApiClient(make_token(event_admin)).post(f"challenges/submissions/{waiting.pk}/rerun")

    error(r, 409, "invalid_transition")
    assert states_of(waiting) == [State.QUEUED]
    assert waiting.state_changes.count() == 2
