"""In Chromium: sign up to an event → write code in the sandbox editor → submit → a worker trains it → the
submission page turns to scored by itself → the public leaderboard ranks it; the admin sees the private
leaderboard, the dashboard and the problem."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from databoard.challenges import services
from databoard.challenges.models import Submission
from databoard.engine.worker import run_worker
from databoard.kits import make_kit
from tests.factories import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESCRIPTION = """Tell the species of an iris from four measurements.

* Sign up, open the **sandbox**, and improve the starting kit.
* Up to 5 submissions a day; the private leaderboard (test data) opens when the event closes.
"""

BETTER = '''from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


class Classifier(BaseEstimator):
    """All four measurements, standardized."""

    def __init__(self):
        self.clf = make_pipeline(StandardScaler(), LogisticRegression(C=10.0, max_iter=1000))

    def fit(self, X, y):
        self.clf.fit(X, y)
        return self

    def predict_proba(self, X):
        return self.clf.predict_proba(X)
'''


def _login(page, base, username):
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Log in')")
    page.wait_for_selector(f"text=Signed in as {username}")


def _record(event, user, name, *, valid, test, at):
    """A submission of another team, scored as the engine records it (no training: the test stays fast)."""
    submission = services.submission_create(event=event, user=user, name=name, at=at,
                                            files={"classifier.py": f"# {name}\n"})
    claimed = services.submission_claim(worker="seed")
    assert claimed.pk == submission.pk
    folds = [{"fold": i, "scores": {step: {"acc": v, "nll": 1 - v, "bal_acc": v} for step, v in
                                    (("train", min(1.0, valid + 0.03)), ("valid", valid), ("test", test))},
              "train_time": 0.4 + i / 10, "valid_time": 0.01, "test_time": 0.01} for i in range(3)]
    services.submission_record_scores(submission=claimed, folds=folds, duration_seconds=1.5, bagged={
        "valid": {"acc": valid, "nll": 1 - valid, "bal_acc": valid}, "test": {"acc": test, "nll": 1 - test,
                                                                             "bal_acc": test}})


def _seed(tmp_path):
    root = make_user(username="root", is_superuser=True)
    make_user(username="dora", first_name="Dora", last_name="Explorer")
    problem = services.problem_import(source=make_kit("iris", tmp_path), name="iris", actor=root)
    now = timezone.now()
    event = services.event_create(problem=problem, slug="iris-spring", actor=root, title="Iris, spring challenge",
                                  description=DESCRIPTION, opens_at=now - timedelta(days=4),
                                  closes_at=now + timedelta(days=30), max_submissions_per_day=5,
                                  public_opens_at=now + timedelta(days=31))
    for i, (username, runs) in enumerate([("owls", [(0.62, 0.60), (0.74, 0.70)]),
                                          ("lynx", [(0.70, 0.66), (0.80, 0.78), (0.86, 0.84)]),
                                          ("kiwi", [(0.58, 0.56)])]):
        member = make_user(username=username)
        services.signup_request(event=event, user=member)
        for j, (valid, test) in enumerate(runs):
            _record(event, member, f"{username}-v{j + 1}", valid=valid, test=test,
                    at=now - timedelta(days=3 - j, hours=5 * i))
    broken = make_user(username="mole")
    services.signup_request(event=event, user=broken)
    submission = services.submission_create(event=event, user=broken, name="typo", at=now - timedelta(hours=3),
                                            files={"classifier.py": "# typo\n"})
    services.submission_record_error(submission=services.submission_claim(worker="seed"), step="training",
                                     summary="NameError: name 'np' is not defined", output="Traceback …", exit_code=1)
    assert submission.pk
    return event


def _settled(page):
    """Scroll the whole page into view once and wait for two animation frames, so the code viewers below
    the fold have measured their lines (for the full-page screenshots)."""
    frames = "new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"
    page.evaluate(f"async () => {{ window.scrollTo(0, document.body.scrollHeight); await {frames}; "
                  f"window.scrollTo(0, 0); await {frames}; }}")
    return page


def _watch(page, problems):
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if "/static/" in r.url and r.status >= 400
            else None)


def test_sign_up_edit_submit_train_and_rank(live_server, page_factory, shot, tmp_path):
    event = _seed(tmp_path)
    base = live_server.url
    problems: list[str] = []
    dora = page_factory()
    _watch(dora, problems)
    _login(dora, base, "dora")

    dora.click("nav >> text=Events")
    dora.wait_for_selector("text=Iris, spring challenge")
    shot(_settled(dora), "challenge-events")
    dora.click("text=Iris, spring challenge")
    dora.select_option("select[name=team]", "dora")
    dora.click("button:has-text('Sign up')")
    dora.wait_for_selector("text=You take part in")
    assert "signed up" in dora.inner_text("#participation")
    shot(_settled(dora), "challenge-event")

    # The sandbox: the starting kit in a CodeMirror editor; replace it by typing.
    dora.click("#participation >> text=Open the sandbox")
    dora.wait_for_selector(".cm-editor .cm-content")
    assert "X[:, :2]" in dora.inner_text(".cm-content")
    dora.click(".cm-content")
    dora.keyboard.press("Control+A")
    dora.keyboard.press("Delete")
    dora.keyboard.insert_text(BETTER)
    dora.keyboard.type("\n# tuned by Dora")
    assert dora.input_value("textarea[name=code_0]").rstrip().endswith("# tuned by Dora")
    dora.fill("input[name=name]", "scaled-logreg")
    shot(_settled(dora), "challenge-sandbox")
    dora.click("button:has-text('Submit')")
    dora.wait_for_selector("text=is queued for training")
    assert dora.inner_text("[data-testid=state]") == "queued"
    submission = Submission.objects.get(name="scaled-logreg")
    stored = services.submission_files(submission=submission)["classifier.py"].decode()
    assert "make_pipeline(StandardScaler()" in stored and stored.rstrip().endswith("# tuned by Dora")

    # A worker trains it; the page, polling with htmx, reloads itself once the run is over.
    stats = run_worker(burst=True, worker_id="browser-test")
    assert (stats.scored, stats.failed) == (1, 0)
    dora.wait_for_selector("[data-testid=state]:text-is('scored')", timeout=20_000)
    dora.wait_for_selector("[data-testid=folds]")
    dora.wait_for_selector(".cm-editor")  # the code, highlighted
    submission.refresh_from_db()
    acc = f"{submission.official_valid:.3f}"
    assert acc in dora.inner_text("[data-testid=scores]")
    assert "Test" not in dora.inner_text("[data-testid=scores]")  # private until the event closes
    shot(_settled(dora), "challenge-submission")

    dora.click(".crumbs >> text=leaderboard")
    dora.wait_for_function("() => window.Chart && Chart.getChart(document.querySelector('canvas[data-chart]'))")
    board = dora.inner_text("[data-testid=board]")
    assert "scaled-logreg" in board and acc in board
    assert "Private" not in dora.inner_text(".board-tabs")
    shot(_settled(dora), "challenge-leaderboard")

    admin = page_factory()
    _watch(admin, problems)
    _login(admin, base, "root")
    admin.goto(f"{base}/events/{event.slug}/leaderboard/")
    admin.click(".board-tabs >> text=Private")
    admin.wait_for_selector("text=test scores")
    private = admin.inner_text("[data-testid=board]")
    assert "scaled-logreg" in private and f"{submission.official_test:.3f}" in private
    shot(_settled(admin), "challenge-leaderboard-private")
    admin.click(".tabs >> text=Dashboard")
    admin.wait_for_selector("[data-testid=per-day]")
    assert "scaled-logreg" in admin.inner_text("main")
    shot(_settled(admin), "challenge-dashboard")
    admin.goto(f"{base}/problems/iris/")
    admin.wait_for_selector("text=Score types")
    shot(_settled(admin), "challenge-problem")
    assert problems == []
