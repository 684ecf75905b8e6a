"""The Python client's challenges resources, in-process through a WSGI transport: problems, events,
sign-ups, submissions, leaderboards, and errors that mirror the API's."""

from __future__ import annotations

import csv
import io
import zipfile

import httpx
import pytest

from databoard.challenges import services
from databoard.challenges.models import Event, KitFile, Problem, Signup, Submission
from databoard.client import (
    BadRequest,
    Client,
    ClientError,
    Conflict,
    Forbidden,
    NotFound,
    RateLimited,
    TooLarge,
    Unauthorized,
    Unprocessable,
)
from databoard.kits import make_kit
from databoard.wsgi import application
from tests.challenges.fixtures import committed_problem, iris_code, make_event, record_scores, scored
from tests.factories import make_token, make_user

pytestmark = pytest.mark.django_db


def remote(token: str | None) -> Client:
    """The client's remote code path (base URL, bearer token) through a WSGI transport: no network."""
    return Client("http://testserver", token, transport=httpx.WSGITransport(app=application))


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    return make_kit("iris", tmp_path_factory.mktemp("client-kits"))


@pytest.fixture(scope="module")
def client_problem(django_db_setup, django_db_blocker, kit):
    with committed_problem(kit, "iris-client", django_db_blocker) as problem:
        yield problem


@pytest.fixture
def problem(client_problem, db):
    return client_problem


@pytest.fixture
def admin(admin_user):
    with remote(make_token(admin_user, scope="admin")) as client:
        yield client


@pytest.fixture
def alice(user):
    with remote(make_token(user)) as client:
        yield client


@pytest.fixture
def bob(other_user):
    with remote(make_token(other_user)) as client:
        yield client


@pytest.fixture
def event(problem, admin_user):
    return make_event(problem, admin_user, slug="client-event")


def _zip_folder(folder, target):
    with zipfile.ZipFile(target, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, f"{folder.name}/{path.relative_to(folder).as_posix()}")
    return target


# --------------------------------------------------------------------------- problems


def test_import_kit_from_a_folder(admin, kit):
    problem = admin.problems.import_kit(kit, name="from-folder", title="Folder iris")

    assert (problem["name"], problem["title"], problem["files"]) == ("from-folder", "Folder iris", ["classifier.py"])
    stored = Problem.objects.get(name="from-folder")
    assert stored.files.filter(path="submissions/better/classifier.py").exists()
    assert admin.problems.get("from-folder")["readme"] == stored.readme != ""
    assert "from-folder" in [p["name"] for p in admin.problems.list()]


def test_import_kit_from_a_zip_with_private_data(admin, kit, tmp_path):
    archive = _zip_folder(kit, tmp_path / "iris.zip")
    private = tmp_path / "private"
    (private / "data").mkdir(parents=True)
    for path in (kit / "data").iterdir():
        (private / "data" / path.name).write_bytes(path.read_bytes())
    data_archive = _zip_folder(private, tmp_path / "data.zip")

    problem = admin.problems.import_kit(archive, name="from-zip", data=data_archive)

    assert problem["n_folds"] == 3
    stored = Problem.objects.get(name="from-zip")
    assert sorted(stored.files.filter(kind=KitFile.Kind.DATA).values_list("path", flat=True)) == [
        "data/test.csv", "data/train.csv"]
    starting_kit = zipfile.ZipFile(io.BytesIO(admin.problems.starting_kit("from-zip")))
    assert "from-zip/submissions/starting_kit/classifier.py" in starting_kit.namelist()
    assert not any("/failing/" in name for name in starting_kit.namelist())


def test_import_kit_errors_mirror_the_api(admin, alice, problem, tmp_path):
    (tmp_path / "kit.zip").write_bytes(b"not a zip")
    with pytest.raises(BadRequest) as info:
        admin.problems.import_kit(tmp_path / "kit.zip", name="broken")
    assert info.value.code == "invalid_kit" and "not a readable zip archive" in info.value.details["errors"][0]
    with pytest.raises(Conflict, match="already exists"):
        admin.problems.import_kit("https://example.org/kit.git", name="iris-client")
    with pytest.raises(Forbidden, match="administrators"):
        alice.problems.import_kit(tmp_path / "kit.zip", name="mine")
    with pytest.raises(ClientError, match="neither a folder nor a file"):
        admin.problems.import_kit(tmp_path / "missing", name="missing")
    assert list(Problem.objects.values_list("name", flat=True)) == ["iris-client"]


