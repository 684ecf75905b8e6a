"""The challenges' web pages for anonymous visitors, participants, other participants, event admins and staff;
every form with garbage; the submission page's permission matrix; leaderboards; no 500 anywhere.

The iris problem is imported once for this module (checking a kit runs rampwf in a subprocess, ~1.5 s)
and committed; each test builds its events, sign-ups and submissions through the services inside its own
transaction. Scores are recorded with ``submission_claim`` + ``submission_record_scores`` (what the engine
does); two tests train for real with the worker.
"""

from __future__ import annotations

import io
import itertools
import re
import zipfile
from datetime import timedelta

import pytest
from django.utils import timezone

from databoard.accounts.models import AuditEvent
from databoard.challenges import services
from databoard.challenges.models import Draft, Event, Problem, Signup, Submission
from databoard.kits import make_kit
from databoard.storage.models import Artifact
from tests.challenges.fixtures import IRIS_CODE

STARTING_KIT = IRIS_CODE
_seq = itertools.count(1)


# --------------------------------------------------------------------------- data


@pytest.fixture(scope="module")
def problem(django_db_setup, django_db_blocker, tmp_path_factory):
    """The iris problem, imported once and committed; removed when the module is done."""
    with django_db_blocker.unblock():
        kit = make_kit("iris", tmp_path_factory.mktemp("pages-kit"))
        imported = services.problem_import(source=kit, name="iris-pages")
    yield imported
    with django_db_blocker.unblock():
        artifact_ids = list(imported.files.values_list("artifact_id", flat=True))
        AuditEvent.objects.filter(target_type="problem", target_id=str(imported.pk)).delete()
        imported.delete()
        Artifact.objects.filter(pk__in=artifact_ids).delete()


@pytest.fixture
def event(problem, admin_user):
    return services.event_create(problem=problem, slug="iris-live", actor=admin_user, title="Iris live",
                                 description="# Welcome\n\nPlay **fair**.\n\n<script>alert('x')</script>"
                                             "<img src=x onerror=alert(1)>[click](javascript:alert(2))")


@pytest.fixture
def hidden_event(problem, admin_user):
    return services.event_create(problem=problem, slug="iris-hidden", actor=admin_user, is_public=False)


def code(tag: str) -> dict[str, str]:
    return {"classifier.py": STARTING_KIT + f"# {tag}\n"}


def submit(event, user, name=None, *, at=None):
    name = name or f"sub{next(_seq)}"
    return services.submission_create(event=event, user=user, name=name, files=code(name), at=at)


def scored(event, user, name=None, *, valid=0.912, test=0.777, at=None):
    """A submission scored as the engine records it (valid/test: the official accuracy)."""
    submission = submit(event, user, name, at=at)
    claimed = services.submission_claim(worker="pages-test")
    assert claimed.pk == submission.pk
    fold = {"train": {"acc": 0.95, "nll": 0.2, "bal_acc": 0.94}, "valid": {"acc": valid, "nll": 0.3, "bal_acc": 0.9},
            "test": {"acc": test, "nll": 0.4, "bal_acc": 0.7}}
    folds = [{"fold": i, "scores": fold, "train_time": 0.5, "valid_time": 0.01, "test_time": 0.02} for i in range(3)]
    return services.submission_record_scores(
        submission=claimed, folds=folds, duration_seconds=2.0,
        bagged={"valid": {"acc": valid, "nll": 0.31, "bal_acc": 0.901}, "test": {"acc": test, "nll": 0.41,
                                                                                "bal_acc": 0.701}})


def failed(event, user, name=None):
    submission = submit(event, user, name)
    claimed = services.submission_claim(worker="pages-test")
    assert claimed.pk == submission.pk
    return services.submission_record_error(submission=claimed, step=Submission.Step.TRAINING,
                                            summary="ValueError: bad shape",
                                            output="Traceback (most recent call last):\nSECRET-OUTPUT-LINE\n",
                                            exit_code=1)


def login(client, user):
    client.force_login(user)
    return client


def text(response) -> str:
    return response.content.decode()


# --------------------------------------------------------------------------- every page, every viewer


def test_public_pages_render_for_anonymous(client, event, participant):
    submission = scored(event, participant)
    for url in ["/events/", f"/events/{event.slug}/", f"/events/{event.slug}/leaderboard/",
                f"/events/{event.slug}/leaderboard/?kind=competition", f"/events/{event.slug}/leaderboard/?kind=failed",
                "/problems/", f"/problems/{event.problem.name}/", f"/submissions/{submission.pk}/", "/"]:
        r = client.get(url)
        assert r.status_code == 200, url
    assert "Iris live" in text(client.get("/"))  # the home page's card of open events


def test_pages_that_need_an_account_send_anonymous_to_login(client, event):
    for url in [f"/events/{event.slug}/sandbox/", f"/events/{event.slug}/dashboard/", f"/events/{event.slug}/edit/",
                "/events/new/", "/problems/import/", f"/events/{event.slug}/leaderboard/?kind=mine"]:
        r = client.get(url)
        assert r.status_code == 302 and r["Location"].startswith("/accounts/login/"), url
    r = client.post(f"/events/{event.slug}/signup/", {"team": "x"})
    assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")
    assert not Signup.objects.exists()


def test_participant_pages(client, event, participant):
    login(client, participant)
    for url in [f"/events/{event.slug}/", f"/events/{event.slug}/sandbox/", f"/events/{event.slug}/leaderboard/",
                f"/events/{event.slug}/leaderboard/?kind=mine", f"/problems/{event.problem.name}/", "/problems/"]:
        assert client.get(url).status_code == 200, url
    for url in [f"/events/{event.slug}/dashboard/", f"/events/{event.slug}/edit/",
                f"/events/{event.slug}/leaderboard/?kind=private",
                f"/events/{event.slug}/leaderboard/?kind=private_competition", "/events/new/", "/problems/import/"]:
        assert client.get(url).status_code == 403, url


