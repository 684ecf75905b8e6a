"""Run ``ramp-test`` on one submission, under limits, and read back what it wrote.

Layout of a run (``work_dir`` belongs to the caller, one per run)::

    work_dir/
        submissions/<submission>/<element>.py       written by prepare_workdir()
        submissions/<submission>/training_output/   written by ramp-test --save-output
        ramp-test-<submission>.log                  everything ramp-test printed (stdout+stderr)

The log holds the full output, score tables included (test scores too): it is for staff.
:attr:`RunResult.output_tail` is what a participant may see: its score-table lines are removed,
and scores are read from the files with :func:`parse_training_output`.
"""

from __future__ import annotations

import csv
import dataclasses
import importlib.util
import math
import os
import re
import resource
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from databoard.engine._process import Capture, run_in_group
from databoard.storage.store import human_size

ERROR_STEPS = ("checking", "training", "validating", "testing")
STEPS = ("train", "valid", "test")
TAIL_LINES = 40
REDACTED_LINE = "[score table hidden]"

# Variables passed on to ramp-test; the rest of the worker's environment (secrets, database
# URLs...) stays out of reach of the submission's code. ``env=`` adds to them.
_ENV_ALLOWED = {
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "VIRTUAL_ENV",
    "LD_LIBRARY_PATH", "CUDA_HOME", "CUDA_PATH", "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES",
    "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS", "XDG_CACHE_HOME", "SSL_CERT_FILE", "SSL_CERT_DIR",
}
_ENV_ALLOWED_PREFIXES = ("LC_",)


class OutputError(Exception):
    """The training output of a run is missing or unreadable."""


@dataclass(frozen=True)
class RunLimits:
    timeout_s: float
    """Wall-clock limit; the whole process group is killed (SIGKILL) when it is reached."""
    memory_mb: int | None = None
    """Address-space limit (RLIMIT_AS) of ramp-test. Python + numpy + scipy + scikit-learn
    already map ~350-450 MB of address space (more with many BLAS threads), so below ~600 MB
    even the imports fail."""
    cpu_s: int | None = None
    """CPU-time limit (RLIMIT_CPU): SIGXCPU at ``cpu_s``, SIGKILL 2 s of CPU later."""
    max_output_bytes: int = 1_000_000
    """Only the last ``max_output_bytes`` of the output are read back for analysis."""
    max_log_bytes: int = 20 * 1024 * 1024
    """Output allowed in all (stdout and stderr); a run that prints more is stopped."""
    max_file_mb: int | None = None
    """Largest file the run may write (RLIMIT_FSIZE): writes beyond fail with ``File too large``."""
    max_processes: int | None = None
    """RLIMIT_NPROC: processes and threads of the user running the worker (not enforced for root)."""


@dataclass(frozen=True)
class RunResult:
    returncode: int
    """ramp-test's exit status; minus the signal number when a signal ended it."""
    duration_s: float
    timed_out: bool
    output_tail: str
    """Last ~40 lines of output, without ANSI codes or score tables: fit to show participants."""
    error_step: str | None
    """``checking``, ``training``, ``validating``, ``testing``, or None when the run went well."""
    error_summary: str | None
    """E.g. ``ValueError: this fails``; None when the run went well."""
    memory_exceeded: bool
    output_dir: Path
    """``work_dir/submissions/<submission>/training_output``."""
    cpu_exceeded: bool = False
    cpu_time_s: float = 0.0
    log_path: Path | None = None
    """Full output (score tables included): not for participants."""
    command: list[str] = field(default_factory=list)
    sandboxed: bool = False
    """Whether the run was inside the bwrap sandbox."""
    output_exceeded: bool = False
    """The run printed more than ``limits.max_log_bytes`` and was stopped."""
    file_exceeded: bool = False
    """The run tried to write a file larger than ``limits.max_file_mb``."""
    cancelled: bool = False
    """The run was stopped by the caller's ``cancel`` event."""

    @property
    def ok(self) -> bool:
        return self.error_step is None


@dataclass(frozen=True)
class FoldResult:
    index: int
    scores: dict[str, dict[str, float]]
    """``{"train": {name: value}, "valid": {...}, "test": {...}}`` (no "test" without test
    labels)."""
    train_time: float
    valid_time: float
    test_time: float | None
    predictions: dict[str, Path]
    """``{"train": .../y_pred_train.npz, "test": .../y_pred_test.npz}``; ``train`` holds the
    predictions on the whole training set, the fold's validation rows among them."""


