"""Data generators of the example kits.

Each generator takes the kit folder and writes its ``data/`` files from a dataset bundled with
scikit-learn (nothing is downloaded). Splits use a fixed ``random_state`` and the CSV files are
written with fixed options, so two makes give byte-identical files.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

RANDOM_STATE = 42

# iris: renamed columns (the bundled names contain spaces and units)
IRIS_FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
IRIS_TARGET = "species"

DIABETES_TARGET = "progression"

WINE_TARGET = "cultivar"


def _write_split(
    frame: pd.DataFrame, target: str, kit_dir: Path, *, test_size: float, stratify: bool
) -> list[Path]:
    """Split ``frame`` into ``data/train.csv`` and ``data/test.csv`` of ``kit_dir``."""
    train, test = train_test_split(
        frame,
        test_size=test_size,
        random_state=RANDOM_STATE,
        stratify=frame[target] if stratify else None,
    )
    data_dir = kit_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, part in (("train.csv", train), ("test.csv", test)):
        path = data_dir / name
        # bytes, not text mode: no platform newline translation
        path.write_bytes(part.to_csv(index=False, lineterminator="\n").encode("utf-8"))
        written.append(path)
    return written


def make_iris_data(kit_dir: Path) -> list[Path]:
    from sklearn.datasets import load_iris

    bunch = load_iris(as_frame=True)
    frame = bunch.data.copy()
    frame.columns = IRIS_FEATURES
    frame[IRIS_TARGET] = [str(bunch.target_names[i]) for i in bunch.target]
    return _write_split(frame, IRIS_TARGET, kit_dir, test_size=1 / 3, stratify=True)


def make_diabetes_data(kit_dir: Path) -> list[Path]:
    from sklearn.datasets import load_diabetes

    # scaled=False: the original measurements (age in years, sex coded 1/2, bmi, ...)
    bunch = load_diabetes(as_frame=True, scaled=False)
    frame = bunch.data.copy()
    frame[DIABETES_TARGET] = bunch.target
    return _write_split(frame, DIABETES_TARGET, kit_dir, test_size=0.25, stratify=False)


def make_wine_data(kit_dir: Path) -> list[Path]:
    from sklearn.datasets import load_wine

    bunch = load_wine(as_frame=True)
    frame = bunch.data.copy()
    frame = frame.rename(columns={"od280/od315_of_diluted_wines": "od280_od315"})
    frame[WINE_TARGET] = [str(bunch.target_names[i]) for i in bunch.target]
    return _write_split(frame, WINE_TARGET, kit_dir, test_size=1 / 3, stratify=True)


GENERATORS: dict[str, Callable[[Path], list[Path]]] = {
    "iris": make_iris_data,
    "diabetes": make_diabetes_data,
    "wine": make_wine_data,
}
