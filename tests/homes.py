"""Data homes built by the CLI, for the tests that run real ``databoard`` processes (workers above all).

A home is made in a subprocess, as an administrator would make it: ``init``, an admin, a kit imported as
problem ``iris``, an event ``e`` the admin signs up to, and queued submissions. Its settings are written in
its config file; its database is its own SQLite file, or a fresh PostgreSQL database
(:func:`postgres_database`). :class:`HomeRows` reads its rows with plain SQL, without Django.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from tests.factories import PASSWORD

#: Runs CLI commands (a JSON list of argv lists) in one process: starting Python once per command
#: would cost a second each.
SETUP = """
import json, sys
from databoard.cli.main import main
for argv in json.loads(sys.argv[1]):
    try:
        main(argv)
    except SystemExit as exc:
        if exc.code:
            sys.exit(f"{argv[:3]} exited {exc.code}")
"""


def cli_env(home: Path) -> dict[str, str]:
    """The environment of a process working on ``home``: none of the test session's own settings."""
    env = {k: v for k, v in os.environ.items() if k not in (
        "DATABASE_URL", "DATABOARD_SECRET_KEY", "DATABOARD_PASSWORD", "DATABOARD_URL", "DATABOARD_TOKEN",
        "DATABOARD_TEST_HOME")}
    env.update({"DATABOARD_HOME": str(home), "DATABOARD_PASSWORD": PASSWORD,
                "DATABOARD_CLIENT_CONFIG": "/nonexistent/client.toml"})
    return env


def submission_folder(tmp_path: Path, name: str, code: str) -> Path:
    """A submission folder ``tmp_path/name`` whose classifier.py is ``code``."""
    folder = tmp_path / name
    folder.mkdir()
    (folder / "classifier.py").write_text(code)
    return folder


def cli_home(tmp_path: Path, kit: Path, submissions: dict[str, Path], *, database_url: str = "",
             **settings: str | int | float | bool) -> tuple[Path, dict[str, str]]:
    """A fresh data home ``tmp_path/home`` built by the CLI: admin ``root``, ``kit`` imported as problem
    ``iris``, event ``e`` with root signed up, and one queued submission per name (→ its folder), in this
    order. ``database_url`` (empty: SQLite in the home) and ``settings`` go into its config file.
    Returns the home and the environment of the processes that work on it."""
    home = tmp_path / "home"
    home.mkdir()
    config = {"secret_key": secrets.token_urlsafe(50), "database_url": database_url, **settings}
    # JSON's strings, numbers and booleans are TOML's too; `init` keeps a config file that exists.
    (home / "databoard.toml").write_text("".join(f"{key} = {json.dumps(value)}\n" for key, value in config.items()))
    steps = [["init"], ["createadmin", "--username", "root", "--email", "root@example.org"],
             ["problem", "import", str(kit), "--name", "iris"],
             ["event", "create", "--problem", "iris", "--name", "e"], ["event", "signup", "e"],
             *(["submit", str(folder), "--event", "e", "--name", name] for name, folder in submissions.items())]
    env = cli_env(home)
    setup = subprocess.run([sys.executable, "-c", SETUP, json.dumps(steps)], env=env, capture_output=True,
                           text=True, timeout=180)
    assert setup.returncode == 0, setup.stderr
    return home, env


class HomeRows:
    """Reads a home's database with plain SQL (the same statement on SQLite and PostgreSQL)."""

    def __init__(self, home: Path, database_url: str = ""):
        self.home, self.database_url = home, database_url

    def __call__(self, sql: str) -> list[tuple]:
        if self.database_url:
            import psycopg

            with psycopg.connect(self.database_url, autocommit=True) as db:
                return db.execute(sql).fetchall()
        with contextlib.closing(sqlite3.connect(self.home / "databoard.sqlite3", timeout=30)) as db:
            return db.execute(sql).fetchall()


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty database on the test session's PostgreSQL server, dropped afterwards (with whatever
    connections are still open to it); yields its URL."""
    import psycopg
    from django.conf import settings

    server = settings.DATABASES["default"]
    assert server["ENGINE"] == "django.db.backends.postgresql", "the tests do not run on PostgreSQL"
    user, password = server.get("USER") or "", server.get("PASSWORD") or ""
    host, port = server.get("HOST") or "127.0.0.1", server.get("PORT") or 5432
    name = f"databoard_home_{secrets.token_hex(6)}"
    credentials = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
    admin = f"postgresql://{credentials}@{host}:{port}/postgres"
    with psycopg.connect(admin, autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://{credentials}@{host}:{port}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def processes_of(home: Path) -> dict[int, str]:
    """The live processes (zombies aside) working on ``home``: those with DATABOARD_HOME=home in their
    environment (its workers) and those with the home's path on their command line (their ramp-test runs,
    in or out of the sandbox). Returns pid → command line."""
    paths = {str(home), str(home.resolve())}
    environ_marks = [f"\0DATABOARD_HOME={path}\0".encode() for path in paths]
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            environ = b"\0" + (entry / "environ").read_bytes()
        except (OSError, IndexError):
            continue  # ended meanwhile, or not ours to read
        if any(path in cmdline for path in paths) or any(mark in environ for mark in environ_marks):
            found[int(entry.name)] = cmdline
    return found


def parent_of(pid: int) -> int | None:
    """The parent process of ``pid`` (None once it has ended)."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


_prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved here: a child between fork and exec only calls it
PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """``preexec_fn`` of a process that must not outlive the test (even a test process killed at once)."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL ``process`` (started with ``start_new_session=True``) and its process group; reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def wait_until(condition, seconds: float, what: str, step: float = 0.1):
    """Poll ``condition()`` until it returns something true (returned), failing with ``what`` after
    ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, what
        time.sleep(step)