def test_event_admin_pages_and_tabs(client, event, event_admin, participant):
    scored(event, participant)
    login(client, event_admin)
    page = text(client.get(f"/events/{event.slug}/"))
    assert "Dashboard" in page and "Settings" in page
    for url in [f"/events/{event.slug}/dashboard/", f"/events/{event.slug}/edit/",
                f"/events/{event.slug}/leaderboard/?kind=private",
                f"/events/{event.slug}/leaderboard/?kind=private_competition"]:
        assert client.get(url).status_code == 200, url
    assert client.get("/events/new/").status_code == 403  # creating events is for staff
    board = text(client.get(f"/events/{event.slug}/leaderboard/"))
    assert "?kind=private" in board and "?kind=private_competition" in board


def test_staff_pages(client, admin_user, event):
    login(client, admin_user)
    for url in ["/events/new/", "/problems/import/", "/problems/", f"/events/{event.slug}/dashboard/",
                f"/events/{event.slug}/edit/", f"/problems/{event.problem.name}/"]:
        assert client.get(url).status_code == 200, url
    nav = text(client.get("/"))
    assert 'href="/events/"' in nav and 'href="/problems/"' in nav


def test_navigation_shows_problems_to_staff_only(client, user):
    login(client, user)
    page = text(client.get("/events/"))
    assert 'href="/events/"' in page and 'href="/problems/"' not in page


def test_hidden_event_and_its_pages_are_404_to_strangers(client, hidden_event, user, admin_user):
    services.signup_add(event=hidden_event, user=admin_user, actor=admin_user)
    submission = scored(hidden_event, admin_user)
    urls = [f"/events/{hidden_event.slug}/", f"/events/{hidden_event.slug}/leaderboard/",
            f"/events/{hidden_event.slug}/sandbox/", f"/events/{hidden_event.slug}/dashboard/",
            f"/submissions/{submission.pk}/", f"/submissions/{submission.pk}/state/",
            f"/problems/{hidden_event.problem.name}/"]
    for url in urls:
        r = client.get(url)
        assert r.status_code in (404, 302), url  # 302: the page needs an account first
        if r.status_code == 302:
            assert r["Location"].startswith("/accounts/login/")
    login(client, user)
    for url in urls:
        assert client.get(url).status_code == 404, url
    assert "iris-hidden" not in text(client.get("/events/"))
    login(client, admin_user)
    assert "iris-hidden" in text(client.get("/events/"))


def test_unknown_objects_are_404(client, user, db):
    login(client, user)
    for url in ["/events/nope/", "/events/nope/sandbox/", "/events/nope/leaderboard/", "/events/nope/dashboard/",
                "/problems/nope/", "/problems/nope/starting-kit.zip", "/submissions/999999/",
                "/submissions/999999/state/", "/events/%00/", "/events/" + "x" * 300 + "/", "/problems/%00/",
                "/submissions/99999999999999999999999/"]:
        assert client.get(url).status_code == 404, url
    assert client.post("/submissions/999999/rerun/").status_code == 404


# --------------------------------------------------------------------------- problems


def test_problem_page_shows_readme_sanitized_score_types_and_kit(client, event):
    r = client.get(f"/problems/{event.problem.name}/")
    page = text(r)
    assert "<h1>Iris species classification</h1>" in page  # the README, as HTML
    assert "classifier.py" in page and "Classifier workflow" in page
    assert "acc" in page and "nll" in page and "official" in page and "↓ lower" in page and "↑ higher" in page
    assert "3 folds" in page and "100 rows" in page and "50 rows" in page
    assert f"/problems/{event.problem.name}/starting-kit.zip" in page
    assert "submissions/starting_kit/classifier.py" in page and "submissions/better" not in page
    assert "Iris live" in page  # the events using it