@dataclass(frozen=True)
class TrainingOutput:
    folds: list[FoldResult]
    bagged: dict[str, dict[str, float]]
    """``{"valid": {name: value}, "test": {...}}`` from the largest ``n_bag`` (all folds)."""
    output_dir: Path

    @property
    def n_folds(self) -> int:
        return len(self.folds)


# --------------------------------------------------------------------------------------------
# work dir
# --------------------------------------------------------------------------------------------


def _check_name(name: object, what: str) -> str:
    if not isinstance(name, str):
        raise ValueError(f"{what} must be text, got {type(name).__name__}")
    if not name or not name.strip():
        raise ValueError(f"{what} is empty")
    if "\x00" in name:
        raise ValueError(f"{what} {name!r} contains a NUL character")
    if "/" in name or "\\" in name or os.sep in name or (os.altsep and os.altsep in name):
        raise ValueError(f"{what} {name!r} must be a plain file name, without any folder")
    if name in (".", "..") or os.path.isabs(name):
        raise ValueError(f"{what} {name!r} is not allowed")
    if any(ord(ch) < 32 for ch in name):
        raise ValueError(f"{what} {name!r} contains control characters")
    if len(name.encode("utf-8", errors="surrogateescape")) > 255:
        raise ValueError(f"{what} {name[:40]!r}... is longer than 255 bytes")
    return name


def prepare_workdir(work_dir: Path, files: dict[str, bytes], submission: str = "submission") -> Path:
    """Write the submission's element files into ``work_dir/submissions/<submission>/``.

    Every name must be a plain file name (no ``/``, ``\\``, ``..``, absolute path, NUL or
    control character): :class:`ValueError` otherwise, before anything is written. An existing
    folder of that submission is replaced. Returns the submission folder.
    """
    _check_name(submission, "submission name")
    if submission == "__pycache__":
        raise ValueError("submission name '__pycache__' is not allowed")
    checked: dict[str, bytes] = {}
    for name, content in files.items():
        _check_name(name, "file name")
        if not isinstance(content, bytes | bytearray | memoryview):
            raise ValueError(f"content of {name!r} must be bytes, got {type(content).__name__}")
        checked[name] = bytes(content)
    submission_dir = Path(work_dir) / "submissions" / submission
    if submission_dir.exists():
        shutil.rmtree(submission_dir)
    submission_dir.mkdir(parents=True)
    for name, content in checked.items():
        (submission_dir / name).write_bytes(content)
    return submission_dir


# --------------------------------------------------------------------------------------------
# running ramp-test
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _ramp_test_base() -> tuple[str, ...]:
    script = Path(sys.executable).parent / "ramp-test"
    if script.is_file() and os.access(script, os.X_OK):
        return (str(script),)
    return (sys.executable, "-m", "rampwf.utils.cli.testing")


@lru_cache(maxsize=1)
def _has_ignore_warning() -> bool:
    """Whether the installed rampwf's ramp-test knows ``--ignore-warning`` (0.5+ does)."""
    try:
        # Only the top-level package is looked up: finding a submodule imports its parents, and rampwf's
        # __init__ imports sklearn and pandas (~2 s and ~100 MB in every worker, before its first run).
        spec = importlib.util.find_spec("rampwf")
        if spec is None or not spec.submodule_search_locations:
            return False
        testing = Path(next(iter(spec.submodule_search_locations))) / "utils" / "cli" / "testing.py"
        return "--ignore-warning" in testing.read_text(encoding="utf-8")
    except (ImportError, OSError, ValueError):
        return False


def ramp_test_command(kit_dir: Path, data_dir: Path, work_dir: Path, submission: str) -> list[str]:
    cmd = [
        *_ramp_test_base(),
        "--submission", submission,
        "--ramp-kit-dir", str(kit_dir),
        "--ramp-data-dir", str(data_dir),
        "--ramp-submission-dir", str(work_dir / "submissions"),
        "--save-output",
    ]
    if _has_ignore_warning():
        cmd.append("--ignore-warning")
    return cmd


