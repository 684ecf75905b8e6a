"""``databoard demo``: a fresh data home with example data, served on 127.0.0.1."""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

import typer
from rich.table import Table

DEMO_MARKER = ".databoard-demo"

DEMO_USERS = [
    # username, first, last, affiliation, approved
    ("alice", "Alice", "Martin", "Data Science Lab", True),
    ("bob", "Bob", "Durand", "Data Science Lab", True),
    ("carol", "Carol", "Bernard", "Physics Department", False),
]


def _fresh_home(home: Path) -> None:
    if home.exists():
        if not (home / DEMO_MARKER).exists():
            raise typer.BadParameter(f"'{home}' exists and is not a demo data home; choose another --home.",
                                     param_hint="--home")
        shutil.rmtree(home)
    home.mkdir(parents=True)
    (home / "static").mkdir()
    (home / DEMO_MARKER).write_text("Made by `databoard demo`; it is recreated at every run.\n")


def build_demo(home: Path) -> list[tuple[str, str, str]]:
    """Make a fresh demo installation in ``home``; returns (username, password, role) rows."""
    from databoard.config import reset_config_cache, write_config_file

    _fresh_home(home)
    os.environ["DATABOARD_HOME"] = str(home)
    os.environ.pop("DATABASE_URL", None)  # the demo always runs on the embedded default
    write_config_file(home / "databoard.toml")
    reset_config_cache()
    from databoard.cli.setup import django_setup

    django_setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    from databoard.accounts import services
    from databoard.accounts.models import Membership

    credentials = []
    admin_password = secrets.token_urlsafe(9)
    admin = services.user_create(username="admin", email="admin@example.org", password=admin_password,
                                 first_name="Ada", last_name="Admin", approved=True, is_superuser=True,
                                 email_verified=True)
    credentials.append(("admin", admin_password, "administrator"))
    users = {}
    for username, first, last, affiliation, approved in DEMO_USERS:
        password = secrets.token_urlsafe(9)
        users[username] = services.user_create(
            username=username, email=f"{username}@example.org", password=password, first_name=first,
            last_name=last, affiliation=affiliation, approved=approved, email_verified=True)
        credentials.append((username, password, "participant" if approved else "waiting for approval"))
    team = services.team_create(name="Demo team", owner=users["alice"])
    Membership.objects.get_or_create(team=team, user=users["bob"])
    services.token_create(user=admin, actor=admin, name="demo", scope="admin")
    _demo_challenges(home, admin=admin, users=users, team=team)
    return credentials


# Example submissions queued at build time: (kit, user, submission folder, name).
DEMO_SUBMISSIONS = [
    ("iris", "alice", "starting_kit", "starting-kit"),
    ("iris", "bob", "better", "scaled-logreg"),
    ("iris", "bob", "failing", "first-try"),
    ("diabetes", "alice", "starting_kit", "starting-kit"),
    ("diabetes", "alice", "better", "ridge"),
]


def _demo_challenges(home: Path, *, admin, users: dict, team) -> None:
    """Import the example kits, open an event on each, and queue example submissions (a worker trains them)."""
    from databoard.challenges import services as challenges
    from databoard.challenges.models import Event
    from databoard.kits import make_kits

    kits = make_kits(home / "kits", ["iris", "diabetes"])
    for kit in kits:
        problem = challenges.problem_import(source=kit, name=kit.name, actor=admin)
        event = challenges.event_create(problem=problem, slug=f"{kit.name}-demo", actor=admin,
                                        title=f"{problem.title} (demo)",
                                        description=f"A demo event on the **{problem.title}** problem: "
                                                    "edit the starting kit in the sandbox and submit.",
                                        max_train_seconds=120, public_opens_at=None)
        challenges.signup_request(event=event, user=users["alice"], team=team)
        challenges.signup_request(event=event, user=users["bob"])
    for kit_name, username, folder, name in DEMO_SUBMISSIONS:
        source = home / "kits" / kit_name / "submissions" / folder
        files = {p.name: p.read_bytes() for p in sorted(source.glob("*.py"))}
        event = Event.objects.get(slug=f"{kit_name}-demo")
        challenges.submission_create(event=event, user=users[username], name=name, files=files)


def _start_worker():
    """An in-process worker thread beside the server, for the demo's queue and every new submission.
    A daemon thread: it ends with the server, whichever way the server stops."""
    import threading

    from databoard.engine.worker import run_worker

    thread = threading.Thread(target=run_worker, kwargs={"worker_id": "demo-worker"}, name="demo-worker",
                              daemon=True)
    thread.start()
    return thread


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        home: Path = typer.Option(Path(".databoard-demo"), "--home", help="Demo data home (recreated)."),
        host: str = typer.Option("127.0.0.1", help="Address to listen on."),
        port: int = typer.Option(8000, min=1, max=65535, help="Port to listen on."),
        serve: bool = typer.Option(True, "--serve/--no-serve", help="Serve after building."),
    ) -> None:
        """Build a fresh demo installation (SQLite, local files, example users) and serve it."""
        from databoard.cli.main import console

        credentials = build_demo(home.resolve())
        table = Table(title=f"Demo accounts (data home: {home})")
        for column in ("Username", "Password", "Role"):
            table.add_column(column)
        for row in credentials:
            table.add_row(*row)
        console.print(table)
        if serve:
            import uvicorn

            _start_worker()
            console.print("A worker trains the example submissions and every new one.")
            console.print(f"Open [bold]http://{host}:{port}/[/bold] and log in (Ctrl+C stops).")
            uvicorn.run("databoard.asgi:application", host=host, port=port, log_level="info", lifespan="off")
