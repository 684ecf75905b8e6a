"""A small RAMP kit (iris, multiclass) and submissions that fail in chosen ways."""

from __future__ import annotations

import textwrap
from pathlib import Path

PROBLEM_PY = '''\
import os

import pandas as pd
import rampwf as rw
from sklearn.model_selection import StratifiedShuffleSplit

problem_title = "Iris classification"
_target_column_name = "species"
_prediction_label_names = [0, 1, 2]
Predictions = rw.prediction_types.make_multiclass(label_names=_prediction_label_names)
workflow = rw.workflows.Classifier()
score_types = [
    rw.score_types.Accuracy(name="acc", precision=3),
    rw.score_types.NegativeLogLikelihood(name="nll", precision=3),
]


def get_cv(X, y):
    cv = StratifiedShuffleSplit(n_splits=2, test_size=0.2, random_state=57)
    return cv.split(X, y)


def _read_data(path, f_name):
    data = pd.read_csv(os.path.join(path, "data", f_name))
    y_array = data[_target_column_name].values
    X_array = data.drop([_target_column_name], axis=1).values
    return X_array, y_array


def get_train_data(path="."):
    return _read_data(path, "train.csv")


def get_test_data(path="."):
    return _read_data(path, "test.csv")
'''

N_TRAIN, N_TEST = 120, 30

STARTING_KIT = '''\
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression


class Classifier(BaseEstimator):
    def __init__(self):
        self.clf = LogisticRegression(max_iter=500)

    def fit(self, X, y):
        self.clf.fit(X, y)

    def predict_proba(self, X):
        return self.clf.predict_proba(X)
'''


def classifier(fit: str = "pass", predict: str = "return np.full((len(X), 3), 1 / 3)",
               header: str = "") -> bytes:
    """Source of a ``classifier.py`` whose fit/predict_proba bodies are given."""
    return (
        "import os\nimport sys\nimport time\n\nimport numpy as np\n"
        "from sklearn.base import BaseEstimator\n"
        f"{header}\n\n"
        "class Classifier(BaseEstimator):\n"
        "    def fit(self, X, y):\n"
        f"{textwrap.indent(textwrap.dedent(fit), ' ' * 8)}\n\n"
        "    def predict_proba(self, X):\n"
        f"{textwrap.indent(textwrap.dedent(predict), ' ' * 8)}\n"
    ).encode()


def write_iris_data(data_dir: Path) -> None:
    from sklearn.datasets import load_iris
    from sklearn.model_selection import train_test_split

    frame = load_iris(as_frame=True).frame.rename(columns={"target": "species"})
    train, test = train_test_split(frame, test_size=N_TEST, random_state=0, stratify=frame.species)
    (data_dir / "data").mkdir(parents=True, exist_ok=True)
    train.to_csv(data_dir / "data" / "train.csv", index=False)
    test.to_csv(data_dir / "data" / "test.csv", index=False)


def make_iris_kit(kit_dir: Path, problem_py: str = PROBLEM_PY, *, with_data: bool = True) -> Path:
    kit_dir.mkdir(parents=True, exist_ok=True)
    (kit_dir / "problem.py").write_text(problem_py)
    if with_data:
        write_iris_data(kit_dir)
    starting_kit = kit_dir / "submissions" / "starting_kit"
    starting_kit.mkdir(parents=True, exist_ok=True)
    (starting_kit / "classifier.py").write_text(STARTING_KIT)
    return kit_dir
