"""Who may do what: roles scoped to projects, as CML's project roles and Atlas's per-entity authorizer expect.

A credential resolves to one :class:`Principal`:

* ``admin``: everything, including API keys and the outbox;
* ``deployer``: read, deploy, stop, record builds and metrics, call models, in its projects;
* ``viewer``: read the catalog, deployments and metrics of its projects;
* ``caller``: call the models of its deployments (or of every deployment of its projects), nothing else.

A project is named by its name (its directory's name) or its CRN; ``*`` is every project. Whoever is asked about
a project outside the principal's scope gets :class:`~catalog.errors.Forbidden` with the reason: the deployment
and project CRNs a caller can name are random and unguessable, so saying that one exists leaks nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from catalog.errors import Forbidden, InvalidInput

Role = Literal["admin", "deployer", "viewer", "caller"]
Action = Literal["read", "deploy", "call", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
EVERY_PROJECT = "*"

# What each role may do in its scope (admin: everywhere).
_ALLOWED: dict[Role, frozenset[Action]] = {
    "admin": frozenset(get_args(Action)),
    "deployer": frozenset({"read", "deploy", "call"}),
    "viewer": frozenset({"read"}),
    "caller": frozenset({"call"}),
}
_VERBS: dict[Action, str] = {"read": "read", "deploy": "deploy or change", "call": "call", "admin": "administer"}


@dataclass(frozen=True)
class ProjectRef:
    """The project something belongs to, by both names a scope may use."""

    crn: str | None
    name: str | None

    def names(self) -> tuple[str, ...]:
        return tuple(n for n in (self.crn, self.name) if n)


@dataclass(frozen=True)
class Principal:
    """An authenticated credential: ``who`` names it in messages and audit (a key id, never a secret)."""

    who: str
    role: Role
    projects: frozenset[str] = field(default_factory=frozenset)
    deployments: frozenset[str] = field(default_factory=frozenset)  # callers: the deployments they may call

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def in_project(self, project: ProjectRef | None) -> bool:
        if self.is_admin or EVERY_PROJECT in self.projects:
            return True
        return project is not None and any(n in self.projects for n in project.names())

    def may(self, action: Action, project: ProjectRef | None = None, *, deployment: str | None = None) -> bool:
        """Whether this principal may ``action`` in ``project`` (for ``call``: on ``deployment``)."""
        if action not in _ALLOWED[self.role]:
            return False
        if self.is_admin:
            return True
        if action == "call" and self.role == "caller" and deployment is not None and deployment in self.deployments:
            return True
        return action != "admin" and self.in_project(project)

    def require(self, action: Action, project: ProjectRef | None = None, *, deployment: str | None = None,
                what: str = "") -> None:
        """Forbidden unless :meth:`may`; ``what`` names the object in the message (a CRN, a project)."""
        if self.may(action, project, deployment=deployment):
            return
        if action not in _ALLOWED[self.role]:
            raise Forbidden(f"a {self.role} key may not {_VERBS[action]} {what or 'this'}".rstrip()
                            + (": this needs an administrative key" if action == "admin" else ""))
        names = project.name or project.crn if project is not None else None
        raise Forbidden(f"this {self.role} key's projects do not include "
                        f"{f'project {names}' if names else 'this project'}" + (f" ({what})" if what else ""))

    def visible(self, projects: Iterable[ProjectRef | None]) -> list[bool]:
        """For each project, whether its things are readable (lists are filtered with this)."""
        return [self.may("read", p) for p in projects]


#: The configured administrative credentials (the admin key, the API token): every right.
def administrator(who: str) -> Principal:
    return Principal(who=who, role="admin")


def project_path(root: Path, given: str, other_roots: Sequence[Path] = ()) -> Path:
    """The project directory a request names: relative to ``root`` (the configured projects root), or absolute
    under it or under one of ``other_roots`` (the platform's own). InvalidInput for anything else: a request must
    not reach any repository on the server's disk. Links are resolved first, so one pointing out counts as out."""
    base = root.resolve()
    try:
        project = (base / given).resolve()
    except (OSError, RuntimeError) as e:  # a loop of links, a name too long
        raise InvalidInput(f"project directory {given} cannot be read: {getattr(e, 'strerror', None) or e}") from None
    if any(project.is_relative_to(other.resolve()) for other in other_roots):
        return project
    if base == Path(base.anchor):
        raise InvalidInput("no projects are served from the file system's root: set serving.projects_root "
                           "(MLCATALOG_PROJECTS_ROOT) to the directory deployable projects live in")
    if not project.is_relative_to(base):
        raise InvalidInput(f"project directory {given} is not under the projects root: projects live there (give "
                           "a path relative to it; setting serving.projects_root)")
    return project
