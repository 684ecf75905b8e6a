"""Bring a RAMP kit from where the organizer has it (a folder, a ``.zip``/``.tar.gz``, a git URL) into a
private folder, refusing what could escape it or fill the disk: ``..`` and absolute paths, symlinks,
device files, too many or too large files. Nothing here imports the kit's code.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from databoard.errors import ValidationFailed
from databoard.storage.store import human_size

# Never copied from a kit: version control, caches and outputs of local runs.
SKIPPED_NAMES = {".git", "__pycache__", ".ipynb_checkpoints", "training_output", ".pytest_cache", ".DS_Store"}
GIT_PREFIXES = ("https://", "http://", "git://", "ssh://", "git@", "file://")
CHUNK = 1024 * 1024


class KitSourceError(ValidationFailed):
    """The kit could not be read: the message sums up, ``details["errors"]`` lists every problem."""

    code = "invalid_kit"

    def __init__(self, errors: list[str]):
        summary = errors[0] if len(errors) == 1 else f"The kit has {len(errors)} problems: " + "; ".join(errors[:5])
        super().__init__(summary, errors=errors)
        self.errors = errors


@dataclass(frozen=True)
class KitLimits:
    max_total_bytes: int = 2 * 1024**3
    max_file_bytes: int = 1024**3
    max_files: int = 10_000


def check_member_path(name: str) -> PurePosixPath | None:
    """The relative path of an archive member, or None to skip it. Raises ValueError for escapes."""
    if "\x00" in name:
        raise ValueError(f"'{name[:80]!r}' contains a NUL byte")
    normalized = name.replace("\\", "/")
    if normalized.startswith("/") or (len(normalized) > 1 and normalized[1] == ":"):
        raise ValueError(f"'{name[:200]}' is an absolute path")
    parts = [p for p in PurePosixPath(normalized).parts if p not in ("", ".")]
    if ".." in parts:
        raise ValueError(f"'{name[:200]}' goes up with '..'")
    if not parts or any(p in SKIPPED_NAMES for p in parts):
        return None
    return PurePosixPath(*parts)


def fetch_kit(source: str | Path, dest: Path, *, limits: KitLimits | None = None) -> Path:
    """Copy or unpack the kit at ``source`` into the empty folder ``dest``; return the kit's root there.

    The root is ``dest`` itself or, when everything sits in one top folder (as in most archives),
    that folder. Raises KitSourceError listing every problem found; ``dest`` may then hold a partial
    copy, which the caller throws away.
    """
    limits = limits or KitLimits()
    dest.mkdir(parents=True, exist_ok=True)
    text = str(source)
    path = Path(text).expanduser()
    if text.startswith(GIT_PREFIXES) or text.endswith(".git") and not path.is_dir():
        _git_clone(text, dest)
        _copy_tree(dest / ".clone", dest / "kit", limits)
        shutil.rmtree(dest / ".clone", ignore_errors=True)
        root = dest / "kit"
    elif path.is_dir():
        _copy_tree(path, dest, limits)
        root = dest
    elif path.is_file():
        lowered = path.name.lower()
        if lowered.endswith(".zip"):
            _unzip(path, dest, limits)
        elif lowered.endswith((".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz")):
            _untar(path, dest, limits)
        else:
            raise KitSourceError([f"'{path.name}' is neither a folder, a .zip, a .tar.gz nor a git URL."])
        root = dest
    else:
        raise KitSourceError([f"'{text[:200]}' does not exist: give a folder, a .zip, a .tar.gz or a git URL."])
    return _kit_root(root)


def fetch_data(source: str | Path, dest: Path, *, limits: KitLimits | None = None) -> Path:
    """Copy or unpack a private data folder (a folder or archive) into ``dest``; return the folder that holds
    ``data/`` (rampwf's ``--ramp-data-dir``). A source without a ``data/`` folder at its top is taken as
    the contents of ``data/``."""
    limits = limits or KitLimits()
    path = Path(str(source)).expanduser()
    unpacked = dest / "unpacked"
    if path.is_dir():
        _copy_tree(path, unpacked, limits)
    elif path.is_file() and path.name.lower().endswith(".zip"):
        _unzip(path, unpacked, limits)
    elif path.is_file() and path.name.lower().endswith((".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz")):
        _untar(path, unpacked, limits)
    else:
        raise KitSourceError([f"The data source '{str(source)[:200]}' is neither a folder, a .zip nor a .tar.gz."])
    unpacked.mkdir(parents=True, exist_ok=True)
    entries = [p for p in unpacked.iterdir() if p.name not in SKIPPED_NAMES]
    if len(entries) == 1 and entries[0].is_dir() and entries[0].name != "data":
        unpacked = entries[0]
    if (unpacked / "data").is_dir():
        return unpacked
    root = dest / "root"
    root.mkdir(parents=True)
    unpacked.rename(root / "data")
    return root


def _kit_root(root: Path) -> Path:
    if (root / "problem.py").is_file():
        return root
    entries = [p for p in root.iterdir() if p.name not in SKIPPED_NAMES]
    if len(entries) == 1 and entries[0].is_dir() and (entries[0] / "problem.py").is_file():
        return entries[0]
    raise KitSourceError(["There is no problem.py at the top of the kit (nor in its only folder)."])


def _git_clone(url: str, dest: Path) -> None:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"}
    try:
        done = subprocess.run(["git", "clone", "--quiet", "--depth", "1", "--", url, str(dest / ".clone")],
                              capture_output=True, text=True, timeout=300, env=env, check=False)
    except FileNotFoundError:
        raise KitSourceError(["git is not installed on the server; import the kit from a folder or an archive."])
    except subprocess.TimeoutExpired:
        raise KitSourceError([f"Cloning '{url[:200]}' took more than 5 minutes."]) from None
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise KitSourceError([f"Cloning '{url[:200]}' failed: {reason[:300]}"])


class _Budget:
    def __init__(self, limits: KitLimits):
        self.limits, self.files, self.bytes, self.errors = limits, 0, 0, []

    def add_file(self, name: str, size: int) -> bool:
        self.files += 1
        if self.files > self.limits.max_files:
            raise KitSourceError([f"The kit has more than {self.limits.max_files} files."])
        if size > self.limits.max_file_bytes:
            self.errors.append(f"'{name}' is {human_size(size)}; the limit per file is {human_size(self.limits.max_file_bytes)}.")
            return False
        self.bytes += size
        if self.bytes > self.limits.max_total_bytes:
            raise KitSourceError([f"The kit is over {human_size(self.limits.max_total_bytes)} in all."])
        return True

    def finish(self) -> None:
        if self.errors:
            raise KitSourceError(self.errors)


def _copy_stream(src, target: Path, name: str, budget: _Budget) -> None:
    """Copy at most the announced size + 1 chunk, counting real bytes (archives can lie about sizes)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with open(target, "xb") as out:
        while chunk := src.read(CHUNK):
            written += len(chunk)
            if written > budget.limits.max_file_bytes:
                raise KitSourceError([f"'{name}' unpacks to more than {human_size(budget.limits.max_file_bytes)}."])
            out.write(chunk)


def _copy_tree(src: Path, dest: Path, limits: KitLimits) -> None:
    budget = _Budget(limits)
    for dirpath, dirnames, filenames in os.walk(src, followlinks=False):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_NAMES)
        for name in [*dirnames, *filenames]:
            full = here / name
            rel = full.relative_to(src).as_posix()
            info = full.lstat()
            if stat.S_ISLNK(info.st_mode):
                budget.errors.append(f"'{rel}' is a symbolic link; kits may only hold plain files and folders.")
            elif stat.S_ISDIR(info.st_mode):
                (dest / rel).mkdir(parents=True, exist_ok=True)
            elif not stat.S_ISREG(info.st_mode):
                budget.errors.append(f"'{rel}' is not a plain file.")
            elif name not in SKIPPED_NAMES and budget.add_file(rel, info.st_size):
                with open(full, "rb") as handle:
                    _copy_stream(handle, dest / rel, rel, budget)
        dirnames[:] = [d for d in dirnames if not (here / d).is_symlink()]
    budget.finish()


