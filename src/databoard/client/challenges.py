"""Client resources of the challenges: problems, events, sign-ups, submissions, leaderboards."""

from __future__ import annotations

import io
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from databoard.client import Client

FINAL_STATES = ("scored", "error")
SKIPPED = {".git", "__pycache__", ".ipynb_checkpoints", "training_output", ".pytest_cache"}


class _Resource:
    def __init__(self, client: Client):
        self._c = client


def pack_folder(folder: Path) -> bytes:
    """A .tar.gz of ``folder`` (links and caches left out), as the API's kit upload takes it."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if any(part in SKIPPED for part in rel.parts) or path.is_symlink() or not path.is_file():
                continue
            tar.add(path, arcname=rel.as_posix(), recursive=False)
    return buffer.getvalue()


class Problems(_Resource):
    def list(self) -> list[dict]:
        return list(self._c.paginate("challenges/problems"))

    def get(self, name: str) -> dict:
        return self._c.request("GET", f"challenges/problems/{name}")

    def import_kit(self, source: str | Path, *, name: str, data: str | Path | None = None,
                   title: str | None = None) -> dict:
        """Import a RAMP kit (administrators) from a folder or a .zip/.tar.gz (uploaded), or a git URL.
        ``data``: an optional folder or archive with the private ``data/``."""
        text = str(source)
        if text.startswith(("https://", "http://", "git://", "ssh://", "git@")):
            return self._c.request("POST", "challenges/problems/git",
                                   json={"name": name, "git_url": text, "title": title})
        files = {"kit": _upload(Path(text), "kit")}
        if data is not None:
            files["data"] = _upload(Path(str(data)), "data")
        form = {"name": name, **({"title": title} if title else {})}
        return self._c.request("POST", "challenges/problems", files=files, data=form)

    def delete(self, name: str) -> None:
        self._c.request("DELETE", f"challenges/problems/{name}")

    def starting_kit(self, name: str) -> bytes:
        """The starting kit as .zip bytes."""
        return self._c.request_bytes("GET", f"challenges/problems/{name}/starting-kit")


def _upload(path: Path, what: str) -> tuple[str, bytes, str]:
    from databoard.client import ClientError

    if path.is_dir():
        return (f"{path.name or what}.tar.gz", pack_folder(path), "application/gzip")
    if path.is_file():
        return (path.name, path.read_bytes(), "application/octet-stream")
    raise ClientError(f"'{path}' is neither a folder nor a file.")


class Events(_Resource):
    def list(self) -> list[dict]:
        return list(self._c.paginate("challenges/events"))

    def get(self, slug: str) -> dict:
        return self._c.request("GET", f"challenges/events/{slug}")

    def create(self, *, problem: str, slug: str, **options: Any) -> dict:
        """Open an event (administrators); options as the API's EventIn (dates as ISO 8601 text)."""
        body = {"problem": problem, "slug": slug, **{k: v for k, v in options.items() if v is not None}}
        return self._c.request("POST", "challenges/events", json=body)

    def update(self, slug: str, **changes: Any) -> dict:
        return self._c.request("PATCH", f"challenges/events/{slug}", json=changes)

    def add_admin(self, slug: str, *, username: str) -> dict:
        return self._c.request("POST", f"challenges/events/{slug}/admins", json={"username": username})

    def signup(self, slug: str, *, team: str | None = None) -> dict:
        """Ask to take part (for your personal team, or ``team``)."""
        return self._c.request("POST", f"challenges/events/{slug}/signup", json={"team": team})

    def add_participant(self, slug: str, *, username: str, team: str | None = None) -> dict:
        """Sign a user up, approved (event admins)."""
        return self._c.request("POST", f"challenges/events/{slug}/signups", json={"username": username, "team": team})

    def signups(self, slug: str, *, state: str | None = None) -> list[dict]:
        return list(self._c.paginate(f"challenges/events/{slug}/signups", state=state))

    def approve(self, slug: str, *, username: str) -> dict:
        return self._c.request("POST", f"challenges/events/{slug}/signups/{username}/approve")

    def reject(self, slug: str, *, username: str, reason: str) -> dict:
        return self._c.request("POST", f"challenges/events/{slug}/signups/{username}/reject", json={"reason": reason})

    def quota(self, slug: str) -> dict:
        return self._c.request("GET", f"challenges/events/{slug}/quota")

    def leaderboard(self, slug: str, *, kind: str = "public", sort: str | None = None, desc: bool | None = None,
                    limit: int = 100, offset: int = 0) -> dict:
        return self._c.request("GET", f"challenges/events/{slug}/leaderboard",
                               params={"kind": kind, "sort": sort, "desc": desc, "limit": limit, "offset": offset})

    def leaderboard_csv(self, slug: str, *, kind: str = "public", sort: str | None = None) -> str:
        return self._c.request_bytes("GET", f"challenges/events/{slug}/leaderboard",
                                     params={"kind": kind, "sort": sort, "format": "csv"}).decode("utf-8")

    def dashboard(self, slug: str) -> dict:
        return self._c.request("GET", f"challenges/events/{slug}/dashboard")

    def rerun_failed(self, slug: str) -> int:
        """Queue again every failed submission of the event (event admins); returns how many."""
        return self._c.request("POST", f"challenges/events/{slug}/rerun-failed")["count"]


