"""databoard.engine.runner pieces that need no ramp-test run."""

from __future__ import annotations

from pathlib import Path

import pytest

from databoard.engine.runner import (
    REDACTED_LINE,
    OutputError,
    _read_tail,
    clean_lines,
    last_traceback,
    parse_training_output,
    prepare_workdir,
    redact_scores,
)

SCORES = ["acc", "nll"]


# prepare_workdir ----------------------------------------------------------------------------


def test_prepare_workdir_writes_the_files(tmp_path):
    sub = prepare_workdir(tmp_path, {"classifier.py": b"x = 1\n", "feature_extractor.py": b""}, "s1")
    assert sub == tmp_path / "submissions" / "s1"
    assert (sub / "classifier.py").read_bytes() == b"x = 1\n"
    assert sorted(p.name for p in sub.iterdir()) == ["classifier.py", "feature_extractor.py"]
    # again: the folder is replaced
    prepare_workdir(tmp_path, {"other.py": b""}, "s1")
    assert [p.name for p in sub.iterdir()] == ["other.py"]
    assert prepare_workdir(tmp_path, {}) == tmp_path / "submissions" / "submission"


@pytest.mark.parametrize(
    "name",
    ["", " ", "../evil.py", "..", ".", "a/b.py", "/etc/passwd", "a\\b.py", "nul\x00.py",
     "new\nline.py", "x" * 300],
)
def test_prepare_workdir_refuses_bad_file_names(tmp_path, name):
    with pytest.raises(ValueError):
        prepare_workdir(tmp_path, {"classifier.py": b"", name: b""})
    assert not (tmp_path / "submissions").exists()  # nothing written


@pytest.mark.parametrize("name", ["", "..", "a/b", "/abs", "__pycache__"])
def test_prepare_workdir_refuses_bad_submission_names(tmp_path, name):
    with pytest.raises(ValueError):
        prepare_workdir(tmp_path, {"classifier.py": b""}, name)


def test_prepare_workdir_refuses_non_bytes(tmp_path):
    with pytest.raises(ValueError, match="bytes"):
        prepare_workdir(tmp_path, {"classifier.py": "text"})


# redaction and output analysis ---------------------------------------------------------------

TABLES = """\
CV fold 0
\t\x1b[38;5;178m\x1b[1mscore   acc   nll      time\x1b[0m
\t\x1b[38;5;10m\x1b[1mtrain\x1b[0m  0.95  0.15  0.782341
\tvalid  0.96  0.17  0.000346
\ttest   0.9137  0.1234  0.000230
my own print: test set loaded
----------------------------
Mean CV scores
----------------------------
\tscore            acc            nll         time
\ttrain  0.95 +- 0.005    0.15 +- 0.0  0.4 +- 0.36
\tvalid  0.94 +- 0.021  0.16 +- 0.006   0.0 +- 0.0
\ttest    0.9137\u00a0±\u00a00.0  0.1234 +- 0.002   0.0 +- 0.0
Bagged scores
\tscore  score number 0  ...  score number 29
\tstep                   ...
\tvalid           0.660  ...  0.968
\ttest            0.9137  ...  nan
done 100%\r\x1b[2Kreally done
"""


def test_redact_scores_hides_every_table_row():
    lines = redact_scores(clean_lines(TABLES))
    text = "\n".join(lines)
    assert "0.9137" not in text and "0.1234" not in text and "0.968" not in text
    assert text.count(REDACTED_LINE) == 3
    assert "my own print: test set loaded" in lines  # no number: kept
    assert "CV fold 0" in lines and "Mean CV scores" in lines
    assert lines[-1] == "really done"
    assert "\x1b" not in text


def test_last_traceback_and_summary_lines():
    text = (
        "Traceback (most recent call last):\n\n"
        '  File "/x/a.py", line 1, in f\n    g()\n\nKeyError: old\n'
        "During handling of the above exception, another exception occurred:\n\n"
        "Traceback (most recent call last):\n\n"
        '  File "/x/submission.py", line 121, in train_test_submission\n'
        "    trained_model = problem.workflow.train_submission(\n\n"
        '  File "/x/classifier.py", line 4, in fit\n    raise ValueError("this fails")\n\n'
        "ValueError: this fails\n"
    )
    tb = last_traceback(clean_lines(text))
    assert tb.exception == "ValueError: this fails"
    assert [(Path(f).name, line, func) for f, line, func, _ in tb.frames] == [
        ("submission.py", 121, "train_test_submission"),
        ("classifier.py", 4, "fit"),
    ]
    assert last_traceback(["no traceback here"]) is None