def _child_env(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items()
        if k in _ENV_ALLOWED or k.startswith(_ENV_ALLOWED_PREFIXES)
    }
    env.update(TERM="dumb", NO_COLOR="1", PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1")
    if extra:
        env.update(extra)
    return env


def _limiter(limits: RunLimits):
    memory = None if limits.memory_mb is None else int(limits.memory_mb) * 1024 * 1024
    cpu = None if limits.cpu_s is None else max(1, int(limits.cpu_s))
    fsize = None if limits.max_file_mb is None else int(limits.max_file_mb) * 1024 * 1024
    nproc = limits.max_processes

    def apply() -> None:  # runs in the child between fork and exec: keep it to syscalls
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if memory is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        if cpu is not None:
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 2))
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        if nproc is not None:
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))

    return apply


#: Exception lines of code that tried the network inside the sandbox.
_NETWORK_ERRORS = ("ConnectionRefusedError", "socket.gaierror", "OSError: [Errno 101]", "OSError: [Errno 99]",
                   "urllib.error.URLError", "ConnectionError", "TimeoutError")


def run_ramp_test(
    kit_dir: Path,
    data_dir: Path,
    work_dir: Path,
    submission: str,
    limits: RunLimits,
    *,
    env: Mapping[str, str] | None = None,
    sandbox: bool = False,
    hidden: Sequence[Path] = (),
    on_tick: Callable[[float], None] | None = None,
    cancel: threading.Event | None = None,
) -> RunResult:
    """Run ``ramp-test --save-output`` on ``work_dir/submissions/<submission>``.

    ``data_dir`` holds ``data/`` (rampwf's ``--ramp-data-dir``). ramp-test runs with
    ``cwd=work_dir`` in its own session, with the limits of ``limits``, and an environment made
    of a few allowed variables of this one (``PATH``, ``HOME``, locale, thread counts, CUDA...),
    ``TERM=dumb NO_COLOR=1 PYTHONUNBUFFERED=1`` and ``env``. A previous ``training_output`` of
    that submission is removed first. Scores are not part of the result: read them with
    :func:`parse_training_output` (``result.output_dir``) when ``result.ok``.

    ``on_tick(elapsed_seconds)`` is called about every second while ramp-test runs (the log at
    ``work_dir/ramp-test-<submission>.log`` grows meanwhile: see :func:`read_progress`); setting
    ``cancel`` stops the run (its whole process tree).
    """
    _check_name(submission, "submission name")
    kit_dir, data_dir, work_dir = (Path(p).resolve() for p in (kit_dir, data_dir, work_dir))
    submission_dir = work_dir / "submissions" / submission
    if not submission_dir.is_dir():
        raise FileNotFoundError(f"no submission folder {submission_dir} (see prepare_workdir)")
    output_dir = submission_dir / "training_output"
    if output_dir.exists():
        shutil.rmtree(output_dir)
    log_path = work_dir / f"ramp-test-{submission}.log"
    cmd = ramp_test_command(kit_dir, data_dir, work_dir, submission)
    if sandbox:  # no network, read-only system, only work_dir writable, the data home hidden
        from databoard.engine.sandbox import wrap

        cmd = wrap(cmd, work_dir=work_dir, read_only=[kit_dir, data_dir], hidden=[Path(p) for p in hidden])

    with open(log_path, "wb") as log:
        outcome = run_in_group(
            cmd,
            cwd=work_dir,
            env=_child_env(env),
            capture=Capture(log, limits.max_log_bytes),
            timeout=limits.timeout_s,
            preexec_fn=_limiter(limits),
            on_tick=on_tick,
            cancel=cancel,
        )

    returncode = outcome.returncode
    if sandbox and 128 < returncode < 128 + signal.NSIG:
        returncode = 128 - returncode  # bwrap reports a child killed by signal N as exit status 128 + N
        outcome = dataclasses.replace(outcome, returncode=returncode)
    text = _read_tail(log_path, limits.max_output_bytes)
    lines = clean_lines(text)
    # Participants see relative paths, not the server's layout.
    places = _places(kit_dir, data_dir, work_dir)
    lines = [_shorten_paths(line, places) for line in lines]
    analysis = analyse_failure(
        lines,
        output_dir=output_dir,
        returncode=outcome.returncode,
        timed_out=outcome.timed_out,
        cpu_exceeded=_cpu_exceeded(outcome.returncode, outcome.timed_out, outcome.cpu_time_s, limits),
        limits=limits,
    )
    summary = analysis.summary
    file_exceeded = bool(summary and _FILE_TOO_LARGE.search(summary)) or outcome.returncode == -signal.SIGXFSZ
    if outcome.cancelled:
        summary = "The run was cancelled."
    elif outcome.output_exceeded:
        summary = (f"Output limit of {human_size(limits.max_log_bytes)} exceeded: the run printed too much "
                   "and was stopped.")
    elif file_exceeded and limits.max_file_mb is not None:
        summary = f"File size limit of {human_size(limits.max_file_mb * 1024 * 1024)} exceeded ({summary})."
    elif sandbox and summary and summary.startswith(_NETWORK_ERRORS):
        summary = f"The network is not available to submissions ({summary[:200]})."
    failed = analysis.step
    if failed is None and (outcome.cancelled or outcome.output_exceeded):
        failed = "training"
    return RunResult(
        returncode=outcome.returncode,
        duration_s=outcome.duration_s,
        timed_out=outcome.timed_out,
        output_tail="\n".join(redact_scores(lines)[-TAIL_LINES:]),
        error_step=failed,
        error_summary=summary,
        memory_exceeded=analysis.memory_exceeded,
        output_dir=output_dir,
        cpu_exceeded=analysis.cpu_exceeded,
        cpu_time_s=outcome.cpu_time_s,
        log_path=log_path,
        command=cmd,
        sandboxed=sandbox,
        output_exceeded=outcome.output_exceeded,
        file_exceeded=file_exceeded,
        cancelled=outcome.cancelled,
    )


