"""The engine's web pages: a run's progress, queue position and log tail on the submission page; the event
admins' cancel, priority and re-run-all-failed; the staff's workers page and the sandbox warnings.

Every view for anonymous visitors, the team, another team, event admins and staff; every form with garbage;
the log tail never shown to who may not see the run's output; CSRF enforced. Runs in training are made as
the engine makes them (``submission_claim`` + ``submission_progress``): no worker is started.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from databoard.accounts.models import AuditEvent
from databoard.challenges import services
from databoard.challenges.models import Submission, Worker
from databoard.kits import make_kit
from tests.challenges.fixtures import committed_problem, iris_code

_seq = itertools.count(1)
LOG = "CV fold 0\n\tscore  acc\n\ttrain  ****\nCV fold 1\nTEAM-ONLY-LOG-LINE\n"


# --------------------------------------------------------------------------- data


@pytest.fixture(scope="module")
def problem(django_db_setup, django_db_blocker, tmp_path_factory):
    with committed_problem(make_kit("iris", tmp_path_factory.mktemp("engine-pages-kit")), "iris-engine-pages",
                           django_db_blocker) as imported:
        yield imported


@pytest.fixture
def event(problem, admin_user):
    return services.event_create(problem=problem, slug="iris-engine", actor=admin_user, title="Iris engine")


def submit(event, user, name=None):
    name = name or f"sub{next(_seq)}"
    return services.submission_create(event=event, user=user, name=name, files=iris_code(name))


def training(event, user, name=None, *, worker="w-1", progress=None, log_tail=LOG):
    """A submission in training, with the progress and log tail a worker reports."""
    submission = submit(event, user, name)
    claimed = services.submission_claim(worker=worker)
    assert claimed.pk == submission.pk
    services.submission_progress(submission=claimed, log_tail=log_tail, progress=progress or {
        "phase": "training", "fold": 2, "n_folds": 5, "elapsed_s": 65.4})
    claimed.refresh_from_db()
    return claimed


def scored(event, user, name=None):
    submission = submit(event, user, name)
    claimed = services.submission_claim(worker="pages")
    folds = [{"fold": i, "scores": {s: {"acc": 0.9, "nll": 0.3, "bal_acc": 0.9} for s in ("train", "valid", "test")},
              "train_time": 0.5, "valid_time": 0.01, "test_time": 0.01} for i in range(3)]
    return services.submission_record_scores(submission=claimed, folds=folds, duration_seconds=1.0, bagged={
        "valid": {"acc": 0.9, "nll": 0.3, "bal_acc": 0.9}, "test": {"acc": 0.8, "nll": 0.4, "bal_acc": 0.8}})


def failed(event, user, name=None):
    submission = submit(event, user, name)
    claimed = services.submission_claim(worker="pages")
    return services.submission_record_error(submission=claimed, step="training", summary="ValueError: bad",
                                            output="boom", exit_code=1)


def worker(name, *, sandboxed=True, note=None, backend="local", scheduler="", queues=(), slots=1):
    return services.worker_register(
        name=name, host="node-1", pid=4242, backend=backend, queues=list(queues), slots=slots, sandboxed=sandboxed,
        scheduler=scheduler, sandbox_note=note if note is not None else (
            "sandbox on (bwrap: no network, read-only system, private work folder)" if sandboxed
            else "WARNING: sandbox OFF (bwrap cannot create a namespace): submissions run with resource limits only"))


def login(client, user):
    client.logout()
    if user is not None:
        client.force_login(user)
    return client


def text(response) -> str:
    return response.content.decode()


def viewers(participant, rival, event_admin, admin_user):
    return {"anonymous": None, "team": participant, "rival": rival, "event_admin": event_admin, "staff": admin_user}


# --------------------------------------------------------------------------- progress, queue, log tail


def test_training_run_shows_fold_phase_elapsed_and_log_to_the_team_and_admins(client, event, participant, rival,
                                                                               event_admin, admin_user):
    run = training(event, participant)
    for name, viewer in viewers(participant, rival, event_admin, admin_user).items():
        login(client, viewer)
        page, state = client.get(f"/submissions/{run.pk}/"), client.get(f"/submissions/{run.pk}/state/")
        if name in ("anonymous", "rival"):  # another team's work in progress is theirs alone
            assert page.status_code == state.status_code == 404, name
            assert "TEAM-ONLY-LOG-LINE" not in text(page) + text(state)
            continue
        assert page.status_code == state.status_code == 200, name
        for body in (text(page), text(state)):
            assert 'data-testid="progress"' in body and "Fold 2 of 5" in body and "1 min 05 s" in body
            assert body.count('class="seg done"') == 1 and body.count('class="seg current"') == 1
            assert body.count('class="seg todo"') == 3 and 'aria-valuenow="1"' in body
        assert "TEAM-ONLY-LOG-LINE" in text(page) and 'data-testid="log-tail"' in text(page)
        assert "****" in text(page)  # the score table stays hidden as the engine wrote it


def test_the_polled_fragment_brings_the_log_out_of_band(client, event, participant):
    run = training(event, participant)
    login(client, participant)
    r = client.get(f"/submissions/{run.pk}/state/", HTTP_HX_REQUEST="true")
    body = text(r)
    assert r.status_code == 200 and 'hx-trigger="every 3s"' in body and "HX-Refresh" not in r
    assert 'id="run-log" hx-swap-oob="true"' in body and "TEAM-ONLY-LOG-LINE" in body
    assert "HX-Request" in r["Vary"]
    plain = text(client.get(f"/submissions/{run.pk}/state/"))
    assert "hx-swap-oob" not in plain  # reloaded without htmx, the page itself holds the log
    services.submission_progress(submission=run, progress={"phase": "bagging", "fold": 5, "n_folds": 5,
                                                           "elapsed_s": 3725}, log_tail="Bagged scores\nNEW-LINE")
    body = text(client.get(f"/submissions/{run.pk}/state/", HTTP_HX_REQUEST="true"))
    assert "All 5 folds trained" in body and ">bagging</span>" in body and "1 h 02 min" in body
    assert body.count('class="seg done"') == 5 and "NEW-LINE" in body and "TEAM-ONLY-LOG-LINE" not in body


def test_a_run_just_claimed_and_an_empty_log(client, event, participant):
    run = training(event, participant, progress={"phase": "starting"}, log_tail="")
    login(client, participant)
    body = text(client.get(f"/submissions/{run.pk}/"))
    assert "Starting" in body and "indeterminate" in body and 'data-testid="log-tail-empty"' in body


@pytest.mark.parametrize("progress", [
    {"phase": "<script>alert(1)</script>", "fold": "x", "n_folds": -3, "elapsed_s": "soon"},
    {"phase": "training", "fold": 9, "n_folds": 3, "elapsed_s": -5},
    {"phase": "training", "fold": True, "n_folds": 10_000, "elapsed_s": 1e300},
    {"fold": None}, [], "garbage", None,
])
def test_progress_that_is_not_what_it_should_be_still_renders(client, event, participant, progress):
    run = training(event, participant)
    Submission.objects.filter(pk=run.pk).update(progress=progress if progress is not None else {})
    login(client, participant)
    for url in (f"/submissions/{run.pk}/", f"/submissions/{run.pk}/state/"):
        r = client.get(url)
        assert r.status_code == 200 and "<script>alert(1)</script>" not in text(r)
        assert 'data-testid="progress"' in text(r)


def test_queue_position_follows_priority_then_age(client, event, participant, rival, admin_user):
    first, second, third = submit(event, participant), submit(event, participant), submit(event, rival)
    login(client, participant)
    assert "Position <strong>2</strong> of 3" in text(client.get(f"/submissions/{second.pk}/state/"))
    services.submission_set_priority(submission=second, priority=10, actor=admin_user)
    body = text(client.get(f"/submissions/{second.pk}/state/"))
    assert "Position <strong>1</strong> of 3" in body and "priority 10" in body
    assert "Position <strong>2</strong> of 3" in text(client.get(f"/submissions/{first.pk}/"))
    other = services.event_create(problem=event.problem, slug="iris-other-queue", actor=admin_user, queue="gpu")
    services.signup_request(event=other, user=participant)
    alone = submit(other, participant)
    assert "Position <strong>1</strong> of 1" in text(client.get(f"/submissions/{alone.pk}/state/"))
    assert third.state == Submission.State.QUEUED


def test_the_log_tail_is_never_shown_to_who_may_not_see_the_output(client, event, participant, rival, admin_user):
    """A run that ended without its tail being cleared (a worker lost for good) keeps ``log_tail`` in the row:
    no page shows it, not even to the team (the error output is what the team reads then)."""
    services.event_update(event=event, actor=admin_user, public_opens_at=timezone.now() - timedelta(minutes=1))
    run = training(event, participant)
    Submission.objects.filter(pk=run.pk).update(state=Submission.State.ERROR, error_step="training",
                                                error_summary="worker lost", error_at=timezone.now())
    for viewer in (None, rival, participant):
        login(client, viewer)
        for url in (f"/submissions/{run.pk}/", f"/submissions/{run.pk}/state/"):
            r = client.get(url, HTTP_HX_REQUEST="true")
            assert r.status_code == 200 and "TEAM-ONLY-LOG-LINE" not in text(r), (viewer, url)
    login(client, rival)
    assert 'data-code="python"' in text(client.get(f"/submissions/{run.pk}/"))  # the code is public, not the log
    # A scored run too.
    good = scored(event, participant)
    Submission.objects.filter(pk=good.pk).update(log_tail="LEFT-OVER-TAIL")
    for viewer in (None, rival, participant):
        login(client, viewer)
        assert "LEFT-OVER-TAIL" not in text(client.get(f"/submissions/{good.pk}/"))


# --------------------------------------------------------------------------- cancel


def test_cancel_permissions_confirmation_and_result(client, event, participant, rival, event_admin, admin_user):
    run = training(event, participant)
    url = f"/submissions/{run.pk}/cancel/"
    login(client, None)
    r = client.post(url, {"confirm": "yes"})
    assert r.status_code == 302 and "/accounts/login/" in r["Location"]
    login(client, participant)
    assert client.post(url, {"confirm": "yes"}).status_code == 403
    assert "Cancel…" not in text(client.get(f"/submissions/{run.pk}/"))
    login(client, rival)
    assert client.post(url, {"confirm": "yes"}).status_code == 404
    run.refresh_from_db()
    assert run.state == Submission.State.TRAINING

    login(client, event_admin)
    page = text(client.get(f"/submissions/{run.pk}/"))
    assert "Cancel…" in page and 'data-confirm="Cancel' in page and ">Re-run</button>" not in page
    assert client.get(url).status_code == 405
    r = client.post(url)  # no confirmation (no script): a page asks first
    assert r.status_code == 200 and 'data-testid="confirm"' in text(r) and 'name="confirm" value="yes"' in text(r)
    run.refresh_from_db()
    assert run.state == Submission.State.TRAINING
    assert client.post(url, {"confirm": "no"}).status_code == 200
    r = client.post(url, {"confirm": "yes"})
    assert r.status_code == 302 and r["Location"] == f"/submissions/{run.pk}/"
    run.refresh_from_db()
    assert run.state == Submission.State.ERROR and run.error_summary == "Cancelled by carol."
    assert "TEAM-ONLY-LOG-LINE" in run.error_output  # the log so far becomes the output
    page = text(client.get(r["Location"]))
    assert "is cancelled" in page and "Cancelled by carol." in page and ">Re-run</button>" in page
    assert AuditEvent.objects.filter(action="submission.cancel", actor_username="carol").exists()

    r = client.post(url, {"confirm": "yes"})  # finished now: a clear refusal, no confirmation page
    assert r.status_code == 409 and "only a submission that has not finished can be cancelled" in text(r)
    assert 'data-testid="confirm"' not in text(r)


def test_staff_cancel_a_queued_submission(client, event, participant, admin_user):
    queued = submit(event, participant)
    login(client, admin_user)
    assert client.post(f"/submissions/{queued.pk}/cancel/", {"confirm": "yes"}).status_code == 302
    queued.refresh_from_db()
    assert queued.state == Submission.State.ERROR and queued.error_summary == "Cancelled by admin."
    assert services.submission_claim(worker="w") is None  # out of the queue


def test_cancel_of_a_scored_submission_is_a_clear_409(client, event, participant, event_admin):
    good = scored(event, participant)
    login(client, event_admin)
    for data in ({}, {"confirm": "yes"}):
        r = client.post(f"/submissions/{good.pk}/cancel/", data)
        assert r.status_code == 409 and "is scored: only a submission that has not finished" in text(r)
    assert client.post("/submissions/999999/cancel/", {"confirm": "yes"}).status_code == 404


# --------------------------------------------------------------------------- priority


def test_priority_by_an_event_admin(client, event, participant, event_admin):
    queued = submit(event, participant)
    url = f"/submissions/{queued.pk}/priority/"
    login(client, event_admin)
    page = text(client.get(f"/submissions/{queued.pk}/"))
    assert f'action="{url}"' in page and 'name="priority"' in page and 'value="0"' in page
    r = client.post(url, {"priority": "7"})
    assert r.status_code == 302
    queued.refresh_from_db()
    assert queued.priority == 7 and "The priority of" in text(client.get(r["Location"]))
    for value in ("-100", "100", " 3 "):
        assert client.post(url, {"priority": value}).status_code == 302
    queued.refresh_from_db()
    assert queued.priority == 3
    assert AuditEvent.objects.filter(action="submission.priority", actor_username="carol").count() == 4
    assert client.get(url).status_code == 405


@pytest.mark.parametrize("data, message", [
    ({"priority": "abc"}, "Enter a whole number."),
    ({"priority": "1.5"}, "Enter a whole number."),
    ({"priority": "1000"}, "less than or equal to 100"),
    ({"priority": "-101"}, "greater than or equal to -100"),
    ({"priority": "9" * 60}, "less than or equal to 100"),
    ({"priority": ""}, "This field is required."),
    ({}, "This field is required."),
    ({"priority": "\x00"}, ""),
    ({"priority": ["1", "2"]}, ""),
])
def test_priority_garbage_is_shown_in_the_form(client, event, participant, event_admin, data, message):
    queued = submit(event, participant)
    login(client, event_admin)
    r = client.post(f"/submissions/{queued.pk}/priority/", data)
    if data.get("priority") == ["1", "2"]:  # the last value wins, as for any form
        assert r.status_code == 302
        return
    assert r.status_code == 400 and 'class="errorlist"' in text(r) and message in text(r)
    assert 'data-testid="state"' in text(r)  # the whole submission page, with the form's error
    queued.refresh_from_db()
    assert queued.priority == 0


def test_priority_refused_to_others(client, event, participant, rival, event_admin):
    queued = submit(event, participant)
    url = f"/submissions/{queued.pk}/priority/"
    login(client, None)
    assert client.post(url, {"priority": "5"}).status_code == 302  # to the login page
    login(client, participant)
    assert client.post(url, {"priority": "5"}).status_code == 403
    assert 'name="priority"' not in text(client.get(f"/submissions/{queued.pk}/"))
    login(client, rival)
    assert client.post(url, {"priority": "5"}).status_code == 404
    queued.refresh_from_db()
    assert queued.priority == 0


def test_admin_actions_enforce_csrf(event, participant, event_admin):
    queued = submit(event, participant)
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(event_admin)
    for url, data in [(f"/submissions/{queued.pk}/cancel/", {"confirm": "yes"}),
                      (f"/submissions/{queued.pk}/priority/", {"priority": "5"}),
                      (f"/events/{event.slug}/rerun-failed/", {"confirm": "yes"})]:
        assert csrf_client.post(url, data).status_code == 403, url
    queued.refresh_from_db()
    assert queued.state == Submission.State.QUEUED and queued.priority == 0
    # With the page's token, the same POST goes through.
    page = csrf_client.get(f"/submissions/{queued.pk}/")
    token = page.cookies["csrftoken"].value
    r = csrf_client.post(f"/submissions/{queued.pk}/priority/", {"priority": "5", "csrfmiddlewaretoken": token})
    assert r.status_code == 302


# --------------------------------------------------------------------------- dashboard


def test_dashboard_queue_figures_and_rerun_all_failed(client, event, participant, rival, event_admin):
    first, second = failed(event, participant), failed(event, rival)
    training(event, rival)
    submit(event, participant)
    url = f"/events/{event.slug}/rerun-failed/"
    login(client, event_admin)
    page = text(client.get(f"/events/{event.slug}/dashboard/"))
    queue = page.split('data-testid="event-queue"')[1].split("</div>")[0]
    assert "default" in queue and ">queued</span> <span class=\"stat-sm\">1<" in queue
    assert ">training</span> <span class=\"stat-sm\">1<" in queue and "The oldest has waited" in queue
    assert "Re-run all failed (2)" in page and f'action="{url}"' in page
    assert 'data-testid="sandbox-warning"' not in page  # the event admin is not staff
    assert client.get(url).status_code == 405
    r = client.post(url)
    assert r.status_code == 200 and "Re-run the 2 failed submissions?" in text(r)
    assert Submission.objects.filter(event=event, state=Submission.State.ERROR).count() == 2
    r = client.post(url, {"confirm": "yes"})
    assert r.status_code == 302 and r["Location"] == f"/events/{event.slug}/dashboard/"
    page = text(client.get(r["Location"]))
    assert "2 failed submissions are queued again." in page and "Re-run all failed" not in page
    for s in (first, second):
        s.refresh_from_db()
        assert s.state == Submission.State.QUEUED
    r = client.post(url, {"confirm": "yes"})  # nothing left: said, not an error
    assert r.status_code == 302 and "nothing was queued" in text(client.get(r["Location"]))


def test_rerun_all_failed_refused_to_others(client, event, participant, rival):
    bad = failed(event, participant)
    url = f"/events/{event.slug}/rerun-failed/"
    login(client, None)
    r = client.post(url, {"confirm": "yes"})
    assert r.status_code == 302 and "/accounts/login/" in r["Location"]
    for viewer in (participant, rival):
        login(client, viewer)
        assert client.post(url, {"confirm": "yes"}).status_code == 403
        assert client.post(url).status_code == 403
    assert client.post("/events/no-such-event/rerun-failed/", {"confirm": "yes"}).status_code == 404
    bad.refresh_from_db()
    assert bad.state == Submission.State.ERROR


def test_dashboard_warns_staff_of_a_live_worker_without_sandbox(client, event, event_admin, admin_user):
    worker("safe-1")
    login(client, admin_user)
    assert 'data-testid="sandbox-warning"' not in text(client.get(f"/events/{event.slug}/dashboard/"))
    worker("open-1", sandboxed=False)
    page = text(client.get(f"/events/{event.slug}/dashboard/"))
    assert 'data-testid="sandbox-warning"' in page and "open-1" in page and "safe-1" not in page.split(
        'data-testid="sandbox-warning"')[1].split("</div>")[0]
    login(client, event_admin)
    assert 'data-testid="sandbox-warning"' not in text(client.get(f"/events/{event.slug}/dashboard/"))
    # Stopped or lost: it runs nothing, so no warning.
    services.worker_stopped(name="open-1")
    login(client, admin_user)
    assert 'data-testid="sandbox-warning"' not in text(client.get(f"/events/{event.slug}/dashboard/"))
    worker("open-2", sandboxed=False)
    Worker.objects.filter(name="open-2").update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert 'data-testid="sandbox-warning"' not in text(client.get(f"/events/{event.slug}/dashboard/"))


# --------------------------------------------------------------------------- workers page


def test_workers_page_is_for_staff_only(client, event, participant, event_admin, admin_user):
    login(client, None)
    r = client.get("/workers/")
    assert r.status_code == 302 and "/accounts/login/" in r["Location"]
    for viewer in (participant, event_admin):
        login(client, viewer)
        assert client.get("/workers/").status_code == 403
        assert ">Workers</a>" not in text(client.get("/"))
    login(client, admin_user)
    r = client.get("/workers/")
    assert r.status_code == 200 and "No worker has started yet" in text(r)
    assert 'href="/workers/" class="active" aria-current="page">Workers</a>' in text(r)
    assert client.post("/workers/").status_code == 405


def test_workers_page_lists_workers_runs_and_queues(client, event, participant, rival, admin_user):
    worker("w-1", backend="dask", scheduler="tcp://10.0.0.5:8786", queues=["default", "gpu"], slots=4)
    worker("w-open", sandboxed=False)
    worker("w-lost")
    Worker.objects.filter(name="w-lost").update(heartbeat_at=timezone.now() - timedelta(minutes=10))
    worker("w-old")
    services.worker_stopped(name="w-old")
    services.worker_beat(name="w-1", scored=12, failed=3)
    run = training(event, participant, "held-run", worker="w-1")
    submit(event, rival)
    login(client, admin_user)
    page = text(client.get("/workers/"))
    table = page.split('data-testid="workers"')[1].split("</table>")[0]
    rows = {name: table.split(f'data-worker="{name}"')[1].split("</tr>")[0] for name in ("w-1", "w-open", "w-lost")}
    assert 'data-status="busy"' in table.split('data-worker="w-1"')[1][:40]
    assert ">busy</span>" in rows["w-1"] and "tcp://10.0.0.5:8786" in rows["w-1"] and "default</span>, " in rows["w-1"]
    assert "1 / 4" in rows["w-1"] and "12 / 3" in rows["w-1"] and f'href="/submissions/{run.pk}/"' in rows["w-1"]
    assert "Fold 2 of 5" in rows["w-1"] and "held-run" in rows["w-1"] and ">on</span>" in rows["w-1"]
    assert ">idle</span>" in rows["w-open"] and 'class="badge alarm"' in rows["w-open"] and ">OFF</span>" in rows["w-open"]
    assert ">all</span>" in rows["w-open"] and "WARNING: sandbox OFF" not in rows["w-1"]
    note = table.split('data-sandbox-off="w-open"')[1].split("</tr>")[0]
    assert "Sandbox OFF on w-open." in note and "WARNING: sandbox OFF (bwrap cannot create a namespace)" in note
    assert table.count("data-sandbox-off=") == 1
    assert ">lost</span>" in rows["w-lost"] and "10 min" in rows["w-lost"]
    assert "w-old" not in table and "Show stopped workers (1)" in page
    banner = page.split('data-testid="sandbox-warning"')[1].split("</div>")[0]
    assert "w-open" in banner and "w-lost" not in banner and "w-1" not in banner
    queues = page.split('data-testid="queues"')[1].split("</table>")[0]
    assert '<td class="mono">default</td><td class="num">1</td><td class="num">1</td>' in queues
    assert 'hx-trigger="every 5s"' in page

    shown = text(client.get("/workers/?stopped=1"))
    assert 'data-worker="w-old"' in shown and ">stopped</span>" in shown and "Hide stopped workers" in shown
    assert 'hx-get="/workers/?stopped=1"' in shown


def test_workers_fragment_for_htmx_and_garbage_parameters(client, admin_user, db):
    worker("w-frag", sandboxed=False)
    login(client, admin_user)
    r = client.get("/workers/", HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and text(r).startswith('<div id="workers-live"') and "<html" not in text(r)
    assert "w-frag" in text(r) and 'data-testid="sandbox-warning"' in text(r) and "HX-Request" in r["Vary"]
    for query in ("stopped=abc", "stopped=", "stopped=%00", "stopped=1&stopped=0", "page=-1", "x=" + "y" * 3000):
        assert client.get(f"/workers/?{query}").status_code == 200, query


# --------------------------------------------------------------------------- no 500


def test_no_engine_page_answers_500_whatever_it_is_sent(client, event, participant, rival, event_admin, admin_user):
    run = training(event, participant)
    good, bad = scored(event, rival), failed(event, rival)
    worker("w-x", sandboxed=False)
    urls = {f"/submissions/{s.pk}/{action}/": data for s in (run, good, bad)
            for action, data in (("cancel", {"confirm": ["yes", "\x00" + "y" * 5000]}),
                                 ("priority", {"priority": ["1e3", "\x00", "٣"]}))}
    urls[f"/events/{event.slug}/rerun-failed/"] = {"confirm": ["yes", "\x00"]}
    for viewer in (None, participant, rival, event_admin, admin_user):
        login(client, viewer)
        for url in ("/workers/", "/workers/?stopped=1", f"/submissions/{run.pk}/", f"/submissions/{run.pk}/state/",
                    f"/events/{event.slug}/dashboard/"):
            assert client.get(url, HTTP_HX_REQUEST="true").status_code < 500, (viewer, url)
        for url, fields in urls.items():
            assert client.post(url, {}).status_code < 500, (viewer, url)
            for field, values in fields.items():
                for value in values:
                    assert client.post(url, {field: value}).status_code < 500, (viewer, url, value)
