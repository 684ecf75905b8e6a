"""Helpers shared by the challenges' API, service, leaderboard, claim, CLI and client tests.

Importing a kit runs rampwf in a subprocess (~2 s), so a module imports its problems once and commits
them (:func:`committed_problem`); each test then builds its events, sign-ups and submissions through the
services inside its own transaction. Results are recorded as the engine records them
(``submission_claim`` + ``submission_record_scores`` / ``submission_record_error``) unless a test is
about training.
"""

from __future__ import annotations

import io
import itertools
import sqlite3
import stat
import tarfile
import threading
import zipfile
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

from databoard.accounts.models import AuditEvent
from databoard.challenges import services
from databoard.challenges.models import Event, KitFile, Problem, Submission
from databoard.storage.models import Artifact

_seq = itertools.count(1)

#: The iris starting kit with all four measurements; a comment makes each copy's code unique.
IRIS_CODE = (
    "from sklearn.base import BaseEstimator\n"
    "from sklearn.linear_model import LogisticRegression\n\n\n"
    "class Classifier(BaseEstimator):\n"
    "    def __init__(self):\n"
    "        self.clf = LogisticRegression(max_iter=1000)\n\n"
    "    def fit(self, X, y):\n"
    "        self.clf.fit(X, y)\n"
    "        return self\n\n"
    "    def predict_proba(self, X):\n"
    "        return self.clf.predict_proba(X)\n"
)


@contextmanager
def committed_problem(kit: Path, name: str, django_db_blocker, **options):
    """Import ``kit`` as problem ``name`` outside any test transaction; remove it (and what the import
    wrote) afterwards. A transactional test may have flushed it already: the clean-up tolerates that."""
    with django_db_blocker.unblock():
        problem = services.problem_import(source=kit, name=name, **options)
    try:
        yield problem
    finally:
        with django_db_blocker.unblock():
            artifact_ids = list(problem.files.values_list("artifact_id", flat=True))
            Event.objects.filter(problem_id=problem.pk).delete()
            AuditEvent.objects.filter(target_type="problem", target_id=str(problem.pk)).delete()
            Problem.objects.filter(pk=problem.pk).delete()
            # Another committed problem may share blobs (e.g. the same requirements.txt): keep those.
            Artifact.objects.filter(pk__in=artifact_ids).exclude(
                pk__in=KitFile.objects.values("artifact_id")).delete()


def unique_slug(prefix: str = "event") -> str:
    return f"{prefix}-{next(_seq)}"


def make_event(problem: Problem, actor, **options) -> Event:
    """An event on ``problem`` made through the service (open at once, never closes, unless told)."""
    slug = options.pop("slug", None) or unique_slug()
    return services.event_create(problem=problem, slug=slug, actor=actor, **options)


def slow_iris_code(seconds: float, tag: str = "") -> str:
    """IRIS_CODE whose ``fit`` first sleeps ``seconds`` (once per fold); ``tag`` makes the code unique."""
    code = IRIS_CODE.replace("    def fit(self, X, y):\n",
                             f"    def fit(self, X, y):\n        import time\n        time.sleep({seconds})\n")
    return code + (f"# {tag}\n" if tag else "")


def iris_code(tag: str) -> dict[str, str]:
    """Element files of an iris submission whose code is unique to ``tag``."""
    return {"classifier.py": IRIS_CODE + f"# {tag}\n"}


def code_for(problem: Problem, tag: str) -> dict[str, str]:
    """Unique element files for any problem (only iris's would train; the others are for recorded results)."""
    if problem.elements == ["classifier"]:
        return iris_code(tag)
    return {services.element_filename(e): f"# {e} {tag}\n" for e in problem.elements}


def submit(event: Event, user, name: str | None = None, *, at=None) -> Submission:
    name = name or f"sub{next(_seq)}"
    return services.submission_create(event=event, user=user, name=name, files=code_for(event.problem, name), at=at)


