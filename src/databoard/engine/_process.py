"""Run one command in its own process group, with a wall-clock limit.

The whole group is killed (SIGKILL) when the limit is reached, when the caller cancels, when the
command writes more output than allowed, and also once the command has ended, so that nothing it
started in the background outlives it. The leader is only reaped after that last kill, so its
process-group id cannot have been reused by then.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import subprocess
import threading
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
    output_exceeded: bool = False
    """The command wrote more than ``capture.max_bytes`` and was stopped."""
    cancelled: bool = False
    """The caller's ``cancel`` event was set and the command was stopped."""
    output_bytes: int = 0
    """Bytes of output read from the command (with ``capture``)."""


@dataclass(frozen=True)
class Capture:
    """stdout and stderr go through a pipe into ``file``; past ``max_bytes`` the command is stopped."""

    file: IO[bytes]
    max_bytes: int


_PR_SET_PDEATHSIG = 1
try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here: the child only calls it
except (OSError, AttributeError):  # not Linux
    _prctl = None


def _dies_with_parent(preexec_fn: Callable[[], None] | None) -> Callable[[], None]:
    """``preexec_fn`` that first asks for SIGKILL when the parent (the worker) dies, even killed at once:
    the command runs in a session of its own, so a signal to the worker's process group misses it."""
    parent = os.getpid()

    def setup() -> None:  # in the child between fork and exec: syscalls only
        if _prctl is not None:
            _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if os.getppid() != parent:  # the parent died before the request: too late for the signal
                os._exit(137)
        if preexec_fn is not None:
            preexec_fn()

    return setup


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _exited(pid: int) -> bool:
    """Whether ``pid`` has ended, without reaping it."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


class _Watch:
    """Waits for the leader to end while copying its output, calling ``on_tick`` and checking ``cancel``."""

    def __init__(self, pid: int, pipe: int | None, capture: Capture | None):
        self.pid, self.pipe, self.capture = pid, pipe, capture
        self.poller = select.poll()
        self.pidfd = _pidfd(pid)
        if self.pidfd is not None:
            self.poller.register(self.pidfd, select.POLLIN)
        if pipe is not None:
            self.poller.register(pipe, select.POLLIN | select.POLLHUP)
        self.written = 0
        self.exceeded = False

    def close(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)

    def _copy(self) -> bool:
        """Copy what the pipe holds; False at end of file."""
        data = os.read(self.pipe, 1 << 16)
        if not data:
            self.poller.unregister(self.pipe)
            os.close(self.pipe)
            self.pipe = None
            return False
        room = self.capture.max_bytes - self.written
        if room > 0:
            self.capture.file.write(data[:room])
            self.capture.file.flush()
        self.written += len(data)
        if self.written > self.capture.max_bytes:
            self.exceeded = True
        return True

    def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds`` (copying output meanwhile); True once the leader has ended."""
        end = time.monotonic() + max(seconds, 0)
        while True:
            left = max(0.0, end - time.monotonic())
            if self.pidfd is None:  # no pidfd (old kernel): look every 50 ms
                left = min(left, 0.05)
            leader_done = False
            for fd, _ in self.poller.poll(int(left * 1000)):
                if fd == self.pipe:
                    self._copy()
                elif fd == self.pidfd:
                    leader_done = True
            if self.exceeded:
                return False
            if leader_done or (self.pidfd is None and _exited(self.pid)):
                return True
            if time.monotonic() >= end:
                return False

    def drain(self, seconds: float = 2.0) -> None:
        """Read what is left in the pipe once every writer is dead (bounded in time)."""
        end = time.monotonic() + seconds
        while self.pipe is not None and time.monotonic() < end:
            if self.poller.poll(100) and self.pipe is not None:
                self._copy()
        if self.pipe is not None:
            os.close(self.pipe)
            self.pipe = None


def run_in_group(
    cmd: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    stdout: IO[bytes] | int | None = None,
    stderr: IO[bytes] | int | None = None,
    timeout: float | None,
    preexec_fn: Callable[[], None] | None = None,
    capture: Capture | None = None,
    on_tick: Callable[[float], None] | None = None,
    tick_seconds: float = 1.0,
    cancel: threading.Event | None = None,
) -> ProcessOutcome:
    """Run ``cmd`` in a new session (and process group); stdin is ``/dev/null``.

    With ``capture``, stdout and stderr are read here through a pipe (``stdout``/``stderr`` are ignored).
    ``on_tick(elapsed_seconds)`` is called about every ``tick_seconds`` while the command runs, and the
    command is stopped soon after ``cancel`` is set.
    """
    start = time.monotonic()
    read_end = write_end = None
    if capture is not None:
        read_end, write_end = os.pipe()
        stdout = stderr = write_end
    try:
        proc = subprocess.Popen(  # noqa: S603 - the command is built by the caller, no shell
            list(cmd),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
            preexec_fn=_dies_with_parent(preexec_fn),  # noqa: PLW1509 - only prctl and setrlimit calls
            close_fds=True,
        )
    except BaseException:
        for fd in (read_end, write_end):
            if fd is not None:
                os.close(fd)
        raise
    if write_end is not None:
        os.close(write_end)  # the child holds its copy: end of file once every writer is gone
    watch = _Watch(proc.pid, read_end, capture)
    timed_out = cancelled = False
    try:
        deadline = None if timeout is None else start + timeout
        while True:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                timed_out = True
                break
            wait = tick_seconds if (on_tick or cancel) else 3600.0
            if deadline is not None:
                wait = min(wait, deadline - now)
            if watch.wait(wait):
                break
            if watch.exceeded:
                break
            if cancel is not None and cancel.is_set():
                cancelled = True
                break
            if on_tick is not None:
                on_tick(time.monotonic() - start)
        duration = time.monotonic() - start
        _kill_group(proc.pid)  # on timeout, cancel, too much output: everything; otherwise what was left behind
        if watch.pipe is not None:
            watch.drain()
        _, status, rusage = os.wait4(proc.pid, 0)
    except BaseException:
        _kill_group(proc.pid)
        proc.wait()
        raise
    finally:
        watch.close()
        if watch.pipe is not None:
            os.close(watch.pipe)
    returncode = os.waitstatus_to_exitcode(status)
    proc.returncode = returncode  # reaped here, so that Popen does not try again
    return ProcessOutcome(
        returncode=returncode,
        timed_out=timed_out,
        duration_s=duration,
        cpu_time_s=rusage.ru_utime + rusage.ru_stime,
        output_exceeded=watch.exceeded,
        cancelled=cancelled,
        output_bytes=watch.written,
    )
