"""Example RAMP kits shipped with databoard.

Each kit is a template folder next to this module (``iris/``, ``diabetes/``, ``wine/``) in the
standard RAMP kit layout — ``problem.py`` using ``rampwf``, ``README.md``, ``requirements.txt``
and ``submissions/<name>/<element>.py`` — without its data. :func:`make_kit` copies the template
and writes ``data/train.csv`` and ``data/test.csv`` from a dataset bundled with scikit-learn
(nothing is downloaded); the split has a fixed seed, so two makes give byte-identical files.

>>> from pathlib import Path
>>> kit = make_kit("iris", Path("/tmp/kits"))      # doctest: +SKIP
>>> # then: ramp-test --ramp-kit-dir /tmp/kits/iris --submission starting_kit
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from databoard.kits._data import GENERATORS

__all__ = ["KITS", "KitInfo", "make_kit", "make_kits"]


@dataclass(frozen=True)
class KitInfo:
    """What a kit is, without making it."""

    name: str
    title: str  # the ``problem_title`` of its problem.py
    summary: str  # one line
    workflow: str  # the kind of rampwf workflow: "classifier", "regressor", ...
    elements: tuple[str, ...]  # workflow element names: submissions/<name>/<element>.py
    submissions: tuple[str, ...] = ("starting_kit", "better", "failing")


KITS: dict[str, KitInfo] = {
    kit.name: kit
    for kit in (
        KitInfo(
            name="iris",
            title="Iris species classification",
            summary="Predict the species of an iris flower from four measurements.",
            workflow="classifier",
            elements=("classifier",),
        ),
        KitInfo(
            name="diabetes",
            title="Diabetes disease progression regression",
            summary="Predict the progression of diabetes after one year from ten baseline "
            "measurements.",
            workflow="regressor",
            elements=("regressor",),
        ),
        KitInfo(
            name="wine",
            title="Wine cultivar classification",
            summary="Tell which of three cultivars a wine comes from, with a feature extractor "
            "and a classifier.",
            workflow="feature_extractor_classifier",
            elements=("feature_extractor", "classifier"),
        ),
    )
}

# Never copied from a template: what running ramp-test or importing leaves behind.
# The template's top-level ``data/`` is skipped too: data are always generated.
_SKIPPED_NAMES = {"__pycache__", "training_output", ".ipynb_checkpoints"}
_SKIPPED_SUFFIXES = (".pyc", ".pyo")


def _template(name: str) -> Traversable:
    return resources.files(__name__).joinpath(name)


def _copy_tree(source: Traversable, target: Path, *, top: bool = True) -> None:
    target.mkdir()
    for entry in sorted(source.iterdir(), key=lambda e: e.name):
        if entry.name in _SKIPPED_NAMES or entry.name.endswith(_SKIPPED_SUFFIXES):
            continue
        if top and entry.name == "data":
            continue
        if entry.is_dir():
            _copy_tree(entry, target / entry.name, top=False)
        else:
            (target / entry.name).write_bytes(entry.read_bytes())


def _check_known(names: list[str]) -> None:
    unknown = [name for name in names if name not in KITS]
    if unknown:
        known = ", ".join(sorted(KITS))
        which = ", ".join(map(repr, unknown))
        raise ValueError(f"unknown kit {which}; the known kits are: {known}")


def _check_free(name: str, kit_dir: Path) -> None:
    if kit_dir.exists():
        raise FileExistsError(
            f"cannot make kit {name!r}: {kit_dir} already exists (remove it or choose another "
            "destination)"
        )


def make_kit(name: str, dest: Path) -> Path:
    """Write the kit ``name`` into ``dest/<name>`` (with its data) and return that folder.

    ``dest`` is created if missing; ``dest/<name>`` must not exist. Raises ``ValueError`` for
    an unknown name and ``FileExistsError`` when the kit folder already exists.
    """
    _check_known([name])
    kit_dir = Path(dest) / name
    _check_free(name, kit_dir)
    kit_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        _copy_tree(_template(name), kit_dir)
        GENERATORS[name](kit_dir)
    except BaseException:
        shutil.rmtree(kit_dir, ignore_errors=True)  # no half-made kit left behind
        raise
    return kit_dir


def make_kits(dest: Path, names: list[str] | None = None) -> list[Path]:
    """Make several kits (all of them by default, in the order of ``KITS``) into ``dest``;
    returns their folders. All names and destinations are checked before anything is written.
    """
    names = list(KITS) if names is None else list(names)
    _check_known(names)
    if len(set(names)) != len(names):
        raise ValueError(f"kit names repeated in {names!r}")
    for name in names:
        _check_free(name, Path(dest) / name)
    return [make_kit(name, dest) for name in names]
