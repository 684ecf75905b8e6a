"""One run of a submission, without the database: what it needs (:class:`RunSpec`), what it gave
(:class:`RunOutcome`) and :func:`execute`. No Django here: Dask workers import this module (with
:mod:`databoard.engine.runner` and :mod:`databoard.engine.sandbox`) and nothing else of databoard's.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from databoard.engine.runner import (
    OutputError,
    RunLimits,
    parse_training_output,
    prepare_workdir,
    read_progress,
    run_ramp_test,
)
from databoard.storage.store import human_size

SUBMISSION_DIR = "submission"

# The failing steps of a submission (Submission.Step's values).
CHECKING, TRAINING, VALIDATING, TESTING = "checking", "training", "validating", "testing"


def _failure_summary(result, limits: RunLimits) -> str:
    if result.timed_out:
        return f"Time limit of {limits.timeout_s:g} s exceeded."
    if result.memory_exceeded and limits.memory_mb:
        return f"Memory limit of {human_size(limits.memory_mb * 1024 * 1024)} exceeded."
    if result.cpu_exceeded:
        return f"CPU time limit of {limits.cpu_s} s exceeded."
    return result.error_summary or f"ramp-test stopped with exit code {result.returncode}."





@dataclass(frozen=True)
class RunSpec:
    """All a run needs, without the database: built by the worker, run here or on a Dask worker."""

    submission_id: int
    kit_dir: str
    data_dir: str
    files: dict[str, bytes]
    limits: RunLimits
    score_names: list[str]
    n_folds: int
    sandbox: bool
    hidden: list[str]
    work_root: str


@dataclass(frozen=True)
class RunOutcome:
    """What a run gave: scores, or the failing step and a plain reason. Picklable (it comes back from Dask)."""

    ok: bool
    duration_s: float
    folds: list[dict] = field(default_factory=list)
    bagged: dict = field(default_factory=dict)
    predictions: dict[int, dict[str, bytes]] = field(default_factory=dict)
    error_step: str = ""
    summary: str = ""
    output: str = ""
    exit_code: int | None = None
    cancelled: bool = False


def execute(spec: RunSpec, *, report=None, cancel: threading.Event | None = None) -> RunOutcome:
    """Run ``ramp-test`` on the submission of ``spec`` in a fresh folder (removed afterwards).

    ``report(progress)`` receives a :class:`~databoard.engine.runner.Progress` about every second;
    setting ``cancel`` kills the run's process tree. Never raises for a failing submission.
    """
    Path(spec.work_root).mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"submission-{spec.submission_id}-", dir=spec.work_root)).resolve()
    started = time.monotonic()
    try:
        try:
            prepare_workdir(work, spec.files, submission=SUBMISSION_DIR)
        except (ValueError, OSError) as exc:
            return RunOutcome(ok=False, duration_s=time.monotonic() - started, error_step=CHECKING,
                              summary=f"The submission could not be prepared: {exc}")
        on_tick = None
        if report is not None:
            log = work / f"ramp-test-{SUBMISSION_DIR}.log"

            def on_tick(elapsed: float) -> None:
                report(read_progress(log, kit_dir=Path(spec.kit_dir), data_dir=Path(spec.data_dir), work_dir=work,
                                     elapsed_s=elapsed, n_folds=spec.n_folds))

        result = run_ramp_test(Path(spec.kit_dir), Path(spec.data_dir), work, SUBMISSION_DIR, spec.limits,
                               sandbox=spec.sandbox, hidden=[Path(p) for p in spec.hidden], on_tick=on_tick,
                               cancel=cancel)
        if not result.ok:
            return RunOutcome(ok=False, duration_s=result.duration_s,
                              error_step=result.error_step or TRAINING,
                              summary=_failure_summary(result, spec.limits), output=result.output_tail,
                              exit_code=result.returncode, cancelled=result.cancelled)
        try:
            output = parse_training_output(result.output_dir, spec.score_names)
        except OutputError as exc:
            return RunOutcome(ok=False, duration_s=result.duration_s, error_step=TESTING,
                              summary=str(exc), output=result.output_tail, exit_code=result.returncode)
        folds = [{"fold": f.index, "scores": f.scores, "train_time": f.train_time, "valid_time": f.valid_time,
                  "test_time": f.test_time} for f in output.folds]
        predictions = {f.index: {step: path.read_bytes() for step, path in f.predictions.items() if path is not None}
                       for f in output.folds}
        return RunOutcome(ok=True, duration_s=result.duration_s, folds=folds, bagged=output.bagged,
                          predictions=predictions, exit_code=0)
    finally:
        shutil.rmtree(work, ignore_errors=True)
