"""``databoard`` commands of the challenges: problems, kits, events, submit, leaderboard, worker."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from databoard.cli.main import CommandError, _client, _list_out, _print_json, app, console, err_console

problem_app = typer.Typer(help="Problems (RAMP kits).", no_args_is_help=True)
event_app = typer.Typer(help="Events on problems.", no_args_is_help=True)
kits_app = typer.Typer(help="Example RAMP kits shipped with databoard.", no_args_is_help=True)
submission_app = typer.Typer(help="Submissions: cancel, re-run, priority (event admins).", no_args_is_help=True)
worker_app = typer.Typer(help="Train queued submissions; `databoard worker status` lists the workers.",
                         invoke_without_command=True)
app.add_typer(problem_app, name="problem")
app.add_typer(worker_app, name="worker")
app.add_typer(submission_app, name="submission")
app.add_typer(event_app, name="event")
app.add_typer(kits_app, name="kits")

BOARD_KINDS = ("public", "private", "competition", "private_competition", "mine", "failed")


# --------------------------------------------------------------------------- problems


@problem_app.command("import")
def problem_import(
    source: str = typer.Argument(..., help="A kit folder, a .zip/.tar.gz, or a git URL."),
    name: str = typer.Option(..., help="The problem's name (lower-case letters, digits, '-', '_')."),
    data: Optional[str] = typer.Option(None, help="Folder or archive with the private data/ (optional)."),
    title: Optional[str] = typer.Option(None, help="Title (default: the kit's problem_title)."),
    as_json: bool = typer.Option(False, "--json", help="Print the problem as JSON."),
) -> None:
    """Import a RAMP kit as a problem (administrators). It is checked by rampwf first."""
    from databoard.client import ApiError

    with _client() as client:
        try:
            problem = client.problems.import_kit(source, name=name, data=data, title=title)
        except ApiError as exc:
            for error in exc.details.get("errors", [])[1:]:
                err_console.print(f"- {error}")
            raise
    if as_json:
        _print_json(problem)
        return
    scores = ", ".join(s["name"] + (" ↓" if s["lower_is_better"] else " ↑") for s in problem["score_types"])
    console.print(f"Problem [bold]{problem['name']}[/bold]: {problem['title']}\n"
                  f"  workflow {problem['workflow']} ({', '.join(problem['files'])}); scores {scores}; "
                  f"{problem['n_folds']} folds; {problem['n_train']} train / {problem['n_test']} test rows")


@problem_app.command("list")
def problem_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """List problems."""
    with _client() as client:
        rows = client.problems.list()
    _list_out(rows, [("name", "Name"), ("title", "Title"), ("workflow", "Workflow"), ("n_folds", "Folds"),
                     ("n_train", "Train"), ("n_test", "Test")], as_json, "Problems")


@problem_app.command("delete")
def problem_delete(name: str = typer.Argument(...), yes: bool = typer.Option(False, "--yes")) -> None:
    """Delete a problem that no event uses."""
    if not yes:
        typer.confirm(f"Delete problem '{name}'?", abort=True)
    with _client() as client:
        client.problems.delete(name)
    console.print(f"Deleted problem [bold]{name}[/bold].")


@kits_app.command("make")
def kits_make(
    dest: Path = typer.Argument(..., help="Folder to write the kits into (created)."),
    names: Optional[list[str]] = typer.Option(None, "--kit", help="Only this kit (repeatable)."),
) -> None:
    """Write the example kits, with their data made from scikit-learn's bundled datasets."""
    from databoard.kits import KITS, make_kits

    if names:
        unknown = [n for n in names if n not in KITS]
        if unknown:
            raise typer.BadParameter(f"unknown kit '{unknown[0]}'; known: {', '.join(KITS)}", param_hint="--kit")
    try:
        paths = make_kits(dest, names or None)
    except FileExistsError as exc:
        raise CommandError(str(exc)) from exc
    for path in paths:
        console.print(f"Kit [bold]{path.name}[/bold] → {path}")


@kits_app.command("list")
def kits_list() -> None:
    """The example kits."""
    from databoard.kits import KITS

    for kit in KITS.values():
        console.print(f"[bold]{kit.name}[/bold]: {kit.title}")


