"""A deployment serves its build's snapshot: the commit's files, the project's untracked artifacts as they were
at the deploy, never a later edit (serving/platform/snapshot.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from serving.platform.snapshot import export_build
from tests.serving.conftest import commit_change, git, make_project


def head(repo: Path) -> str:
    import subprocess

    return subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_the_commit_and_the_untracked_artifacts_not_the_edits(tmp_path: Path) -> None:
    repo = make_project(tmp_path / "repo", {"model.py": "import helper\n", "helper.py": "V = 1\n"}, ["M"])
    (repo / "model.joblib").write_bytes(b"trained")  # a model a notebook wrote, not committed
    (repo / "__pycache__").mkdir()
    (repo / "__pycache__" / "helper.cpython-311.pyc").write_bytes(b"cache")
    commit = head(repo)
    (repo / "helper.py").write_text("V = 'uncommitted edit'\n")
    code = export_build(repo, commit, tmp_path / "builds" / "d1")
    assert (code / "helper.py").read_text() == "V = 1\n" and (code / "model.py").exists()
    assert (code / "model.joblib").read_bytes() == b"trained" and not (code / "__pycache__").exists()
    assert not (code / ".git").exists()
    # made once: retraining in place, or a later commit, does not change the deployed build
    (repo / "model.joblib").write_bytes(b"retrained")
    commit_change(repo, "helper.py", "V = 2\n")
    assert export_build(repo, commit, tmp_path / "builds" / "d1") == code
    assert (code / "model.joblib").read_bytes() == b"trained" and (code / "helper.py").read_text() == "V = 1\n"
    assert sorted(p.name for p in (tmp_path / "builds").iterdir()) == ["d1"]  # no temporary left behind


def test_a_project_in_a_subdirectory_of_its_repository(tmp_path: Path) -> None:
    repo = tmp_path / "mono"
    (repo / "models" / "wine").mkdir(parents=True)
    (repo / "models" / "wine" / "model.py").write_text("x = 1\n")
    (repo / "README").write_text("mono\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "-c", "user.name=ds", "-c", "user.email=ds@example.com", "commit", "-q", "-m", "mono")
    code = export_build(repo / "models" / "wine", head(repo), tmp_path / "builds" / "d2")
    assert code == tmp_path / "builds" / "d2" / "models" / "wine" and (code / "model.py").read_text() == "x = 1\n"


def test_an_unknown_commit_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    repo = make_project(tmp_path / "repo", {"model.py": "x = 1\n"}, ["M"])
    with pytest.raises(RuntimeError, match="git cat-file"):
        export_build(repo, "0" * 40, tmp_path / "builds" / "d3")
    assert not (tmp_path / "builds" / "d3").exists() and list((tmp_path / "builds").iterdir()) == []