def _places(kit_dir: Path, data_dir: Path, work_dir: Path) -> dict[str, str]:
    """Server paths as participants see them: relative, without the server's layout."""
    return {str(data_dir): "<data>", str(kit_dir): "<kit>", str(work_dir): ".", str(work_dir) + os.sep: ""}


def participant_lines(text: str, places: dict[str, str]) -> list[str]:
    """Output fit to show the submission's team: no ANSI codes, short paths, score tables hidden."""
    return redact_scores([_shorten_paths(line, places) for line in clean_lines(text)])


_FOLD_LINE = re.compile(r"^CV fold (\d+)\s*$")
_PHASES = (("Bagged scores", "bagging"), ("Mean CV scores", "averaging"))


@dataclass(frozen=True)
class Progress:
    """Where a running ``ramp-test`` is, read from its log."""

    phase: str
    """``checking`` (reading the kit, data and code), ``training`` (a CV fold), ``averaging``, ``bagging``."""
    fold: int | None
    """The CV fold being trained, from 1; None before the first."""
    n_folds: int | None
    elapsed_s: float
    tail: str
    """The log's last lines as the team may see them (score tables hidden)."""

    def as_dict(self) -> dict:
        return {"phase": self.phase, "fold": self.fold, "n_folds": self.n_folds,
                "elapsed_s": round(self.elapsed_s, 1)}


def read_progress(log_path: Path, *, kit_dir: Path, data_dir: Path, work_dir: Path, elapsed_s: float,
                  n_folds: int | None = None, lines: int = TAIL_LINES, max_bytes: int = 256 * 1024) -> Progress:
    """The progress of a run from the end of its log (the last ``max_bytes``): fold, phase, sanitized tail."""
    try:
        text = _read_tail(Path(log_path), max_bytes)
    except OSError:
        text = ""
    cleaned = clean_lines(text)
    phase, fold = "checking", None
    for line in reversed(cleaned):
        stripped = line.strip()
        named = next((name for marker, name in _PHASES if stripped == marker), None)
        if named is not None and phase == "checking":
            phase = named
        match = _FOLD_LINE.match(stripped)
        if match:
            fold = int(match[1]) + 1
            phase = "training" if phase == "checking" else phase
            break
    places = _places(*(Path(p).resolve() for p in (kit_dir, data_dir, work_dir)))
    tail = participant_lines("\n".join(cleaned[-4 * lines:]), places)[-lines:]
    return Progress(phase=phase, fold=fold, n_folds=n_folds, elapsed_s=elapsed_s, tail="\n".join(tail))


