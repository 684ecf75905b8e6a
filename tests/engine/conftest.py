"""Fixtures of the engine tests: no database, real rampwf runs in subprocesses."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.engine.kits import make_iris_kit


@pytest.fixture(scope="session")
def iris_kit(tmp_path_factory) -> Path:
    """A working iris kit (data under ``data/``, ``submissions/starting_kit``); read-only."""
    return make_iris_kit(tmp_path_factory.mktemp("iris") / "kit")