def _unzip(archive: Path, dest: Path, limits: KitLimits) -> None:
    budget = _Budget(limits)
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            plan = []
            for info in members:
                mode = info.external_attr >> 16
                try:
                    rel = check_member_path(info.filename)
                except ValueError as exc:
                    budget.errors.append(f"{exc}; archive members must stay inside the kit.")
                    continue
                if rel is None:
                    continue
                if stat.S_ISLNK(mode):
                    budget.errors.append(f"'{rel}' is a symbolic link; kits may only hold plain files and folders.")
                elif info.is_dir():
                    plan.append((info, rel, True))
                elif budget.add_file(str(rel), info.file_size):
                    plan.append((info, rel, False))
            budget.finish()
            for info, rel, is_dir in plan:
                if is_dir:
                    (dest / rel).mkdir(parents=True, exist_ok=True)
                else:
                    with zf.open(info) as src:
                        _copy_stream(src, dest / rel, str(rel), budget)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
        raise KitSourceError([f"'{archive.name}' is not a readable zip archive ({exc})."]) from None
    except FileExistsError as exc:
        raise KitSourceError([f"'{Path(exc.filename).name}' appears twice in the archive."]) from None


def _untar(archive: Path, dest: Path, limits: KitLimits) -> None:
    budget = _Budget(limits)
    try:
        with tarfile.open(archive) as tf:
            plan = []
            for member in tf:
                try:
                    rel = check_member_path(member.name)
                except ValueError as exc:
                    budget.errors.append(f"{exc}; archive members must stay inside the kit.")
                    continue
                if rel is None:
                    continue
                if member.issym() or member.islnk():
                    budget.errors.append(f"'{rel}' is a link; kits may only hold plain files and folders.")
                elif member.isdir():
                    plan.append((member, rel))
                elif not member.isfile():
                    budget.errors.append(f"'{rel}' is not a plain file.")
                elif budget.add_file(str(rel), member.size):
                    plan.append((member, rel))
            budget.finish()
            for member, rel in plan:
                if member.isdir():
                    (dest / rel).mkdir(parents=True, exist_ok=True)
                else:
                    src = tf.extractfile(member)
                    with src:
                        _copy_stream(src, dest / rel, str(rel), budget)
    except FileExistsError as exc:
        raise KitSourceError([f"'{Path(exc.filename).name}' appears twice in the archive."]) from None
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise KitSourceError([f"'{archive.name}' is not a readable tar archive ({exc})."]) from None


def iter_kit_files(root: Path):
    """(relative posix path, absolute path) of every plain file under ``root``, sorted."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_NAMES)
        for name in sorted(filenames):
            if name in SKIPPED_NAMES or name.endswith(".pyc"):
                continue
            full = Path(dirpath) / name
            yield full.relative_to(root).as_posix(), full