def test_problem_delete_through_the_client(admin, problem, event):
    with pytest.raises(Conflict, match="used by 1 event"):
        admin.problems.delete("iris-client")
    Event.objects.filter(pk=event.pk).delete()
    admin.problems.delete("iris-client")
    assert not Problem.objects.filter(name="iris-client").exists()
    with pytest.raises(NotFound):
        admin.problems.get("iris-client")


# --------------------------------------------------------------------------- events and sign-ups


def test_events_create_update_and_admins(admin, alice, problem, user):
    created = admin.events.create(problem="iris-client", slug="autumn", title="Autumn", max_submissions_per_day=2,
                                  closes_at="2031-01-01T00:00:00Z", approval_required=True)
    assert (created["slug"], created["title"], created["max_submissions_per_day"], created["is_open"]) == (
        "autumn", "Autumn", 2, True)
    updated = admin.events.update("autumn", title="Autumn II", closes_at=None)
    assert (updated["title"], updated["closes_at"]) == ("Autumn II", None)
    assert admin.events.add_admin("autumn", username="alice")["admins"] == ["alice"]
    assert alice.events.update("autumn", description="Now with *markdown*")["description"] == "Now with *markdown*"
    assert "autumn" in [e["slug"] for e in alice.events.list()]
    event = Event.objects.get(slug="autumn")
    assert (event.title, event.closes_at, event.description) == ("Autumn II", None, "Now with *markdown*")

    with pytest.raises(Unprocessable) as info:
        admin.events.create(problem="iris-client", slug="bad", opens_at="not a date")
    assert info.value.code == "validation_error"
    with pytest.raises(BadRequest, match="cannot be empty"):
        admin.events.update("autumn", title=None)
    with pytest.raises(Forbidden, match="administrators"):
        alice.events.create(problem="iris-client", slug="hers")
    assert not Event.objects.filter(slug__in=["bad", "hers"]).exists()


def test_signup_add_participant_approve_and_reject(admin, alice, bob, problem, admin_user, user, other_user):
    make_event(problem, admin_user, slug="gated", approval_required=True)

    assert alice.events.signup("gated")["state"] == "pending"
    assert alice.events.get("gated")["my_signup"]["state"] == "pending"
    assert [s["username"] for s in admin.events.signups("gated", state="pending")] == ["alice"]
    assert admin.events.approve("gated", username="alice")["state"] == "approved"
    assert alice.events.quota("gated")["refusal"] is None

    assert bob.events.signup("gated")["state"] == "pending"
    rejected = admin.events.reject("gated", username="bob", reason="Wrong course")
    assert (rejected["state"], rejected["reason"]) == ("rejected", "Wrong course")
    with pytest.raises(Forbidden) as info:
        bob.events.quota("gated")
    assert info.value.code == "not_signed_up" and "Wrong course" in info.value.message

    carol = make_user(username="carol")
    assert admin.events.add_participant("gated", username="carol")["state"] == "approved"
    assert Signup.objects.get(event__slug="gated", user=carol).decided_by == admin_user
    with pytest.raises(Conflict, match="already signed up"):
        alice.events.signup("gated")
    with pytest.raises(Forbidden, match="Only the admins"):
        alice.events.add_participant("gated", username="bob")
    with pytest.raises(NotFound):
        alice.events.signup("no-such-event")


# --------------------------------------------------------------------------- submissions


def _record(submission_id: int, acc: float) -> None:
    """What a worker does: claim the submission and record its scores."""
    submission = Submission.objects.get(pk=submission_id)
    record_scores(submission, valid={"acc": acc, "nll": 0.3, "bal_acc": acc}, test={"acc": 0.5, "nll": 0.9,
                                                                                   "bal_acc": 0.5})


def test_submit_a_folder_and_wait_until_scored(alice, event, user, tmp_path):
    services.signup_request(event=event, user=user)
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "classifier.py").write_text(iris_code("folder")["classifier.py"])
    (folder / "notes.txt").write_text("not part of the submission")

    created = alice.submissions.create(event="client-event", name="from-folder", path=folder)
    seen = []

    def on_change(submission):
        seen.append(submission["state"])
        if submission["state"] == "queued":
            _record(submission["id"], 0.93)

    done = alice.submissions.wait(created["id"], poll_seconds=0.01, timeout=30, on_change=on_change)

    assert created["state"] == "queued" and created["files"] == ["classifier.py"]
    assert seen == ["queued", "scored"]
    assert (done["state"], done["valid_scores"]["acc"], done["test_scores"]) == ("scored", 0.93, None)
    assert alice.submissions.file(created["id"], "classifier.py") == iris_code("folder")["classifier.py"]
    assert [s["name"] for s in alice.submissions.list(event="client-event", mine=True)] == ["from-folder"]