class Submissions(_Resource):
    def create(self, *, event: str, name: str, files: dict[str, str | bytes] | None = None,
               path: str | Path | None = None) -> dict:
        """Submit ``files`` (name → text) or the element files found in the folder ``path``."""
        from databoard.client import ClientError

        if files is None:
            if path is None:
                raise ClientError("Give the files or the folder that holds them.")
            folder = Path(path)
            if not folder.is_dir():
                raise ClientError(f"'{folder}' is not a folder.")
            expected = self._c.events.get(event)
            problem = self._c.problems.get(expected["problem"])
            files = {}
            for filename in problem["files"]:
                if not (folder / filename).is_file():
                    raise ClientError(f"'{folder / filename}' is missing; this problem expects "
                                      f"{', '.join(problem['files'])}.")
                files[filename] = (folder / filename).read_bytes()
        uploads = [("files", (fname, content if isinstance(content, bytes) else content.encode("utf-8"),
                              "text/x-python")) for fname, content in files.items()]
        return self._c.request("POST", f"challenges/events/{event}/submissions/upload", files=uploads,
                               data={"name": name})

    def get(self, submission_id: int) -> dict:
        return self._c.request("GET", f"challenges/submissions/{submission_id}")

    def list(self, *, event: str, state: str | None = None, mine: bool = False) -> list[dict]:
        return list(self._c.paginate(f"challenges/events/{event}/submissions", state=state, mine=mine or None))

    def file(self, submission_id: int, filename: str) -> str:
        return self._c.request_bytes("GET", f"challenges/submissions/{submission_id}/files/{filename}").decode()

    def rerun(self, submission_id: int) -> dict:
        return self._c.request("POST", f"challenges/submissions/{submission_id}/rerun")

    def cancel(self, submission_id: int) -> dict:
        """Stop a submission that has not finished (event admins)."""
        return self._c.request("POST", f"challenges/submissions/{submission_id}/cancel")

    def set_priority(self, submission_id: int, priority: int) -> dict:
        return self._c.request("POST", f"challenges/submissions/{submission_id}/priority",
                               json={"priority": priority})

    def wait(self, submission_id: int, *, timeout: float | None = None, poll_seconds: float = 1.0,
             on_change: Callable[[dict], None] | None = None) -> dict:
        """Poll until the submission is ``scored`` or ``error`` (or ``timeout`` seconds pass: ClientError).
        ``on_change(submission)`` is called when its state or its progress changes."""
        from databoard.client import ClientError

        started, last_state, last_progress = time.monotonic(), None, None
        while True:
            submission = self.get(submission_id)
            if submission["state"] != last_state or submission.get("progress") != last_progress:
                last_state, last_progress = submission["state"], submission.get("progress")
                if on_change is not None:
                    on_change(submission)
            if submission["state"] in FINAL_STATES:
                return submission
            if timeout is not None and time.monotonic() - started > timeout:
                raise ClientError(f"Submission {submission_id} is still '{last_state}' after {timeout:g} s.")
            time.sleep(poll_seconds)


class Workers(_Resource):
    def status(self, *, include_stopped: bool = False) -> dict:
        """``{"workers": [...], "queues": [...]}`` (administrators)."""
        return self._c.request("GET", "challenges/workers", params={"all": include_stopped})
