"""What one credential may read of the catalog: the projects of its scope, and what belongs to them.

A model, build or deployment belongs to the project its CRN chain leads to (deployment → model → project); the
project's CRN and name are both matched against the credential's scope (:mod:`catalog.access`). Data sets (tables,
S3 locations) belong to no project: anyone who may read the catalog may read them and their lineage, as in Atlas
without a per-entity authorizer.
"""

from __future__ import annotations

from functools import cached_property

from catalog.access import EVERY_PROJECT, Principal, ProjectRef
from catalog.queries import Build, CatalogQueries, Deployment, Model, Project


class ReadScope:
    """``who`` None: reads are open (``read_auth`` off), everything is visible."""

    def __init__(self, queries: CatalogQueries, who: Principal | None) -> None:
        self.queries = queries
        self.who = who

    @property
    def everything(self) -> bool:
        return self.who is None or (self.who.role in ("admin", "deployer", "viewer")
                                    and (self.who.is_admin or EVERY_PROJECT in self.who.projects))

    @cached_property
    def _project_names(self) -> dict[str, str]:
        return {p.crn: p.name for p in self.queries.projects()}

    @cached_property
    def _model_projects(self) -> dict[str, str | None]:
        return {m.crn: m.project_crn for m in self.queries.models()}

    def project(self, crn: str | None) -> ProjectRef:
        return ProjectRef(crn=crn, name=self._project_names.get(crn) if crn else None)

    def of_model(self, model_crn: str | None) -> ProjectRef:
        return self.project(self._model_projects.get(model_crn) if model_crn else None)

    def may(self, ref: ProjectRef) -> bool:
        return self.everything or (self.who is not None and self.who.may("read", ref))

    def require(self, ref: ProjectRef, what: str) -> None:
        """Forbidden unless the credential may read in ``ref``."""
        if not self.everything and self.who is not None:
            self.who.require("read", ref, what=what)

    def require_reader(self) -> None:
        """Forbidden for a credential that may read nothing of the catalog (a caller key)."""
        if self.who is not None and self.who.role == "caller":
            self.who.require("read", what="the catalog")

    # -- filters and checks of the query routes' answers --------------------------------------------
    def projects(self, items: list[Project]) -> list[Project]:
        return items if self.everything else [p for p in items if self.may(ProjectRef(p.crn, p.name))]

    def models(self, items: list[Model]) -> list[Model]:
        return items if self.everything else [m for m in items if self.may(self.project(m.project_crn))]

    def builds(self, items: list[Build]) -> list[Build]:
        return items if self.everything else [b for b in items if self.may(self.project(b.project_crn))]

    def deployments(self, items: list[Deployment]) -> list[Deployment]:
        return items if self.everything else [d for d in items if self.may(self.of_model(d.model_crn))]

    def project_item(self, p: Project) -> Project:
        self.require(ProjectRef(p.crn, p.name), p.crn)
        return p

    def model(self, m: Model) -> Model:
        self.require(self.project(m.project_crn), m.crn)
        return m

    def build(self, b: Build) -> Build:
        self.require(self.project(b.project_crn), b.crn)
        return b

    def deployment(self, d: Deployment) -> Deployment:
        self.require(self.of_model(d.model_crn), d.crn)
        return d
