"""The challenges' services: kit imports, events, sign-ups, submissions, quotas and drafts.

Every rule is checked where it lives, with its exception, its code and the fact that a refusal wrote
nothing. The HTTP side of the same rules is in test_api.py.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.utils import timezone

from databoard.accounts import services as account_services
from databoard.accounts.models import AuditEvent, Team
from databoard.challenges import services
from databoard.challenges.errors import DuplicateCode, EventClosed, LimitReached, NameTaken, NotSignedUp
from databoard.challenges.kit_source import KitSourceError
from databoard.challenges.models import Draft, Event, KitFile, Problem, Signup, StateChange, Submission, SubmissionFile
from databoard.errors import Conflict, PermissionDenied, TooLarge, ValidationFailed
from databoard.storage.models import Artifact
from tests.challenges.fixtures import BAD_KITS, committed_problem, failed, iris_code, make_event, scored, submit

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def services_problem(django_db_setup, django_db_blocker, kits_root):
    with committed_problem(kits_root / "iris", "iris-services", django_db_blocker) as problem:
        yield problem


@pytest.fixture
def iris(services_problem, db):
    return services_problem


def rows() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in (
        Problem, KitFile, Event, Signup, Submission, SubmissionFile, StateChange, Draft, Artifact, AuditEvent)}


def team_of(*users, name: str = "Reds") -> Team:
    """A team owned by the first user, the others invited and joined."""
    team = account_services.team_create(owner=users[0], name=name)
    for other in users[1:]:
        invite = account_services.team_invite(team=team, actor=users[0], username=other.username)
        account_services.invite_accept(invite=invite, user=other)
    return team


# --------------------------------------------------------------------------- problems


def test_a_kit_folder_is_imported_with_its_facts_and_files(kits_root, admin_user):
    problem = services.problem_import(source=kits_root / "diabetes", name="diabetes-svc", actor=admin_user)

    assert (problem.workflow, problem.elements, problem.prediction_type) == ("Regressor", ["regressor"], "regression")
    assert [(s["name"], s["lower_is_better"], s["precision"]) for s in problem.score_types] == [
        ("rmse", True, 2), ("nrmse", True, 3), ("mare", True, 3)]
    assert problem.n_folds == 3 and problem.n_train > 0 and problem.n_test > 0
    assert "diabetes" in problem.readme.lower() and problem.created_by == admin_user
    paths = set(problem.files.values_list("path", flat=True))
    assert {"problem.py", "data/train.csv", "data/test.csv", "submissions/starting_kit/regressor.py"} <= paths
    assert services.problem_starting_kit(problem=problem) == {
        "regressor.py": (kits_root / "diabetes" / "submissions" / "starting_kit" / "regressor.py").read_bytes()}


@pytest.mark.parametrize("name", ["", "Upper", "-dash", "a" * 101, "sp ace", "nul\x00", "../up"])
def test_a_bad_problem_name_is_refused_before_anything_is_read(name, tmp_path, admin_user):
    before = rows()
    with pytest.raises(ValidationFailed) as info:
        services.problem_import(source=tmp_path / "does-not-matter", name=name, actor=admin_user)
    assert info.value.details["field"] == "name"
    assert rows() == before


def test_a_taken_problem_name_is_a_conflict(iris, tmp_path, admin_user):
    before = rows()
    with pytest.raises(Conflict, match="already exists"):
        services.problem_import(source=tmp_path, name=iris.name, actor=admin_user)
    assert rows() == before


def _copy_kit(kits_root, tmp_path):
    kit = tmp_path / "kit"
    shutil.copytree(kits_root / "iris", kit)
    return kit


@pytest.mark.parametrize("case, fragment", [
    ("symlink", "is a symbolic link"),
    ("no_problem", "There is no problem.py"),
    ("syntax_error", "problem.py, line 3: SyntaxError"),
    ("missing_folder", "does not exist"),
])
def test_a_bad_kit_folder_is_invalid_kit_and_stores_nothing(case, fragment, kits_root, tmp_path, admin_user):
    kit = _copy_kit(kits_root, tmp_path)
    if case == "symlink":
        os.symlink("/etc/passwd", kit / "data" / "leak.csv")
    elif case == "no_problem":
        (kit / "problem.py").unlink()
    elif case == "syntax_error":
        (kit / "problem.py").write_text("import os\n\nx = (\n")
    elif case == "missing_folder":
        kit = tmp_path / "nowhere"
    before = rows()

    with pytest.raises(KitSourceError) as info:
        services.problem_import(source=kit, name="bad-folder", actor=admin_user)

    assert info.value.code == "invalid_kit" and info.value.status == 400
    assert any(fragment in e for e in info.value.details["errors"]), info.value.details
    assert rows() == before


@pytest.mark.parametrize("case", list(BAD_KITS))
def test_a_bad_kit_archive_is_invalid_kit_and_stores_nothing(case, kits_root, tmp_path, admin_user, override_config):
    filename, build, fragment, config = BAD_KITS[case]
    archive = tmp_path / filename
    archive.write_bytes(build(kits_root / "iris"))
    if config:
        override_config(**config)
    if case == "not_an_archive_name":
        fragment = "is neither a folder, a .zip, a .tar.gz nor a git URL"
    before = rows()

    with pytest.raises(KitSourceError) as info:
        services.problem_import(source=archive, name="bad-archive", actor=admin_user)

    assert any(fragment in e for e in info.value.details["errors"]), info.value.details
    assert rows() == before


def test_private_data_are_stored_apart_from_the_kit(kits_root, tmp_path, admin_user):
    private = tmp_path / "private"
    shutil.copytree(kits_root / "iris" / "data", private / "data")
    (private / "data" / "answers.csv").write_text("secret\n")

    problem = services.problem_import(source=kits_root / "iris", name="iris-private", data_source=private,
                                      actor=admin_user)

    data = set(problem.files.filter(kind=KitFile.Kind.DATA).values_list("path", flat=True))
    assert data == {"data/train.csv", "data/test.csv", "data/answers.csv"}
    assert not problem.files.filter(kind=KitFile.Kind.KIT, path="data/answers.csv").exists()
    kit_dir, data_dir = services.problem_materialize(problem=problem)
    assert (data_dir / "data" / "answers.csv").read_text() == "secret\n"
    assert (kit_dir / "problem.py").is_file() and not (kit_dir / "data" / "answers.csv").exists()


def test_a_problem_used_by_an_event_cannot_be_deleted(iris, event, admin_user):
    with pytest.raises(Conflict, match="used by 1 event"):
        services.problem_delete(problem=iris, actor=admin_user)
    assert Problem.objects.filter(pk=iris.pk).exists()


# --------------------------------------------------------------------------- events


def test_an_event_with_no_dates_is_open_now_and_never_closes(iris, admin_user):
    event = services.event_create(problem=iris, slug="always", actor=admin_user)
    now = timezone.now()
    assert event.title == iris.title and event.is_public and not event.approval_required
    assert event.is_open(at=now) and event.is_open(at=now + timedelta(days=3650)) and not event.is_closed(at=now)
    assert AuditEvent.objects.filter(action="event.create", target_id=str(event.pk), actor=admin_user).exists()


@pytest.mark.parametrize("options, field", [
    ({"slug": "Bad Slug"}, "slug"),
    ({"slug": ""}, "slug"),
    ({"opens_at": "2030-01-02T00:00:00Z", "closes_at": "2030-01-01T00:00:00Z"}, "closes_at"),
    ({"signup_opens_at": "2030-01-02T00:00:00Z", "closes_at": "2030-01-01T00:00:00Z"}, "signup_opens_at"),
    ({"opens_at": datetime(2030, 1, 1)}, "opens_at"),
    ({"max_train_seconds": 0}, "max_train_seconds"),
    ({"max_memory_mb": 100}, "max_memory_mb"),
    ({"min_minutes_between": 7 * 24 * 60 + 1}, "min_minutes_between"),
    ({"title": "  "}, "title"),
    ({"queue": "no queue"}, "queue"),
    ({"queue": ""}, "queue"),
])
def test_a_bad_event_is_refused_on_its_field_and_not_stored(iris, admin_user, options, field):
    options = {k: (datetime.fromisoformat(v.replace("Z", "+00:00")) if isinstance(v, str) and k.endswith("_at")
                   else v) for k, v in options.items()}
    slug = options.pop("slug", "an-event")
    before = rows()
    with pytest.raises(ValidationFailed) as info:
        services.event_create(problem=iris, slug=slug, actor=admin_user, **options)
    assert info.value.details.get("field") == field
    assert rows() == before


def test_an_unknown_event_option_and_a_taken_slug_are_refused(iris, event, admin_user):
    before = rows()
    with pytest.raises(ValidationFailed, match="Unknown event option"):
        services.event_create(problem=iris, slug="other", actor=admin_user, colour="red")
    with pytest.raises(Conflict, match="already exists"):
        services.event_create(problem=iris, slug=event.slug, actor=admin_user)
    assert rows() == before


@pytest.mark.parametrize("changes, field", [
    ({"title": None}, "title"),
    ({"is_public": None}, "is_public"),
    ({"max_train_seconds": None}, "max_train_seconds"),
    ({"queue": None}, "queue"),
    ({"closes_at": datetime(2000, 1, 1, tzinfo=dt_timezone.utc),
      "opens_at": datetime(2001, 1, 1, tzinfo=dt_timezone.utc)}, "closes_at"),
])
def test_an_event_update_with_bad_values_changes_nothing(event, admin_user, changes, field):
    before = Event.objects.values().get(pk=event.pk)
    with pytest.raises(ValidationFailed) as info:
        services.event_update(event=event, actor=admin_user, **changes)
    assert info.value.details["field"] == field
    assert Event.objects.values().get(pk=event.pk) == before
    assert not AuditEvent.objects.filter(action="event.update").exists()


def test_an_event_update_may_clear_the_dates_and_limits(iris, admin_user):
    event = make_event(iris, admin_user, closes_at=timezone.now() + timedelta(days=1), max_submissions_total=3)
    services.event_update(event=event, actor=admin_user, closes_at=None, max_submissions_total=None, title="Longer")
    event.refresh_from_db()
    assert (event.closes_at, event.max_submissions_total, event.title) == (None, None, "Longer")


# --------------------------------------------------------------------------- sign-ups


def test_sign_up_is_approved_at_once_or_waits_for_approval(iris, admin_user, user):
    open_event = make_event(iris, admin_user)
    gated = make_event(iris, admin_user, approval_required=True)

    assert services.signup_request(event=open_event, user=user).state == Signup.State.APPROVED
    pending = services.signup_request(event=gated, user=user)
    assert pending.state == Signup.State.PENDING and pending.team.is_personal

    approved = services.signup_add(event=gated, user=user, actor=admin_user)
    assert approved.pk == pending.pk and approved.state == Signup.State.APPROVED and approved.decided_by == admin_user


def test_sign_up_outside_its_window_twice_or_for_a_strangers_team_is_refused(iris, admin_user, user, other_user):
    now = timezone.now()
    later = make_event(iris, admin_user, signup_opens_at=now + timedelta(days=1))
    over = make_event(iris, admin_user, opens_at=now - timedelta(days=2), closes_at=now - timedelta(days=1))
    event = make_event(iris, admin_user)
    bobs = team_of(other_user, name="Bobs")
    services.signup_request(event=event, user=user)
    before = rows()

    with pytest.raises(EventClosed, match="opens at"):
        services.signup_request(event=later, user=user)
    with pytest.raises(EventClosed, match="is closed"):
        services.signup_request(event=over, user=user)
    with pytest.raises(Conflict, match=r"already signed up .*\(approved\)"):
        services.signup_request(event=event, user=user)
    with pytest.raises(PermissionDenied, match="not a member of team 'bobs'"):
        services.signup_request(event=make_event(iris, admin_user, slug="fresh"), user=user, team=bobs)

    assert rows()["Signup"] == before["Signup"]
    assert services.signup_request(event=later, user=user, at=now + timedelta(days=2)).state == "approved"


def test_a_rejection_needs_a_reason_which_the_user_then_sees(iris, admin_user, user):
    event = make_event(iris, admin_user, approval_required=True)
    signup = services.signup_request(event=event, user=user)
    with pytest.raises(ValidationFailed, match="reason"):
        services.signup_decide(signup=signup, approve=False, reason="  ", actor=admin_user)
    assert Signup.objects.get(pk=signup.pk).state == Signup.State.PENDING

    services.signup_decide(signup=signup, approve=False, reason="Not in the course", actor=admin_user)

    with pytest.raises(NotSignedUp, match="rejected: Not in the course"):
        submit(event, user)


# --------------------------------------------------------------------------- submissions


def test_a_submission_is_queued_with_its_files_state_log_and_audit(event, participant):
    submission = services.submission_create(event=event, user=participant, name="first", files={
        "classifier.py": "print('hi')\n"}, ip="10.0.0.7")

    assert (submission.state, submission.team.slug, submission.owner) == ("queued", "alice", participant)
    assert submission.queued_at == submission.created_at
    assert services.submission_files(submission=submission) == {"classifier.py": b"print('hi')\n"}
    assert list(submission.state_changes.values_list("state", flat=True)) == ["new", "queued"]
    audit = AuditEvent.objects.get(action="submission.create")
    assert (audit.actor, audit.ip, audit.data["name"]) == (participant, "10.0.0.7", "first")


def test_names_and_code_are_unique_per_team_not_across_teams(event, participant, rival):
    mine = submit(event, participant, "shared")
    theirs = services.submission_create(event=event, user=rival, name="shared", files=iris_code("shared"))
    assert mine.code_sha256 == theirs.code_sha256 and mine.team != theirs.team
    before = rows()

    with pytest.raises(NameTaken) as taken:
        services.submission_create(event=event, user=participant, name="shared", files=iris_code("new"))
    with pytest.raises(DuplicateCode) as duplicate:
        services.submission_create(event=event, user=participant, name="copy", files=iris_code("shared"))

    assert (taken.value.status, taken.value.code) == (409, "name_taken")
    assert (duplicate.value.status, duplicate.value.code, duplicate.value.details["submission"]) == (
        409, "duplicate_code", "shared")
    assert rows() == before


def test_teammates_share_one_quota(iris, admin_user, user, other_user):
    team = team_of(user, other_user)
    event = make_event(iris, admin_user, max_submissions_total=1)
    for person in (user, other_user):
        services.signup_request(event=event, user=person, team=team)
    first = submit(event, user, "alice-first")
    before = rows()

    with pytest.raises(LimitReached, match="all 1 submissions"):
        submit(event, other_user, "bob-first")

    assert first.team == team and rows() == before
    unlimited = make_event(iris, admin_user)
    for person in (user, other_user):
        services.signup_request(event=unlimited, user=person, team=team)
    submit(unlimited, user, "mine")
    with pytest.raises(NameTaken):  # the team's names are shared too
        services.submission_create(event=unlimited, user=other_user, name="mine", files=iris_code("b"))


def test_the_daily_limit_counts_today_only(iris, admin_user, user):
    event = make_event(iris, admin_user, max_submissions_per_day=1)
    services.signup_request(event=event, user=user)
    now = timezone.now()
    submit(event, user, "yesterday", at=now - timedelta(days=1, hours=1))

    quota = services.submission_quota(event=event, team=Signup.objects.get(user=user).team, at=now)
    assert (quota.today_used, quota.total_used, quota.refusal(at=now)) == (0, 1, None)
    submit(event, user, "today", at=now)
    with pytest.raises(LimitReached, match="its 1 submissions of today"):
        submit(event, user, "again", at=now + timedelta(seconds=1))


def test_the_cool_down_ends_after_its_minutes(iris, admin_user, user):
    event = make_event(iris, admin_user, min_minutes_between=15)
    services.signup_request(event=event, user=user)
    start = timezone.now()
    submit(event, user, "one", at=start)

    with pytest.raises(LimitReached, match="Wait 6 more minute"):
        submit(event, user, "early", at=start + timedelta(minutes=10))
    quota = services.submission_quota(event=event, team=Signup.objects.get(user=user).team, at=start)
    assert quota.next_allowed_at == start + timedelta(minutes=15)
    assert submit(event, user, "on-time", at=start + timedelta(minutes=15)).state == "queued"


def test_failed_submissions_do_not_count_toward_the_limits(iris, admin_user, user):
    event = make_event(iris, admin_user, max_submissions_per_day=1, max_submissions_total=1)
    services.signup_request(event=event, user=user)
    team = Signup.objects.get(user=user).team
    failed(event, user, "crashed")
    failed(event, user, "crashed-again")

    quota = services.submission_quota(event=event, team=team)
    assert (quota.today_used, quota.total_used, quota.refusal(at=timezone.now())) == (0, 0, None)
    done = scored(event, user, "works")
    quota = services.submission_quota(event=event, team=team)
    assert (quota.today_used, quota.total_used) == (1, 1)
    assert done.state == "scored"
    with pytest.raises(LimitReached):
        submit(event, user, "one-more")


@pytest.mark.parametrize("files, error, fragment", [
    ({}, ValidationFailed, "lacks classifier.py"),
    ({"classifier.py": "x", "extra.py": "y"}, ValidationFailed, "'extra.py' is not a file of this problem"),
    ({"Classifier.py": "x"}, ValidationFailed, "is not a file of this problem"),
    ({"classifier.py": b"\xff\xfe"}, ValidationFailed, "not UTF-8"),
    ({"classifier.py": 42}, ValidationFailed, "must be text or bytes"),
    (["classifier.py"], ValidationFailed, "by name"),
    ({"classifier.py": "#" * 2048}, TooLarge, "the limit is 1 KB"),
])
def test_files_that_are_not_the_workflows_elements_are_refused(event, participant, override_config, files, error,
                                                               fragment):
    override_config(max_submission_file_bytes=1024)
    before = rows()
    with pytest.raises(error, match=fragment):
        services.submission_create(event=event, user=participant, name="files", files=files)
    assert rows() == before


@pytest.mark.parametrize("name", ["", "a b", "x" * 41, "../x", "é", None, 5])
def test_a_bad_submission_name_is_400_on_name(event, participant, name):
    before = rows()
    with pytest.raises(ValidationFailed) as info:
        services.submission_create(event=event, user=participant, name=name, files=iris_code("n"))
    assert (info.value.status, info.value.details["field"]) == (400, "name")
    assert rows() == before


def test_code_digest_ignores_line_endings_but_not_content():
    unix = {"classifier.py": b"a = 1\nb = 2\n"}
    assert services.code_digest(unix) == services.code_digest({"classifier.py": b"a = 1\r\nb = 2\r\n"})
    assert services.code_digest(unix) != services.code_digest({"classifier.py": b"a = 1\nb = 3\n"})
    assert services.code_digest(unix) != services.code_digest({"other.py": b"a = 1\nb = 2\n"})


# --------------------------------------------------------------------------- drafts


def test_drafts_are_kept_per_user_and_element(event, participant):
    services.draft_save(event=event, user=participant, files={"classifier.py": "v1"})
    services.draft_save(event=event, user=participant, files={"classifier.py": "v2"})
    assert list(Draft.objects.values_list("element", "code")) == [("classifier.py", "v2")]


@pytest.mark.parametrize("files, error", [
    ({"model.py": "x"}, ValidationFailed),
    ({"classifier.py": "x" * (services.MAX_DRAFT_BYTES + 1)}, TooLarge),
])
def test_bad_drafts_are_refused_and_not_kept(event, participant, files, error):
    with pytest.raises(error):
        services.draft_save(event=event, user=participant, files=files)
    assert not Draft.objects.exists()


def test_drafts_need_an_approved_sign_up(event, other_user):
    with pytest.raises(NotSignedUp):
        services.draft_save(event=event, user=other_user, files={"classifier.py": "x"})
    assert not Draft.objects.exists()
