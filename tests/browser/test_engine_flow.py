"""In Chromium: an event admin watches a run in training (progress bar and log tail follow the row as htmx
polls), cancels it through the confirmation dialog and reads "Cancelled by …"; the workers page shows who
trains what, warns in red of a worker without the sandbox, and refreshes by itself.

No worker process runs: the rows are written as a worker writes them (``submission_claim``,
``submission_progress``, ``worker_register``), which keeps the test fast and its timing certain.
"""

from __future__ import annotations

import pytest

from databoard.challenges import services
from databoard.challenges.models import Submission
from databoard.kits import make_kit
from tests.browser.test_challenge_flow import _login, _settled, _watch
from tests.factories import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

POLL_WAIT_MS = 15_000  # the state block polls every 3 s, the workers page every 5 s


def _log(fold: int, lines: int = 40) -> str:
    """A log as the worker stores it: ramp-test's lines, score tables hidden."""
    out = ["Testing Iris classification", "Reading train and test files from ./data/ ...",
           "Reading cv ...", "Training submission ..."]
    for i in range(fold):
        out += [f"CV fold {i}", "\tscore   acc    nll  bal_acc", "\ttrain  ****   ****   ****",
                "\tvalid  ****   ****   ****", "\ttest   ****   ****   ****"]
    out += [f"fitting fold {fold} … epoch {n}" for n in range(lines)]
    return "\n".join(out)


def _seed(tmp_path):
    root = make_user(username="root", is_superuser=True)
    problem = services.problem_import(source=make_kit("iris", tmp_path), name="iris", actor=root)
    event = services.event_create(problem=problem, slug="iris-live", actor=root, title="Iris, live")
    runs = []
    for username, worker in (("dora", "gpu-node-1"), ("lynx", "cpu-node-2")):
        member = make_user(username=username)
        services.signup_request(event=event, user=member)
        services.submission_create(event=event, user=member, name=f"{username}-boosted",
                                   files={"classifier.py": f"# {username}\n"})
        run = services.submission_claim(worker=worker)
        services.submission_progress(submission=run, progress={"phase": "training", "fold": 1, "n_folds": 5,
                                                               "elapsed_s": 4.2}, log_tail=_log(1))
        runs.append(run)
    kiwi = make_user(username="kiwi")
    services.signup_request(event=event, user=kiwi)
    services.submission_create(event=event, user=kiwi, name="kiwi-waits", files={"classifier.py": "# kiwi\n"})
    services.worker_register(name="gpu-node-1", host="gpu-node-1", pid=3121, sandboxed=False, slots=2,
                             sandbox_note="WARNING: sandbox OFF (bwrap cannot create a user namespace here): "
                                          "submissions run with resource limits only")
    services.worker_register(name="cpu-node-2", host="cpu-node-2", pid=877, backend="dask", slots=8,
                             scheduler="tcp://10.0.0.5:8786", queues=["default"], sandboxed=True,
                             sandbox_note="sandbox on (bwrap: no network, read-only system, private work folder)")
    services.worker_beat(name="cpu-node-2", scored=41, failed=2)
    return event, runs


def _log_at_bottom(page) -> bool:
    return page.evaluate("""() => {
        const box = document.querySelector('#log-follow');
        const pre = box.querySelector('pre');
        return box.scrollHeight > box.clientHeight + 20
            && Math.abs(pre.getBoundingClientRect().bottom - box.getBoundingClientRect().bottom) < 2;
    }""")


def test_watch_a_run_cancel_it_and_see_the_workers(live_server, page_factory, shot, tmp_path):
    event, (run, other) = _seed(tmp_path)
    base = live_server.url
    problems: list[str] = []
    admin = page_factory()
    _watch(admin, problems)
    _login(admin, base, "root")

    admin.goto(f"{base}/submissions/{run.pk}/")
    assert admin.inner_text("[data-testid=progress-label]") == "Fold 1 of 5"
    assert "fitting fold 1 … epoch 39" in admin.inner_text("[data-testid=log-tail]")
    assert _log_at_bottom(admin)  # the end of the log is what shows

    # The worker reports: fold 3, new lines. The polled block and the log follow without a reload.
    admin.evaluate("window.notReloaded = true")
    services.submission_progress(submission=run, progress={"phase": "training", "fold": 3, "n_folds": 5,
                                                           "elapsed_s": 95.0}, log_tail=_log(3))
    admin.wait_for_selector("[data-testid=progress-label]:text-is('Fold 3 of 5')", timeout=POLL_WAIT_MS)
    admin.wait_for_selector("[data-testid=log-tail]:has-text('fitting fold 3 … epoch 39')", timeout=POLL_WAIT_MS)
    assert admin.evaluate("window.notReloaded") is True
    assert admin.locator(".progress-track .seg.done").count() == 2
    assert "1 min 35 s" in admin.inner_text("[data-testid=progress]")
    assert _log_at_bottom(admin)
    shot(_settled(admin), "engine-submission-progress")

    # Cancel: dismissing the dialog does nothing; accepting it cancels.
    admin.once("dialog", lambda dialog: dialog.dismiss())
    admin.click("button:has-text('Cancel…')")
    admin.wait_for_timeout(300)
    run.refresh_from_db()
    assert run.state == Submission.State.TRAINING
    admin.once("dialog", lambda dialog: dialog.accept())
    admin.click("button:has-text('Cancel…')")
    admin.wait_for_selector("text=Cancelled by root.")
    assert admin.inner_text("[data-testid=state]") == "error"
    assert "fitting fold 3" in admin.inner_text("[data-testid=error-output]")  # the log so far is kept
    run.refresh_from_db()
    assert run.state == Submission.State.ERROR and run.error_summary == "Cancelled by root."

    # The workers page: the run still held, the red warning, and it refreshes by itself.
    admin.click("nav >> text=Workers")
    admin.wait_for_selector("[data-testid=workers]")
    warning = admin.inner_text("[data-testid=sandbox-warning]")
    assert "Sandbox OFF on 1 live worker" in warning and "gpu-node-1" in warning and "cpu-node-2" not in warning
    gpu = admin.locator("tr[data-worker='gpu-node-1']")
    assert gpu.locator("[data-testid=sandbox]").inner_text() == "OFF" and "idle" in gpu.inner_text()
    color = gpu.locator("[data-testid=sandbox]").evaluate("e => getComputedStyle(e).backgroundColor")
    assert color == "rgb(179, 38, 30)"  # --bad: a red badge
    cpu = admin.locator("tr[data-worker='cpu-node-2']")
    assert "busy" in cpu.inner_text() and "lynx-boosted" in cpu.inner_text() and "Fold 1 of 5" in cpu.inner_text()
    assert "tcp://10.0.0.5:8786" in cpu.inner_text() and "41 / 2" in cpu.inner_text()
    shot(_settled(admin), "engine-workers")
    services.worker_register(name="late-node", host="late-node", pid=99, sandboxed=True)
    admin.wait_for_selector("tr[data-worker='late-node']", timeout=POLL_WAIT_MS)
    assert other.pk and problems == []
