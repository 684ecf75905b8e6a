"""databoard.engine.runner: real ramp-test runs on the iris kit."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from databoard.engine.runner import (
    REDACTED_LINE,
    RunLimits,
    parse_training_output,
    prepare_workdir,
    run_ramp_test,
)
from tests.engine.kits import STARTING_KIT, classifier

SCORES = ["acc", "nll"]
LIMITS = RunLimits(timeout_s=120)


def run(kit: Path, tmp_path: Path, files: dict[str, bytes], limits: RunLimits = LIMITS, **kw):
    work = tmp_path / "work"
    prepare_workdir(work, files, "sub")
    return run_ramp_test(kit, kit, work, "sub", limits, **kw)


def read_bagged_csv(path: Path) -> dict[str, dict[str, float]]:
    """The rows of bagged_scores.csv with the largest n_bag, read independently."""
    best: dict[str, tuple[int, dict[str, float]]] = {}
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            n_bag = int(row["n_bag"])
            if row["step"] not in best or n_bag > best[row["step"]][0]:
                best[row["step"]] = (n_bag, {name: float(row[name]) for name in SCORES})
    return {step: scores for step, (_, scores) in best.items()}


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


@pytest.fixture(scope="module")
def ok_run(iris_kit, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ok")
    return run(iris_kit, tmp, {"classifier.py": STARTING_KIT.encode()})


def test_ok_run_and_parse(ok_run, iris_kit, tmp_path):
    result = ok_run
    assert result.ok and result.returncode == 0, result.output_tail
    assert (result.error_step, result.error_summary, result.timed_out) == (None, None, False)
    assert not result.memory_exceeded
    assert result.output_dir.name == "training_output"
    assert "--save-output" in result.command and "--ignore-warning" in result.command

    output = parse_training_output(result.output_dir, SCORES)
    assert output.n_folds == 2
    for i, fold in enumerate(output.folds):
        assert fold.index == i
        assert set(fold.scores) == {"train", "valid", "test"}
        assert set(fold.scores["valid"]) == set(SCORES)
        assert fold.train_time > 0 and fold.valid_time > 0 and fold.test_time > 0
        assert set(fold.predictions) == {"train", "test"}
        assert all(p.is_file() for p in fold.predictions.values())
    assert output.bagged == read_bagged_csv(result.output_dir / "bagged_scores.csv")
    assert 0.8 < output.bagged["valid"]["acc"] <= 1.0

    # the same submission, run by hand with the bare ramp-test in a copy of the kit
    bare = shutil.copytree(iris_kit, tmp_path / "bare")
    subprocess.run(
        [str(Path(sys.executable).parent / "ramp-test"), "--submission", "starting_kit",
         "--save-output"],
        cwd=bare, check=True, capture_output=True, timeout=120,
    )
    bare_output = bare / "submissions" / "starting_kit" / "training_output"
    assert read_bagged_csv(bare_output / "bagged_scores.csv") == output.bagged
    assert parse_training_output(bare_output, SCORES).bagged == output.bagged
    assert [f.scores for f in parse_training_output(bare_output, SCORES).folds] == [
        f.scores for f in output.folds
    ]


def test_test_scores_never_reach_the_tail(ok_run):
    log = ok_run.log_path.read_text()
    test_rows = [line for line in log.splitlines() if line.strip().startswith("test ")]
    assert len(test_rows) >= 4  # 2 folds, mean, bagged: the log does hold them
    values = {t for row in test_rows for t in row.split()[1:] if re.fullmatch(r"[\d.]+", t)}
    bagged_test = parse_training_output(ok_run.output_dir, SCORES).bagged["test"]
    values |= {repr(v) for v in bagged_test.values()} | {f"{v:.3f}" for v in bagged_test.values()}
    values = {v for v in values if len(v) >= 3}
    assert values

    tail = ok_run.output_tail
    for value in values:
        assert value not in tail, value
    assert not any(line.split()[:1] in (["test"], ["valid"], ["train"]) for line in tail.splitlines())
    assert tail.count(REDACTED_LINE) == 4  # fold 0, fold 1, mean, bagged
    assert "Bagged scores" in tail
    assert str(ok_run.output_dir.parent.parent) not in tail  # no server paths


def test_fit_raising_is_a_training_error(iris_kit, tmp_path):
    result = run(iris_kit, tmp_path, {"classifier.py": classifier(fit="raise ValueError('this fails')")})
    assert result.returncode == 1 and not result.ok
    assert result.error_step == "training"
    assert result.error_summary == "ValueError: this fails"
    assert "ValueError: this fails" in result.output_tail
    assert not result.memory_exceeded and not result.timed_out


def test_syntax_error_is_a_checking_error(iris_kit, tmp_path):
    result = run(iris_kit, tmp_path, {"classifier.py": b"class Classifier(\n    pass\n"})
    assert result.error_step == "checking"
    assert result.error_summary.startswith("SyntaxError")
    assert "(classifier.py, line 1)" in result.error_summary


def test_missing_element_is_a_checking_error(iris_kit, tmp_path):
    result = run(iris_kit, tmp_path, {"notes.txt": b"nothing here"})
    assert result.error_step == "checking"
    assert result.error_summary.startswith("FileNotFoundError")
    assert "classifier.py" in result.error_summary


def test_predict_raising_is_a_validating_error_and_secrets_stay_out(iris_kit, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABOARD_ENGINE_TEST_SECRET", "s3cr3t")
    predict = "raise RuntimeError(f\"predict broken {os.environ.get('DATABOARD_ENGINE_TEST_SECRET')}\")"
    result = run(iris_kit, tmp_path, {"classifier.py": classifier(predict=predict)})
    assert result.error_step == "validating"
    assert result.error_summary == "RuntimeError: predict broken None"


def test_predict_raising_on_the_test_set_is_a_testing_error(iris_kit, tmp_path):
    # validation predicts on the whole training set (120 rows), testing on the test set (30)
    predict = """\
        if len(X) < 50:
            raise RuntimeError('no test for you')
        return np.full((len(X), 3), 1 / 3)
    """
    result = run(iris_kit, tmp_path, {"classifier.py": classifier(predict=predict)})
    assert result.error_step == "testing"
    assert result.error_summary == "RuntimeError: no test for you"


def test_wrong_prediction_shape_is_a_validating_error(iris_kit, tmp_path):
    result = run(iris_kit, tmp_path,
                 {"classifier.py": classifier(predict="return np.zeros((len(X), 2))")})
    assert result.error_step == "validating"
    assert result.error_summary.startswith("ValueError: Wrong y_pred dimensions")


def test_exiting_early_is_an_error(iris_kit, tmp_path):
    result = run(iris_kit, tmp_path, {"classifier.py": classifier(fit="sys.exit(0)")})
    assert result.returncode == 0
    assert not result.ok and result.error_step == "training"
    assert "without writing its scores" in result.error_summary


def test_timeout_kills_the_process_group(iris_kit, tmp_path):
    fit = """\
        child = os.fork()
        if child == 0:
            while True:
                time.sleep(1)
        print(f"PIDS {os.getpid()} {child}", flush=True)
        while True:
            pass
    """
    start = time.monotonic()
    result = run(iris_kit, tmp_path, {"classifier.py": classifier(fit=fit)}, RunLimits(timeout_s=10))
    assert time.monotonic() - start < 20
    assert result.timed_out and result.returncode < 0
    assert result.error_step == "training"
    assert result.error_summary.startswith("Timeout")
    match = re.search(r"^PIDS (\d+) (\d+)$", result.log_path.read_text(), re.M)
    assert match, result.output_tail
    time.sleep(0.2)
    assert not alive(int(match[1])) and not alive(int(match[2]))


def test_memory_hog_hits_the_memory_limit(iris_kit, tmp_path):
    fit = "self.blocks = [bytearray(50 * 1024 * 1024) for _ in range(400)]"
    result = run(
        iris_kit, tmp_path, {"classifier.py": classifier(fit=fit)},
        RunLimits(timeout_s=60, memory_mb=800),
        env={"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
    )
    assert result.memory_exceeded
    assert result.error_step == "training"  # the imports passed, fit failed
    assert result.error_summary == "MemoryError"


def test_cpu_limit(iris_kit, tmp_path):
    result = run(iris_kit, tmp_path, {"classifier.py": classifier(fit="while True:\n    pass")},
                 RunLimits(timeout_s=60, cpu_s=3))
    assert result.cpu_exceeded and not result.timed_out
    assert result.error_step == "training"
    assert result.error_summary.startswith("CPU time limit exceeded")
