"""The example RAMP kits: made from the package templates with generated data, and run through
the real ``ramp-test`` command (no database needed)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from databoard.kits import KITS, KitInfo, make_kit, make_kits

RAMP_TEST = str(Path(sys.executable).parent / "ramp-test")
KIT_NAMES = sorted(KITS)


def _ramp_test(kit: Path, submission: str) -> subprocess.CompletedProcess:
    # rampwf resolves --ramp-submission-dir (default "submissions") against the working
    # directory, not against --ramp-kit-dir: run from the kit folder.
    env = {**os.environ, "TERM": "dumb"}
    return subprocess.run(
        [
            RAMP_TEST,
            "--submission",
            submission,
            "--ramp-kit-dir",
            str(kit),
            "--ramp-data-dir",
            str(kit),
            "--save-output",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=kit,
        timeout=120,
    )


def _load_problem(kit: Path):
    spec = importlib.util.spec_from_file_location(f"problem_{kit.name}", kit / "problem.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_registry():
    assert set(KITS) >= {"iris", "diabetes", "wine"}
    for name, info in KITS.items():
        assert isinstance(info, KitInfo)
        assert info.name == name
        assert info.title and info.summary and "\n" not in info.summary
        with pytest.raises(AttributeError):
            info.title = "changed"  # frozen


@pytest.mark.parametrize("name", KIT_NAMES)
def test_kit_layout_and_problem(tmp_path, name):
    info = KITS[name]
    kit = make_kit(name, tmp_path)
    assert kit == tmp_path / name
    for relative in ("problem.py", "README.md", "data/train.csv", "data/test.csv"):
        assert (kit / relative).is_file(), relative
    for submission in info.submissions:
        for element in info.elements:
            assert (kit / "submissions" / submission / f"{element}.py").is_file()
    assert not list(kit.rglob("__pycache__")) and not list(kit.rglob("training_output"))

    problem = _load_problem(kit)
    assert problem.problem_title == info.title
    assert list(problem.workflow.element_names) == list(info.elements)
    for score_type in problem.score_types:
        assert isinstance(score_type.precision, int)
    X_train, y_train = problem.get_train_data(str(kit))
    X_test, y_test = problem.get_test_data(str(kit))
    assert len(X_train) == len(y_train) > len(X_test) == len(y_test) > 0
    folds = list(problem.get_cv(X_train, y_train))
    assert len(folds) == 3


@pytest.mark.parametrize("name", KIT_NAMES)
def test_data_are_deterministic(tmp_path, name):
    first = make_kit(name, tmp_path / "a")
    second = make_kit(name, tmp_path / "b")
    assert _files(first) == _files(second)
    train = pd.read_csv(first / "data" / "train.csv")
    test = pd.read_csv(first / "data" / "test.csv")
    assert list(train.columns) == list(test.columns)
    assert not train.isna().any().any()


def test_errors(tmp_path):
    with pytest.raises(ValueError, match="known kits are: .*iris"):
        make_kit("no-such-kit", tmp_path)
    with pytest.raises(ValueError, match="no-such-kit"):
        make_kits(tmp_path, ["iris", "no-such-kit"])
    assert not (tmp_path / "iris").exists()  # nothing written when a name is unknown

    make_kit("iris", tmp_path)
    marker = tmp_path / "iris" / "problem.py"
    before = marker.read_bytes()
    with pytest.raises(FileExistsError, match="already exists"):
        make_kit("iris", tmp_path)
    with pytest.raises(FileExistsError):
        make_kits(tmp_path, ["diabetes", "iris"])
    assert marker.read_bytes() == before
    assert not (tmp_path / "diabetes").exists()


def test_make_kits(tmp_path):
    paths = make_kits(tmp_path / "new" / "folder")
    assert paths == [tmp_path / "new" / "folder" / name for name in KITS]
    assert all((path / "problem.py").is_file() for path in paths)
    assert make_kits(tmp_path / "other", ["wine"]) == [tmp_path / "other" / "wine"]


def _official_bagged(kit: Path, submission: str, problem, step: str) -> float:
    """The official (first) score of the predictions bagged over all folds, on ``step``."""
    output = kit / "submissions" / submission / "training_output"
    scores = pd.read_csv(output / "bagged_scores.csv")
    official = problem.score_types[0].name
    rows = scores[scores["step"] == step]
    return float(rows.loc[rows["n_bag"].idxmax(), official])


@pytest.mark.parametrize("name", KIT_NAMES)
def test_ramp_test_runs_the_submissions(tmp_path, name):
    kit = make_kit(name, tmp_path)
    problem = _load_problem(kit)

    for submission in ("starting_kit", "better"):
        result = _ramp_test(kit, submission)
        assert result.returncode == 0, result.stdout + result.stderr
        output = kit / "submissions" / submission / "training_output"
        assert (output / "bagged_scores.csv").is_file()

    lower_is_better = problem.score_types[0].is_lower_the_better
    for step in ("valid", "test"):
        start = _official_bagged(kit, "starting_kit", problem, step)
        better = _official_bagged(kit, "better", problem, step)
        if lower_is_better:
            assert better < start, (step, start, better)
        else:
            assert better > start, (step, start, better)

    result = _ramp_test(kit, "failing")
    assert result.returncode != 0
    assert "fails on purpose" in result.stdout + result.stderr
