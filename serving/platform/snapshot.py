"""What a deployment's replicas run: the project as its build recorded it, not the live working tree.

A build is the project at a commit, so the replicas import the files committed there (a model file, its helper
modules, lineage.yml), exported with ``git archive``: an edit made after the deploy, committed or not, is not
served, and a rollback to an older build serves that build's code. Files git does not track (a trained model a
notebook wrote, often git-ignored) are part of the project as CML's build snapshots it: they are copied as they
are at the deploy, once, so retraining in place later does not change a deployed build either. Caches and
environments (``__pycache__``, ``.venv``, ...) are left out.

Each deployment has its snapshot (``<store>/builds/<deployment id>``), made when its replicas first start in this
instance and kept while the store lives (a rollback starts the replicas again from it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

SKIPPED = frozenset({".git", "__pycache__", ".venv", "venv", "node_modules", ".ipynb_checkpoints", ".mypy_cache",
                     ".pytest_cache"})
_DONE = ".mlcatalog-snapshot"


def _git(repo: Path, *args: str) -> bytes:
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"git {args[0]}: {proc.stderr.decode(errors='replace').strip() or 'failed'}")
    return proc.stdout


def repo_root(project: Path) -> Path:
    return Path(_git(project, "rev-parse", "--show-toplevel").decode().strip())


def export_build(project: Path, commit: str, dest: Path) -> Path:
    """The snapshot of ``project`` (a directory in a git work tree) at ``commit`` in ``dest``, made unless it is
    there already; the project's directory inside it. RuntimeError when git cannot export the commit."""
    root = repo_root(project)
    inside = dest / project.resolve().relative_to(root.resolve())
    if (dest / _DONE).exists():
        return inside
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp"))  # one per export
    try:
        _git(root, "cat-file", "-e", f"{commit}^{{commit}}")  # an unknown commit: git's own one-line refusal
        with subprocess.Popen(["git", "-C", str(root), "archive", "--format=tar", commit], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) as proc:
            assert proc.stdout is not None
            with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
                tar.extractall(tmp, filter="data")
            error = proc.stderr.read() if proc.stderr else b""
        if proc.returncode != 0:
            raise RuntimeError(f"git archive {commit}: {error.decode(errors='replace').strip()}")
        target = tmp / inside.relative_to(dest)
        for name in _git(project, "ls-files", "--others", "-z").split(b"\0"):
            if not name:
                continue
            relative = Path(os.fsdecode(name))
            source = project / relative
            if SKIPPED & set(relative.parts) or source.is_symlink() or not source.is_file():
                continue
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / relative)
        (tmp / _DONE).write_text(commit)
        try:
            tmp.rename(dest)
        except OSError:  # made meanwhile by another start of the same deployment
            if not (dest / _DONE).exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return inside