def test_wait_gives_up_after_its_timeout(alice, event, user):
    services.signup_request(event=event, user=user)
    created = alice.submissions.create(event="client-event", name="stuck", files=iris_code("stuck"))
    with pytest.raises(ClientError, match="still 'queued' after 0.05 s"):
        alice.submissions.wait(created["id"], poll_seconds=0.01, timeout=0.05)


def test_submission_refusals_mirror_the_api(alice, bob, event, user, admin_user, tmp_path, override_config):
    with pytest.raises(Forbidden) as not_signed_up:
        alice.submissions.create(event="client-event", name="early", files=iris_code("early"))
    assert not_signed_up.value.code == "not_signed_up"
    services.signup_request(event=event, user=user)
    alice.submissions.create(event="client-event", name="first", files=iris_code("first"))

    with pytest.raises(Conflict) as taken:
        alice.submissions.create(event="client-event", name="first", files=iris_code("other"))
    with pytest.raises(Conflict) as duplicate:
        alice.submissions.create(event="client-event", name="copy", files=iris_code("first"))
    with pytest.raises(BadRequest, match="not a file of this problem"):
        alice.submissions.create(event="client-event", name="extra", files={**iris_code("x"), "extra.py": "y"})
    override_config(max_submission_file_bytes=1024)
    with pytest.raises(TooLarge):
        alice.submissions.create(event="client-event", name="huge", files={"classifier.py": "#" * 4096})
    services.event_update(event=event, actor=admin_user, max_submissions_total=1)
    with pytest.raises(RateLimited) as limited:
        alice.submissions.create(event="client-event", name="second", files=iris_code("second"))
    with pytest.raises(ClientError, match="is missing; this problem expects classifier.py"):
        alice.submissions.create(event="client-event", name="empty", path=tmp_path)
    with pytest.raises(ClientError, match="is not a folder"):
        alice.submissions.create(event="client-event", name="none", path=tmp_path / "nowhere")

    assert (taken.value.status, taken.value.code) == (409, "name_taken")
    assert (duplicate.value.code, duplicate.value.details) == ("duplicate_code", {"submission": "first"})
    assert (limited.value.status, limited.value.code) == (429, "limit_reached")
    assert list(Submission.objects.values_list("name", flat=True)) == ["first"]
    with pytest.raises(NotFound):
        bob.submissions.file(Submission.objects.get().pk, "classifier.py")
    with pytest.raises(Forbidden):
        alice.submissions.rerun(Submission.objects.get().pk)


def test_rerun_by_an_event_admin(admin, event, user):
    services.signup_request(event=event, user=user)
    done = scored(event, user, "done")
    assert admin.submissions.rerun(done.pk)["state"] == "queued"
    assert admin.submissions.get(done.pk)["states"][-1]["note"] == "re-run by admin"
    with pytest.raises(Conflict) as info:
        admin.submissions.rerun(done.pk)
    assert info.value.code == "invalid_transition"


# --------------------------------------------------------------------------- leaderboards


def test_leaderboard_and_its_csv(alice, bob, admin, event, user, other_user):
    for person in (user, other_user):
        services.signup_request(event=event, user=person)
    scored(event, user, "alpha", valid=0.9, test=0.4)
    scored(event, other_user, "beta", valid=0.8, test=0.95)

    board = bob.events.leaderboard("client-event")
    assert [(r["submission"], r["score:acc"]) for r in board["rows"]] == [("alpha", 0.9), ("beta", 0.8)]
    page = bob.events.leaderboard("client-event", sort="team", desc=True, limit=1, offset=1)
    assert ([r["team"] for r in page["rows"]], page["count"]) == (["alice"], 2)
    rows = list(csv.reader(io.StringIO(alice.events.leaderboard_csv("client-event", sort="submission"))))
    assert [r[2:4] for r in rows[1:]] == [["alpha", "0.900"], ["beta", "0.800"]]
    private = admin.events.leaderboard("client-event", kind="private")
    assert [r["submission"] for r in private["rows"]] == ["beta", "alpha"]

    with pytest.raises(Forbidden) as forbidden:
        alice.events.leaderboard("client-event", kind="private")
    with pytest.raises(BadRequest) as bad_kind:
        alice.events.leaderboard_csv("client-event", kind="best")
    with pytest.raises(NotFound):
        alice.events.leaderboard("no-such-event")
    with remote(None) as anonymous, pytest.raises(Unauthorized):
        anonymous.events.leaderboard("client-event", kind="mine")
    assert forbidden.value.status == 403 and "admins" in forbidden.value.message
    assert bad_kind.value.details == {"field": "kind"}