def _cpu_exceeded(returncode: int, timed_out: bool, cpu_time_s: float, limits: RunLimits) -> bool:
    if limits.cpu_s is None or timed_out:
        return False
    if returncode == -signal.SIGXCPU:
        return True
    return returncode == -signal.SIGKILL and cpu_time_s >= limits.cpu_s


# --------------------------------------------------------------------------------------------
# output analysis
# --------------------------------------------------------------------------------------------

_ANSI = re.compile(r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_NUMBER = re.compile(r"^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$|^[-+]?(?:nan|inf)$", re.I)
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)(?:, in (?P<func>\S+))?')
_MEMORY = re.compile(
    r"\bMemoryError\b|_ArrayMemoryError|Unable to allocate|Cannot allocate memory|std::bad_alloc"
    r"|failed to map segment from shared object|out of memory",
    re.I,
)
_TRACEBACK = "Traceback (most recent call last):"
_FILE_TOO_LARGE = re.compile(r"\[Errno 27\]|File too large|EFBIG")



def _read_tail(path: Path, max_bytes: int) -> str:
    size = path.stat().st_size
    with open(path, "rb") as fh:
        if size > max_bytes:
            fh.seek(size - max_bytes)
        data = fh.read(max_bytes)
    text = data.decode("utf-8", errors="replace")
    if size > max_bytes:
        text = "[... earlier output cut ...]\n" + text.split("\n", 1)[-1]
    return text


MAX_LINE = 2000


def clean_lines(text: str) -> list[str]:
    """Lines as a terminal would show them: no ANSI codes, carriage returns resolved; each at most
    ``MAX_LINE`` characters."""
    lines = []
    for raw in text.split("\n"):
        line = _ANSI.sub("", raw).rstrip("\r").split("\r")[-1]
        line = _CONTROL.sub("", line.replace("\u00a0", " ")).rstrip()
        if len(line) > MAX_LINE:
            line = f"{line[:MAX_LINE]} [... {len(line) - MAX_LINE} more characters]"
        lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _shorten_paths(line: str, places: dict[str, str]) -> str:
    for path in sorted(places, key=len, reverse=True):
        if path in line:
            line = line.replace(path, places[path])
    return line


def _is_score_row(line: str) -> bool:
    tokens = line.split()
    return (
        len(tokens) >= 2
        and tokens[0] in STEPS
        and any(_NUMBER.match(t) or t in ("+-", "±", "...") for t in tokens[1:])
    )


def redact_scores(lines: list[str]) -> list[str]:
    """Drop the rows of ramp-test's score tables (``train``/``valid``/``test`` followed by
    numbers) and their header lines; each table becomes one ``[score table hidden]`` line."""
    rows = [_is_score_row(line) for line in lines]
    hidden = list(rows)
    for i, is_row in enumerate(rows):
        if is_row and (i == 0 or not rows[i - 1]):  # first row of a table: hide its headers
            j = i - 1
            while j >= 0 and i - j <= 2 and lines[j].split()[:1] in (["score"], ["step"]):
                hidden[j] = True
                j -= 1
    out: list[str] = []
    for i, line in enumerate(lines):
        if not hidden[i]:
            out.append(line)
        elif i == 0 or not hidden[i - 1]:
            indent = line[: len(line) - len(line.lstrip())]
            out.append(indent + REDACTED_LINE)
    return out


@dataclass(frozen=True)
class _Traceback:
    frames: list[tuple[str, int, str | None, str]]  # file, line, function, first code line
    exception: str | None


def last_traceback(lines: list[str]) -> _Traceback | None:
    start = None
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].strip() == _TRACEBACK:
            start = i
            break
    if start is None:
        return None
    frames: list[tuple[str, int, str | None, str]] = []
    exception = None
    i = start + 1
    while i < len(lines):
        line = lines[i]
        match = _FRAME.match(line)
        if match:
            code = ""
            for follow in lines[i + 1 : i + 3]:
                if follow.strip() and not _FRAME.match(follow):
                    code = follow.strip()
                    break
            frames.append((match["file"], int(match["line"]), match["func"], code))
        elif line and not line[0].isspace() and frames:
            exception = line.strip()
            break
        i += 1
    return _Traceback(frames=frames, exception=exception)


