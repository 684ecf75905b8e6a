"""Fixtures of the challenges tests: the shipped kits made once, problems, events and participants."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from databoard.challenges import services
from databoard.kits import make_kits
from tests.factories import make_token, make_user

RAMP_TEST = str(Path(sys.executable).parent / "ramp-test")


@pytest.fixture(scope="session")
def kits_root(tmp_path_factory) -> Path:
    """iris, diabetes and wine, made once per test session."""
    root = tmp_path_factory.mktemp("kits")
    make_kits(root)
    return root


def read_submission(kit: Path, name: str) -> dict[str, bytes]:
    folder = kit / "submissions" / name
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.suffix == ".py"}


def bare_ramp_test(kit: Path, submission: str, tmp_path: Path) -> dict[str, dict[str, float]]:
    """Bagged scores as bare ``ramp-test`` writes them for ``submission`` of a copy of ``kit``."""
    copy = tmp_path / f"bare-{kit.name}-{submission}"
    shutil.copytree(kit, copy)
    subprocess.run([RAMP_TEST, "--submission", submission, "--save-output", "--ramp-kit-dir", str(copy),
                    "--ramp-data-dir", str(copy), "--ramp-submission-dir", str(copy / "submissions")],
                   cwd=copy, check=True, capture_output=True, env={**os.environ, "TERM": "dumb"})
    rows = list(csv.DictReader((copy / "submissions" / submission / "training_output" / "bagged_scores.csv").open()))
    last = max(int(r["n_bag"]) for r in rows)
    return {step: {k: float(v) for k, v in r.items() if k not in ("step", "n_bag")}
            for r in rows if int(r["n_bag"]) == last for step in [r["step"]]}


@pytest.fixture
def iris(db, kits_root, admin_user):
    return services.problem_import(source=kits_root / "iris", name="iris", actor=admin_user)


@pytest.fixture
def event(iris, admin_user):
    return services.event_create(problem=iris, slug="iris-open", actor=admin_user)


@pytest.fixture
def event_admin(event, admin_user):
    carol = make_user(username="carol")
    services.event_admin_add(event=event, user=carol, actor=admin_user)
    return carol


@pytest.fixture
def participant(user, event):
    services.signup_request(event=event, user=user)
    return user


@pytest.fixture
def rival(other_user, event):
    services.signup_request(event=event, user=other_user)
    return other_user


@pytest.fixture
def participant_token(participant):
    return make_token(participant)
