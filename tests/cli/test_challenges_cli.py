"""The `databoard` commands of the challenges: kits, problems, events, sign-ups, submit, leaderboard, worker.

Most run in-process, speaking the API to the test database as `tests/cli/test_cli.py` does; `submit --wait`
runs with a worker thread beside it; `databoard worker --burst` runs as a subprocess on a fresh SQLite
data home.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import threading

import pytest

from databoard.challenges import services
from databoard.challenges.models import Event, KitFile, Problem, Signup, Submission
from databoard.cli.main import main
from databoard.engine.worker import run_worker
from databoard.kits import make_kit
from tests.challenges.fixtures import (
    Threads,
    committed_problem,
    iris_code,
    make_event,
    scored,
    shared_database,
)
from tests.factories import make_user
from tests.homes import HomeRows, cli_home, submission_folder

pytestmark = pytest.mark.django_db


def run(capsys, *argv):
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    out, err = capsys.readouterr()
    return info.value.code, out, err


@pytest.fixture(autouse=True)
def _local(monkeypatch):
    monkeypatch.delenv("DATABOARD_URL", raising=False)
    monkeypatch.delenv("DATABOARD_TOKEN", raising=False)
    monkeypatch.setenv("DATABOARD_CLIENT_CONFIG", "/nonexistent/client.toml")


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    return make_kit("iris", tmp_path_factory.mktemp("cli-kits"))


@pytest.fixture(scope="module")
def cli_problem(django_db_setup, django_db_blocker, kit):
    with committed_problem(kit, "iris-cli", django_db_blocker) as problem:
        yield problem


@pytest.fixture
def problem(cli_problem, db):
    return cli_problem


@pytest.fixture
def event(problem, admin_user):
    return make_event(problem, admin_user, slug="cli-event")


@pytest.fixture
def alice(event, user):
    services.signup_request(event=event, user=user)
    return user


# --------------------------------------------------------------------------- kits and problems


def test_kits_make_writes_the_example_kits_with_their_data(capsys, tmp_path):
    code, out, err = run(capsys, "kits", "make", str(tmp_path / "all"))
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == ["diabetes", "iris", "wine"]
    assert (tmp_path / "all" / "iris" / "data" / "train.csv").stat().st_size > 0
    assert (tmp_path / "all" / "wine" / "submissions" / "starting_kit" / "feature_extractor.py").is_file()
    assert "Kit iris →" in out and "Kit wine →" in out

    code, out, err = run(capsys, "kits", "make", str(tmp_path / "one"), "--kit", "diabetes")
    assert code == 0, err
    assert [p.name for p in (tmp_path / "one").iterdir()] == ["diabetes"]
    code, _, err = run(capsys, "kits", "make", str(tmp_path / "one"), "--kit", "diabetes")
    assert code == 1 and "already exists" in err and len(err.strip().splitlines()) == 1


def test_problem_import_packs_a_folder_and_its_private_data(capsys, admin_user, kit, tmp_path):
    private = tmp_path / "private"
    (private / "data").mkdir(parents=True)
    for path in (kit / "data").iterdir():
        (private / "data" / path.name).write_bytes(path.read_bytes())
    (private / "data" / "answers.csv").write_text("secret\n")

    code, out, err = run(capsys, "problem", "import", str(kit), "--name", "iris-imported", "--data", str(private),
                         "--title", "Iris via CLI", "--json")

    assert code == 0, err
    assert json.loads(out)["title"] == "Iris via CLI"
    problem = Problem.objects.get(name="iris-imported")
    assert problem.files.filter(kind=KitFile.Kind.KIT, path="submissions/starting_kit/classifier.py").exists()
    assert list(problem.files.filter(kind=KitFile.Kind.DATA).values_list("path", flat=True)) == [
        "data/answers.csv", "data/test.csv", "data/train.csv"]
    code, out, _ = run(capsys, "problem", "list", "--json")
    assert code == 0 and "iris-imported" in [p["name"] for p in json.loads(out)]


def test_problem_import_of_a_bad_kit_lists_every_error_and_stores_nothing(capsys, admin_user, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "problem.py").write_text("problem_title = 'Half a kit'\n")

    code, _, err = run(capsys, "problem", "import", str(bad), "--name", "bad-cli")

    assert code == 1 and err.splitlines()[-1].startswith("databoard: error: The kit has ")
    listed = [line for line in err.splitlines() if line.startswith("- ")]
    assert "- problem.py does not define score_types" in listed and len(listed) >= 3
    assert not Problem.objects.filter(name="bad-cli").exists()
    code, _, err = run(capsys, "problem", "import", str(tmp_path / "missing"), "--name", "bad-cli")
    assert code == 1 and "is neither a folder nor a file" in err
    assert not Problem.objects.filter(name="bad-cli").exists()


def test_problem_list_json_and_table(capsys, problem, event, user):
    code, out, _ = run(capsys, "problem", "list", "--json")
    assert code == 0
    listed = {p["name"]: p for p in json.loads(out)}
    assert listed["iris-cli"]["files"] == ["classifier.py"] and listed["iris-cli"]["n_folds"] == 3
    code, out, _ = run(capsys, "--as", "alice", "problem", "list")
    assert code == 0 and "iris-cli" in out and "Classifier" in out


# --------------------------------------------------------------------------- events and sign-ups


def test_event_create_with_its_options(capsys, problem, admin_user):
    code, out, err = run(capsys, "event", "create", "--problem", "iris-cli", "--name", "spring", "--title", "Spring",
                         "--closes-at", "2031-06-30T18:00:00+02:00", "--public-opens-at", "2031-07-01T00:00:00Z",
                         "--per-day", "3", "--total", "20", "--minutes-between", "5", "--max-train-seconds", "60",
                         "--max-memory-mb", "1024", "--private", "--approval", "--hide-private", "--json")
    assert code == 0, err
    assert json.loads(out)["slug"] == "spring"
    event = Event.objects.get(slug="spring")
    assert (event.title, event.max_submissions_per_day, event.max_submissions_total, event.min_minutes_between,
            event.max_train_seconds, event.max_memory_mb) == ("Spring", 3, 20, 5, 60, 1024)
    assert (event.is_public, event.approval_required, event.show_private_after_close) == (False, True, False)
    assert event.closes_at.isoformat() == "2031-06-30T16:00:00+00:00"

    code, out, _ = run(capsys, "event", "create", "--problem", "iris-cli", "--name", "plain")
    assert code == 0 and "Event plain on iris-cli (open)" in out


@pytest.mark.parametrize("argv, fragment", [
    (["--problem", "nope", "--name", "x"], "No problem 'nope'"),
    (["--problem", "iris-cli", "--name", "x", "--opens-at", "next week"], "opens_at"),
    (["--problem", "iris-cli", "--name", "x", "--opens-at", "2031-01-01T00:00:00"], "time zone"),
    (["--problem", "iris-cli", "--name", "cli-event"], "already exists"),
])
def test_event_create_refusals_exit_1_with_one_line(capsys, event, argv, fragment):
    before = Event.objects.count()
    code, _, err = run(capsys, "event", "create", *argv)
    assert code == 1 and fragment in err, err
    assert err.startswith("databoard: error:") and len(err.strip().splitlines()) == 1
    assert Event.objects.count() == before


def test_event_add_participant_and_signup_as_a_user(capsys, event, user, other_user):
    code, out, err = run(capsys, "event", "add-participant", "cli-event", "alice")
    assert code == 0, err
    assert "alice takes part in cli-event as team alice" in out
    assert Signup.objects.get(event=event, user=user).state == Signup.State.APPROVED

    code, out, err = run(capsys, "--as", "bob", "event", "signup", "cli-event")
    assert code == 0, err
    assert "Signed up to cli-event as team bob: approved" in out
    assert Signup.objects.get(event=event, user=other_user).state == Signup.State.APPROVED

    code, _, err = run(capsys, "--as", "bob", "event", "signup", "cli-event")
    assert code == 1 and "already signed up" in err
    code, _, err = run(capsys, "--as", "bob", "event", "add-participant", "cli-event", "alice")
    assert code == 1 and "Only the admins of 'cli-event'" in err
    assert Signup.objects.filter(event=event).count() == 2


def test_signup_to_an_event_needing_approval_waits(capsys, problem, admin_user, user):
    make_event(problem, admin_user, slug="gated", approval_required=True)
    code, out, err = run(capsys, "--as", "alice", "event", "signup", "gated")
    assert code == 0, err
    assert out.strip().endswith("pending.")
    code, _, err = run(capsys, "event", "approve", "gated", "alice")
    assert code == 0, err
    assert Signup.objects.get(event__slug="gated", user=user).state == Signup.State.APPROVED


# --------------------------------------------------------------------------- submit


def test_submit_queues_the_folders_files(capsys, alice, event, tmp_path):
    folder = submission_folder(tmp_path, "mine", iris_code("cli")["classifier.py"])
    code, out, err = run(capsys, "--as", "alice", "submit", str(folder), "--event", "cli-event", "--name", "cli-1")
    assert code == 0, err
    submission = Submission.objects.get(name="cli-1")
    assert f"Submitted cli-1 (#{submission.pk}): queued" in out
    assert services.submission_files(submission=submission) == {
        "classifier.py": iris_code("cli")["classifier.py"].encode()}


@pytest.mark.parametrize("case, fragment", [
    ("not_signed_up", "Sign up to 'cli-event' before submitting"),
    ("duplicate_code", "identical to your team's submission 'first'"),
    ("name_taken", "already has a submission named 'first'"),
    ("limit", "Wait"),
    ("missing_file", "is missing; this problem expects classifier.py"),
])
def test_submit_refusals_exit_1_with_the_reason_and_write_nothing(capsys, event, user, admin_user, tmp_path, case,
                                                                  fragment):
    folder = submission_folder(tmp_path, "code", iris_code("refused")["classifier.py"])
    argv = ["--as", "alice", "submit", str(folder), "--event", "cli-event", "--name", "second"]
    if case != "not_signed_up":
        services.signup_request(event=event, user=user)
        files = iris_code("refused") if case == "duplicate_code" else iris_code("other")
        services.submission_create(event=event, user=user, name="first", files=files)
    if case == "name_taken":
        argv[-1] = "first"
    elif case == "limit":
        services.event_update(event=event, actor=admin_user, min_minutes_between=60)
    elif case == "missing_file":
        (folder / "classifier.py").rename(folder / "model.py")
    before = Submission.objects.count()

    code, _, err = run(capsys, *argv)

    assert code == 1 and fragment in err, err
    assert err.startswith("databoard: error:") and len(err.strip().splitlines()) == 1
    assert Submission.objects.count() == before


@pytest.mark.django_db(transaction=True)
def test_submit_wait_exits_0_with_the_scores_or_1_with_the_error(capsys, kit, tmp_path, monkeypatch):
    admin = make_user(username="admin", is_superuser=True)
    alice = make_user(username="alice")
    problem = services.problem_import(source=kit, name="iris-wait")
    event = make_event(problem, admin, slug="wait-event")
    services.signup_request(event=event, user=alice)
    good = submission_folder(tmp_path, "good", iris_code("good")["classifier.py"])
    bad = kit / "submissions" / "failing"
    stop = threading.Event()

    with shared_database(tmp_path):
        threads = Threads()
        threads.start(lambda: run_worker(worker_id="cli-worker", stop=stop, poll_seconds=0.1))
        try:
            scored_code, scored_out, scored_err = run(
                capsys, "--as", "alice", "submit", str(good), "--event", "wait-event", "--name", "good", "--wait",
                "--timeout", "120")
            failed_code, failed_out, failed_err = run(
                capsys, "--as", "alice", "submit", str(bad), "--event", "wait-event", "--name", "bad", "--wait",
                "--timeout", "120")
        finally:
            stop.set()
            threads.join()
        states = dict(Submission.objects.values_list("name", "state"))
        accuracy = Submission.objects.get(name="good").official_valid

    assert scored_code == 0, scored_err
    assert "Scored: acc " in scored_out and f"acc {accuracy:.4g}" in scored_out
    assert failed_code == 1
    assert "Error while training: ValueError: this submission fails on purpose" in failed_out
    assert "fails on purpose" in failed_err  # the run's output, for the team
    assert states == {"good": "scored", "bad": "error"}


def test_submit_wait_gives_up_after_its_timeout(capsys, alice, event, tmp_path):
    folder = submission_folder(tmp_path, "slow", iris_code("slow")["classifier.py"])
    code, _, err = run(capsys, "--as", "alice", "submit", str(folder), "--event", "cli-event", "--name", "slow",
                       "--wait", "--timeout", "1")
    assert code == 1 and "is still 'queued' after 1 s" in err
    assert Submission.objects.get(name="slow").state == Submission.State.QUEUED


# --------------------------------------------------------------------------- leaderboard


@pytest.fixture
def board_event(event, alice, other_user, admin_user):
    services.signup_request(event=event, user=other_user)
    scored(event, alice, "alpha", valid=0.912345, test=0.5)
    scored(event, other_user, "beta", valid=0.8, test=0.9)
    return event


def test_leaderboard_as_json(capsys, board_event):
    code, out, err = run(capsys, "--as", "bob", "leaderboard", "cli-event", "--format", "json")
    assert code == 0, err
    body = json.loads(out)
    assert [(r["submission"], r["score:acc"]) for r in body["rows"]] == [("alpha", 0.912345), ("beta", 0.8)]
    assert body["kind"] == "public" and body["count"] == 2


def test_leaderboard_as_a_table_with_the_precision(capsys, board_event):
    code, out, err = run(capsys, "--as", "bob", "leaderboard", "cli-event")
    assert code == 0, err
    assert "cli-event — public (2)" in out
    assert "0.912" in out and "0.912345" not in out and out.index("alpha") < out.index("beta")


def test_leaderboard_as_csv(capsys, board_event):
    code, out, err = run(capsys, "--as", "bob", "leaderboard", "cli-event", "--format", "csv", "--sort", "team")
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0][:4] == ["Rank", "Team", "Submission", "acc"]
    assert [r[1:4] for r in rows[1:]] == [["alice", "alpha", "0.912"], ["bob", "beta", "0.800"]]


def test_private_leaderboard_is_refused_to_a_participant_and_shown_to_the_admin(capsys, board_event):
    code, out, err = run(capsys, "--as", "alice", "leaderboard", "cli-event", "--kind", "private")
    assert code == 1 and out == ""
    assert err.startswith("databoard: error: Private scores are shown to the event's admins")
    code, out, err = run(capsys, "leaderboard", "cli-event", "--kind", "private", "--format", "json")
    assert code == 0, err
    assert [r["submission"] for r in json.loads(out)["rows"]] == ["beta", "alpha"]


@pytest.mark.parametrize("argv, fragment", [
    (["leaderboard", "cli-event", "--kind", "best"], "--kind"),
    (["leaderboard", "cli-event", "--format", "xml"], "--format"),
    (["leaderboard", "cli-event", "--limit", "0"], "--limit"),
    (["submit", "/nonexistent/folder", "--event", "cli-event", "--name", "x"], "is not a folder"),
    (["submit", ".", "--event", "cli-event"], "--name"),
    (["submit", ".", "--name", "x", "--wait", "--timeout", "0", "--event", "cli-event"], "--timeout"),
    (["event", "create", "--name", "x"], "--problem"),
    (["event", "create", "--problem", "p", "--name", "x", "--per-day", "0"], "--per-day"),
    (["kits", "make", "/tmp/unused", "--kit", "mnist"], "unknown kit 'mnist'"),
    (["problem", "import", "."], "--name"),
])
def test_usage_errors_exit_2_with_a_one_line_reason(capsys, event, argv, fragment):
    before = (Event.objects.count(), Submission.objects.count())
    code, _, err = run(capsys, *argv)
    assert code == 2, err
    assert fragment in err and err.startswith("databoard: error:") and len(err.strip().splitlines()) == 1
    assert (Event.objects.count(), Submission.objects.count()) == before


# --------------------------------------------------------------------------- the worker, as its own process

def test_worker_burst_trains_the_queue_of_a_fresh_sqlite_home(tmp_path, kit):
    good = submission_folder(tmp_path, "good", iris_code("burst")["classifier.py"])
    home, env = cli_home(tmp_path, kit, {"good": good, "bad": kit / "submissions" / "failing"})

    worker = subprocess.run([sys.executable, "-m", "databoard", "worker", "--burst"], env=env,
                            capture_output=True, text=True, timeout=120)

    assert worker.returncode == 0, worker.stderr
    assert "Done: 1 scored, 1 failed." in worker.stdout
    assert "e/root/good: scored" in worker.stdout and "e/root/bad: error (ValueError" in worker.stdout
    rows = HomeRows(home)
    assert dict(rows("SELECT name, state FROM challenges_submission")) == {"good": "scored", "bad": "error"}
    assert rows("SELECT official_valid FROM challenges_submission WHERE name = 'good'")[0][0] > 0.5