@dataclass(frozen=True)
class _Analysis:
    step: str | None
    summary: str | None
    memory_exceeded: bool
    cpu_exceeded: bool


def _fold_dirs(output_dir: Path) -> list[tuple[int, Path]]:
    if not output_dir.is_dir():
        return []
    folds = []
    for path in output_dir.iterdir():
        match = re.fullmatch(r"fold_(\d+)", path.name)
        if match and path.is_dir():
            folds.append((int(match[1]), path))
    return sorted(folds)


def _last_state(output_dir: Path) -> tuple[bool, str | None]:
    """(whether a CV fold was started, state.txt of the last fold)."""
    folds = _fold_dirs(output_dir)
    if not folds:
        return False, None
    try:
        return True, (folds[-1][1] / "state.txt").read_text().strip() or None
    except OSError:
        return True, None


_STATE_STEP = {
    None: "training",  # the fold folder exists, training has not finished
    "trained": "validating",
    "validated": "testing",
    "tested": "validating",  # turning y_pred into Predictions / scoring
    "scored": "testing",  # fold done: averaging or bagging
    "training_error": "training",
    "validating_error": "validating",
    "testing_error": "testing",
}


def _step(output_dir: Path, tb: _Traceback | None) -> str:
    started, state = _last_state(output_dir)
    if tb is not None and any(
        func in ("import_module_from_source", "_sanitize_input") for _, _, func, _ in tb.frames
    ):
        # importing a submission file (syntax error, missing file, bad import, forbidden word)
        # or problem.py itself
        return "checking"
    if not started:
        return "checking"  # problem.py, data or CV failed before the first fold
    step = _STATE_STEP.get(state, "training")
    if state == "tested" and tb is not None:
        # which Predictions failed: y_pred_train (validation) or y_pred_test?
        for file, _, func, code in reversed(tb.frames):
            if func == "run_submission_on_cv_fold" and file.endswith("submission.py"):
                if "test" in code:
                    step = "testing"
                break
    return step


def _summary_of(tb: _Traceback | None, lines: list[str]) -> str | None:
    if tb is not None and tb.exception:
        summary = tb.exception
        name = summary.split(":", 1)[0].rsplit(".", 1)[-1]
        if name in ("SyntaxError", "IndentationError", "TabError") and tb.frames:
            file, line, _, _ = tb.frames[-1]
            summary += f" ({Path(file).name}, line {line})"
    else:
        summary = next((line.strip() for line in reversed(lines) if line.strip()), None)
    if summary is None:
        return None
    if _is_score_row(summary):
        return None
    return summary if len(summary) <= 500 else summary[:497] + "..."


def analyse_failure(
    lines: list[str],
    *,
    output_dir: Path,
    returncode: int,
    timed_out: bool,
    cpu_exceeded: bool,
    limits: RunLimits,
) -> _Analysis:
    """Tell whether (and where) a run failed, from its cleaned output and its training output."""
    finished = (output_dir / "bagged_scores.csv").is_file()
    if returncode == 0 and not timed_out and finished:
        return _Analysis(None, None, False, False)
    tb = last_traceback(lines)
    step = _step(output_dir, tb)
    memory = bool(tb and tb.exception and _MEMORY.search(tb.exception))
    if not memory and returncode != 0:
        memory = any(_MEMORY.search(line) for line in lines[-50:])
    if timed_out:
        summary = f"Timeout: the run was stopped after {limits.timeout_s:g} s"
    elif cpu_exceeded:
        summary = f"CPU time limit exceeded: the run was stopped after {limits.cpu_s} s of CPU"
    elif returncode < 0 and tb is None:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        summary = f"The run was killed by {name}"
        if memory:
            summary += " (out of memory)"
    elif returncode == 0:
        summary = "ramp-test ended without writing its scores (did the submission exit early?)"
    else:
        summary = _summary_of(tb, lines)
    return _Analysis(step, summary, memory, cpu_exceeded)


# --------------------------------------------------------------------------------------------
# reading the training output
# --------------------------------------------------------------------------------------------