# --------------------------------------------------------------------------- events


EVENT_COLUMNS = [("slug", "Event"), ("title", "Title"), ("problem", "Problem"), ("is_open", "Open"),
                 ("opens_at", "Opens"), ("closes_at", "Closes")]


@event_app.command("create")
def event_create(
    problem: str = typer.Option(..., help="The problem's name."),
    name: str = typer.Option(..., help="The event's name (its slug)."),
    title: Optional[str] = typer.Option(None, help="Title (default: the problem's)."),
    opens_at: Optional[str] = typer.Option(None, help="Submissions open (ISO 8601 with time zone)."),
    closes_at: Optional[str] = typer.Option(None, help="Submissions close (ISO 8601 with time zone)."),
    public_opens_at: Optional[str] = typer.Option(None, help="Code becomes visible to all (ISO 8601)."),
    signup_opens_at: Optional[str] = typer.Option(None, help="Sign-up opens (ISO 8601)."),
    private: bool = typer.Option(False, "--private", help="Not listed; only participants see it."),
    approval: bool = typer.Option(False, "--approval", help="Sign-ups wait for an event admin."),
    per_day: Optional[int] = typer.Option(None, min=1, help="Submissions per team and day."),
    total: Optional[int] = typer.Option(None, min=1, help="Submissions per team in all."),
    minutes_between: int = typer.Option(0, min=0, help="Minutes between a team's submissions."),
    max_train_seconds: int = typer.Option(600, min=1, help="Training time limit per submission."),
    max_memory_mb: int = typer.Option(4096, min=512, help="Memory limit per submission."),
    hide_private: bool = typer.Option(False, "--hide-private", help="Keep private scores hidden after close."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Open an event on a problem (administrators). With no dates it opens at once and never closes."""
    with _client() as client:
        event = client.events.create(
            problem=problem, slug=name, title=title, opens_at=opens_at, closes_at=closes_at,
            public_opens_at=public_opens_at, signup_opens_at=signup_opens_at, is_public=not private,
            approval_required=approval, max_submissions_per_day=per_day, max_submissions_total=total,
            min_minutes_between=minutes_between, max_train_seconds=max_train_seconds, max_memory_mb=max_memory_mb,
            show_private_after_close=not hide_private)
    if as_json:
        _print_json(event)
    else:
        console.print(f"Event [bold]{event['slug']}[/bold] on {event['problem']} "
                      f"({'open' if event['is_open'] else 'not open'}).")


@event_app.command("list")
def event_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """List the events you can see."""
    with _client() as client:
        rows = client.events.list()
    _list_out(rows, EVENT_COLUMNS, as_json, "Events")


@event_app.command("add-participant")
def event_add_participant(event: str = typer.Argument(...), username: str = typer.Argument(...),
                          team: Optional[str] = typer.Option(None, help="Team slug (default: personal team).")) -> None:
    """Sign a user up to an event, approved (event admins)."""
    with _client() as client:
        signup = client.events.add_participant(event, username=username, team=team)
    console.print(f"[bold]{signup['username']}[/bold] takes part in {signup['event']} as team {signup['team']}.")


@event_app.command("signup")
def event_signup(event: str = typer.Argument(...),
                 team: Optional[str] = typer.Option(None, help="Team slug (default: your personal team).")) -> None:
    """Ask to take part in an event."""
    with _client() as client:
        signup = client.events.signup(event, team=team)
    console.print(f"Signed up to [bold]{signup['event']}[/bold] as team {signup['team']}: {signup['state']}.")


@event_app.command("approve")
def event_approve(event: str = typer.Argument(...), username: str = typer.Argument(...)) -> None:
    """Approve a sign-up request (event admins)."""
    with _client() as client:
        client.events.approve(event, username=username)
    console.print(f"Approved [bold]{username}[/bold] in {event}.")


# --------------------------------------------------------------------------- submit and leaderboard


def _scores_text(submission: dict) -> str:
    return ", ".join(f"{name} {value:.4g}" for name, value in submission["valid_scores"].items() if value is not None)


@app.command()
def submit(
    path: Path = typer.Argument(..., help="Folder holding the workflow's element files."),
    event: str = typer.Option(..., help="The event."),
    name: str = typer.Option(..., help="The submission's name ([A-Za-z0-9_-], ≤ 40)."),
    wait: bool = typer.Option(False, "--wait", help="Wait until scored or failed; exit 1 unless scored."),
    timeout: Optional[float] = typer.Option(None, min=1, help="With --wait: give up after this many seconds."),
    log: bool = typer.Option(False, "--log", help="With --wait: print the run's log as it grows (score tables "
                                                  "hidden)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Submit the files of PATH to EVENT."""
    if not path.is_dir():
        raise typer.BadParameter(f"'{path}' is not a folder", param_hint="PATH")
    with _client() as client:
        submission = client.submissions.create(event=event, name=name, path=path)
        if not as_json:
            console.print(f"Submitted [bold]{submission['name']}[/bold] (#{submission['id']}): {submission['state']}")
        if wait:
            submission = _wait_with_progress(client, submission, timeout=timeout, show_log=log, quiet=as_json)
    if as_json:
        _print_json(submission)
    elif wait:
        if submission["state"] == "scored":
            console.print(f"[green]Scored[/green]: {_scores_text(submission)}")
        else:
            console.print(f"[red]Error[/red] while {submission['error_step']}: {submission['error_summary']}")
            if submission.get("error_output"):
                err_console.print(submission["error_output"], markup=False, highlight=False)
    if wait and submission["state"] != "scored":
        raise typer.Exit(1)


def _new_lines(old: list[str], new: list[str]) -> list[str]:
    """The lines of the log tail ``new`` that follow what ``old`` showed (the two windows overlap)."""
    for k in range(min(len(old), len(new)), 0, -1):
        if old[-k:] == new[:k]:
            return new[k:]
    return new


def _wait_with_progress(client, submission: dict, *, timeout: float | None, show_log: bool, quiet: bool) -> dict:
    """Wait for the end of a run with a progress bar over its CV folds (and, with ``show_log``, its log)."""
    shown: list[str] = []
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True, disable=quiet) as bar:
        task = bar.add_task(f"#{submission['id']} {submission['state']}", total=None)

        def changed(current: dict) -> None:
            nonlocal shown
            progress = current.get("progress") or {}
            text = f"#{current['id']} {current['state']}"
            if progress:
                text += f" · {_progress_text(progress)}"
            folds, fold = progress.get("n_folds"), progress.get("fold")
            done = 0 if not fold else (fold if progress.get("phase") in ("averaging", "bagging") else fold - 1)
            bar.update(task, description=text, total=folds or None, completed=done)
            if show_log and not quiet and current.get("state") == "training":
                lines = (client.submissions.get(current["id"]).get("log_tail") or "").splitlines()
                for line in _new_lines(shown, lines):
                    bar.console.print(line, markup=False, highlight=False)
                shown = lines or shown

        return client.submissions.wait(submission["id"], timeout=timeout, on_change=changed)


@submission_app.command("cancel")
def submission_cancel(submission_id: int = typer.Argument(..., help="The submission's number.")) -> None:
    """Stop a submission that has not finished: its run is killed, its state is error "Cancelled by YOU"."""
    with _client() as client:
        done = client.submissions.cancel(submission_id)
    console.print(f"#{done['id']} {done['name']}: {done['state']} ({done['error_summary']})")


@submission_app.command("rerun")
def submission_rerun(submission_id: int = typer.Argument(..., help="The submission's number.")) -> None:
    """Queue a finished submission again."""
    with _client() as client:
        done = client.submissions.rerun(submission_id)
    console.print(f"#{done['id']} {done['name']}: {done['state']}")


@submission_app.command("priority")
def submission_priority(
    submission_id: int = typer.Argument(..., help="The submission's number."),
    priority: int = typer.Argument(..., min=-100, max=100, help="-100 to 100; higher is trained first."),
) -> None:
    """Set a submission's priority in the queue."""
    with _client() as client:
        done = client.submissions.set_priority(submission_id, priority)
    console.print(f"#{done['id']} {done['name']}: priority {done['priority']}")


@event_app.command("rerun-failed")
def event_rerun_failed(
    slug: str = typer.Argument(..., help="The event."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Queue again every failed submission of an event."""
    if not yes:
        typer.confirm(f"Queue every failed submission of {slug} again?", abort=True)
    with _client() as client:
        count = client.events.rerun_failed(slug)
    console.print(f"{count} failed submission{'s' if count != 1 else ''} of {slug} queued again.")


@app.command()
def leaderboard(
    event: str = typer.Argument(...),
    kind: str = typer.Option("public", help=f"One of: {', '.join(BOARD_KINDS)}."),
    sort: Optional[str] = typer.Option(None, help="Column key to sort by, e.g. score:acc."),
    fmt: str = typer.Option("table", "--format", help="table, json or csv."),
    limit: int = typer.Option(100, min=1, max=10000, help="Rows (table and json)."),
) -> None:
    """Print a leaderboard of EVENT."""
    if kind not in BOARD_KINDS:
        raise typer.BadParameter(f"use one of {', '.join(BOARD_KINDS)}", param_hint="--kind")
    if fmt not in ("table", "json", "csv"):
        raise typer.BadParameter("use table, json or csv", param_hint="--format")
    with _client() as client:
        if fmt == "csv":
            sys.stdout.write(client.events.leaderboard_csv(event, kind=kind, sort=sort))
            return
        board = client.events.leaderboard(event, kind=kind, sort=sort, limit=limit)
    if fmt == "json":
        _print_json(board)
        return
    columns = [(c["key"], c["label"]) for c in board["columns"]]
    rows = []
    for row in board["rows"]:
        shown = dict(row)
        for column in board["columns"]:
            value = row.get(column["key"])
            if isinstance(value, float) and column.get("precision") is not None:
                shown[column["key"]] = f"{value:.{column['precision']}f}"
            elif isinstance(value, float):
                shown[column["key"]] = f"{value:.2f}"
            elif column["key"] == "submitted_at" and isinstance(value, str):
                shown[column["key"]] = value[:16].replace("T", " ")
        rows.append(shown)
    _list_out(rows, columns, False, f"{board['event']} — {board['kind']} ({board['count']})")


class WorkerBackend(str, Enum):
    local = "local"
    dask = "dask"


@worker_app.callback()
def worker(
    ctx: typer.Context,
    burst: bool = typer.Option(False, "--burst", help="Exit when the queue is empty."),
    queue: Optional[list[str]] = typer.Option(None, "--queue", help="Only these queues (repeatable)."),
    backend: WorkerBackend = typer.Option(WorkerBackend.local, "--backend",
                                          help="local: one run at a time, in a child process; dask: runs as "
                                               "tasks on a Dask cluster, as many at once as it has threads."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", metavar="ADDRESS",
                                            help="With --backend dask: a running Dask scheduler (e.g. "
                                                 "tcp://10.0.0.5:8786); without it, a LocalCluster on this "
                                                 "machine."),
    dask_workers: Optional[int] = typer.Option(None, "--dask-workers", min=1, metavar="N",
                                               help="With --backend dask and no --scheduler: worker processes of "
                                                    "the LocalCluster (default: one per CPU)."),
) -> None:
    """Train queued submissions, highest priority then oldest first (on the local installation's database)."""
    if ctx.invoked_subcommand is not None:
        return
    if backend is WorkerBackend.local and (scheduler or dask_workers):
        raise CommandError("--scheduler and --dask-workers go with --backend dask.")
    if scheduler and dask_workers:
        raise CommandError("--dask-workers sizes the LocalCluster started without --scheduler; the workers of a "
                           "running scheduler are started with `dask worker ADDRESS`.")
    from databoard.cli.main import _check_migrated
    from databoard.cli.setup import django_setup

    django_setup()
    _check_migrated()
    import signal
    import threading

    from databoard.engine.worker import default_worker_id, run_worker, sandbox_mode

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    worker_id = default_worker_id()
    waiting = f"{'(burst) ' if burst else ''}waiting for submissions" + (f" on {', '.join(queue)}" if queue else "")

    def report(submission) -> None:
        what = "scored" if submission.state == "scored" else f"error ({submission.error_summary})"
        console.print(f"#{submission.pk} {submission.event.slug}/{submission.team.slug}/{submission.name}: {what}")

    if backend is WorkerBackend.dask:
        stats = _dask_worker(worker_id, waiting, scheduler=scheduler, n_workers=dask_workers, burst=burst,
                             queues=queue or None, stop=stop, on_done=report)
        if stats is not None:
            console.print(f"Done: {stats.scored} scored, {stats.failed} failed.")
        return
    try:
        sandboxed, sentence = sandbox_mode()
    except RuntimeError as exc:
        raise CommandError(str(exc)) from exc
    (console if sandboxed else err_console).print(sentence, style=None if sandboxed else "bold red")
    console.print(f"Worker [bold]{worker_id}[/bold] {waiting}")
    try:
        stats = run_worker(worker_id=worker_id, burst=burst, queues=queue or None, stop=stop, on_done=report)
    except KeyboardInterrupt:
        stop.set()
        return
    console.print(f"Done: {stats.scored} scored, {stats.failed} failed.")


def _dask_worker(worker_id: str, waiting: str, *, scheduler: str | None, n_workers: int | None, **options):
    """``databoard worker --backend dask``: the dispatcher of a Dask cluster (None after Ctrl-C)."""
    from databoard.engine.dask_backend import run_dask_worker

    def started(info: dict) -> None:
        where = ("a LocalCluster of this machine, scheduler " if info["local"] else "the Dask scheduler ")
        console.print(f"Worker [bold]{worker_id}[/bold] (dask: {where}{info['scheduler']}, {info['slots']} "
                      f"slot{'s' if info['slots'] != 1 else ''}) {waiting}")
        if info["dashboard"]:
            console.print(f"Dask dashboard: {info['dashboard']}")
        (console if info["sandboxed"] else err_console).print(
            info["sandbox_note"], style=None if info["sandboxed"] else "bold red")

    try:
        return run_dask_worker(worker_id=worker_id, scheduler=scheduler, n_workers=n_workers, on_start=started,
                               **options)
    except KeyboardInterrupt:
        options["stop"].set()
        return None
    except OSError as exc:  # the scheduler cannot be reached (distributed raises OSError/TimeoutError)
        raise CommandError(f"Cannot reach the Dask scheduler at {scheduler}: {exc}") from exc


@worker_app.command("status")
def worker_status(
    all_workers: bool = typer.Option(False, "--all", help="Also list stopped workers."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Workers (heartbeat, current submissions, backend, sandbox) and queues (administrators)."""
    with _client() as client:
        status = client.workers.status(include_stopped=all_workers)
    if as_json:
        _print_json(status)
        return
    rows = []
    for w in status["workers"]:
        running = ", ".join(f"#{r['id']} {r['event']}/{r['name']} {_progress_text(r.get('progress') or {})}"
                            for r in w["running"])
        rows.append({**w, "sandbox": "on" if w["sandboxed"] else "OFF", "running": running or "-",
                     "heartbeat": f"{w['heartbeat_age_s']:.0f} s ago", "queues": ", ".join(w["queues"]) or "all"})
    _list_out(rows, [("name", "Worker"), ("status", "Status"), ("backend", "Backend"), ("slots", "Slots"),
                     ("sandbox", "Sandbox"), ("queues", "Queues"), ("heartbeat", "Heartbeat"),
                     ("running", "Running"), ("scored", "Scored"), ("failed", "Failed")], False, "Workers")
    _list_out(status["queues"], [("queue", "Queue"), ("queued", "Queued"), ("training", "Training"),
                                 ("oldest_wait_s", "Oldest wait (s)")], False, "Queues")


def _progress_text(progress: dict) -> str:
    """``fold 2/5, 12 s`` for a run's progress."""
    parts = []
    if progress.get("fold"):
        parts.append(f"fold {progress['fold']}/{progress.get('n_folds') or '?'}")
    elif progress.get("phase"):
        parts.append(progress["phase"])
    if progress.get("phase") in ("averaging", "bagging"):
        parts.append(progress["phase"])
    if progress.get("elapsed_s") is not None:
        parts.append(f"{progress['elapsed_s']:.0f} s")
    return ", ".join(parts)
