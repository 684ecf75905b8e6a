"""Bringing kits in from folders, archives and git: what may not escape, and the limits."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from databoard.challenges.kit_source import KitLimits, KitSourceError, fetch_data, fetch_kit, iter_kit_files
from tests.challenges.fixtures import tar_bytes, zip_bytes

PROBLEM = b"problem_title = 'x'\n"


def make_folder(root: Path) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "submissions" / "starting_kit").mkdir(parents=True)
    (root / "problem.py").write_bytes(PROBLEM)
    (root / "data" / "train.csv").write_text("a,b\n1,2\n")
    (root / "submissions" / "starting_kit" / "classifier.py").write_text("x = 1\n")
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "problem.cpython-311.pyc").write_bytes(b"junk")
    return root


def make_zip(path: Path, members: dict[str, bytes], *, symlinks: dict[str, str] | None = None) -> Path:
    path.write_bytes(zip_bytes(members, symlinks=symlinks))
    return path


def make_tar(path: Path, members: dict[str, bytes], *, links: dict[str, str] | None = None) -> Path:
    path.write_bytes(tar_bytes(members, links=links))
    return path


def errors_of(exc_info) -> list[str]:
    return exc_info.value.details["errors"]


def test_a_folder_is_copied_without_caches(tmp_path):
    root = fetch_kit(make_folder(tmp_path / "src"), tmp_path / "dest")
    assert sorted(rel for rel, _ in iter_kit_files(root)) == [
        "data/train.csv", "problem.py", "submissions/starting_kit/classifier.py"]


def test_a_zip_with_one_top_folder_uses_that_folder_as_the_kit(tmp_path):
    archive = make_zip(tmp_path / "kit.zip", {"iris/problem.py": PROBLEM, "iris/data/train.csv": b"a\n1\n"})
    root = fetch_kit(archive, tmp_path / "dest")
    assert root.name == "iris" and (root / "problem.py").read_bytes() == PROBLEM


def test_a_tar_gz_is_unpacked(tmp_path):
    archive = make_tar(tmp_path / "kit.tar.gz", {"problem.py": PROBLEM, "data/x.csv": b"1\n"})
    root = fetch_kit(archive, tmp_path / "dest")
    assert sorted(rel for rel, _ in iter_kit_files(root)) == ["data/x.csv", "problem.py"]


@pytest.mark.parametrize("name", ["../evil.py", "iris/../../evil.py", "/etc/evil.py", "C:/evil.py"])
def test_zip_slip_is_refused_and_nothing_escapes(tmp_path, name):
    archive = make_zip(tmp_path / "kit.zip", {"problem.py": PROBLEM, name: b"boom"})
    with pytest.raises(KitSourceError) as exc:
        fetch_kit(archive, tmp_path / "dest" / "inner")
    assert any("inside the kit" in e for e in errors_of(exc))
    assert not (tmp_path / "evil.py").exists() and not (tmp_path / "dest" / "evil.py").exists()
    assert not (tmp_path / "dest" / "inner" / "problem.py").exists()  # checked before anything is written


def test_tar_slip_and_links_are_refused(tmp_path):
    archive = make_tar(tmp_path / "kit.tar.gz", {"problem.py": PROBLEM, "../up.py": b"x"},
                       links={"data": "/etc", "passwd": "/etc/passwd"})
    with pytest.raises(KitSourceError) as exc:
        fetch_kit(archive, tmp_path / "dest")
    errors = errors_of(exc)
    assert len(errors) == 3
    assert any("'..'" in e for e in errors) and sum("is a link" in e for e in errors) == 2
    assert not (tmp_path / "up.py").exists()


def test_symlinks_in_a_zip_are_refused(tmp_path):
    archive = make_zip(tmp_path / "kit.zip", {"problem.py": PROBLEM}, symlinks={"secret": "/etc/shadow"})
    with pytest.raises(KitSourceError) as exc:
        fetch_kit(archive, tmp_path / "dest")
    assert "symbolic link" in errors_of(exc)[0]


def test_symlinks_in_a_folder_are_refused_not_followed(tmp_path):
    src = make_folder(tmp_path / "src")
    os.symlink("/etc/passwd", src / "data" / "passwd")
    os.symlink("/etc", src / "etc")
    with pytest.raises(KitSourceError) as exc:
        fetch_kit(src, tmp_path / "dest")
    assert sum("symbolic link" in e for e in errors_of(exc)) == 2
    assert not (tmp_path / "dest" / "etc").exists()


def test_a_huge_file_is_refused(tmp_path):
    archive = make_zip(tmp_path / "kit.zip", {"problem.py": PROBLEM, "data/big.csv": b"0" * 5000})
    with pytest.raises(KitSourceError) as exc:
        fetch_kit(archive, tmp_path / "dest", limits=KitLimits(max_file_bytes=1000, max_total_bytes=10_000))
    assert "big.csv" in exc.value.message and "limit" in exc.value.message


def test_a_kit_over_the_total_size_is_refused(tmp_path):
    members = {"problem.py": PROBLEM, **{f"data/{i}.csv": b"0" * 900 for i in range(5)}}
    with pytest.raises(KitSourceError, match="in all"):
        fetch_kit(make_zip(tmp_path / "kit.zip", members), tmp_path / "dest",
                  limits=KitLimits(max_file_bytes=1000, max_total_bytes=2000))


def test_too_many_files_are_refused(tmp_path):
    members = {"problem.py": PROBLEM, **{f"data/{i}.csv": b"1" for i in range(20)}}
    with pytest.raises(KitSourceError, match="more than 10 files"):
        fetch_kit(make_zip(tmp_path / "kit.zip", members), tmp_path / "dest", limits=KitLimits(max_files=10))


def test_no_problem_py_is_refused(tmp_path):
    archive = make_zip(tmp_path / "kit.zip", {"README.md": b"hello", "data/x.csv": b"1"})
    with pytest.raises(KitSourceError, match="no problem.py"):
        fetch_kit(archive, tmp_path / "dest")


@pytest.mark.parametrize("content", [b"not a zip at all", b"PK\x03\x04broken"])
def test_a_corrupt_zip_is_refused(tmp_path, content):
    path = tmp_path / "kit.zip"
    path.write_bytes(content)
    with pytest.raises(KitSourceError, match="not a readable zip"):
        fetch_kit(path, tmp_path / "dest")


def test_a_corrupt_tar_is_refused(tmp_path):
    path = tmp_path / "kit.tar.gz"
    path.write_bytes(b"\x1f\x8b\x08garbage")
    with pytest.raises(KitSourceError, match="not a readable tar"):
        fetch_kit(path, tmp_path / "dest")


def test_unknown_sources_are_refused(tmp_path):
    (tmp_path / "kit.rar").write_bytes(b"x")
    with pytest.raises(KitSourceError, match="neither a folder"):
        fetch_kit(tmp_path / "kit.rar", tmp_path / "dest")
    with pytest.raises(KitSourceError, match="does not exist"):
        fetch_kit(tmp_path / "missing", tmp_path / "dest2")


def test_a_git_repository_is_cloned(tmp_path):
    repo = make_folder(tmp_path / "repo")
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    for command in (["git", "init", "-q"], ["git", "add", "problem.py", "data", "submissions"],
                    ["git", "commit", "-q", "-m", "kit"]):
        subprocess.run(command, cwd=repo, check=True, env=env)
    root = fetch_kit(f"file://{repo}", tmp_path / "dest")
    assert (root / "problem.py").read_bytes() == PROBLEM
    assert not (root / ".git").exists()


def test_a_git_url_that_fails_says_why(tmp_path):
    with pytest.raises(KitSourceError, match="Cloning"):
        fetch_kit(f"file://{tmp_path}/no-such-repo.git", tmp_path / "dest")


def test_private_data_without_a_data_folder_become_data(tmp_path):
    src = tmp_path / "private"
    src.mkdir()
    (src / "test.csv").write_text("a\n1\n")
    root = fetch_data(src, tmp_path / "dest")
    assert (root / "data" / "test.csv").is_file()


def test_private_data_with_a_data_folder_are_kept_as_they_are(tmp_path):
    archive = make_zip(tmp_path / "d.zip", {"data/test.csv": b"a\n1\n"})
    root = fetch_data(archive, tmp_path / "dest")
    assert (root / "data" / "test.csv").read_bytes() == b"a\n1\n"
