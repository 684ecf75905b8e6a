"""databoard.engine.kitinfo: describing a kit from a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from databoard.engine.kitinfo import RESULT_MARKER, KitError, KitInfo, inspect_kit, parse_child_output
from tests.engine.kits import N_TEST, N_TRAIN, PROBLEM_PY, make_iris_kit, write_iris_data


def test_inspect_kit_describes_the_iris_kit(iris_kit):
    info = inspect_kit(iris_kit)

    assert isinstance(info, KitInfo)
    assert info.title == "Iris classification"
    assert info.prediction_type == "multiclass"
    assert info.workflow == "Classifier"
    assert info.elements == ["classifier"]
    assert [st.name for st in info.score_types] == ["acc", "nll"]
    acc, nll = info.score_types
    assert (acc.precision, acc.lower_is_better, acc.minimum, acc.maximum) == (3, False, 0.0, 1.0)
    assert (nll.lower_is_better, nll.minimum, nll.maximum) == (True, 0.0, None)  # inf: unbounded
    assert info.official_score == acc
    assert info.n_folds == 2
    assert (info.n_train, info.n_test) == (N_TRAIN, N_TEST)
    assert info.label_names == [0, 1, 2]
    assert KitInfo.from_dict(json.loads(json.dumps(info.to_dict()))) == info
    assert "problem" not in sys.modules  # never imported here


def test_data_dir_elsewhere_and_junk_on_stdout(tmp_path):
    """problem.py printing to stdout (Python and C level) and data outside the kit."""
    junk = (
        "import os, sys\n"
        "print('{\"ok\": false, \"errors\": [\"fake\"]}')\n"
        "sys.stdout.write('junk without newline')\n"
        "os.write(1, b'raw junk on fd 1\\n')\n"
    )
    problem = junk + PROBLEM_PY.replace(
        "def get_train_data(path=\".\"):\n",
        "def get_train_data(path=\".\"):\n    print('loading', path)\n",
    )
    kit = make_iris_kit(tmp_path / "kit", problem, with_data=False)
    data = tmp_path / "elsewhere"
    write_iris_data(data)

    info = inspect_kit(kit, data_dir=data)

    assert (info.n_train, info.n_test, info.n_folds) == (N_TRAIN, N_TEST, 2)


def test_cli_reports_every_missing_piece(tmp_path):
    problem = PROBLEM_PY.replace("score_types = [", "_unused = [").replace("def get_cv", "def _cv")
    kit = make_iris_kit(tmp_path / "kit", problem)

    proc = subprocess.run(
        [sys.executable, "-m", "databoard.engine.kitinfo", str(kit)],
        capture_output=True, cwd=kit, timeout=60, check=False,
    )

    assert proc.returncode == 1
    lines = proc.stdout.decode().strip().splitlines()
    assert lines[-2] == RESULT_MARKER
    result = json.loads(lines[-1])
    assert result["ok"] is False
    assert "problem.py does not define score_types" in result["errors"]
    assert "problem.py does not define get_cv()" in result["errors"]
    with pytest.raises(KitError) as caught:
        inspect_kit(kit)
    assert caught.value.errors == result["errors"]


def test_no_problem_py(tmp_path):
    (tmp_path / "kit").mkdir()
    with pytest.raises(KitError, match="problem.py is missing"):
        inspect_kit(tmp_path / "kit")
    with pytest.raises(KitError, match="does not exist"):
        inspect_kit(tmp_path / "nowhere")


def test_syntax_error_gives_the_line(tmp_path):
    kit = tmp_path / "kit"
    kit.mkdir()
    (kit / "problem.py").write_text("import os\n\ndef get_cv(X, y)\n    return []\n")
    with pytest.raises(KitError) as caught:
        inspect_kit(kit)
    [message] = caught.value.errors
    assert "problem.py, line 3" in message
    assert "SyntaxError" in message


def test_import_error_gives_the_line(tmp_path):
    kit = make_iris_kit(tmp_path / "kit", "import os\nimport not_a_module_xyz\n", with_data=False)
    with pytest.raises(KitError) as caught:
        inspect_kit(kit)
    [message] = caught.value.errors
    assert "ModuleNotFoundError" in message and "not_a_module_xyz" in message
    assert "problem.py, line 2" in message


def test_empty_score_types_and_failing_data(tmp_path):
    problem = PROBLEM_PY.replace(
        "score_types = [", "score_types = []\n_unused = ["
    ).replace(
        "def get_test_data(path=\".\"):\n",
        "def get_test_data(path=\".\"):\n    raise RuntimeError('test labels are locked away')\n",
    )
    kit = make_iris_kit(tmp_path / "kit", problem)
    with pytest.raises(KitError) as caught:
        inspect_kit(kit)
    errors = caught.value.errors
    assert any("score_types is empty" in e for e in errors)
    assert any(
        "get_test_data" in e and "RuntimeError: test labels are locked away" in e and "line" in e
        for e in errors
    ), errors


def test_missing_data_files(tmp_path):
    kit = make_iris_kit(tmp_path / "kit", with_data=False)
    with pytest.raises(KitError) as caught:
        inspect_kit(kit)
    assert any("get_train_data" in e and "FileNotFoundError" in e for e in caught.value.errors)
    assert any("get_test_data" in e and "FileNotFoundError" in e for e in caught.value.errors)


def test_problem_py_that_never_ends_times_out(tmp_path):
    kit = tmp_path / "kit"
    kit.mkdir()
    (kit / "problem.py").write_text("while True:\n    pass\n")
    start = time.monotonic()
    with pytest.raises(KitError, match="longer than 2 s"):
        inspect_kit(kit, timeout=2)
    assert time.monotonic() - start < 10


def test_parse_child_output_takes_the_line_after_the_last_marker():
    out = f"junk\n{RESULT_MARKER}\nnot json\n{RESULT_MARKER}\n{{\"ok\": true}}\n".encode()
    assert parse_child_output(out) == {"ok": True}
    assert parse_child_output(b"{\"ok\": true}\n") is None
    assert parse_child_output(f"{RESULT_MARKER}\n[1]\n".encode()) is None
