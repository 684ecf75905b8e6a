"""Rules added after review: unfinished work stays private, downloads are audited, drafts follow
submissions, refused event changes leave nothing behind, a run taken from its worker is not recorded by
it, and the score plot keeps every new best when thinned."""

from __future__ import annotations

import copy

import pytest

from databoard.accounts.models import AuditEvent
from databoard.challenges import selectors, services
from databoard.challenges.errors import InvalidTransition
from databoard.challenges.models import Draft, Submission
from databoard.errors import NotFound, ValidationFailed
from tests.challenges.fixtures import committed_problem, iris_code, make_event, record_scores, submit
from tests.conftest import ApiClient
from tests.factories import make_token, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def rules_problem(django_db_setup, django_db_blocker, kits_root):
    with committed_problem(kits_root / "iris", "iris-rules", django_db_blocker) as problem:
        yield problem


@pytest.fixture
def iris(rules_problem, db):
    return rules_problem


@pytest.fixture
def open_event(iris, admin_user):
    return make_event(iris, admin_user)


def signed_up(event, username):
    user = make_user(username=username)
    services.signup_request(event=event, user=user)
    return user


def test_another_teams_queued_submission_is_hidden_until_it_finishes(open_event, admin_user):
    alice, bob = signed_up(open_event, "alice"), signed_up(open_event, "bob")
    queued = submit(open_event, alice, "wip")
    assert selectors.submission_get(pk=queued.pk, viewer=alice) == queued
    assert selectors.submission_get(pk=queued.pk, viewer=admin_user) == queued
    with pytest.raises(NotFound):
        selectors.submission_get(pk=queued.pk, viewer=bob)
    r = ApiClient(make_token(bob)).get(f"challenges/submissions/{queued.pk}")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    record_scores(queued, valid={"acc": 0.9, "nll": 0.3, "bal_acc": 0.9}, test={"acc": 0.8, "nll": 0.4, "bal_acc": 0.8})
    assert ApiClient(make_token(bob)).get(f"challenges/submissions/{queued.pk}").json()["state"] == "scored"


def test_a_starting_kit_download_is_in_the_audit_log(iris, open_event):
    alice = make_user(username="alice")
    r = ApiClient(make_token(alice)).get(f"challenges/problems/{iris.name}/starting-kit")
    assert r.status_code == 200 and r["Content-Type"] == "application/zip"
    event = AuditEvent.objects.get(action="problem.download")
    assert (event.actor, event.target_id) == (alice, str(iris.pk))


def test_the_sandbox_opens_on_the_code_submitted_last(open_event):
    alice = signed_up(open_event, "alice")
    services.draft_save(event=open_event, user=alice, files={"classifier.py": "# an old draft\n"})
    submit(open_event, alice, "v1")
    assert Draft.objects.get(event=open_event, user=alice).code == iris_code("v1")["classifier.py"]


def test_a_refused_event_change_leaves_the_event_as_it_was(open_event, admin_user):
    before = copy.copy(open_event)
    with pytest.raises(ValidationFailed):
        services.event_update(event=open_event, actor=admin_user, title="Renamed", max_memory_mb=10)
    assert (open_event.title, open_event.max_memory_mb) == (before.title, before.max_memory_mb)
    open_event.refresh_from_db()
    assert open_event.title == before.title


def test_an_unknown_event_option_in_a_patch_is_refused(open_event, admin_user):
    r = ApiClient(make_token(admin_user, scope="admin")).patch(
        f"challenges/events/{open_event.slug}", json={"titel": "typo"})
    assert r.status_code == 422 and "titel" in r.json()["error"]["message"]


def test_a_training_submission_cannot_be_rerun_and_a_dropped_worker_records_nothing(open_event, admin_user):
    alice = signed_up(open_event, "alice")
    submit(open_event, alice, "long")
    claimed = services.submission_claim(worker="worker-a")
    with pytest.raises(InvalidTransition, match="once it has finished"):
        services.submission_requeue(submission=claimed, actor=admin_user)
    # The run is taken from worker-a (as the reaper will do for a lost worker) and given to worker-b;
    # worker-a still holds its own copy, which says training by worker-a.
    services.submission_requeue(submission=Submission.objects.get(pk=claimed.pk))
    taken = services.submission_claim(worker="worker-b")
    with pytest.raises(InvalidTransition):
        services.submission_record_error(submission=claimed, step="training", summary="late result of worker-a")
    taken.refresh_from_db()
    assert (taken.state, taken.worker) == (Submission.State.TRAINING, "worker-b")


def test_the_thinned_score_plot_keeps_every_new_best(open_event):
    alice = signed_up(open_event, "alice")
    values = [0.5, 0.4, 0.6, 0.55, 0.58, 0.7, 0.65, 0.69, 0.71, 0.3] * 3
    for i, value in enumerate(values):
        record_scores(submit(open_event, alice, f"s{i}"), valid={"acc": value, "nll": 1, "bal_acc": value},
                      test={"acc": value, "nll": 1, "bal_acc": value})
    full = selectors.score_over_time(event=open_event, viewer=alice)
    thin = selectors.score_over_time(event=open_event, viewer=alice, max_points=10)
    assert len(full["points"]) == 30 and len(thin["points"]) < 30 and thin["count"] == full["count"] == 30
    bests = {p["submission"] for p in full["points"]
             if p["score"] > max([q["score"] for q in full["points"][:full["points"].index(p)]] or [-1])}
    assert bests == {"s0", "s2", "s5", "s8"} and bests <= {p["submission"] for p in thin["points"]}


def test_the_cached_score_plot_follows_new_scores_and_re_runs(open_event, admin_user):
    alice = signed_up(open_event, "alice")
    first = record_scores(submit(open_event, alice, "a"), valid={"acc": 0.5, "nll": 1, "bal_acc": 0.5},
                          test={"acc": 0.5, "nll": 1, "bal_acc": 0.5})
    assert selectors.score_over_time(event=open_event, viewer=alice)["count"] == 1
    services.event_update(event=open_event, actor=admin_user, title="Renamed")  # an edit keeps the version
    record_scores(submit(open_event, alice, "b"), valid={"acc": 0.7, "nll": 1, "bal_acc": 0.7},
                  test={"acc": 0.7, "nll": 1, "bal_acc": 0.7})
    assert [p["submission"] for p in selectors.score_over_time(event=open_event, viewer=alice)["points"]] == ["a", "b"]
    services.submission_requeue(submission=first, actor=admin_user)
    assert [p["submission"] for p in selectors.score_over_time(event=open_event, viewer=alice)["points"]] == ["b"]
