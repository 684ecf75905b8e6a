"""Describe a RAMP kit: what its ``problem.py`` declares and how much data it has.

Two halves:

* the *child*, ``python -m databoard.engine.kitinfo KIT_DIR [--data-dir DIR]``, imports the
  kit's ``problem.py`` with rampwf, loads the data, counts the CV folds and prints one JSON
  object, after a marker line, on stdout: ``{"ok": true, "title": ..., ...}`` or
  ``{"ok": false, "errors": [...]}`` (then it exits with status 1). It collects as many
  problems as it can in one go. Whatever ``problem.py`` prints itself goes to stderr (file
  descriptor 1 is pointed at stderr while the kit's code runs), and the marker lets the parent
  find the result even if something slipped through.
* the *parent*, :func:`inspect_kit`, runs the child in a subprocess and returns a
  :class:`KitInfo`, or raises :class:`KitError`. It never imports ``problem.py`` itself.

Non-finite score bounds (e.g. ``maximum = inf`` for a log-likelihood) are written as ``null``:
``None`` means unbounded, and the JSON stays strict (storable in a JSON column).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULT_MARKER = "@@databoard-kitinfo-result-8f3c2e@@"
"""Printed alone on a line just before the JSON result."""

_SRC_ROOT = Path(__file__).resolve().parents[2]  # the folder holding the ``databoard`` package


class KitError(Exception):
    """The kit cannot be used; ``errors`` are human-readable sentences."""

    def __init__(self, errors: list[str]):
        self.errors = list(errors) or ["unknown error while inspecting the kit"]
        super().__init__("; ".join(self.errors))


@dataclass(frozen=True)
class ScoreTypeInfo:
    name: str
    precision: int
    lower_is_better: bool
    minimum: float | None
    """``None``: unbounded below."""
    maximum: float | None
    """``None``: unbounded above."""


@dataclass(frozen=True)
class KitInfo:
    title: str
    prediction_type: str
    """``multiclass``, ``regression``, ``detection``, ``clustering``, ``combined`` for rampwf's
    own types, otherwise ``module.QualifiedName`` of the kit's ``Predictions`` class."""
    workflow: str
    """Class name of ``problem.workflow``, e.g. ``Classifier``."""
    elements: list[str]
    """Files a submission must provide, without extension, in the workflow's order."""
    score_types: list[ScoreTypeInfo]
    """The first one is the official score."""
    n_folds: int
    n_train: int | None
    n_test: int | None
    label_names: list[Any] | None = None

    @property
    def official_score(self) -> ScoreTypeInfo:
        return self.score_types[0]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KitInfo:
        return cls(
            title=str(data["title"]),
            prediction_type=str(data["prediction_type"]),
            workflow=str(data["workflow"]),
            elements=[str(e) for e in data["elements"]],
            score_types=[ScoreTypeInfo(**st) for st in data["score_types"]],
            n_folds=int(data["n_folds"]),
            n_train=data.get("n_train"),
            n_test=data.get("n_test"),
            label_names=data.get("label_names"),
        )


# --------------------------------------------------------------------------------------------
# child side
# --------------------------------------------------------------------------------------------


@dataclass
class _Collector:
    kit_dir: Path
    data_dir: Path
    errors: list[str] = field(default_factory=list)

    @property
    def problem_path(self) -> Path:
        return self.kit_dir / "problem.py"

    def describe(self, exc: BaseException) -> str:
        """``ValueError: message (problem.py, line 12)``, the line being the deepest one of
        problem.py in the traceback."""
        message = str(exc).strip()
        text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
        problem_file = str(self.problem_path)
        lines = [
            fr.lineno
            for fr in traceback.extract_tb(exc.__traceback__)
            if fr.filename == problem_file
        ]
        if lines:
            text += f" (problem.py, line {lines[-1]})"
        return text

    def call(self, what: str, func: Any, *args: Any, **kwargs: Any) -> tuple[bool, Any]:
        try:
            return True, func(*args, **kwargs)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - reported, never raised
            self.errors.append(f"{what} failed: {self.describe(exc)}")
            return False, None


