"""Submissions that exhaust a resource: 10× the memory limit, an endless loop, 1 GB of output, a 10 GB file.
Each run goes through :func:`databoard.engine.worker.execute`, as a worker runs it (in the sandbox where bwrap
works), and ends in error with a plain reason, quickly, leaving nothing behind; progress is reported while it
runs, and a cancel kills it."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from databoard.engine.runner import RunLimits
from databoard.engine.sandbox import sandbox_problem
from databoard.engine.worker import RunSpec, execute
from tests.engine.kits import STARTING_KIT, classifier

SANDBOX = sandbox_problem() is None
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@pytest.fixture(autouse=True)
def one_blas_thread(monkeypatch):
    for name, value in ONE_THREAD.items():  # fewer threads map less memory: the 1 GB limit leaves room
        monkeypatch.setenv(name, value)


def spec(kit: Path, tmp_path: Path, code: str | bytes, **limits) -> RunSpec:
    values = {"timeout_s": 60, "memory_mb": 1024, **limits}
    return RunSpec(submission_id=1, kit_dir=str(kit), data_dir=str(kit), files={"classifier.py": code.encode() if isinstance(code, str) else code},
                   limits=RunLimits(**values), score_names=["acc", "nll"], n_folds=2, sandbox=SANDBOX,
                   hidden=[], work_root=str(tmp_path / "work"))


def left_in(tmp_path: Path) -> list[str]:
    return [p.name for p in (tmp_path / "work").iterdir()]


def test_allocating_ten_times_the_memory_limit_is_a_memory_error(iris_kit, tmp_path):
    code = classifier(fit="self.hog = bytearray(10 * 1024 * 1024 * 1024)")
    outcome = execute(spec(iris_kit, tmp_path, code))
    assert not outcome.ok and outcome.error_step == "training"
    assert outcome.summary == "Memory limit of 1 GB exceeded."
    assert left_in(tmp_path) == []


def test_an_endless_loop_ends_at_the_time_limit(iris_kit, tmp_path):
    started = time.monotonic()
    outcome = execute(spec(iris_kit, tmp_path, classifier(fit="while True:\n    pass"), timeout_s=6))
    assert time.monotonic() - started < 20
    assert not outcome.ok and outcome.summary == "Time limit of 6 s exceeded."
    assert outcome.exit_code < 0


def test_an_endless_loop_under_a_cpu_limit_ends_at_that_limit(iris_kit, tmp_path):
    outcome = execute(spec(iris_kit, tmp_path, classifier(fit="while True:\n    pass"), timeout_s=60, cpu_s=4))
    assert not outcome.ok and outcome.summary == "CPU time limit of 4 s exceeded."


def test_printing_a_gigabyte_stops_at_the_output_limit(iris_kit, tmp_path):
    code = classifier(fit="line = 'x' * (1 << 20)\nfor _ in range(1024):\n    print(line)")
    started = time.monotonic()
    outcome = execute(spec(iris_kit, tmp_path, code, max_log_bytes=5 * 1024 * 1024))
    assert time.monotonic() - started < 30
    assert not outcome.ok and outcome.error_step == "training"
    assert outcome.summary.startswith("Output limit of 5 MB exceeded")
    assert len(outcome.output) < 100_000  # the tail kept for the team is small whatever was printed
    assert left_in(tmp_path) == []


def test_writing_a_ten_gigabyte_file_stops_at_the_file_size_limit(iris_kit, tmp_path):
    code = classifier(fit="import pathlib\nfh = pathlib.Path('big.bin').open('wb')\nblock = b'0' * (1 << 24)\n"
                          "for _ in range(640):\n    fh.write(block)")
    outcome = execute(spec(iris_kit, tmp_path, code, max_file_mb=64))
    assert not outcome.ok and outcome.error_step == "training"
    assert outcome.summary.startswith("File size limit of 64 MB exceeded")
    assert "File too large" in outcome.summary
    assert left_in(tmp_path) == []


SLOW_FIT = "time.sleep(1.5)"


def test_progress_reports_the_folds_and_a_tail_without_scores(iris_kit, tmp_path):
    seen = []
    outcome = execute(spec(iris_kit, tmp_path, classifier(fit=SLOW_FIT)), report=seen.append)
    assert outcome.ok, outcome.summary
    folds = {p.fold for p in seen if p.phase == "training"}
    assert folds == {1, 2}
    assert all(p.n_folds == 2 for p in seen)
    assert [p.elapsed_s for p in seen] == sorted(p.elapsed_s for p in seen)
    last = seen[-1]
    assert "CV fold 1" in last.tail
    assert "[score table hidden]" in last.tail
    assert "valid" not in last.tail.replace("[score table hidden]", "")  # no score row reached the team
    assert str(tmp_path) not in last.tail  # server paths are shortened


def test_a_cancel_kills_the_run_and_its_children(iris_kit, tmp_path):
    code = classifier(fit="import os, time\nprint('CHILD', os.fork(), flush=True)\nwhile True:\n    time.sleep(1)")
    cancel = threading.Event()
    timer = threading.Timer(4, cancel.set)
    timer.start()
    started = time.monotonic()
    try:
        outcome = execute(spec(iris_kit, tmp_path, code), cancel=cancel)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 15
    assert outcome.cancelled and outcome.summary == "The run was cancelled."
    assert left_in(tmp_path) == []


def test_a_normal_run_after_the_hostile_ones_works(iris_kit, tmp_path):
    outcome = execute(spec(iris_kit, tmp_path, STARTING_KIT))
    assert outcome.ok and len(outcome.folds) == 2 and outcome.bagged["valid"]["acc"] > 0.8
    assert set(outcome.predictions[0]) == {"train", "test"}
    assert os.path.isdir(tmp_path / "work") and left_in(tmp_path) == []
