"""The challenges REST API over HTTP: every operation for an anonymous caller, a participant, another team,
an event admin and a staff administrator; garbage for each; submission refusals; who sees code, test scores,
error output and private leaderboards; kit uploads, good and bad.

The rules themselves are tested in test_services.py and test_leaderboards.py; here they are reached as
clients reach them (bearer tokens, JSON, multipart uploads) and every error has the one shape.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from databoard.accounts.models import AuditEvent
from databoard.challenges import services
from databoard.challenges.models import Draft, Event, KitFile, Problem, Signup, StateChange, Submission, SubmissionFile
from databoard.storage.models import Artifact
from tests.challenges.fixtures import (
    BAD_KITS,
    IRIS_CODE,
    SECRET_OUTPUT,
    committed_problem,
    error,
    failed,
    iris_code,
    kit_members,
    make_event,
    scored,
    submit,
    zip_bytes,
)
from tests.conftest import ApiClient
from tests.factories import make_token, make_user

pytestmark = pytest.mark.django_db

NAME = "iris-api"
ROLES = ("anonymous", "participant", "other_team", "event_admin", "admin")


@pytest.fixture(scope="module")
def api_problem(django_db_setup, django_db_blocker, kits_root):
    with committed_problem(kits_root / "iris", NAME, django_db_blocker) as problem:
        yield problem


@pytest.fixture
def iris(api_problem, db):
    return api_problem


@dataclass
class World:
    """An open event with alice (participant), bob (other team), carol (event admin) and admin (staff)."""

    event: Event
    apis: dict[str, ApiClient]
    scored: Submission  # alice's
    failed: Submission  # alice's


@pytest.fixture
def world(event, participant, rival, event_admin, admin_user) -> World:
    alice_scored = scored(event, participant, "alice-good", valid=0.9, test=0.8)
    alice_failed = failed(event, participant, "alice-bad")
    scored(event, rival, "bob-good", valid=0.7, test=0.95)
    apis = {"anonymous": ApiClient(), "participant": ApiClient(make_token(participant)),
            "other_team": ApiClient(make_token(rival)), "event_admin": ApiClient(make_token(event_admin)),
            "admin": ApiClient(make_token(admin_user, scope="admin"))}
    return World(event=event, apis=apis, scored=alice_scored, failed=alice_failed)


def call(api: ApiClient, method: str, path: str, body=None, *, multipart: dict | None = None):
    """One request whose writes are rolled back afterwards, so a table of calls stays independent."""
    class Undo(Exception):
        pass

    try:
        with transaction.atomic():
            if multipart is not None:
                response = getattr(api, method)(path, data={k: (v() if callable(v) else v)
                                                            for k, v in multipart.items()})
            elif body is not None:
                response = getattr(api, method)(path, json=body)
            else:
                response = getattr(api, method)(path)
            raise Undo
    except Undo:
        return response


def counts() -> dict[str, int]:
    """Rows of every table a challenges operation may write."""
    return {model.__name__: model.objects.count() for model in (
        Problem, KitFile, Event, Signup, Submission, SubmissionFile, StateChange, Draft, Artifact, AuditEvent)}


def kit_upload(name: str = "kit.zip", content: bytes = b"not a zip") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def element_upload(name: str = "classifier.py", content: bytes | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, IRIS_CODE.encode() + b"# upload\n" if content is None else content,
                              content_type="text/x-python")


# --------------------------------------------------------------------------- every operation × every role

# (method, path template, body or multipart factory, {role: status}); {slug}, {scored}, {failed} are filled in.
# The staff administrator's calls that would be costly (a kit import) are refused after the permission check
# (409: the name is taken), which still shows they passed it.
STAFF_ONLY = {"anonymous": 401, "participant": 403, "other_team": 403, "event_admin": 403}
EVENT_ADMINS = {"anonymous": 401, "participant": 403, "other_team": 403, "event_admin": 200, "admin": 200}
PUBLIC = dict.fromkeys(ROLES, 200)
SUBMITTERS = {"anonymous": 401, "participant": 201, "other_team": 201, "event_admin": 403, "admin": 403}
MATRIX = [
    ("get", "problems", None, PUBLIC),
    ("post", "problems", {"name": NAME, "kit": lambda: kit_upload()}, {**STAFF_ONLY, "admin": 409}),
    ("post", "problems/git", {"name": NAME, "git_url": "https://example.org/kit.git"}, {**STAFF_ONLY, "admin": 409}),
    ("get", f"problems/{NAME}", None, PUBLIC),
    ("delete", f"problems/{NAME}", None, {**STAFF_ONLY, "admin": 409}),
    ("get", f"problems/{NAME}/starting-kit", None, PUBLIC),
    ("get", "events", None, PUBLIC),
    ("post", "events", {"problem": NAME, "slug": "new-event"}, {**STAFF_ONLY, "admin": 201}),
    ("get", "events/{slug}", None, PUBLIC),
    ("patch", "events/{slug}", {"title": "Renamed"}, EVENT_ADMINS),
    ("post", "events/{slug}/admins", {"username": "dave"}, {**STAFF_ONLY, "admin": 200}),
    ("delete", "events/{slug}/admins/carol", None, {**STAFF_ONLY, "admin": 200}),
    ("post", "events/{slug}/signup", {}, {"anonymous": 401, "participant": 409, "other_team": 409,
                                          "event_admin": 201, "admin": 201}),
    ("get", "events/{slug}/signups", None, EVENT_ADMINS),
    ("post", "events/{slug}/signups", {"username": "dave"}, {**EVENT_ADMINS, "event_admin": 201, "admin": 201}),
    ("post", "events/{slug}/signups/bob/approve", None, EVENT_ADMINS),
    ("post", "events/{slug}/signups/bob/reject", {"reason": "Not in the class"}, EVENT_ADMINS),
    ("get", "events/{slug}/quota", None, {"anonymous": 401, "participant": 200, "other_team": 200,
                                          "event_admin": 403, "admin": 403}),
    ("get", "events/{slug}/drafts", None, {**PUBLIC, "anonymous": 401}),
    ("put", "events/{slug}/drafts", {"files": {"classifier.py": "# draft\n"}},
     {**SUBMITTERS, "participant": 200, "other_team": 200}),
    ("post", "events/{slug}/submissions", {"name": "new-one", "files": iris_code("matrix-json")}, SUBMITTERS),
    ("post", "events/{slug}/submissions/upload", {"name": "new-up", "files": lambda: element_upload()}, SUBMITTERS),
    ("get", "events/{slug}/submissions", None, PUBLIC),
    ("get", "submissions/{scored}", None, PUBLIC),
    ("get", "submissions/{scored}/files/classifier.py", None, {**PUBLIC, "anonymous": 404, "other_team": 404}),
    ("post", "submissions/{scored}/rerun", None, EVENT_ADMINS),
    # A scored submission cannot be cancelled: the 409 shows the caller passed the permission check.
    ("post", "submissions/{scored}/cancel", None, {**EVENT_ADMINS, "event_admin": 409, "admin": 409}),
    ("post", "submissions/{scored}/priority", {"priority": 5}, EVENT_ADMINS),
    ("post", "events/{slug}/rerun-failed", None, EVENT_ADMINS),
    ("get", "workers", None, {**STAFF_ONLY, "admin": 200}),
    ("get", "events/{slug}/leaderboard", None, PUBLIC),
    ("get", "events/{slug}/score-over-time", None, PUBLIC),
    ("get", "events/{slug}/dashboard", None, EVENT_ADMINS),
]


def _fill(world: World, path: str) -> str:
    return "challenges/" + path.format(slug=world.event.slug, scored=world.scored.pk, failed=world.failed.pk)


def test_the_matrix_covers_every_operation_of_the_router():
    from databoard.api import api

    prefix = "/api/v1/challenges/"
    routes = {(method, path[len(prefix):]) for path, item in api.get_openapi_schema()["paths"].items()
              if path.startswith(prefix) for method in item}
    normalized = {(m, p.replace("{slug}", "{x}").replace("{scored}", "{x}").replace(NAME, "{x}")
                   .replace("carol", "{x}").replace("bob", "{x}").replace("classifier.py", "{x}"))
                  for m, p, _, _ in MATRIX}
    expected = {(m, p.replace("{name}", "{x}").replace("{slug}", "{x}").replace("{submission_id}", "{x}")
                 .replace("{username}", "{x}").replace("{filename}", "{x}")) for m, p in routes}
    assert normalized == expected


@pytest.mark.parametrize("method, path, body, expected", MATRIX, ids=[f"{m} {p}" for m, p, _, _ in MATRIX])
def test_every_operation_answers_each_role_as_allowed(world, method, path, body, expected):
    make_user(username="dave")
    for role in ROLES:
        multipart = body if isinstance(body, dict) and any(callable(v) for v in body.values()) else None
        r = call(world.apis[role], method, _fill(world, path), None if multipart else body, multipart=multipart)
        status = expected[role]
        assert r.status_code == status, (role, r.status_code, r.content[:300])
        if status >= 400:
            error(r, status)


def test_a_hidden_event_is_404_to_strangers_and_visible_to_its_people(iris, admin_user, user, other_user):
    hidden = make_event(iris, admin_user, is_public=False)
    services.signup_add(event=hidden, user=user, actor=admin_user)
    submission = scored(hidden, user)
    stranger, anonymous = ApiClient(make_token(other_user)), ApiClient()
    alice = ApiClient(make_token(user))
    paths = [f"challenges/events/{hidden.slug}", f"challenges/events/{hidden.slug}/leaderboard",
             f"challenges/events/{hidden.slug}/submissions", f"challenges/submissions/{submission.pk}",
             f"challenges/events/{hidden.slug}/score-over-time",
             f"challenges/submissions/{submission.pk}/files/classifier.py"]
    for path in paths:
        error(stranger.get(path), 404, "not_found")
        error(anonymous.get(path), 404, "not_found")
        assert alice.get(path).status_code == 200, path
    error(stranger.post(f"challenges/events/{hidden.slug}/signup", json={}), 404, "not_found")
    assert not Signup.objects.filter(user=other_user).exists()
    assert hidden.slug not in [e["slug"] for e in stranger.get("challenges/events").json()["items"]]
    assert hidden.slug in [e["slug"] for e in alice.get("challenges/events").json()["items"]]


# --------------------------------------------------------------------------- garbage

BIG = "x" * 100_000
GARBAGE = [
    # (method, path, JSON body, status, code)
    ("get", "problems?limit=0", None, 422, "validation_error"),
    ("get", "problems?offset=-1", None, 422, "validation_error"),
    ("get", "problems?limit=abc", None, 422, "validation_error"),
    ("get", "problems/ir%00is", None, 404, "not_found"),
    ("get", f"problems/{BIG[:5000]}", None, 404, "not_found"),
    ("get", "problems/nope/starting-kit", None, 404, "not_found"),
    ("delete", "problems/ir%00is", None, 404, "not_found"),
    ("post", "problems/git", {"name": NAME}, 422, "validation_error"),
    ("post", "problems/git", {"name": "Bad Name", "git_url": "https://example.org/k.git"}, 422, "validation_error"),
    ("post", "problems/git", {"name": "kit2", "git_url": "file:///etc"}, 400, "invalid"),
    ("post", "problems/git", {"name": "kit2", "git_url": 5}, 422, "validation_error"),
    ("post", "problems/git", {"name": "k\x00t", "git_url": "https://example.org/k.git"}, 400, "invalid"),
    ("post", "problems/git", {"name": "kit2", "git_url": BIG}, 422, "validation_error"),
    ("get", "events?limit=100000", None, 422, "validation_error"),
    ("get", "events/ev%00nt", None, 404, "not_found"),
    ("get", f"events/{BIG[:5000]}", None, 404, "not_found"),
    ("post", "events", "not an object", 422, "validation_error"),
    ("post", "events", {"problem": NAME}, 422, "validation_error"),
    ("post", "events", {"problem": NAME, "slug": "Bad Slug"}, 422, "validation_error"),
    ("post", "events", {"problem": "nope", "slug": "e2"}, 404, "not_found"),
    ("post", "events", {"problem": NAME, "slug": "{slug}"}, 409, "conflict"),
    ("post", "events", {"problem": NAME, "slug": "e2", "opens_at": "tomorrow"}, 422, "validation_error"),
    ("post", "events", {"problem": NAME, "slug": "e2", "opens_at": "2030-13-45T00:00:00Z"}, 422, "validation_error"),
    ("post", "events", {"problem": NAME, "slug": "e2", "opens_at": "2030-01-01T00:00:00"}, 400, "invalid"),
    ("post", "events", {"problem": NAME, "slug": "e2", "closes_at": "0001-01-01T00:00:00+01:00"}, 422,
     "validation_error"),
    ("post", "events", {"problem": NAME, "slug": "e2", "opens_at": "2030-01-02T00:00:00Z",
                        "closes_at": "2030-01-01T00:00:00Z"}, 400, "invalid"),
    ("post", "events", {"problem": NAME, "slug": "e2", "max_submissions_total": -1}, 422, "validation_error"),
    ("post", "events", {"problem": NAME, "slug": "e2", "max_submissions_per_day": "many"}, 422,
     "validation_error"),
    ("post", "events", {"problem": NAME, "slug": "e2", "max_memory_mb": 10**30}, 422, "validation_error"),
    ("post", "events", {"problem": NAME, "slug": "e2", "queue": "no queue"}, 422, "validation_error"),
    ("post", "events", {"problem": NAME, "slug": "e2", "title": "   "}, 400, "invalid"),
    ("post", "events", {"problem": NAME, "slug": "e2", "description": BIG + BIG}, 422, "validation_error"),
    ("post", "events", {"problem": NAME, "slug": "e2", "title": "nul\x00"}, 400, "invalid"),
    ("patch", "events/{slug}", {"title": None}, 400, "invalid"),
    ("patch", "events/{slug}", {"description": None}, 400, "invalid"),
    ("patch", "events/{slug}", {"is_public": None}, 400, "invalid"),
    ("patch", "events/{slug}", {"approval_required": None}, 400, "invalid"),
    ("patch", "events/{slug}", {"show_private_after_close": None}, 400, "invalid"),
    ("patch", "events/{slug}", {"min_minutes_between": None}, 400, "invalid"),
    ("patch", "events/{slug}", {"max_train_seconds": None}, 400, "invalid"),
    ("patch", "events/{slug}", {"max_memory_mb": None}, 400, "invalid"),
    ("patch", "events/{slug}", {"queue": None}, 400, "invalid"),
    ("patch", "events/{slug}", {"is_public": "perhaps"}, 422, "validation_error"),
    ("patch", "events/{slug}", {"max_train_seconds": 0}, 422, "validation_error"),
    ("patch", "events/{slug}", {"closes_at": "2000-01-01"}, 400, "invalid"),
    ("patch", "events/{slug}", {"closes_at": "yesterday"}, 422, "validation_error"),
    ("patch", "events/{slug}", {"opens_at": "2030-01-02T00:00:00Z", "closes_at": "2030-01-01T00:00:00Z"}, 400,
     "invalid"),
    ("post", "events/{slug}/admins", {"username": "ghost"}, 404, "not_found"),
    ("post", "events/{slug}/admins", {"username": ""}, 422, "validation_error"),
    ("post", "events/{slug}/admins", {"username": 7}, 422, "validation_error"),
    ("post", "events/{slug}/admins", {"username": "gh\x00st"}, 400, "invalid"),
    ("delete", "events/{slug}/admins/gh%00st", None, 404, "not_found"),
    ("post", "events/{slug}/signup", {"team": "nope"}, 404, "not_found"),
    ("post", "events/{slug}/signup", {"team": ["a"]}, 422, "validation_error"),
    ("post", "events/{slug}/signup", {"team": BIG}, 422, "validation_error"),
    ("get", "events/{slug}/signups?state=maybe", None, 400, "invalid"),
    ("get", "events/{slug}/signups?state=app%00roved", None, 400, "invalid"),
    ("get", "events/{slug}/signups?limit=-5", None, 422, "validation_error"),
    ("post", "events/{slug}/signups", {"username": "ghost"}, 404, "not_found"),
    ("post", "events/{slug}/signups", {"username": "alice", "team": "not-hers"}, 404, "not_found"),
    ("post", "events/{slug}/signups", {}, 422, "validation_error"),
    ("post", "events/{slug}/signups/gh%00st/approve", None, 404, "not_found"),
    ("post", "events/{slug}/signups/ghost/approve", None, 404, "not_found"),
    ("post", "events/{slug}/signups/alice/reject", {}, 422, "validation_error"),
    ("post", "events/{slug}/signups/alice/reject", {"reason": "   "}, 400, "invalid"),
    ("post", "events/{slug}/signups/alice/reject", {"reason": BIG}, 422, "validation_error"),
    ("put", "events/{slug}/drafts", {"files": "x"}, 422, "validation_error"),
    ("get", "events/{slug}/submissions?state=nope", None, 400, "invalid"),
    ("get", "events/{slug}/submissions?mine=perhaps", None, 422, "validation_error"),
    ("get", "events/{slug}/submissions?team=t%00", None, 400, "invalid"),
    ("get", "events/{slug}/submissions?offset=100000000000000000000", None, 422, "validation_error"),
    ("get", "submissions/abc", None, 422, "validation_error"),
    ("get", "submissions/-1", None, 404, "not_found"),
    ("get", "submissions/99999999999999999999999", None, 404, "not_found"),
    ("get", "submissions/9223372036854775808/files/classifier.py", None, 404, "not_found"),
    ("get", "submissions/{scored}/files/nope.py", None, 404, "not_found"),
    ("get", "submissions/{scored}/files/cl%00ssifier.py", None, 404, "not_found"),
    ("post", "submissions/99999999999999999999999/rerun", None, 404, "not_found"),
    ("post", "submissions/99999999999999999999999/cancel", None, 404, "not_found"),
    ("post", "submissions/{scored}/priority", {"priority": 1000}, 400, "invalid"),
    ("post", "submissions/{scored}/priority", {"priority": -101}, 400, "invalid"),
    ("post", "submissions/{scored}/priority", {"priority": "high"}, 422, "validation_error"),
    ("post", "submissions/{scored}/priority", {"priority": 10**30}, 400, "invalid"),
    ("post", "submissions/{scored}/priority", {}, 422, "validation_error"),
    ("post", "submissions/{scored}/priority", [5], 422, "validation_error"),
    ("get", "workers?all=perhaps", None, 422, "validation_error"),
    ("get", "events/{slug}/leaderboard?kind=nope", None, 400, "invalid"),
    ("get", "events/{slug}/leaderboard?kind=pub%00lic", None, 400, "invalid"),
    ("get", "events/{slug}/leaderboard?sort=score:nope", None, 400, "invalid"),
    ("get", "events/{slug}/leaderboard?sort=rank", None, 400, "invalid"),
    ("get", "events/{slug}/leaderboard?desc=perhaps", None, 422, "validation_error"),
    ("get", "events/{slug}/leaderboard?limit=-1", None, 400, "invalid"),
    ("get", "events/{slug}/leaderboard?limit=0", None, 400, "invalid"),
    ("get", "events/{slug}/leaderboard?limit=10001", None, 400, "invalid"),
    ("get", "events/{slug}/leaderboard?offset=-1", None, 400, "invalid"),
    ("get", "events/{slug}/leaderboard?offset=100000000000000000000", None, 400, "invalid"),
    ("get", "events/{slug}/leaderboard?offset=9223372036854775807", None, 400, "invalid"),
    ("get", "events/{slug}/leaderboard?format=xml", None, 400, "invalid"),
    ("get", "events/{slug}/leaderboard?format=csv&kind=nope", None, 400, "invalid"),
    ("get", "events/{slug}/leaderboard?format=csv&sort=nope", None, 400, "invalid"),
    ("get", "events/{slug}/no-such-thing", None, 404, "not_found"),
    ("put", "events/{slug}", {"title": "x"}, 405, "method_not_allowed"),
]


@pytest.mark.parametrize("method, path, body, status, code", GARBAGE,
                         ids=[f"{m} {p[:60]} {str(b)[:40]}" for m, p, b, _, _ in GARBAGE])
def test_garbage_is_4xx_in_the_error_shape_and_writes_nothing(world, method, path, body, status, code):
    api = world.apis["admin"]
    if isinstance(body, dict) and body.get("slug") == "{slug}":
        body = {**body, "slug": world.event.slug}
    before = counts()
    r = getattr(api, method)(_fill(world, path), **({"json": body} if body is not None else {}))
    error(r, status, code)
    assert counts() == before


@pytest.mark.parametrize("body, status, code", [
    ({"name": "ok", "files": {"classifier.py": 5}}, 422, "validation_error"),
    ({"name": "ok", "files": ["classifier.py"]}, 422, "validation_error"),
    ({"name": "ok"}, 422, "validation_error"),
    ({"name": "ok", "files": {"classifier.py": "x = 1\x00"}}, 400, "invalid"),
    ({"name": "ok", "files": {"classifier.py": "x", "../../etc/passwd": "x"}}, 400, "invalid"),
    ({"name": BIG, "files": iris_code("big-name")}, 400, "invalid"),
    ({"name": None, "files": iris_code("none-name")}, 422, "validation_error"),
    ("classifier.py", 422, "validation_error"),
])
def test_submission_garbage_is_4xx_and_writes_nothing(world, body, status, code):
    before = counts()
    error(world.apis["participant"].post(f"challenges/events/{world.event.slug}/submissions", json=body), status,
          code)
    assert counts() == before


@pytest.mark.parametrize("data, status, code", [
    ({"name": "up"}, 422, "validation_error"),
    ({"files": lambda: element_upload()}, 422, "validation_error"),
    ({"name": "up", "files": lambda: element_upload("model.py")}, 400, "invalid"),
    ({"name": "up", "files": lambda: [element_upload(), element_upload()]}, 400, "invalid"),
    ({"name": "up", "files": lambda: element_upload(content=b"\xff\xfe not utf-8")}, 400, "invalid"),
    ({"name": "u\x00p", "files": lambda: element_upload()}, 400, "invalid"),
    ({"name": "x" * 41, "files": lambda: element_upload()}, 400, "invalid"),
])
def test_upload_garbage_is_4xx_and_writes_nothing(world, data, status, code):
    before = counts()
    r = world.apis["participant"].post(f"challenges/events/{world.event.slug}/submissions/upload",
                                       data={k: (v() if callable(v) else v) for k, v in data.items()})
    error(r, status, code)
    assert counts() == before


def test_an_unreadable_multipart_body_is_400(world):
    before = counts()
    r = world.apis["participant"].post(f"challenges/events/{world.event.slug}/submissions/upload",
                                       data=b"--nope\r\ngarbage", content_type="multipart/form-data")
    assert 400 <= r.status_code < 500
    error(r, r.status_code)
    assert counts() == before


# --------------------------------------------------------------------------- submitting and its refusals


def test_a_submission_through_json_is_queued_with_its_files(event, participant):
    api = ApiClient(make_token(participant))
    r = api.post(f"challenges/events/{event.slug}/submissions", json={"name": "first", "files": iris_code("a")})
    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["name"], body["state"], body["team"], body["owner"]) == ("first", "queued", "alice", "alice")
    assert body["files"] == ["classifier.py"] and body["code_visible"] is True
    assert [s["state"] for s in body["states"]] == ["new", "queued"]
    assert api.get(f"challenges/submissions/{body['id']}/files/classifier.py").content.decode() == \
        iris_code("a")["classifier.py"]
    assert AuditEvent.objects.filter(action="submission.create", target_id=str(body["id"])).count() == 1


def test_a_submission_through_upload_is_queued_with_its_files(event, participant):
    api = ApiClient(make_token(participant))
    r = api.post(f"challenges/events/{event.slug}/submissions/upload",
                 data={"name": "uploaded", "files": element_upload(content=b"x = 1\n")})
    assert r.status_code == 201, r.content
    submission = Submission.objects.get(pk=r.json()["id"])
    assert submission.state == Submission.State.QUEUED
    assert services.submission_files(submission=submission) == {"classifier.py": b"x = 1\n"}


@dataclass
class Refusal:
    status: int
    code: str
    message: str


def _refusal_case(case: str, *, iris, admin_user, user, override_config) -> tuple[Event, dict, Refusal]:
    """Prepare ``case`` for alice (``user``) and give (event, JSON body, expected refusal)."""
    now = timezone.now()
    body = {"name": "attempt", "files": iris_code(f"attempt-{case}")}
    if case == "not_open_yet":
        event = make_event(iris, admin_user, opens_at=now + timedelta(days=1))
        services.signup_request(event=event, user=user)
        return event, body, Refusal(409, "event_closed", "opens for submissions at")
    if case == "closed":
        event = make_event(iris, admin_user, opens_at=now - timedelta(days=2), closes_at=now - timedelta(days=1))
        services.signup_request(event=event, user=user, at=now - timedelta(days=2))
        return event, body, Refusal(409, "event_closed", "is closed to submissions")
    event = make_event(iris, admin_user, approval_required=case in ("pending", "rejected"),
                       max_submissions_per_day=2 if case == "per_day" else None,
                       max_submissions_total=2 if case == "total" else None,
                       min_minutes_between=30 if case == "cool_down" else 0)
    if case == "not_signed_up":
        return event, body, Refusal(403, "not_signed_up", "Sign up to")
    signup = services.signup_request(event=event, user=user)
    if case == "pending":
        return event, body, Refusal(403, "not_signed_up", "waits for approval")
    if case == "rejected":
        services.signup_decide(signup=signup, approve=False, reason="Not enrolled", actor=admin_user)
        return event, body, Refusal(403, "not_signed_up", "was rejected: Not enrolled")
    if case == "per_day":
        submit(event, user, "one", at=now - timedelta(minutes=2))
        submit(event, user, "two", at=now - timedelta(minutes=1))
        return event, body, Refusal(429, "limit_reached", "its 2 submissions of today")
    if case == "total":
        submit(event, user, "one", at=now - timedelta(days=3))
        submit(event, user, "two", at=now - timedelta(days=2))
        return event, body, Refusal(429, "limit_reached", "all 2 submissions of this event")
    if case == "cool_down":
        submit(event, user, "one", at=now - timedelta(minutes=10))
        return event, body, Refusal(429, "limit_reached", "Wait 20 more minute(s) between submissions")
    if case == "name_taken":
        submit(event, user, "attempt")
        return event, body, Refusal(409, "name_taken", "already has a submission named 'attempt'")
    if case == "duplicate_code":
        services.submission_create(event=event, user=user, name="original", files=body["files"])
        crlf = {"classifier.py": body["files"]["classifier.py"].replace("\n", "\r\n")}
        return event, {**body, "files": crlf}, Refusal(409, "duplicate_code",
                                                       "identical to your team's submission 'original'")
    if case == "missing_file":
        return event, {**body, "files": {}}, Refusal(400, "invalid", "lacks classifier.py")
    if case == "unknown_file":
        return event, {**body, "files": {**body["files"], "extra.py": "x = 1\n"}}, Refusal(
            400, "invalid", "'extra.py' is not a file of this problem")
    if case == "oversized_file":
        override_config(max_submission_file_bytes=1024)
        return event, {**body, "files": {"classifier.py": "#" * 2048}}, Refusal(413, "too_large", "the limit is 1 KB")
    raise AssertionError(case)


REFUSALS = ["not_open_yet", "closed", "not_signed_up", "pending", "rejected", "per_day", "total", "cool_down",
            "name_taken", "duplicate_code", "missing_file", "unknown_file", "oversized_file"]


@pytest.mark.parametrize("case", REFUSALS)
def test_a_refused_submission_says_why_and_writes_nothing(case, iris, admin_user, user, override_config):
    event, body, expected = _refusal_case(case, iris=iris, admin_user=admin_user, user=user,
                                          override_config=override_config)
    api = ApiClient(make_token(user))
    before = counts()

    r = api.post(f"challenges/events/{event.slug}/submissions", json=body)

    err = error(r, expected.status, expected.code)
    assert expected.message in err["message"], err["message"]
    assert counts() == before
    assert not Submission.objects.filter(event=event, name=body["name"], code_sha256=services.code_digest(
        {k: v.encode() for k, v in body["files"].items()})).exclude(name__in=["original"]).exists()


@pytest.mark.parametrize("name", ["", "has space", "x" * 41, "../up", "naïve", "semi;colon"])
def test_a_bad_submission_name_is_refused_on_both_routes(event, participant, name):
    api = ApiClient(make_token(participant))
    before = counts()
    # Both routes leave the name to the service: the same 400 with the rule, on the 'name' field.
    r = api.post(f"challenges/events/{event.slug}/submissions", json={"name": name, "files": iris_code(name)})
    assert error(r, 400, "invalid")["details"]["field"] == "name"
    r = api.post(f"challenges/events/{event.slug}/submissions/upload", data={"name": name, "files": element_upload()})
    assert error(r, 400, "invalid")["details"]["field"] == "name"
    assert counts() == before


def test_an_oversized_upload_is_413_and_writes_nothing(event, participant, override_config):
    override_config(max_submission_file_bytes=1024)
    api = ApiClient(make_token(participant))
    before = counts()
    r = api.post(f"challenges/events/{event.slug}/submissions/upload",
                 data={"name": "big", "files": element_upload(content=b"#" * 4096)})
    error(r, 413, "too_large")
    assert counts() == before


def test_failed_submissions_do_not_count_toward_the_limits(iris, admin_user, user):
    event = make_event(iris, admin_user, max_submissions_total=1, max_submissions_per_day=1)
    services.signup_request(event=event, user=user)
    failed(event, user, "broke")
    api = ApiClient(make_token(user))

    quota = api.get(f"challenges/events/{event.slug}/quota").json()
    assert (quota["today_used"], quota["total_used"], quota["refusal"]) == (0, 0, None)
    r = api.post(f"challenges/events/{event.slug}/submissions", json={"name": "fixed", "files": iris_code("fixed")})
    assert r.status_code == 201, r.content

    quota = api.get(f"challenges/events/{event.slug}/quota").json()
    assert (quota["today_used"], quota["total_used"]) == (1, 1)
    assert "all 1 submissions" in quota["refusal"]


# --------------------------------------------------------------------------- who sees what

TEST_SCORE = 0.8123457  # distinctive: must not appear where test scores are hidden
TIMELINES = {
    # name: (code public, closed, show private after close)
    "open": (False, False, True),
    "open_code_public": (True, False, True),
    "closed_private_shown": (False, True, True),
    "closed_private_hidden": (True, True, False),
}


@pytest.fixture(params=list(TIMELINES))
def timeline(request, iris, admin_user, user, other_user):
    code_public, closed, show_private = TIMELINES[request.param]
    now = timezone.now()
    started = now - timedelta(hours=3)
    event = make_event(iris, admin_user, opens_at=started, closes_at=now - timedelta(hours=1) if closed else None,
                       public_opens_at=now - timedelta(hours=2) if code_public else now + timedelta(days=1),
                       show_private_after_close=show_private)
    carol = make_user(username="carol")
    services.event_admin_add(event=event, user=carol, actor=admin_user)
    for person in (user, other_user):
        services.signup_request(event=event, user=person, at=started)
    good = scored(event, user, "good", valid=0.9, test=TEST_SCORE, at=started + timedelta(minutes=5))
    bad = failed(event, user, "bad", at=started + timedelta(minutes=10))
    apis = {"anonymous": ApiClient(), "participant": ApiClient(make_token(user)),
            "other_team": ApiClient(make_token(other_user)), "event_admin": ApiClient(make_token(carol)),
            "admin": ApiClient(make_token(admin_user, scope="admin"))}
    return request.param, event, good, bad, apis


@pytest.mark.parametrize("role", ROLES)
def test_who_sees_code_test_scores_error_output_and_private_boards(timeline, role):
    name, event, good, bad, apis = timeline
    code_public, closed, show_private = TIMELINES[name]
    api = apis[role]
    is_admin = role in ("event_admin", "admin")
    sees_code = role in ("participant", "event_admin", "admin") or (role == "other_team" and code_public)
    sees_private = is_admin or (closed and show_private)
    sees_output = role in ("participant", "event_admin", "admin")

    r = api.get(f"challenges/submissions/{good.pk}/files/classifier.py")
    if sees_code:
        assert r.status_code == 200 and r.content.decode() == iris_code("good")["classifier.py"]
        assert r["Content-Type"].startswith("text/plain") and r["X-Content-Type-Options"] == "nosniff"
    else:
        error(r, 404, "not_found")

    detail = api.get(f"challenges/submissions/{good.pk}").json()
    assert detail["code_visible"] is sees_code
    assert detail["valid_scores"]["acc"] == 0.9
    if sees_private:
        assert detail["test_scores"]["acc"] == TEST_SCORE and detail["test_seconds"] is not None
        assert all(f["test_scores"]["acc"] == TEST_SCORE for f in detail["folds"])
    else:
        assert detail["test_scores"] is None and detail["test_seconds"] is None
        assert all(f["test_scores"] is None and f["test_seconds"] is None for f in detail["folds"])
        assert str(TEST_SCORE) not in api.get(f"challenges/submissions/{good.pk}").content.decode()

    listed = {s["name"]: s for s in api.get(f"challenges/events/{event.slug}/submissions").json()["items"]}
    assert set(listed) == {"good", "bad"}
    assert (listed["good"]["test_scores"] is not None) is sees_private

    failure = api.get(f"challenges/submissions/{bad.pk}").json()
    assert failure["error_summary"] == "ValueError: bad shape" and failure["error_step"] == "training"
    assert failure["error_output"] == (SECRET_OUTPUT if sees_output else None)

    for kind in ("private", "private_competition"):
        board = api.get(f"challenges/events/{event.slug}/leaderboard?kind={kind}")
        csv_board = api.get(f"challenges/events/{event.slug}/leaderboard?kind={kind}&format=csv")
        if sees_private:
            assert board.status_code == 200 and [row["score:acc"] for row in board.json()["rows"]] == [TEST_SCORE]
            assert csv_board.status_code == 200 and "0.812" in b"".join(csv_board.streaming_content).decode()
        else:
            assert "admins" in error(board, 403, "forbidden")["message"]
            error(csv_board, 403, "forbidden")
    public = api.get(f"challenges/events/{event.slug}/leaderboard").json()
    assert [row["score:acc"] for row in public["rows"]] == [0.9]


# --------------------------------------------------------------------------- kits


@pytest.mark.parametrize("case", list(BAD_KITS))
def test_a_bad_kit_upload_is_400_invalid_kit_and_stores_nothing(case, admin_api, kits_root, override_config):
    filename, build, fragment, config = BAD_KITS[case]
    archive = build(kits_root / "iris")
    if config:
        override_config(**config)
    before = counts()

    r = admin_api.post("challenges/problems", data={"name": "bad-kit", "kit": kit_upload(filename, archive)})

    err = error(r, 400, "invalid_kit")
    assert any(fragment in e for e in err["details"]["errors"]), err
    assert counts() == before
    assert not Problem.objects.filter(name="bad-kit").exists()


def test_a_bad_private_data_archive_is_refused_and_stores_nothing(admin_api, kits_root):
    before = counts()
    r = admin_api.post("challenges/problems", data={
        "name": "bad-data", "kit": kit_upload("kit.zip", zip_bytes(kit_members(kits_root / "iris"))),
        "data": kit_upload("data.zip", zip_bytes({"data/../../escape.csv": b"1\n"}))})
    assert any("goes up with '..'" in e for e in error(r, 400, "invalid_kit")["details"]["errors"])
    assert counts() == before


def test_a_kit_upload_needs_a_name_and_a_file(admin_api, kits_root):
    before = counts()
    error(admin_api.post("challenges/problems", data={"name": "k"}), 422, "validation_error")
    error(admin_api.post("challenges/problems", data={"kit": kit_upload()}), 422, "validation_error")
    good_kit = kit_upload("kit.zip", zip_bytes(kit_members(kits_root / "iris")))
    error(admin_api.post("challenges/problems", data={"name": "Bad Name", "kit": good_kit}), 400, "invalid")
    assert counts() == before


def test_a_good_kit_upload_is_201_and_its_starting_kit_leaves_out_examples_and_private_data(
        admin_api, admin_user, kits_root):
    kit = kits_root / "iris"
    private = {f"data/{p.name}": p.read_bytes() for p in (kit / "data").iterdir()}
    private["data/private_answers.csv"] = b"secret\n"

    r = admin_api.post("challenges/problems", data={
        "name": "iris-upload", "title": "Uploaded iris",
        "kit": kit_upload("iris.zip", zip_bytes(kit_members(kit))), "data": kit_upload("data.zip", zip_bytes(private))})

    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["name"], body["title"], body["workflow"], body["files"]) == (
        "iris-upload", "Uploaded iris", "Classifier", ["classifier.py"])
    assert [s["name"] for s in body["score_types"]] == ["acc", "nll", "bal_acc"] and body["n_folds"] == 3
    problem = Problem.objects.get(name="iris-upload")
    assert problem.files.filter(kind=KitFile.Kind.DATA, path="data/private_answers.csv").exists()
    assert AuditEvent.objects.filter(action="problem.import", target_id=str(problem.pk), actor=admin_user).exists()

    r = admin_api.get("challenges/problems/iris-upload/starting-kit")
    assert r.status_code == 200 and r["Content-Type"] == "application/zip"
    names = set(zipfile.ZipFile(io.BytesIO(b"".join(r.streaming_content))).namelist())
    assert {"iris-upload/problem.py", "iris-upload/submissions/starting_kit/classifier.py"} <= names
    assert not [n for n in names if "/better/" in n or "/failing/" in n]
    assert not [n for n in names if "private_answers" in n]

    error(admin_api.post("challenges/problems", data={"name": "iris-upload", "kit": kit_upload()}), 409, "conflict")
    assert Problem.objects.filter(name="iris-upload").count() == 1


def test_problem_delete_removes_an_unused_problem_only(admin_api, iris, event):
    error(admin_api.delete(f"challenges/problems/{iris.name}"), 409, "conflict")
    assert Problem.objects.filter(pk=iris.pk).exists()
    Event.objects.filter(problem=iris).delete()
    assert admin_api.delete(f"challenges/problems/{iris.name}").status_code == 204
    assert not Problem.objects.filter(pk=iris.pk).exists()
    assert AuditEvent.objects.filter(action="problem.delete", target_id=str(iris.pk)).exists()


# --------------------------------------------------------------------------- bounded lists

LIST_QUERY_BOUND = 9


@pytest.mark.parametrize("n", [3, 30])
def test_lists_take_a_bounded_number_of_queries(iris, admin_user, user, django_assert_max_num_queries, n):
    events = [make_event(iris, admin_user) for _ in range(n)]
    services.signup_request(event=events[0], user=user)
    start = timezone.now() - timedelta(days=1)
    for i in range(n):
        (scored if i % 2 else failed)(events[0], user, f"s{i:02d}", at=start + timedelta(minutes=i))
    for api in (ApiClient(), ApiClient(make_token(user)), ApiClient(make_token(admin_user, scope="admin"))):
        for path, count in ((f"challenges/events/{events[0].slug}/submissions?limit=500", n),
                            ("challenges/events?limit=500", n), ("challenges/problems", 1)):
            with django_assert_max_num_queries(LIST_QUERY_BOUND):
                body = api.get(path).json()
            assert body["count"] == len(body["items"]) == count, path