def _json_safe(value: Any) -> Any:
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        try:
            return _json_safe(item())
        except (TypeError, ValueError):
            pass
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return str(value)


def _length(primary: Any, fallback: Any) -> int | None:
    for value in (primary, fallback):
        if value is None:
            continue
        try:
            return len(value)
        except TypeError:
            continue
    return None


def _prediction_type(predictions: type) -> str:
    module = getattr(predictions, "__module__", "") or ""
    prefix = "rampwf.prediction_types."
    if module.startswith(prefix):
        return module[len(prefix) :]
    return f"{module}.{getattr(predictions, '__qualname__', predictions.__name__)}"


def _check_score_types(c: _Collector, score_types: Any) -> list[dict[str, Any]]:
    if isinstance(score_types, str | bytes) or not hasattr(score_types, "__iter__"):
        c.errors.append("score_types must be a list of rampwf score types")
        return []
    try:
        score_types = list(score_types)
    except Exception as exc:  # noqa: BLE001
        c.errors.append(f"score_types cannot be read: {c.describe(exc)}")
        return []
    if not score_types:
        c.errors.append("score_types is empty: at least one score type (the official one) is needed")
        return []
    described: list[dict[str, Any]] = []
    names: set[str] = set()
    for index, st in enumerate(score_types):
        label = f"score_types[{index}] ({type(st).__name__})"
        missing = [
            attr
            for attr in ("name", "precision", "is_lower_the_better", "minimum", "maximum")
            if not hasattr(st, attr)
        ]
        if missing:
            c.errors.append(f"{label} has no {', '.join(missing)}")
            continue
        if not callable(getattr(st, "score_function", None)):
            c.errors.append(f"{label} has no score_function")
        name = st.name
        if not isinstance(name, str) or not name.strip():
            c.errors.append(f"{label} has an empty or non-text name: {name!r}")
            continue
        if name in names:
            c.errors.append(f"two score types are named {name!r}; names must be unique")
        names.add(name)
        try:
            precision = int(st.precision)
            minimum, maximum = float(st.minimum), float(st.maximum)
        except (TypeError, ValueError) as exc:
            c.errors.append(f"{label} has a non-numeric precision, minimum or maximum: {exc}")
            continue
        described.append(
            {
                "name": name,
                "precision": precision,
                "lower_is_better": bool(st.is_lower_the_better),
                "minimum": _json_safe(minimum),
                "maximum": _json_safe(maximum),
            }
        )
    return described


