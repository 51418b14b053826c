"""`uncommitted`: whether a file in a work tree is exactly as committed, by content, whatever git's index says."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from catalog.sync.git import uncommitted

CODE = "def predict(args):\n    return 1\n"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com",
                           "-c", "protocol.file.allow=always", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


def repo_with(path: Path, files: dict[str, str]) -> tuple[Path, str]:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "init")
    return path, git(path, "rev-parse", "HEAD")


def test_a_committed_unchanged_file_in_a_project_subdirectory(tmp_path: Path) -> None:
    root, commit = repo_with(tmp_path / "r", {"sub/model.py": CODE})
    assert uncommitted(root, root / "sub" / "model.py", commit) is None


def test_changed_untracked_and_outside_files(tmp_path: Path) -> None:
    root, commit = repo_with(tmp_path / "r", {"model.py": CODE})
    (root / "new.py").write_text(CODE)
    assert uncommitted(root, root / "new.py", commit) == f"new.py is not committed (not in commit {commit[:12]})"
    (root / "model.py").write_text(CODE + "# edited\n")
    assert uncommitted(root, root / "model.py", commit) == (
        f"model.py has changes that are not committed (differs from commit {commit[:12]})")
    (tmp_path / "elsewhere.py").write_text(CODE)
    assert "is outside the repository" in str(uncommitted(root, tmp_path / "elsewhere.py", commit))


def test_staged_or_committed_later_counts_against_the_given_commit(tmp_path: Path) -> None:
    root, first = repo_with(tmp_path / "r", {"model.py": CODE})
    (root / "model.py").write_text(CODE + "# v2\n")
    git(root, "add", "model.py")
    assert uncommitted(root, root / "model.py", first) is not None  # staged is not committed
    git(root, "commit", "-q", "-m", "v2")
    assert uncommitted(root, root / "model.py", git(root, "rev-parse", "HEAD")) is None
    assert uncommitted(root, root / "model.py", first) is not None


@pytest.mark.parametrize("flag", ["--assume-unchanged", "--skip-worktree"])
def test_index_flags_do_not_hide_a_change(tmp_path: Path, flag: str) -> None:
    root, commit = repo_with(tmp_path / "r", {"model.py": CODE})
    git(root, "update-index", flag, "model.py")
    (root / "model.py").write_text(CODE + "# hidden from git diff\n")
    assert "has changes" in str(uncommitted(root, root / "model.py", commit))


def test_glob_characters_in_the_name_are_literal(tmp_path: Path) -> None:
    root, commit = repo_with(tmp_path / "r", {"m[ab].py": CODE, "ma.py": "x = 1\n"})
    (root / "ma.py").write_text("x = 2\n")
    assert uncommitted(root, root / "m[ab].py", commit) is None


def test_a_mode_change_alone_is_not_a_code_change(tmp_path: Path) -> None:
    root, commit = repo_with(tmp_path / "r", {"model.py": CODE})
    (root / "model.py").chmod(0o755)
    assert uncommitted(root, root / "model.py", commit) is None


def test_a_file_in_a_submodule_is_named_as_such(tmp_path: Path) -> None:
    lib, _ = repo_with(tmp_path / "lib", {"model.py": CODE})
    root, _ = repo_with(tmp_path / "r", {"lineage.yml": "{}\n"})
    git(root, "submodule", "add", "-q", str(lib), "lib")
    git(root, "commit", "-q", "-m", "lib")
    why = uncommitted(root, root / "lib" / "model.py", git(root, "rev-parse", "HEAD"))
    assert why is not None and why.startswith("lib/model.py is in another git repository (a submodule?)")
