"""The sandbox of submission runs: bubblewrap (``bwrap``) when it is installed and works.

Inside, the run has no network (its own network namespace), its own PID, IPC and UTS namespaces, the
system read-only, an empty ``/tmp`` and ``/run`` (no database sockets), no view of the data home (the
database, the config, the artifacts, other submissions), of ``/root``, ``/home`` or the shadow
password files; only its own work folder is writable, and the kit and its data are read-only.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

#: Host paths nobody's code should read, masked with empty ones inside the sandbox.
MASKED_FILES = ("/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-")
MASKED_DIRS = ("/tmp", "/run", "/var/run", "/root", "/home", "/var/lib/postgresql", "/var/lib/mysql",
               "/var/tmp", "/dev/shm")


@lru_cache(maxsize=1)
def bwrap_path() -> str | None:
    return shutil.which("bwrap")


@lru_cache(maxsize=1)
def sandbox_problem() -> str | None:
    """Why the sandbox cannot be used here (None when it can): bwrap missing, or unable to start
    (e.g. user namespaces disabled)."""
    path = bwrap_path()
    if path is None:
        return "bwrap (Debian package bubblewrap) is not installed"
    try:
        done = subprocess.run([path, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "--proc", "/proc",
                               "--dev", "/dev", "true"], capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap cannot start ({exc})"
    if done.returncode != 0:
        return f"bwrap cannot start: {done.stderr.decode(errors='replace').strip()[:200]}"
    return None


def _existing(paths) -> list[str]:
    return [p for p in paths if Path(p).exists()]


def _masks(folders) -> list[str]:
    """Real folders to hide (a symlink such as /var/run -> /run is hidden with its target), without
    those already inside another hidden one."""
    real = [str(Path(p)) for p in folders if Path(p).is_dir() and not Path(p).is_symlink()]
    return [p for p in real if not any(p != q and p.startswith(q.rstrip("/") + "/") for q in real)]


def wrap(cmd: list[str], *, work_dir: Path, read_only: list[Path], hidden: list[Path] = ()) -> list[str]:
    """``cmd`` run under bwrap: ``work_dir`` writable, ``read_only`` folders visible read-only (the kit,
    its data, the Python environment), ``hidden`` folders (the data home) replaced by empty ones."""
    args = [bwrap_path(), "--die-with-parent", "--unshare-all", "--new-session",
            "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    for folder in _masks([*MASKED_DIRS, *hidden]):
        args += ["--tmpfs", folder]
    for file in _existing(MASKED_FILES):
        args += ["--ro-bind", "/dev/null", file]
    # Python itself may live under a masked folder (a virtualenv in /tmp or /home): show it again.
    environments = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}
    for folder in [*sorted(environments), *read_only]:
        args += ["--ro-bind", str(folder), str(folder)]
    args += ["--bind", str(work_dir), str(work_dir), "--chdir", str(work_dir), "--"]
    return args + list(cmd)