def test_starting_kit_download_is_a_zip_without_other_submissions(client, event):
    r = client.get(f"/problems/{event.problem.name}/starting-kit.zip")
    assert r.status_code == 200 and r["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(b"".join(r.streaming_content))).namelist()
    assert "iris-pages/submissions/starting_kit/classifier.py" in names
    assert not any("better" in n or "failing" in n for n in names)


def test_problem_of_no_visible_event_is_404_to_participants_but_listed_for_staff(client, problem, user, admin_user):
    login(client, user)
    assert client.get(f"/problems/{problem.name}/").status_code == 404
    assert problem.name not in text(client.get("/problems/"))
    login(client, admin_user)
    assert problem.name in text(client.get("/problems/"))


def _zip(files: dict[str, str]) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, content in files.items():
            zf.writestr(name, content)
    buffer.seek(0)
    return buffer


def test_problem_import_form_refuses_garbage_and_stores_nothing(client, admin_user, problem):
    login(client, admin_user)
    before = Problem.objects.count()
    cases = [
        ({"name": "ok-name"}, "Upload a kit archive or give a git URL"),
        ({"name": "Bad Name!", "git_url": "https://example.org/kit.git"}, "lower-case"),
        ({"name": "x" * 101, "git_url": "https://example.org/kit.git"}, "at most 100"),
        ({"name": "ok-name", "git_url": "file:///etc"}, "Give a git URL"),
        ({"name": "ok-name", "git_url": "/etc/passwd"}, "Give a git URL"),
        ({"name": "ok-name", "git_url": "--upload-pack=evil"}, "Give a git URL"),
    ]
    for data, message in cases:
        r = client.post("/problems/import/", data)
        assert r.status_code == 400, data
        assert message in text(r), data
    upload = _zip({"kit/README.md": "hi"})
    upload.name = "kit.exe"
    r = client.post("/problems/import/", {"name": "ok-name", "kit": upload})
    assert r.status_code == 400 and "is not a .zip or .tar.gz archive" in text(r)
    assert Problem.objects.count() == before


def test_a_kit_that_is_not_a_kit_shows_the_list_of_errors(client, admin_user, problem):
    login(client, admin_user)
    upload = _zip({"kit/README.md": "# not a kit", "kit/problem.py": "import nothing_here\n"})
    upload.name = "kit.zip"
    r = client.post("/problems/import/", {"name": "not-a-kit", "kit": upload})
    assert r.status_code == 400
    page = text(r)
    assert 'data-testid="kit-errors"' in page and "nothing was stored" in page
    assert re.search(r"<li>[^<]*nothing_here", page)
    assert not Problem.objects.filter(name="not-a-kit").exists()


def test_an_archive_with_path_tricks_is_refused(client, admin_user, problem):
    login(client, admin_user)
    upload = _zip({"../../evil.py": "x", "kit/problem.py": "x"})
    upload.name = "kit.zip"
    r = client.post("/problems/import/", {"name": "tricky", "kit": upload})
    assert r.status_code == 400 and "goes up with" in text(r)
    assert not Problem.objects.filter(name="tricky").exists()


def test_problem_import_with_a_taken_name_is_409(client, admin_user, problem, tmp_path):
    login(client, admin_user)
    r = client.post("/problems/import/", {"name": problem.name, "git_url": "https://example.org/kit.git"})
    assert r.status_code == 409 and "already exists" in text(r)


def test_problem_import_from_an_uploaded_kit(client, admin_user, problem, tmp_path):
    kit = make_kit("iris", tmp_path)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for path in kit.rglob("*"):
            if path.is_file():
                zf.write(path, f"iris/{path.relative_to(kit)}")
    buffer.seek(0)
    buffer.name = "Iris Kit.ZIP"
    login(client, admin_user)
    r = client.post("/problems/import/", {"name": "iris-upload", "title": "Uploaded iris", "kit": buffer})
    assert r.status_code == 302 and r["Location"] == "/problems/iris-upload/"
    imported = Problem.objects.get(name="iris-upload")
    assert imported.title == "Uploaded iris" and imported.elements == ["classifier"]
    assert AuditEvent.objects.filter(action="problem.import", actor=admin_user).exists()


# --------------------------------------------------------------------------- events


def test_event_list_badges(client, problem, admin_user):
    now = timezone.now()
    services.event_create(problem=problem, slug="open-one", actor=admin_user)
    services.event_create(problem=problem, slug="soon", actor=admin_user, opens_at=now + timedelta(days=2))
    services.event_create(problem=problem, slug="past", actor=admin_user, opens_at=now - timedelta(days=5),
                          closes_at=now - timedelta(days=1))
    page = text(client.get("/events/"))
    for slug, badge in [("open-one", "open"), ("soon", "upcoming"), ("past", "closed")]:
        row = re.search(rf"<tr>\s*<td><a href=\"/events/{slug}/\">.*?</tr>", page, re.S).group(0)
        assert f">{badge}</span>" in row, slug


def test_event_page_renders_description_sanitized(client, event):
    page = text(client.get(f"/events/{event.slug}/"))
    assert "<h1>Welcome</h1>" in page and "<strong>fair</strong>" in page
    assert "<script>alert" not in page and "onerror" not in page and "javascript:" not in page
    assert "Log in" in page  # anonymous: how to take part


def test_sign_up_with_a_team_and_see_the_state(client, user, event):
    from databoard.accounts import services as account_services

    team = account_services.team_create(name="Owls", owner=user)
    login(client, user)
    page = text(client.get(f"/events/{event.slug}/"))
    assert 'value="owls"' in page and "(just you)" in page
    r = client.post(f"/events/{event.slug}/signup/", {"team": "owls"})
    assert r.status_code == 302
    signup = Signup.objects.get(event=event, user=user)
    assert signup.team == team and signup.state == Signup.State.APPROVED
    page = text(client.get(f"/events/{event.slug}/"))
    assert "signed up" in page and "Open the sandbox" in page and "Owls" in page
    r = client.post(f"/events/{event.slug}/signup/", {"team": "owls"})
    assert r.status_code == 409 and "already signed up" in text(r)


def test_sign_up_refuses_a_team_that_is_not_yours(client, user, other_user, event):
    from databoard.accounts import services as account_services

    account_services.team_create(name="Foxes", owner=other_user)
    login(client, user)
    for team in ["foxes", "", "x" * 500, "../admin"]:
        r = client.post(f"/events/{event.slug}/signup/", {"team": team})
        assert r.status_code == 400, team
    assert not Signup.objects.filter(user=user).exists()


def test_pending_and_rejected_sign_ups_are_explained(client, user, event, admin_user):
    services.event_update(event=event, actor=admin_user, approval_required=True)
    login(client, user)
    client.post(f"/events/{event.slug}/signup/", {"team": user.username})
    assert "waits for approval" in text(client.get(f"/events/{event.slug}/"))
    signup = Signup.objects.get(user=user)
    services.signup_decide(signup=signup, approve=False, reason="Students of the course only.", actor=admin_user)
    page = text(client.get(f"/events/{event.slug}/"))
    assert "rejected" in page and "Students of the course only." in page


def test_sign_up_to_a_closed_event_is_refused_with_the_reason(client, user, problem, admin_user):
    now = timezone.now()
    closed = services.event_create(problem=problem, slug="closed", actor=admin_user, opens_at=now - timedelta(days=3),
                                   closes_at=now - timedelta(days=1))
    login(client, user)
    assert "sign-up is over" in text(client.get("/events/closed/"))
    r = client.post("/events/closed/signup/", {"team": user.username})
    assert r.status_code == 409 and "is closed" in text(r)
    assert not Signup.objects.filter(event=closed).exists()


def _event_data(**overrides):
    data = {"problem": "iris-pages", "slug": "new-event", "title": "New event", "description": "Hello",
            "is_public": "on", "show_private_after_close": "on", "min_minutes_between": "0",
            "max_train_seconds": "600", "max_memory_mb": "4096", "queue": "default"}
    data.update(overrides)
    return data


def test_event_create_form(client, admin_user, problem):
    login(client, admin_user)
    page = text(client.get(f"/events/new/?problem={problem.name}"))
    assert 'type="datetime-local"' in page and f'value="{problem.name}" selected' in page
    r = client.post("/events/new/", _event_data(opens_at="2030-01-02T10:30", closes_at="2030-02-01T00:00",
                                                max_submissions_per_day="5"))
    assert r.status_code == 302 and r["Location"] == "/events/new-event/"
    created = Event.objects.get(slug="new-event")
    assert created.opens_at.isoformat() == "2030-01-02T10:30:00+00:00"  # read in the server's time zone (UTC)
    assert created.max_submissions_per_day == 5 and created.max_submissions_total is None
    assert created.signup_opens_at is None and created.is_public and not created.approval_required


@pytest.mark.parametrize("overrides, status, message", [
    ({"opens_at": "not a date"}, 400, "Enter a valid date"),
    ({"opens_at": "2030-13-45T25:61"}, 400, "Enter a valid date"),
    ({"opens_at": "2030-02-01T00:00", "closes_at": "2030-01-01T00:00"}, 400, "must close after it opens"),
    ({"slug": "Bad Slug"}, 400, "lower-case"),
    ({"slug": "../etc"}, 400, "lower-case"),
    ({"title": "t" * 201}, 400, "at most 200"),
    ({"problem": "no-such-problem"}, 400, "Select a valid choice"),
    ({"max_submissions_per_day": "99999999999999999999"}, 400, "less than or equal"),
    ({"max_submissions_per_day": "abc"}, 400, "Enter a whole number"),
    ({"max_train_seconds": "0"}, 400, "greater than or equal"),
    ({"max_memory_mb": "-5"}, 400, "greater than or equal"),
    ({"queue": "bad queue!"}, 400, "queue name"),
    ({"slug": "iris-live"}, 409, "already exists"),
])
def test_event_create_form_refuses_garbage(client, admin_user, event, overrides, status, message):
    login(client, admin_user)
    before = Event.objects.count()
    r = client.post("/events/new/", _event_data(**overrides))
    assert r.status_code == status
    assert message in text(r)
    assert Event.objects.count() == before


def test_event_edit_by_an_event_admin(client, event, event_admin):
    login(client, event_admin)
    page = text(client.get(f"/events/{event.slug}/edit/"))
    assert 'value="Iris live"' in page and 'name="slug"' not in page
    data = _event_data(title="Iris, renamed", closes_at="2031-05-06T07:08", max_submissions_total="10")
    r = client.post(f"/events/{event.slug}/edit/", data)
    assert r.status_code == 302
    event.refresh_from_db()
    assert event.title == "Iris, renamed" and event.closes_at.isoformat() == "2031-05-06T07:08:00+00:00"
    assert event.max_submissions_total == 10
    audit = AuditEvent.objects.filter(action="event.update").latest("created_at")
    assert set(audit.data["fields"]) == {"title", "description", "closes_at", "max_submissions_total"}
    r = client.post(f"/events/{event.slug}/edit/", _event_data(title="Bad", opens_at="2031-06-01T00:00",
                                                                  closes_at="2031-05-06T07:08"))
    assert r.status_code == 400 and "must close after it opens" in text(r)
    event.refresh_from_db()
    assert event.title == "Iris, renamed" and event.opens_at is None
    r = client.post(f"/events/{event.slug}/edit/", _event_data(title=""))
    assert r.status_code == 400


def test_event_edit_is_403_for_a_participant(client, event, participant):
    login(client, participant)
    r = client.post(f"/events/{event.slug}/edit/", _event_data(title="Hacked"))
    assert r.status_code == 403
    event.refresh_from_db()
    assert event.title == "Iris live"


# --------------------------------------------------------------------------- sandbox


def test_sandbox_shows_the_starting_kit_then_the_draft(client, event, participant):
    login(client, participant)
    page = text(client.get(f"/events/{event.slug}/sandbox/"))
    assert 'data-editor="python"' in page and "LogisticRegression" in page
    assert "vendor/codemirror/codemirror.min.js" in page and "databoard/editor.js" in page
    assert "Today" in page and "∞" in page
    r = client.post(f"/events/{event.slug}/sandbox/", {"action": "save", "code_0": "# my draft\r\nprint(1)\r\n"})
    assert r.status_code == 302
    assert Draft.objects.get(user=participant).code == "# my draft\nprint(1)\n"
    page = text(client.get(f"/events/{event.slug}/sandbox/"))
    assert "# my draft" in page and "LogisticRegression" not in page


def test_scripts_load_only_where_needed(client, event, participant):
    login(client, participant)
    assert "codemirror" not in text(client.get(f"/events/{event.slug}/"))
    assert "chart.umd" not in text(client.get(f"/events/{event.slug}/"))
    assert "chart.umd" in text(client.get(f"/events/{event.slug}/leaderboard/"))


def test_sandbox_submit_goes_to_the_submission_page(client, event, participant):
    login(client, participant)
    r = client.post(f"/events/{event.slug}/sandbox/", {"action": "submit", "name": "first-try",
                                                       "code_0": STARTING_KIT})
    submission = Submission.objects.get(name="first-try")
    assert r.status_code == 302 and r["Location"] == f"/submissions/{submission.pk}/"
    page = text(client.get(r["Location"]))
    assert "is queued for training" in page and 'hx-trigger="every 3s"' in page
    assert services.submission_files(submission=submission) == {"classifier.py": STARTING_KIT.encode()}


def test_sandbox_upload_is_stored_under_the_element_name_whatever_its_name(client, event, participant):
    login(client, participant)
    upload = io.BytesIO(b"# uploaded\n" + STARTING_KIT.encode())
    upload.name = "../../../etc/passwd"
    r = client.post(f"/events/{event.slug}/sandbox/", {"action": "submit", "name": "uploaded", "code_0": "",
                                                       "file_0": upload})
    assert r.status_code == 302
    submission = Submission.objects.get(name="uploaded")
    assert services.submission_files(submission=submission) == {
        "classifier.py": b"# uploaded\n" + STARTING_KIT.encode()}


def test_sandbox_refuses_a_file_that_is_not_utf8(client, event, participant):
    login(client, participant)
    upload = io.BytesIO(b"\xff\xfe\x00bad")
    upload.name = "classifier.py"
    r = client.post(f"/events/{event.slug}/sandbox/", {"action": "submit", "name": "binary", "file_0": upload})
    assert r.status_code == 400 and "is not UTF-8 text" in text(r)
    upload.seek(0)
    r = client.post(f"/events/{event.slug}/sandbox/", {"action": "save", "file_0": upload})
    assert r.status_code == 400 and "is not UTF-8 text" in text(r)
    assert not Submission.objects.exists() and not Draft.objects.exists()


@pytest.mark.parametrize("data, message", [
    ({"action": "submit", "name": "", "code_0": "x"}, "Give the submission a name"),
    ({"action": "submit", "name": "n" * 41, "code_0": "x"}, "at most 40"),
    ({"action": "submit", "name": "bad name!", "code_0": "x"}, "A submission name is"),
    ({"action": "submit", "name": "../../etc", "code_0": "x"}, "A submission name is"),
    ({"action": "delete", "name": "ok", "code_0": "x"}, "Select a valid choice"),
    ({"name": "ok", "code_0": "x"}, "This field is required"),
])
def test_sandbox_form_refuses_garbage(client, event, participant, data, message):
    login(client, participant)
    r = client.post(f"/events/{event.slug}/sandbox/", data)
    assert r.status_code == 400
    assert message in text(r)
    assert not Submission.objects.exists()


def test_sandbox_keeps_the_posted_code_when_refused(client, event, participant):
    login(client, participant)
    r = client.post(f"/events/{event.slug}/sandbox/", {"action": "submit", "name": "bad name", "code_0": "# keep me"})
    assert "# keep me" in text(r)


def test_refusal_when_not_signed_up(client, event, user):
    login(client, user)
    page = text(client.get(f"/events/{event.slug}/sandbox/"))
    assert "You have not signed up" in page and f"/events/{event.slug}/#participation" in page
    r = client.post(f"/events/{event.slug}/sandbox/", {"action": "submit", "name": "x", "code_0": STARTING_KIT})
    assert r.status_code == 403 and "Sign up to" in text(r)
    r = client.post(f"/events/{event.slug}/sandbox/", {"action": "save", "code_0": STARTING_KIT})
    assert r.status_code == 403 and "Sign up to" in text(r)
    assert not Submission.objects.exists() and not Draft.objects.exists()


def test_refusal_when_the_event_is_closed(client, event, participant, admin_user):
    now = timezone.now()
    services.event_update(event=event, actor=admin_user, opens_at=now - timedelta(days=2),
                          closes_at=now - timedelta(minutes=1))
    login(client, participant)
    assert "closed to submissions" in text(client.get(f"/events/{event.slug}/sandbox/"))
    r = client.post(f"/events/{event.slug}/sandbox/", {"action": "submit", "name": "late", "code_0": STARTING_KIT})
    assert r.status_code == 409 and "is closed to submissions" in text(r)
    assert not Submission.objects.exists()


def test_refusal_when_the_name_is_taken_or_the_code_is_identical(client, event, participant):
    submit(event, participant, "taken")
    login(client, participant)
    r = client.post(f"/events/{event.slug}/sandbox/", {"action": "submit", "name": "taken", "code_0": "# other"})
    assert r.status_code == 409 and "already has a submission named" in text(r)
    r = client.post(f"/events/{event.slug}/sandbox/", {"action": "submit", "name": "copy",
                                                       "code_0": code("taken")["classifier.py"]})
    assert r.status_code == 409 and "identical to your team&#x27;s submission" in text(r)
    assert Submission.objects.count() == 1


def test_refusal_when_the_daily_limit_is_reached(client, event, participant, admin_user):
    services.event_update(event=event, actor=admin_user, max_submissions_per_day=1)
    submit(event, participant)
    login(client, participant)
    page = text(client.get(f"/events/{event.slug}/sandbox/"))
    assert 'data-testid="refusal"' in page and "submissions of today" in page
    r = client.post(f"/events/{event.slug}/sandbox/", {"action": "submit", "name": "more", "code_0": "# more"})
    assert r.status_code == 429 and "submissions of today" in text(r)
    assert Submission.objects.count() == 1


def test_quota_and_cool_down_shown(client, event, participant, admin_user):
    services.event_update(event=event, actor=admin_user, max_submissions_per_day=3, max_submissions_total=9,
                          min_minutes_between=30)
    submit(event, participant)
    login(client, participant)
    page = text(client.get(f"/events/{event.slug}/sandbox/"))
    assert re.search(r"stat-sm\">1</span> / 3", page) and re.search(r"stat-sm\">1</span> / 9", page)
    assert "Wait " in page and "more minute" in page


# --------------------------------------------------------------------------- submission page


def _visible(client, submission):
    page = text(client.get(f"/submissions/{submission.pk}/"))
    return {"code": 'data-code="python"' in page, "test": "0.777" in page, "valid": "0.912" in page,
            "error_output": "SECRET-OUTPUT-LINE" in page, "error_summary": "ValueError: bad shape" in page}


def test_submission_page_permission_matrix(client, event, participant, rival, event_admin, admin_user):
    now = timezone.now()
    services.event_update(event=event, actor=admin_user, public_opens_at=now + timedelta(days=1))
    good = scored(event, participant, "good")
    bad = failed(event, participant, "bad")
    anonymous = client
    expected = {  # viewer: (code, test scores, error output)
        "anonymous": (False, False, False), "own": (True, False, True), "rival": (False, False, False),
        "event_admin": (True, True, True), "staff": (True, True, True)}
    viewers = {"anonymous": None, "own": participant, "rival": rival, "event_admin": event_admin,
               "staff": admin_user}
    for name, viewer in viewers.items():
        anonymous.logout()
        if viewer is not None:
            login(client, viewer)
        seen_good, seen_bad = _visible(client, good), _visible(client, bad)
        code_seen, test_seen, output_seen = expected[name]
        assert seen_good["valid"] and seen_bad["error_summary"], name  # everyone who sees the event
        assert seen_good["code"] == code_seen and seen_bad["code"] == code_seen, name
        assert seen_good["test"] == test_seen, name
        assert seen_bad["error_output"] == output_seen, name
    # Once the event's code is public, other signed-in participants see it, still not the run's output.
    services.event_update(event=event, actor=admin_user, public_opens_at=now - timedelta(minutes=1))
    login(client, rival)
    assert _visible(client, good)["code"] and not _visible(client, bad)["error_output"]
    client.logout()
    assert not _visible(client, good)["code"]  # anonymous: never
    page = text(client.get(f"/submissions/{good.pk}/"))
    assert 'data-testid="code-hidden"' in page and "Log in" in page


def test_code_hidden_sentence_says_why(client, event, participant, rival):
    good = scored(event, participant)
    login(client, rival)
    page = text(client.get(f"/submissions/{good.pk}/"))
    assert "keeps each team's code private" in page


def test_private_scores_shown_to_everyone_after_close_when_the_event_says_so(client, event, participant, rival,
                                                                             admin_user):
    good = scored(event, participant)
    now = timezone.now()
    services.event_update(event=event, actor=admin_user, opens_at=now - timedelta(days=2),
                          closes_at=now - timedelta(minutes=1), show_private_after_close=True)
    assert _visible(client, good)["test"]  # anonymous too
    assert client.get(f"/events/{event.slug}/leaderboard/?kind=private").status_code == 200
    services.event_update(event=event, actor=admin_user, show_private_after_close=False)
    login(client, rival)
    assert not _visible(client, good)["test"]
    assert client.get(f"/events/{event.slug}/leaderboard/?kind=private").status_code == 403


def test_submission_page_shows_scores_folds_and_timeline(client, event, participant):
    good = scored(event, participant)
    login(client, participant)
    page = text(client.get(f"/submissions/{good.pk}/"))
    assert 'data-testid="scores"' in page and 'data-testid="folds"' in page
    assert "0.912" in page and "0.950" in page and "0.500" not in page  # precision 3; times with 2 decimals
    assert "0.50" in page
    for state in ["new", "queued", "training", "scored"]:
        assert f">{state}</span>" in page
    assert "hx-trigger" not in page  # no polling once scored
    assert ">Re-run</button>" not in page


def test_state_block_polls_while_running_and_asks_for_a_reload_when_done(client, event, participant):
    submission = submit(event, participant)
    login(client, participant)
    r = client.get(f"/submissions/{submission.pk}/state/", HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and 'hx-trigger="every 3s"' in text(r) and "HX-Refresh" not in r
    claimed = services.submission_claim(worker="w")
    services.submission_record_error(submission=claimed, step="training", summary="boom")
    r = client.get(f"/submissions/{submission.pk}/state/", HTTP_HX_REQUEST="true")
    assert r["HX-Refresh"] == "true" and "hx-trigger" not in text(r)


def test_rerun_by_an_event_admin_and_refused_to_others(client, event, participant, event_admin):
    good = scored(event, participant)
    login(client, participant)
    assert client.post(f"/submissions/{good.pk}/rerun/").status_code == 403
    login(client, event_admin)
    assert ">Re-run</button>" in text(client.get(f"/submissions/{good.pk}/"))
    r = client.post(f"/submissions/{good.pk}/rerun/")
    assert r.status_code == 302
    good.refresh_from_db()
    assert good.state == Submission.State.QUEUED
    r = client.post(f"/submissions/{good.pk}/rerun/")  # already queued
    assert r.status_code == 409 and "re-run it once it has finished" in text(r)
    assert client.get(f"/submissions/{good.pk}/rerun/").status_code == 405


def test_a_submission_trained_by_the_worker(client, event, participant):
    """One real training: the page shows what the engine stored."""
    from databoard.engine.worker import run_worker

    login(client, participant)
    client.post(f"/events/{event.slug}/sandbox/", {"action": "submit", "name": "real", "code_0": STARTING_KIT})
    failing = io.BytesIO(b"class Classifier:\n    def fit(self, X, y):\n        raise ValueError('on purpose')\n")
    failing.name = "classifier.py"
    client.post(f"/events/{event.slug}/sandbox/", {"action": "submit", "name": "broken", "file_0": failing})
    stats = run_worker(burst=True, worker_id="pages-worker")
    assert (stats.scored, stats.failed) == (1, 1)
    real = Submission.objects.get(name="real")
    page = text(client.get(f"/submissions/{real.pk}/"))
    assert ">scored</span>" in page and real.scores.get(name="acc").valid is not None
    assert f"{real.scores.get(name='acc').valid:.3f}" in page
    broken = Submission.objects.get(name="broken")
    page = text(client.get(f"/submissions/{broken.pk}/"))
    assert "Failed while training" in page and "on purpose" in page and 'data-testid="error-output"' in page


# --------------------------------------------------------------------------- leaderboards


def test_public_leaderboard_ranks_formats_and_links(client, event, participant, rival):
    now = timezone.now()
    low = scored(event, participant, "low", valid=0.5, at=now - timedelta(hours=2))
    high = scored(event, rival, "high", valid=0.9876, at=now - timedelta(hours=1))
    page = text(client.get(f"/events/{event.slug}/leaderboard/"))
    assert page.index(f"/submissions/{high.pk}/") < page.index(f"/submissions/{low.pk}/")
    table = page[page.index('data-testid="board"'):]
    assert "0.988" in table and "0.9876" not in table  # the score type's precision
    assert "0.777" not in page  # no test scores on the public board
    assert 'title="lower is better">↓' in page and 'title="higher is better">↑' in page
    assert 'data-chart="score-over-time"' in page and 'id="score-data"' in page
    assert "2 scored submissions; the best acc is 0.9876 by bob (high)." in page  # the chart's fallback
    assert f'/api/v1/challenges/events/{event.slug}/leaderboard?kind=public&amp;format=csv' in page


def test_leaderboard_sort_links_toggle_the_direction(client, event, participant):
    scored(event, participant, "a", valid=0.5)
    scored(event, participant, "b", valid=0.7)
    page = text(client.get(f"/events/{event.slug}/leaderboard/"))
    # The official score sorts best first by default; its link flips it.
    assert 'href="?kind=public&amp;sort=score%3Aacc&amp;desc=0"' in page and 'aria-sort="descending"' in page
    page = text(client.get(f"/events/{event.slug}/leaderboard/?kind=public&sort=score%3Aacc&desc=0"))
    assert page.index(">a</a>") < page.index(">b</a>") and 'aria-sort="ascending"' in page
    page = text(client.get(f"/events/{event.slug}/leaderboard/?kind=public&sort=score%3Anll"))
    assert 'aria-sort="ascending"' in page  # lower is better: best first is ascending
    page = text(client.get(f"/events/{event.slug}/leaderboard/?kind=public&sort=team&desc=1"))
    assert 'aria-sort="descending"' in page


def test_leaderboard_pages_of_50(client, event, participant):
    for i in range(52):
        scored(event, participant, f"s{i:02d}", valid=i / 100)
    page = text(client.get(f"/events/{event.slug}/leaderboard/"))
    assert page.count("/submissions/") == 50 and "Page 1 of 2" in page
    page2 = text(client.get(f"/events/{event.slug}/leaderboard/?kind=public&page=2"))
    assert page2.count("/submissions/") == 2 and ">s00</a>" in page2 and ">s01</a>" in page2
    assert "?kind=public&amp;page=1" in page2
    for garbage in ["999", "-1", "abc", "1e9", "99999999999999999999999"]:
        assert client.get(f"/events/{event.slug}/leaderboard/?page={garbage}").status_code == 200, garbage


def test_competition_board_keeps_each_teams_best(client, event, participant, rival):
    scored(event, participant, "p1", valid=0.6)
    scored(event, participant, "p2", valid=0.8)
    scored(event, rival, "r1", valid=0.7)
    page = text(client.get(f"/events/{event.slug}/leaderboard/?kind=competition"))
    assert ">p2</a>" in page and ">r1</a>" in page and ">p1</a>" not in page
    assert 'data-chart="score-over-time"' in page


def test_private_tabs_only_for_who_may_see_them(client, event, participant, admin_user):
    scored(event, participant)
    login(client, participant)
    page = text(client.get(f"/events/{event.slug}/leaderboard/"))
    assert "kind=private" not in page and "kind=mine" in page
    login(client, admin_user)
    page = text(client.get(f"/events/{event.slug}/leaderboard/?kind=private"))
    assert "0.777" in page and "test scores" in page and "score-data" not in page


def test_mine_and_failed_boards(client, event, participant, rival):
    failed(event, rival, "broken")
    submit(event, participant, "waiting")
    login(client, participant)
    page = text(client.get(f"/events/{event.slug}/leaderboard/?kind=mine"))
    assert ">waiting</a>" in page and ">queued</span>" in page and "broken" not in page
    page = text(client.get(f"/events/{event.slug}/leaderboard/?kind=failed"))
    assert ">broken</a>" in page and "ValueError: bad shape" in page and "SECRET-OUTPUT" not in page


@pytest.mark.parametrize("query, status", [
    ("kind=nope", 400), ("kind=<script>", 400), ("sort=nope", 400), ("sort=score%3Anope", 400), ("desc=maybe", 200),
    ("kind=failed&sort=anything", 200), ("kind=private", 403), ("kind=%00", 400), ("page=%00", 200),
])
def test_leaderboard_garbage_is_4xx_never_500(client, event, participant, query, status):
    scored(event, participant)
    assert client.get(f"/events/{event.slug}/leaderboard/?{query}").status_code == status


def test_leaderboard_csv_works_with_the_session(client, event, participant, admin_user):
    scored(event, participant, "csv-me")
    login(client, admin_user)
    r = client.get(f"/api/v1/challenges/events/{event.slug}/leaderboard?kind=private&format=csv")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    assert "csv-me" in b"".join(r.streaming_content).decode()


# --------------------------------------------------------------------------- dashboard


def test_dashboard_shows_the_figures(client, event, participant, rival, event_admin):
    scored(event, participant, "top-one", valid=0.95)
    failed(event, rival, "oops")
    login(client, event_admin)
    page = text(client.get(f"/events/{event.slug}/dashboard/"))
    assert 'data-testid="per-day"' in page and ">top-one</a>" in page and "0.950" in page
    assert "event.signup" in page and "submission.create" in page  # the audit log
    assert re.search(r">training</span> <span class=\"stat-sm\">1</span>", page)  # errors by step


def test_dashboard_approves_and_rejects_sign_ups(client, event, user, other_user, event_admin, admin_user):
    services.event_update(event=event, actor=admin_user, approval_required=True)
    services.signup_request(event=event, user=user)
    services.signup_request(event=event, user=other_user)
    login(client, event_admin)
    page = text(client.get(f"/events/{event.slug}/dashboard/"))
    assert "alice" in page and "bob" in page
    r = client.post(f"/events/{event.slug}/dashboard/", {"action": "reject", "username": "bob", "reason": ""})
    assert r.status_code == 400 and "Give the reason" in text(r)
    assert Signup.objects.get(user=other_user).state == Signup.State.PENDING
    r = client.post(f"/events/{event.slug}/dashboard/", {"action": "reject", "username": "bob", "reason": "No."})
    assert r.status_code == 302
    r = client.post(f"/events/{event.slug}/dashboard/", {"action": "approve", "username": "alice"})
    assert r.status_code == 302
    states = dict(Signup.objects.values_list("user__username", "state"))
    assert states == {"alice": "approved", "bob": "rejected"}
    assert Signup.objects.get(user=other_user).reason == "No."


def test_dashboard_adds_a_participant(client, event, user, event_admin):
    login(client, event_admin)
    r = client.post(f"/events/{event.slug}/dashboard/", {"action": "add", "username": "ALICE"})
    assert r.status_code == 302
    assert Signup.objects.get(event=event, user=user).state == Signup.State.APPROVED


@pytest.mark.parametrize("data, status, message", [
    ({"action": "add", "username": "nobody"}, 404, "No user named &#x27;nobody&#x27;"),
    ({"action": "add", "username": ""}, 400, "Give the username"),
    ({"action": "add", "username": "x" * 200}, 400, "Give the username"),
    ({"action": "add", "username": "a\x00b"}, 400, ""),
    ({"action": "approve", "username": "a\x00b"}, 404, ""),
    ({"action": "reject", "username": "a\x00b", "reason": "x"}, 404, ""),
    ({"action": "approve", "username": "nobody"}, 404, "has not signed up"),
    ({"action": "reject", "username": "nobody", "reason": "x"}, 404, "has not signed up"),
    ({"action": "explode"}, 400, "Unknown action"),
    ({}, 400, "Unknown action"),
])
def test_dashboard_refuses_garbage(client, event, event_admin, data, status, message):
    login(client, event_admin)
    r = client.post(f"/events/{event.slug}/dashboard/", data)
    assert r.status_code == status and message in text(r)
    assert not Signup.objects.exists()


def test_dashboard_actions_are_403_for_participants(client, event, participant, other_user):
    login(client, participant)
    r = client.post(f"/events/{event.slug}/dashboard/", {"action": "add", "username": "bob"})
    assert r.status_code == 403
    assert not Signup.objects.filter(user=other_user).exists()


# --------------------------------------------------------------------------- admin and home


def test_django_admin_lists_the_challenges_models(client, admin_user, event, participant):
    scored(event, participant)
    login(client, admin_user)
    for model in ["problem", "kitfile", "event", "signup", "submission", "draft"]:
        assert client.get(f"/admin/challenges/{model}/").status_code == 200, model
    submission = Submission.objects.get()
    assert client.get(f"/admin/challenges/submission/{submission.pk}/change/").status_code == 200
    assert client.get(f"/admin/challenges/problem/{event.problem.pk}/change/").status_code == 200
    assert client.get("/admin/challenges/problem/add/").status_code == 403
    assert client.get("/admin/challenges/submission/add/").status_code == 403
    r = client.post("/admin/challenges/submission/", {"action": "rerun", "_selected_action": [submission.pk]})
    assert r.status_code == 302
    submission.refresh_from_db()
    assert submission.state == Submission.State.QUEUED


def test_django_admin_event_edits_go_through_the_service(client, admin_user, event):
    login(client, admin_user)
    url = f"/admin/challenges/event/{event.pk}/change/"
    data = {"title": "Changed in admin", "description": "", "is_public": "on", "min_minutes_between": "0",
            "max_train_seconds": "600", "max_memory_mb": "4096", "show_private_after_close": "on",
            "queue": "default", "opens_at_0": "2030-02-01", "opens_at_1": "00:00:00", "closes_at_0": "2030-01-01",
            "closes_at_1": "00:00:00"}
    r = client.post(url, data)
    assert r.status_code == 200 and "must close after it opens" in text(r)
    event.refresh_from_db()
    assert event.title == "Iris live"
    data.update(closes_at_0="2030-03-01")
    assert client.post(url, data).status_code == 302
    event.refresh_from_db()
    assert event.title == "Changed in admin"
    assert AuditEvent.objects.filter(action="event.update", actor=admin_user).exists()


def test_django_admin_adds_an_event_through_the_service(client, admin_user, problem):
    login(client, admin_user)
    data = {"problem": problem.pk, "slug": "from-admin", "title": "From the admin", "description": "",
            "is_public": "on", "min_minutes_between": "0", "max_train_seconds": "600", "max_memory_mb": "4096",
            "show_private_after_close": "on", "queue": "default"}
    r = client.post("/admin/challenges/event/add/", {**data, "queue": "bad queue"})
    assert r.status_code == 200 and not Event.objects.filter(slug="from-admin").exists()
    assert client.post("/admin/challenges/event/add/", data).status_code == 302
    created = Event.objects.get(slug="from-admin")
    assert created.created_by == admin_user
    assert AuditEvent.objects.filter(action="event.create", target_id=str(created.pk)).count() == 1


def test_home_lists_open_events_only(client, problem, admin_user, user):
    now = timezone.now()
    services.event_create(problem=problem, slug="now-open", actor=admin_user, title="Now open")
    services.event_create(problem=problem, slug="later", actor=admin_user, title="Opens later",
                          opens_at=now + timedelta(days=1))
    services.event_create(problem=problem, slug="secret", actor=admin_user, title="Secret", is_public=False)
    for viewer in (None, user):
        if viewer:
            login(client, viewer)
        page = text(client.get("/"))
        assert "Open events" in page and "Now open" in page
        assert "Opens later" not in page and "Secret" not in page


# --------------------------------------------------------------------------- no 500 anywhere


def test_no_page_answers_500_to_anyone_whatever_it_is_sent(client, event, participant, rival, event_admin,
                                                          admin_user, hidden_event):
    good = scored(event, participant, "good")
    bad = failed(event, rival, "bad")
    slug, name = event.slug, event.problem.name
    garbage = {"kind": ["x", "private", "mine", "failed"], "sort": ["", "score:acc", "score:", "%00", "rank"],
               "desc": ["2", ""], "page": ["0", "-5", "x" * 50]}
    pages = ["/", "/events/", "/problems/", f"/problems/{name}/", f"/problems/{name}/starting-kit.zip",
             f"/events/{slug}/", f"/events/{slug}/sandbox/", f"/events/{slug}/dashboard/", f"/events/{slug}/edit/",
             f"/events/{hidden_event.slug}/", f"/submissions/{good.pk}/", f"/submissions/{bad.pk}/",
             f"/submissions/{good.pk}/state/", "/events/new/", "/problems/import/", "/events/?page=x",
             "/problems/?page=-1"]
    pages += [f"/events/{slug}/leaderboard/?{key}={value}" for key, values in garbage.items() for value in values]
    forms = {
        f"/events/{slug}/signup/": {"team": ["", "x" * 300]},
        f"/events/{slug}/sandbox/": {"action": ["submit", "save", "x"], "name": ["a" * 100], "code_0": ["\x00"],
                                      "file_0": ["not a file"]},
        f"/events/{slug}/dashboard/": {"action": ["add", "approve", "reject"], "username": ["", "a" * 500]},
        f"/events/{slug}/edit/": {"title": ["x" * 300], "opens_at": ["2030-02-30T10:00"], "max_memory_mb": ["1e9"]},
        "/events/new/": {"problem": ["../x"], "slug": [""], "closes_at": ["9999-99-99"]},
        "/problems/import/": {"name": ["a/b"], "git_url": ["file:///"]},
        f"/submissions/{good.pk}/rerun/": {},
        f"/submissions/{bad.pk}/rerun/": {"x": ["y"]},
    }
    for viewer in (None, participant, rival, event_admin, admin_user):
        client.logout()
        if viewer is not None:
            login(client, viewer)
        for url in pages:
            assert client.get(url).status_code < 500, (viewer, url)
        for url, data in forms.items():
            assert client.post(url, data).status_code < 500, (viewer, url)
            assert client.post(url, {}).status_code < 500, (viewer, url)