def collect(kit_dir: Path, data_dir: Path) -> dict[str, Any]:
    """Inspect the kit in this process (the child); return the JSON-ready result."""
    c = _Collector(kit_dir=kit_dir, data_dir=data_dir)
    if not kit_dir.is_dir():
        return {"ok": False, "errors": [f"the kit folder {kit_dir} does not exist"]}
    if not c.problem_path.is_file():
        return {"ok": False, "errors": ["problem.py is missing from the kit folder"]}
    try:
        source = c.problem_path.read_bytes()
    except OSError as exc:
        return {"ok": False, "errors": [f"problem.py cannot be read: {exc.strerror or exc}"]}
    try:
        compile(source, "problem.py", "exec", dont_inherit=True)
    except SyntaxError as exc:
        where = f"problem.py, line {exc.lineno}" if exc.lineno else "problem.py"
        code = (exc.text or "").strip()
        return {
            "ok": False,
            "errors": [f"{where}: {type(exc).__name__}: {exc.msg}" + (f": {code}" if code else "")],
        }
    except ValueError as exc:  # e.g. NUL bytes
        return {"ok": False, "errors": [f"problem.py cannot be compiled: {exc}"]}

    try:
        from rampwf.utils.testing import assert_read_problem
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "errors": [f"rampwf cannot be imported: {exc}"]}
    ok, problem = c.call("importing problem.py", assert_read_problem, str(kit_dir))
    if not ok:
        return {"ok": False, "errors": c.errors}

    result: dict[str, Any] = {"ok": True}

    title = getattr(problem, "problem_title", None)
    if title is None:
        c.errors.append("problem.py does not define problem_title")
    result["title"] = str(title) if title is not None else None

    predictions = getattr(problem, "Predictions", None)
    if predictions is None:
        c.errors.append(
            "problem.py does not define Predictions "
            "(e.g. rw.prediction_types.make_multiclass(label_names=...))"
        )
    elif not isinstance(predictions, type):
        c.errors.append("Predictions must be a class (made by rw.prediction_types.make_...)")
    else:
        result["prediction_type"] = _prediction_type(predictions)
        labels = getattr(predictions, "label_names", None)
        result["label_names"] = _json_safe(list(labels)) if labels is not None and len(labels) else None

    workflow = getattr(problem, "workflow", None)
    if workflow is None:
        c.errors.append("problem.py does not define workflow (e.g. rw.workflows.Classifier())")
    else:
        result["workflow"] = type(workflow).__name__
        elements = getattr(workflow, "element_names", None)
        if not isinstance(elements, list | tuple) or not all(isinstance(e, str) for e in elements):
            c.errors.append(f"workflow {type(workflow).__name__} has no list of element_names")
        elif not elements:
            c.errors.append(f"workflow {type(workflow).__name__} has no elements")
        else:
            result["elements"] = list(elements)
        for method in ("train_submission", "test_submission"):
            if not callable(getattr(workflow, method, None)):
                c.errors.append(f"workflow {type(workflow).__name__} has no {method} method")

    if not hasattr(problem, "score_types"):
        c.errors.append("problem.py does not define score_types")
    else:
        result["score_types"] = _check_score_types(c, problem.score_types)

    functions = {}
    for name in ("get_cv", "get_train_data", "get_test_data"):
        func = getattr(problem, name, None)
        if func is None:
            c.errors.append(f"problem.py does not define {name}()")
        elif not callable(func):
            c.errors.append(f"{name} in problem.py is not a function")
        else:
            functions[name] = func

    data: dict[str, tuple[Any, Any]] = {}
    for step, name in (("train", "get_train_data"), ("test", "get_test_data")):
        if name not in functions:
            continue
        ok, value = c.call(f"{name}(path={str(data_dir)!r})", functions[name], path=str(data_dir))
        if not ok:
            continue
        if not isinstance(value, tuple | list) or len(value) != 2:
            c.errors.append(f"{name} must return a pair (X, y), got {type(value).__name__}")
            continue
        data[step] = (value[0], value[1])

    if "train" in data:
        X_train, y_train = data["train"]
        result["n_train"] = _length(y_train, X_train)
        if y_train is None:
            c.errors.append("get_train_data returned no labels (y is None)")
        elif predictions is not None and isinstance(predictions, type):
            c.call("Predictions(y_true=y_train) (do label_names match the labels?)",
                   predictions, y_true=y_train)
        if "get_cv" in functions:
            ok, folds = c.call("get_cv(X_train, y_train)", lambda: list(functions["get_cv"](X_train, y_train)))
            if ok:
                bad = [
                    i for i, fold in enumerate(folds)
                    if not isinstance(fold, tuple | list) or len(fold) != 2
                ]
                if not folds:
                    c.errors.append("get_cv gave no fold")
                elif bad:
                    c.errors.append(
                        f"get_cv must give (train_indices, valid_indices) pairs; fold {bad[0]} is not one"
                    )
                else:
                    result["n_folds"] = len(folds)
    if "test" in data:
        X_test, y_test = data["test"]
        result["n_test"] = _length(y_test, X_test)

    if c.errors:
        return {"ok": False, "errors": c.errors}
    result.setdefault("label_names", None)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m databoard.engine.kitinfo",
        description="Describe a RAMP kit as one JSON object (after a marker line) on stdout.",
    )
    parser.add_argument("kit_dir", type=Path)
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="folder holding data/ (default: the kit folder)")
    args = parser.parse_args(argv)
    kit_dir = args.kit_dir.resolve()
    data_dir = (args.data_dir or args.kit_dir).resolve()

    # The kit's own prints (Python or C level) must not reach our stdout: point fd 1 at stderr
    # while its code runs and keep a private copy of the real stdout for the result.
    sys.stdout.flush()
    real_stdout = os.dup(1)
    os.dup2(2, 1)
    try:
        try:
            result = collect(kit_dir, data_dir)
        except BaseException as exc:  # noqa: BLE001 - the parent must get an answer
            if isinstance(exc, KeyboardInterrupt):
                raise
            result = {"ok": False, "errors": [f"internal error while inspecting the kit: {exc!r}"]}
        text = json.dumps(result, allow_nan=False, default=str)
    finally:
        try:
            sys.stdout.flush()
        except Exception:  # noqa: BLE001, S110
            pass
    with os.fdopen(real_stdout, "w", encoding="utf-8") as out:
        out.write(f"\n{RESULT_MARKER}\n{text}\n")
        out.flush()
    return 0 if result.get("ok") else 1


