"""The shipped kits end to end: API submit → worker → stored scores equal to bare ramp-test's."""

from __future__ import annotations

import pytest

from databoard.challenges import services
from databoard.challenges.models import FoldResult, Submission
from databoard.engine.worker import run_worker
from tests.challenges.conftest import bare_ramp_test, read_submission
from tests.factories import make_token, make_user

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("kit_name", ["iris", "diabetes", "wine"])
def test_a_submission_through_the_api_is_scored_as_bare_ramp_test_scores_it(
        kit_name, kits_root, admin_user, tmp_path):
    kit = kits_root / kit_name
    problem = services.problem_import(source=kit, name=kit_name, actor=admin_user)
    event = services.event_create(problem=problem, slug=f"{kit_name}-e2e", actor=admin_user)
    alice = make_user(username="alice")
    services.signup_request(event=event, user=alice)
    from tests.conftest import ApiClient

    api = ApiClient(make_token(alice))
    files = {name: content.decode() for name, content in read_submission(kit, "starting_kit").items()}
    r = api.post(f"challenges/events/{event.slug}/submissions", json={"name": "first", "files": files})
    assert r.status_code == 201, r.content
    assert r.json()["state"] == "queued"

    stats = run_worker(burst=True, worker_id="test-worker")
    assert (stats.scored, stats.failed) == (1, 0)

    submission = Submission.objects.get(pk=r.json()["id"])
    expected = bare_ramp_test(kit, "starting_kit", tmp_path)
    stored = {s.name: (s.valid, s.test) for s in submission.scores.all()}
    assert stored == {name: (expected["valid"][name], expected["test"][name]) for name in expected["valid"]}
    assert submission.official_valid == expected["valid"][problem.score_types[0]["name"]]
    assert FoldResult.objects.filter(submission=submission).count() == problem.n_folds == 3
    assert [c.state for c in submission.state_changes.all()] == ["new", "queued", "training", "scored"]

    # The participant's view shows the validation scores, never the test ones before the event allows it.
    body = api.get(f"challenges/submissions/{submission.pk}").json()
    assert body["valid_scores"] == {name: expected["valid"][name] for name in expected["valid"]}
    assert body["test_scores"] is None and all(f["test_scores"] is None for f in body["folds"])
    shown = set(numbers_in(body))
    public = set(expected["valid"].values()) | {v for f in body["folds"] for v in f["train_scores"].values()}
    assert not (set(expected["test"].values()) - public) & shown


def numbers_in(value):
    if isinstance(value, float):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from numbers_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from numbers_in(item)


def test_the_failing_submission_ends_in_error_with_its_traceback_line(kits_root, admin_user):
    kit = kits_root / "iris"
    problem = services.problem_import(source=kit, name="iris", actor=admin_user)
    event = services.event_create(problem=problem, slug="iris-fail", actor=admin_user)
    alice = make_user(username="alice")
    services.signup_request(event=event, user=alice)
    submission = services.submission_create(event=event, user=alice, name="broken",
                                            files=read_submission(kit, "failing"))
    run_worker(burst=True)
    submission.refresh_from_db()
    assert submission.state == Submission.State.ERROR
    assert submission.error_step == Submission.Step.TRAINING
    assert submission.error_summary == "ValueError: this submission fails on purpose"
    assert "fails on purpose" in submission.error_output
    assert submission.exit_code not in (0, None)
    assert [c.state for c in submission.state_changes.all()] == ["new", "queued", "training", "error"]


def test_a_submission_over_the_time_limit_ends_in_error_with_the_limit(kits_root, admin_user):
    kit = kits_root / "iris"
    problem = services.problem_import(source=kit, name="iris", actor=admin_user)
    event = services.event_create(problem=problem, slug="iris-slow", actor=admin_user, max_train_seconds=3)
    alice = make_user(username="alice")
    services.signup_request(event=event, user=alice)
    slow = read_submission(kit, "starting_kit")
    slow["classifier.py"] = slow["classifier.py"].replace(b"def fit(self, X, y):", b"def fit(self, X, y):\n        while True: pass\n")
    submission = services.submission_create(event=event, user=alice, name="slow", files=slow)
    run_worker(burst=True)
    submission.refresh_from_db()
    assert submission.state == Submission.State.ERROR
    assert submission.error_summary == "Time limit of 3 s exceeded."
