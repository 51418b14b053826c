"""What a project's git repository says at HEAD: the commit, its author, and the committed lineage file.

The lineage file is read from the commit, never from the working tree, so a build records exactly what was
committed (an edited but uncommitted lineage.yml does not leak into the catalog).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from catalog.errors import InvalidInput

LINEAGE_NAMES = ("lineage.yml", "lineage.yaml")


@dataclass(frozen=True)
class GitHead:
    root: Path
    commit: str
    author: str
    commit_time_ms: int
    remote_url: str | None
    lineage_path: str  # path of the lineage file inside the repository
    lineage_bytes: bytes


def _git(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    try:
        proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, timeout=30, check=False)
    except FileNotFoundError as e:
        raise InvalidInput("git is not installed (needed to read lineage.yml at HEAD)") from e
    if check and proc.returncode != 0:
        msg = proc.stderr.decode(errors="replace").strip().splitlines()
        raise InvalidInput(f"{root}: git {' '.join(args[:2])} failed: {msg[-1] if msg else proc.returncode}")
    return proc


def read_head(project_dir: Path, rev: str = "HEAD") -> GitHead:
    """The project at ``rev`` (HEAD by default; a replayed build names its commit so HEAD moving is harmless)."""
    if not project_dir.is_dir():
        raise InvalidInput(f"{project_dir}: not a directory")
    top = _git(project_dir, "rev-parse", "--show-toplevel", check=False)
    if top.returncode != 0:
        raise InvalidInput(f"{project_dir}: not a git repository (lineage.yml is read as committed at HEAD)")
    root = Path(top.stdout.decode().strip())
    if rev.startswith("-"):
        raise InvalidInput(f"invalid git revision {rev!r}")
    head = _git(root, "rev-parse", "--verify", "-q", f"{rev}^{{commit}}", check=False)
    if head.returncode != 0:
        if rev == "HEAD":
            raise InvalidInput(f"{root}: the repository has no commits yet; commit lineage.yml first")
        raise InvalidInput(f"{root}: no commit {rev!r}")
    commit = head.stdout.decode().strip()
    meta = _git(root, "log", "-1", "--format=%an <%ae>%x1f%ct", commit).stdout.decode().strip()
    author, _, ct = meta.partition("\x1f")
    remote = _git(root, "config", "--get", "remote.origin.url", check=False)
    remote_url = remote.stdout.decode().strip() or None if remote.returncode == 0 else None
    # The project may be a sub-directory of the repository.
    rel = project_dir.resolve().relative_to(root.resolve()) if project_dir.resolve() != root.resolve() else None
    prefix = f"{rel.as_posix()}/" if rel is not None else ""
    found: list[tuple[str, bytes]] = []
    for name in LINEAGE_NAMES:
        blob = _git(root, "show", f"{commit}:{prefix}{name}", check=False)
        if blob.returncode == 0:
            found.append((prefix + name, blob.stdout))
    if not found:
        raise InvalidInput(f"{root}: no lineage.yml (or lineage.yaml) committed at HEAD {commit[:12]}"
                           f"{' in ' + prefix if prefix else ''}")
    if len(found) > 1:
        raise InvalidInput(f"{root}: both lineage.yml and lineage.yaml are committed; keep one")
    path, data = found[0]
    return GitHead(root=root, commit=commit, author=author, commit_time_ms=int(ct or 0) * 1000,
                   remote_url=remote_url, lineage_path=path, lineage_bytes=data)


def uncommitted(root: Path, file: Path, commit: str) -> str | None:
    """Why ``file`` (a path in the work tree of the repository at ``root``, symlinks in it not resolved) is not
    exactly as committed in ``commit``, or None when it is.

    Content is compared by blob id (``git hash-object`` of the file against ``<commit>:<path>``), not with ``git
    diff``: no pathspec globbing of the name, and no index flags (assume-unchanged, skip-worktree) hiding a change.
    The file mode is not compared: a ``chmod +x`` alone does not change the code that is served.
    """
    rel = Path(os.path.relpath(os.path.normpath(file), root.resolve())).as_posix()
    if rel.startswith("../"):
        return f"{file} is outside the repository {root}"
    inner = _git(file.parent, "rev-parse", "--show-toplevel", check=False)
    if inner.returncode == 0 and Path(inner.stdout.decode().strip()).resolve() != root.resolve():
        return (f"{rel} is in another git repository (a submodule?) than the project's {root}, whose commit the "
                "build records")
    committed = _git(root, "rev-parse", "-q", "--verify", f"{commit}:{rel}", check=False)
    if committed.returncode != 0:
        return f"{rel} is not committed (not in commit {commit[:12]})"
    current = _git(root, "hash-object", f"--path={rel}", "--", str(file), check=False)
    if current.returncode != 0 or current.stdout.strip() != committed.stdout.strip():
        return f"{rel} has changes that are not committed (differs from commit {commit[:12]})"
    return None
