"""Hostile submissions inside the bwrap sandbox: each ends in error with a plain reason, sees nothing of
the data home, the database or other submissions, and the run after it works as before."""

from __future__ import annotations

from pathlib import Path

import pytest

from databoard.engine.runner import RunLimits, prepare_workdir, run_ramp_test
from databoard.engine.sandbox import sandbox_problem
from tests.engine.kits import STARTING_KIT, classifier

pytestmark = pytest.mark.skipif(sandbox_problem() is not None, reason=f"no sandbox here: {sandbox_problem()}")

LIMITS = RunLimits(timeout_s=60, memory_mb=4096)


@pytest.fixture
def home(tmp_path) -> Path:
    """A data home with secrets the submission must not see, and another team's submission."""
    home = tmp_path / "home"
    (home / "work" / "other-team").mkdir(parents=True)
    (home / "work" / "other-team" / "classifier.py").write_text("SECRET-CODE-OF-ANOTHER-TEAM")
    (home / "databoard.toml").write_text("secret_key = 'SECRET-KEY-OF-THE-SERVER'\n")
    (home / "databoard.sqlite3").write_bytes(b"SQLite format 3\x00SECRET-ROWS")
    return home


def run(home: Path, kit: Path, code: str | bytes, name: str = "w") -> tuple:
    work = home / "work" / name
    work.mkdir()
    prepare_workdir(work, {"classifier.py": code.encode() if isinstance(code, str) else code})
    result = run_ramp_test(kit, kit, work, "submission", LIMITS, sandbox=True, hidden=[home])
    log = Path(result.log_path).read_text(errors="replace")
    return result, log


def test_the_starting_kit_runs_in_the_sandbox(home, iris_kit):
    result, _ = run(home, iris_kit, STARTING_KIT)
    assert result.ok and result.sandboxed and (result.output_dir / "bagged_scores.csv").is_file()


@pytest.mark.parametrize("address", [("127.0.0.1", 5432), ("127.0.0.1", 3306), ("192.0.2.1", 80)])
def test_opening_a_socket_fails_with_network_not_available(home, iris_kit, address):
    code = classifier(fit=f"import socket\nsocket.create_connection({address!r}, timeout=2)")
    result, _ = run(home, iris_kit, code)
    assert result.error_step == "training"
    assert result.error_summary.startswith("The network is not available to submissions")


def test_the_data_home_the_database_and_other_submissions_are_out_of_sight(home, iris_kit, tmp_path):
    probe = ("import glob\n"
             "seen = sorted(glob.glob(%r + '/**', recursive=True))\n"
             "for path in seen + ['/etc/shadow', '/run/postgresql']:\n"
             "    try:\n"
             "        print('READ', path, repr(open(path, 'rb').read(60)))\n"
             "    except OSError as exc:\n"
             "        print('DENIED', path, type(exc).__name__)\n"
             "raise ValueError('probe done')") % str(home)
    result, log = run(home, iris_kit, classifier(fit=probe))
    assert result.error_summary == "ValueError: probe done"
    assert "SECRET" not in log and "root:" not in log
    assert "DENIED /etc/shadow" in log
    assert "other-team" not in log and "databoard.toml" not in log and "databoard.sqlite3" not in log


def test_writing_outside_the_work_folder_fails(home, iris_kit):
    code = classifier(fit="import pathlib\npathlib.Path('/usr/evil').write_text('x')")
    result, _ = run(home, iris_kit, code)
    assert result.error_step == "training" and "Read-only file system" in result.error_summary
    assert not Path("/usr/evil").exists()


def test_a_fork_bomb_ends_at_the_time_limit_and_leaves_nothing_behind(home, iris_kit):
    code = classifier(fit="import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass")
    work = home / "work" / "bomb"
    work.mkdir()
    prepare_workdir(work, {"classifier.py": code})
    result = run_ramp_test(iris_kit, iris_kit, work, "submission", RunLimits(timeout_s=10, memory_mb=4096),
                           sandbox=True, hidden=[home])
    assert result.timed_out and result.error_step == "training"
    after, _ = run(home, iris_kit, STARTING_KIT, name="after")
    assert after.ok


def test_the_kits_own_code_is_inspected_in_the_sandbox_without_secrets(tmp_path, monkeypatch):
    from databoard.engine.kitinfo import KitError, inspect_kit
    from tests.engine.kits import make_iris_kit

    kit = make_iris_kit(tmp_path / "kit")
    problem = kit / "problem.py"
    problem.write_text(problem.read_text() + (
        "\nassert 'DATABOARD_SECRET_KEY' not in os.environ, 'the server secret reached the kit'\n"
        "import socket\nsocket.create_connection(('127.0.0.1', 5432), timeout=2).close()\n"))
    monkeypatch.setenv("DATABOARD_SECRET_KEY", "SECRET-OF-THE-SERVER")
    with pytest.raises(KitError) as info:
        inspect_kit(kit, sandbox=True, hidden=[tmp_path / "home"])
    assert "ConnectionRefusedError" in " ".join(info.value.errors) or "Network" in " ".join(info.value.errors)
    assert "secret" not in " ".join(info.value.errors).lower()