def _float(value: str, where: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise OutputError(f"{where}: {value!r} is not a number") from None


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise OutputError(f"{path} is missing")
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise OutputError(f"{path} cannot be read: {exc}") from exc
    if not rows:
        raise OutputError(f"{path} has no rows")
    return rows


def _scores_of(row: dict[str, str], score_names: list[str], where: str) -> dict[str, float]:
    missing = [name for name in score_names if name not in row or row[name] in (None, "")]
    if missing:
        raise OutputError(f"{where}: no value for {', '.join(map(repr, missing))}")
    return {name: _float(row[name], f"{where}, {name}") for name in score_names}


def _read_time(path: Path) -> float | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    try:
        return float(text)
    except ValueError:
        raise OutputError(f"{path}: {text[:40]!r} is not a number") from None


def parse_training_output(output_dir: Path, score_names: list[str]) -> TrainingOutput:
    """Read the scores that ``ramp-test --save-output`` wrote into ``output_dir``.

    ``score_names`` are the kit's score names (``KitInfo.score_types``), all of which must be
    present. Fold scores come from ``fold_<i>/scores.csv`` and ``fold_<i>/*_time``, the bagged
    ones from the rows of ``bagged_scores.csv`` with the largest ``n_bag``. Raises
    :class:`OutputError` when something is missing or corrupt.
    """
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        raise OutputError(f"training output folder {output_dir} is missing")
    if not score_names:
        raise OutputError("no score names given")
    folds_found = _fold_dirs(output_dir)
    if not folds_found:
        raise OutputError(f"{output_dir} holds no fold_<i> folder")
    indexes = [i for i, _ in folds_found]
    if indexes != list(range(len(indexes))):
        raise OutputError(f"{output_dir}: fold folders are not numbered 0..n-1: {indexes}")

    folds = []
    for index, fold_dir in folds_found:
        rows = _read_csv(fold_dir / "scores.csv")
        by_step = {}
        for row in rows:
            step = row.get("step")
            if step not in STEPS:
                raise OutputError(f"{fold_dir / 'scores.csv'}: unexpected row {step!r}")
            by_step[step] = row
        for step in ("train", "valid"):
            if step not in by_step:
                raise OutputError(f"{fold_dir / 'scores.csv'}: no {step!r} row")
        scores = {
            step: _scores_of(row, score_names, f"{fold_dir / 'scores.csv'}, {step}")
            for step, row in by_step.items()
        }
        times = {}
        for step in STEPS:
            value = _read_time(fold_dir / f"{step}_time")
            if value is None and by_step.get(step, {}).get("time"):
                value = _float(by_step[step]["time"], f"{fold_dir / 'scores.csv'}, time")
            times[step] = value
        for step in ("train", "valid"):
            if times[step] is None:
                raise OutputError(f"{fold_dir}: no {step}_time")
        predictions = {
            path.name[len("y_pred_") :].split(".", 1)[0]: path
            for path in sorted(fold_dir.glob("y_pred_*"))
            if path.is_file()
        }
        folds.append(
            FoldResult(
                index=index,
                scores={step: scores[step] for step in STEPS if step in scores},
                train_time=times["train"],
                valid_time=times["valid"],
                test_time=times["test"],
                predictions=predictions,
            )
        )

    bagged_rows = _read_csv(output_dir / "bagged_scores.csv")
    best: dict[str, tuple[int, dict[str, str]]] = {}
    for row in bagged_rows:
        step = row.get("step")
        if step not in ("valid", "test"):
            raise OutputError(f"{output_dir / 'bagged_scores.csv'}: unexpected step {step!r}")
        n_bag = _float(row.get("n_bag", ""), f"{output_dir / 'bagged_scores.csv'}, n_bag")
        if not math.isfinite(n_bag):
            raise OutputError(f"{output_dir / 'bagged_scores.csv'}: bad n_bag {n_bag}")
        if step not in best or n_bag > best[step][0]:
            best[step] = (int(n_bag), row)
    if "valid" not in best:
        raise OutputError(f"{output_dir / 'bagged_scores.csv'}: no 'valid' rows")
    bagged = {
        step: _scores_of(row, score_names, f"{output_dir / 'bagged_scores.csv'}, {step}")
        for step, (_, row) in sorted(best.items(), key=lambda kv: kv[0] != "valid")
    }
    return TrainingOutput(folds=folds, bagged=bagged, output_dir=output_dir)