def record_scores(submission: Submission, *, valid: dict[str, float], test: dict[str, float],
                  worker: str = "t", train_time: float = 0.5) -> Submission:
    """Claim ``submission`` (it must be the oldest queued one) and record these bagged scores for it
    (``train_time`` per fold)."""
    claimed = services.submission_claim(worker=worker)
    assert claimed is not None and claimed.pk == submission.pk, "another submission was queued first"
    folds = [{"fold": i, "scores": {"train": valid, "valid": valid, "test": test}, "train_time": train_time,
              "valid_time": train_time / 10, "test_time": train_time / 5} for i in range(claimed.event.problem.n_folds)]
    return services.submission_record_scores(submission=claimed, folds=folds,
                                             bagged={"valid": valid, "test": test}, duration_seconds=1.0)


def scored(event: Event, user, name: str | None = None, *, valid: float = 0.9, test: float = 0.8,
           at=None, others: dict[str, tuple[float, float]] | None = None, train_time: float = 0.5) -> Submission:
    """A submission of ``user`` scored as the engine records it: ``valid``/``test`` are the official
    score; ``others`` gives (valid, test) of the other score types (default: the official values)."""
    submission = submit(event, user, name, at=at)
    names = [s["name"] for s in event.problem.score_types]
    others = others or {}
    bagged_valid = {n: (valid if i == 0 else others.get(n, (valid, test))[0]) for i, n in enumerate(names)}
    bagged_test = {n: (test if i == 0 else others.get(n, (valid, test))[1]) for i, n in enumerate(names)}
    return record_scores(submission, valid=bagged_valid, test=bagged_test, train_time=train_time)


SECRET_OUTPUT = "Traceback (most recent call last):\nSECRET-OUTPUT-LINE\n"


def failed(event: Event, user, name: str | None = None, *, step: str = Submission.Step.TRAINING,
           summary: str = "ValueError: bad shape", at=None) -> Submission:
    """A submission of ``user`` that failed as the engine records a failure."""
    submission = submit(event, user, name, at=at)
    claimed = services.submission_claim(worker="t")
    assert claimed is not None and claimed.pk == submission.pk
    return services.submission_record_error(submission=claimed, step=step, summary=summary, output=SECRET_OUTPUT,
                                            exit_code=1)


def error(r, status: int, code: str | None = None) -> dict:
    """Assert an answer in the one error shape with this status (and code); return its ``error``."""
    assert r.status_code == status, (r.status_code, r.content[:500])
    assert r["Content-Type"].startswith("application/json"), r["Content-Type"]
    body = r.json()
    assert list(body) == ["error"], body
    err = body["error"]
    assert isinstance(err["message"], str) and err["message"], err
    assert isinstance(err["details"], dict), err
    if code is not None:
        assert err["code"] == code, err
    return err


@contextmanager
def shared_database(tmp_path: Path):
    """Let other threads, each with its own connection, work on this transactional test's data.

    PostgreSQL: nothing to do. SQLite: the test database is an in-memory, shared-cache one, whose table
    locks fail at once ("database table is locked") where a real installation's file database in WAL mode
    waits (busy timeout); so the data are copied into a file and every connection uses it until the end.
    """
    if connection.vendor != "sqlite":
        yield
        return
    path = tmp_path / "shared.sqlite3"
    connection.ensure_connection()
    target = sqlite3.connect(path)
    connection.connection.backup(target)
    target.close()
    settings_dict = connection.settings_dict  # the dict every thread's new connection is made from
    memory_name, memory_connection = settings_dict["NAME"], connection.connection
    connection.connection = None  # keep the in-memory database alive (closing it would drop it)
    settings_dict["NAME"] = str(path)
    try:
        yield
    finally:
        connection.close()
        settings_dict["NAME"] = memory_name
        connection.connection = memory_connection


class Threads:
    """Run functions in real threads, each with its own database connection (closed at the thread's end);
    exceptions are kept and re-raised by :meth:`join`."""

    def __init__(self):
        self.threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []

    def start(self, func, *args) -> threading.Thread:
        def run():
            try:
                func(*args)
            except BaseException as exc:  # noqa: BLE001 - handed to the test by join()
                self.errors.append(exc)
            finally:
                connection.close()

        thread = threading.Thread(target=run, daemon=True)
        self.threads.append(thread)
        thread.start()
        return thread

    def join(self, timeout: float = 120) -> None:
        for thread in self.threads:
            thread.join(timeout)
            assert not thread.is_alive(), "a thread did not finish in time"
        if self.errors:
            raise self.errors[0]


