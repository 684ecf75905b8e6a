"""Kits shaped like public RAMP kits, with other workflows than the shipped ones, run unmodified:
``Estimator`` (``get_estimator()`` in ``estimator.py``, DataFrame input, ROC AUC), and
``EstimatorExternalData`` (an ``external_data.csv`` element beside the code)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from sklearn.datasets import load_breast_cancer

from databoard.challenges import services
from databoard.challenges.models import Submission
from databoard.engine.worker import run_worker
from tests.challenges.conftest import bare_ramp_test
from tests.factories import make_user

pytestmark = pytest.mark.django_db

PROBLEM = '''
import os
import pandas as pd
import rampwf as rw
from sklearn.model_selection import StratifiedShuffleSplit

problem_title = "Breast cancer diagnosis"
_target = "target"
Predictions = rw.prediction_types.make_multiclass(label_names=[0, 1])
workflow = rw.workflows.{workflow}()
score_types = [
    rw.score_types.ROCAUC(name="auc", precision=4),
    rw.score_types.Accuracy(name="acc", precision=3),
]


def get_cv(X, y):
    return StratifiedShuffleSplit(n_splits=2, test_size=0.3, random_state=7).split(X, y)


def _read(path, name):
    data = pd.read_csv(os.path.join(path, "data", name))
    return data.drop(columns=[_target]), data[_target].values


def get_train_data(path="."):
    return _read(path, "train.csv")


def get_test_data(path="."):
    return _read(path, "test.csv")
'''

ESTIMATOR = '''
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def get_estimator():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
'''

ESTIMATOR_EXTERNAL = '''
import os

import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


class Weights(BaseEstimator, TransformerMixin):
    """Scales the columns by factors read from external_data.csv, next to this file."""

    def fit(self, X, y=None):
        here = os.path.dirname(__file__)
        self.factors_ = pd.read_csv(os.path.join(here, "external_data.csv")).set_index("column")["factor"]
        return self

    def transform(self, X):
        return X * self.factors_.reindex(X.columns).fillna(1.0).values


def get_estimator():
    return make_pipeline(Weights(), StandardScaler(), LogisticRegression(max_iter=500))
'''


def make_public_style_kit(root: Path, workflow: str) -> Path:
    kit = root / workflow.lower()
    (kit / "data").mkdir(parents=True)
    start = kit / "submissions" / "starting_kit"
    start.mkdir(parents=True)
    (kit / "problem.py").write_text(PROBLEM.replace("{workflow}", workflow))
    frame = load_breast_cancer(as_frame=True).frame.iloc[:, list(range(8)) + [-1]].sample(frac=1, random_state=3)
    frame.iloc[:300].to_csv(kit / "data" / "train.csv", index=False)
    frame.iloc[300:].to_csv(kit / "data" / "test.csv", index=False)
    if workflow == "Estimator":
        (start / "estimator.py").write_text(ESTIMATOR)
    else:
        (start / "estimator.py").write_text(ESTIMATOR_EXTERNAL)
        (start / "external_data.csv").write_text("column,factor\nmean radius,2.0\n")
    (kit / "README.md").write_text(textwrap.dedent(f"# {workflow} kit\n\nA kit shaped like public ones.\n"))
    return kit


@pytest.mark.parametrize("workflow, files", [
    ("Estimator", ["estimator.py"]),
    ("EstimatorExternalData", ["estimator.py", "external_data.csv"]),
])
def test_a_public_style_kit_imports_and_scores_as_bare_ramp_test(workflow, files, tmp_path, admin_user):
    kit = make_public_style_kit(tmp_path, workflow)
    problem = services.problem_import(source=kit, name=workflow.lower(), actor=admin_user)
    assert problem.workflow == workflow
    assert [services.element_filename(e) for e in problem.elements] == files
    assert [s["name"] for s in problem.score_types] == ["auc", "acc"]
    assert (problem.n_folds, problem.n_train, problem.n_test) == (2, 300, 269)
    event = services.event_create(problem=problem, slug=f"{workflow.lower()}-run", actor=admin_user)
    alice = make_user(username="alice")
    services.signup_request(event=event, user=alice)
    start = kit / "submissions" / "starting_kit"
    submission = services.submission_create(event=event, user=alice, name="first",
                                            files={name: (start / name).read_bytes() for name in files})
    run_worker(burst=True)
    submission.refresh_from_db()
    assert submission.state == Submission.State.SCORED, submission.error_output
    expected = bare_ramp_test(kit, "starting_kit", tmp_path)
    assert {s.name: (s.valid, s.test) for s in submission.scores.all()} == {
        name: (expected["valid"][name], expected["test"][name]) for name in ("auc", "acc")}