# --------------------------------------------------------------------------------------------
# parent side
# --------------------------------------------------------------------------------------------


def _tail(data: bytes, n_lines: int = 15) -> list[str]:
    text = data.decode("utf-8", errors="replace")
    return [line.rstrip() for line in text.splitlines() if line.strip()][-n_lines:]


def parse_child_output(stdout: bytes) -> dict[str, Any] | None:
    """The JSON object that follows the last marker line, or None."""
    text = stdout.decode("utf-8", errors="replace")
    position = text.rfind(RESULT_MARKER)
    if position < 0:
        return None
    lines = text[position + len(RESULT_MARKER) :].strip().splitlines()
    if not lines:
        return None
    try:
        value = json.loads(lines[0])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def inspect_kit(kit_dir: Path, *, data_dir: Path | None = None, timeout: float = 120, sandbox: bool = False,
                hidden: list[Path] | tuple = ()) -> KitInfo:
    """Describe the kit at ``kit_dir`` by running this module in a subprocess.

    ``data_dir`` is the folder that holds ``data/`` (rampwf's ``--ramp-data-dir``); it defaults
    to the kit folder. The kit's code runs with the environment of submission runs (no secrets) and,
    with ``sandbox``, in the bwrap sandbox (no network, ``hidden`` folders out of sight, the kit read-only).
    Raises :class:`KitError` listing every problem found, also when the inspection runs longer than
    ``timeout`` seconds or answers something unreadable.
    """
    from databoard.engine._process import run_in_group
    from databoard.engine.runner import _child_env

    kit_dir = Path(kit_dir).resolve()
    if not kit_dir.is_dir():
        raise KitError([f"the kit folder {kit_dir} does not exist"])
    cmd = [sys.executable, "-P", "-m", "databoard.engine.kitinfo", str(kit_dir)]
    if data_dir is not None:
        cmd += ["--data-dir", str(Path(data_dir).resolve())]
    env = _child_env(None)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(_SRC_ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.TemporaryDirectory(prefix="kit-inspect-") as scratch:
        if sandbox:
            from databoard.engine.sandbox import wrap

            seen = [kit_dir, _SRC_ROOT] + ([Path(data_dir).resolve()] if data_dir is not None else [])
            cmd = wrap(cmd, work_dir=Path(scratch), read_only=seen, hidden=[Path(p) for p in hidden])
        outcome = run_in_group(
            cmd, cwd=kit_dir, env=env, stdout=out, stderr=err, timeout=timeout
        )
        out.seek(0)
        stdout = out.read(20_000_000)
        err.seek(0, os.SEEK_END)
        err.seek(max(0, err.tell() - 20_000))
        stderr = err.read()
    if outcome.timed_out:
        raise KitError(
            [
                f"inspecting the kit took longer than {timeout:g} s and was stopped "
                "(does importing problem.py or loading the data hang?)"
            ]
        )
    result = parse_child_output(stdout)
    if result is None:
        detail = _tail(stderr, 5)
        raise KitError(
            [f"inspecting the kit failed without a readable result (exit status {outcome.returncode})"]
            + detail
        )
    if not result.get("ok"):
        errors = result.get("errors")
        raise KitError([str(e) for e in errors] if isinstance(errors, list) else [])
    try:
        return KitInfo.from_dict(result)
    except (KeyError, TypeError, ValueError) as exc:
        raise KitError([f"the kit inspection gave an incomplete result: {exc!r}"]) from exc


if __name__ == "__main__":
    sys.exit(main())
