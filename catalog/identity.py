"""A model build as the catalog names it: project, model and build CRNs at a git commit.

The CRNs are derived from the project's repository (remote URL, else path), the model's name in lineage.yml and
the commit, so anyone who can read the repository computes the same names without asking Atlas.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from catalog.crn import CrnScope, derived_id
from catalog.errors import InvalidInput
from catalog.lineagefile import LineageFile, LineageFileError, parse_lineage
from catalog.sync.builder import ProjectInput
from catalog.sync.git import GitHead, read_head, uncommitted


@dataclass(frozen=True)
class BuildIdentity:
    project_crn: str
    model_crn: str
    build_crn: str
    commit: str
    repo_root: Path
    lineage_path: str  # the lineage file's path inside the repository


def project_input(scope: CrnScope, project_dir: Path, head: GitHead) -> ProjectInput:
    """The project's CRN is derived from its repository (remote URL, else path) and sub-directory: stable across
    machines that clone the same remote."""
    rel = project_dir.resolve().relative_to(head.root.resolve()).as_posix()
    identity = head.remote_url or str(head.root.resolve())
    return ProjectInput(crn=scope.crn(derived_id("project", identity, rel)), name=project_dir.resolve().name,
                        git_url=head.remote_url or str(head.root.resolve()))


def model_crn(scope: CrnScope, project_crn: str, model: str) -> str:
    return scope.crn(derived_id("model", project_crn, model))


def build_crn(scope: CrnScope, model_crn_: str, commit: str) -> str:
    return scope.crn(derived_id("build", model_crn_, commit))


def committed_lineage(head: GitHead) -> LineageFile:
    return lineage_of(head.lineage_bytes, head.lineage_path)


def lineage_of(data: bytes | str, path: str) -> LineageFile:
    """The parsed lineage file; InvalidInput listing its problems (``file:line:column: ...``) when it does not parse."""
    try:
        return parse_lineage(data, path)
    except LineageFileError as e:
        raise InvalidInput("\n".join(str(p) for p in e.problems)) from e


def identify_build(scope: CrnScope, project_dir: Path, model: str, commit: str = "HEAD") -> BuildIdentity:
    """The identity of ``model``'s build at ``commit``; InvalidInput when the committed lineage file does not
    parse or does not name the model."""
    head = read_head(project_dir, commit)
    lineage = committed_lineage(head)
    if model not in lineage.models:
        raise InvalidInput(f"{head.lineage_path}: no model named {model!r} "
                           f"(models: {', '.join(map(repr, lineage.models))})")
    project = project_input(scope, project_dir, head)
    mc = model_crn(scope, project.crn, model)
    return BuildIdentity(project_crn=project.crn, model_crn=mc, build_crn=build_crn(scope, mc, head.commit),
                         commit=head.commit, repo_root=head.root, lineage_path=head.lineage_path)


def uncommitted_change(build: BuildIdentity, file: Path) -> str | None:
    """Why ``file`` (in the build's work tree) is not exactly as committed at the build's commit, or None."""
    return uncommitted(build.repo_root, file, build.commit)