# --------------------------------------------------------------------------- kit archives


def zip_bytes(members: dict[str, bytes], *, symlinks: dict[str, str] | None = None) -> bytes:
    """A .zip of ``members`` (name → bytes) and of symbolic links (name → target)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, content in members.items():
            zf.writestr(name, content)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return buffer.getvalue()


def tar_bytes(members: dict[str, bytes], *, links: dict[str, str] | None = None) -> bytes:
    """A .tar.gz of ``members`` (name → bytes) and of symbolic links (name → target)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tf:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tf.addfile(info, io.BytesIO(content))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tf.addfile(info)
    return buffer.getvalue()


def kit_members(kit: Path, prefix: str = "iris/", **replace: bytes | None) -> dict[str, bytes]:
    """The files of ``kit`` as archive members under ``prefix``; ``replace`` changes (None: drops) some."""
    members = {}
    for path in sorted(kit.rglob("*")):
        rel = path.relative_to(kit).as_posix()
        if path.is_file() and "__pycache__" not in rel:
            members[prefix + rel] = path.read_bytes()
    for rel, content in replace.items():
        if content is None:
            members.pop(prefix + rel, None)
        else:
            members[prefix + rel] = content
    return members


def _problem_py(kit: Path, old: bytes, new: bytes) -> bytes:
    source = (kit / "problem.py").read_bytes()
    assert old in source
    return source.replace(old, new)


#: Kit archives that must be refused (400 ``invalid_kit``) without storing anything.
BAD_KITS = {
    # case: (file name, archive bytes made from the iris kit folder, a fragment of one of details.errors, config)
    "zip_slip": ("kit.zip", lambda kit: zip_bytes({**kit_members(kit), "iris/../../evil.py": b"boom"}),
                 "goes up with '..'", {}),
    "absolute_path": ("kit.zip", lambda kit: zip_bytes({**kit_members(kit), "/etc/evil.py": b"boom"}),
                      "is an absolute path", {}),
    "zip_symlink": ("kit.zip", lambda kit: zip_bytes(kit_members(kit), symlinks={"iris/data/link.csv": "/etc/passwd"}),
                    "is a symbolic link", {}),
    "tar_symlink": ("kit.tar.gz", lambda kit: tar_bytes(kit_members(kit), links={"iris/data/link.csv": "/etc/passwd"}),
                    "is a link", {}),
    "tar_slip": ("kit.tar.gz", lambda kit: tar_bytes({**kit_members(kit), "../evil.py": b"boom"}),
                 "goes up with '..'", {}),
    "no_problem_py": ("kit.zip", lambda kit: zip_bytes(kit_members(kit, **{"problem.py": None})),
                      "There is no problem.py", {}),
    "syntax_error": ("kit.zip", lambda kit: zip_bytes(kit_members(kit, **{"problem.py": _problem_py(
        kit, b"import os\n", b"import os\ndef broken(:\n")})), "problem.py, line 2: SyntaxError", {}),
    "no_score_types": ("kit.zip", lambda kit: zip_bytes(kit_members(kit, **{"problem.py": _problem_py(
        kit, b"score_types = [", b"_unused_scores = [")})), "problem.py does not define score_types", {}),
    "huge_file": ("kit.zip", lambda kit: zip_bytes({**kit_members(kit), "iris/data/huge.csv": b"1\n" * 20_000}),
                  "the limit per file is", {"max_kit_bytes": 30_000}),
    "not_an_archive": ("kit.zip", lambda kit: b"this is not a zip file", "is not a readable zip archive", {}),
    # The API refuses the upload's name; problem_import says "is neither a folder, a .zip, a .tar.gz nor a git URL".
    "not_an_archive_name": ("kit.txt", lambda kit: zip_bytes(kit_members(kit)), "is not a .zip or .tar.gz archive",
                            {}),
    "empty_tar": ("kit.tar.gz", lambda kit: b"\x1f\x8b garbage", "is not a readable tar archive", {}),
}
