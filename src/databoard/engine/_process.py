"""Run one command in its own process group, with a wall-clock limit.

The whole group is killed (SIGKILL) when the limit is reached, and also once the command has
ended, so that nothing it started in the background outlives it. The leader is only reaped after
that last kill, so its process-group id cannot have been reused by then.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO


@dataclass(frozen=True)
class ProcessOutcome:
    returncode: int
    """Exit status; minus the signal number when a signal ended the process."""
    timed_out: bool
    duration_s: float
    cpu_time_s: float
    """User + system CPU time of the command (and the children it waited for)."""


def _wait_exited(pid: int, timeout: float | None) -> bool:
    """Wait until ``pid`` has ended, without reaping it. False when ``timeout`` passed first."""
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    if pidfd is not None:
        try:
            poller = select.poll()
            poller.register(pidfd, select.POLLIN)
            return bool(poller.poll(None if timeout is None else max(0, int(timeout * 1000))))
        finally:
            os.close(pidfd)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:  # portable fallback: poll without reaping
        if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            return True
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_in_group(
    cmd: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    stdout: IO[bytes] | int,
    stderr: IO[bytes] | int,
    timeout: float | None,
    preexec_fn: Callable[[], None] | None = None,
) -> ProcessOutcome:
    """Run ``cmd`` in a new session (and process group); stdin is ``/dev/null``."""
    start = time.monotonic()
    proc = subprocess.Popen(  # noqa: S603 - the command is built by the caller, no shell
        list(cmd),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,
        preexec_fn=preexec_fn,  # noqa: PLW1509 - only setrlimit calls
        close_fds=True,
    )
    try:
        timed_out = not _wait_exited(proc.pid, timeout)
        duration = time.monotonic() - start
        _kill_group(proc.pid)  # on timeout: everything; otherwise: what was left behind
        _, status, rusage = os.wait4(proc.pid, 0)
    except BaseException:
        _kill_group(proc.pid)
        proc.wait()
        raise
    returncode = os.waitstatus_to_exitcode(status)
    proc.returncode = returncode  # reaped here, so that Popen does not try again
    return ProcessOutcome(
        returncode=returncode,
        timed_out=timed_out,
        duration_s=duration,
        cpu_time_s=rusage.ru_utime + rusage.ru_stime,
    )