def test_read_tail_keeps_the_end(tmp_path):
    log = tmp_path / "log"
    log.write_text("".join(f"line {i}\n" for i in range(10_000)))
    text = _read_tail(log, 1000)
    assert text.startswith("[... earlier output cut ...]\nline ")
    assert text.rstrip().endswith("line 9999")
    assert len(text) < 1100


# parse_training_output ---------------------------------------------------------------------


def write_output(root: Path, n_folds: int = 2, with_test: bool = True) -> Path:
    out = root / "training_output"
    for i in range(n_folds):
        fold = out / f"fold_{i}"
        fold.mkdir(parents=True)
        rows = ["step,acc,nll,time", f"train,0.9{i},0.2,1.5", f"valid,0.8{i},0.3,0.1"]
        if with_test:
            rows.append(f"test,0.7{i},0.4,0.2")
            (fold / "test_time").write_text("0.2")
            (fold / "y_pred_test.npz").write_bytes(b"")
        (fold / "scores.csv").write_text("\n".join(rows) + "\n")
        (fold / "train_time").write_text("1.5")
        (fold / "valid_time").write_text("0.1")
        (fold / "y_pred_train.npz").write_bytes(b"")
    bagged = ["step,n_bag,acc,nll", "valid,0,0.80,0.3", "valid,1,0.85,0.25"]
    if with_test:
        bagged += ["test,0,0.70,0.4", "test,1,0.75,0.35"]
    (out / "bagged_scores.csv").write_text("\n".join(bagged) + "\n")
    return out


def test_parse_training_output(tmp_path):
    output = parse_training_output(write_output(tmp_path), SCORES)
    assert output.n_folds == 2
    assert output.folds[1].scores == {
        "train": {"acc": 0.91, "nll": 0.2},
        "valid": {"acc": 0.81, "nll": 0.3},
        "test": {"acc": 0.71, "nll": 0.4},
    }
    assert (output.folds[0].train_time, output.folds[0].valid_time, output.folds[0].test_time) == (
        1.5, 0.1, 0.2,
    )
    assert set(output.folds[0].predictions) == {"train", "test"}
    assert output.bagged == {"valid": {"acc": 0.85, "nll": 0.25}, "test": {"acc": 0.75, "nll": 0.35}}


def test_parse_training_output_without_test_labels(tmp_path):
    output = parse_training_output(write_output(tmp_path, with_test=False), SCORES)
    assert set(output.folds[0].scores) == {"train", "valid"}
    assert output.folds[0].test_time is None
    assert output.bagged == {"valid": {"acc": 0.85, "nll": 0.25}}


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda out: __import__("shutil").rmtree(out), "is missing"),
        (lambda out: (out / "bagged_scores.csv").unlink(), "bagged_scores.csv is missing"),
        (lambda out: (out / "fold_1" / "scores.csv").unlink(), "scores.csv is missing"),
        (lambda out: (out / "fold_0" / "scores.csv").write_text("step,acc,nll\ntrain,x,1\nvalid,1,1\n"),
         "not a number"),
        (lambda out: (out / "fold_0" / "scores.csv").write_text("step,acc,time\ntrain,1,1\nvalid,1,1\n"),
         "no value for 'nll'"),
        (lambda out: (out / "bagged_scores.csv").write_text(""), "no rows"),
        (lambda out: (out / "fold_0" / "train_time").write_text("soon"), "not a number"),
        (lambda out: (out / "fold_1").rename(out / "fold_7"), "not numbered"),
        (lambda out: [p.unlink() for p in out.glob("fold_*/*")] and
         [p.rmdir() for p in out.glob("fold_*")], "no fold_"),
    ],
)
def test_parse_training_output_errors(tmp_path, damage, message):
    out = write_output(tmp_path)
    damage(out)
    with pytest.raises(OutputError, match=message):
        parse_training_output(out, SCORES)


def test_engine_imports_neither_django_nor_rampwf():
    import subprocess
    import sys

    code = (
        "import sys, databoard.engine.runner, databoard.engine.kitinfo\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'django', 'rampwf', 'numpy'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
