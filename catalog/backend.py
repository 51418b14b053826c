"""What other parts of mlcatalog ask of the catalog, as one interface with typed requests and results.

:class:`CatalogBackend` is implemented in-process by :class:`catalog.service.LocalCatalog` and over the catalog's
REST API by :class:`catalog.remote.RemoteCatalog`; which one a process uses is chosen by URL where it is assembled.
Both raise the catalog's errors (``catalog.errors``); :class:`~catalog.errors.UpstreamUnavailable` means "try
again later", anything else that the request itself cannot succeed.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, Field

DEPLOYMENT_STATUSES = ("unknown", "deploying", "deployed", "stopping", "stopped")


class BuildRequest(BaseModel):
    """Record builds of a project on the catalog's filesystem (as ``mlcatalog build`` does)."""

    project_dir: str
    models: list[str] | None = None
    commit: str = "HEAD"
    allow_unresolved: bool = False


class BuiltModelOut(BaseModel):
    model_name: str
    model_crn: str
    build_crn: str
    version: int
    new: bool
    guid: str | None = Field(default=None, description="the build entity's guid in Atlas")


class BuildResult(BaseModel):
    project_crn: str | None
    commit: str | None
    builds: list[BuiltModelOut]
    creates: int
    updates: int
    notes: list[str]


class DeploymentRecord(BaseModel):
    """A deployment to record (used by the serving platform); CRNs are minted by the caller."""

    crn: str
    build_crn: str
    model_crn: str
    model_name: str
    name: str
    status: str = Field(pattern="^(" + "|".join(DEPLOYMENT_STATUSES) + ")$")
    create_time_ms: int
    deployed_time_ms: int
    cpu_millicores: int = Field(ge=0)
    memory_mb: int | None = Field(default=None, ge=0)
    gpus: int | None = Field(default=None, ge=0)
    replicas: int | None = Field(default=None, ge=0)
    endpoint_url: str | None = None
    user: str = "mlcatalog"
    metadata: dict[str, str] = Field(default_factory=dict)


class WriteResult(BaseModel):
    creates: int
    updates: int
    written: int
    guid: str | None = Field(default=None, description="the recorded entity's guid in Atlas")


class CatalogBackend(Protocol):
    def record_build(self, request: BuildRequest) -> BuildResult: ...

    def record_deployment(self, record: DeploymentRecord) -> WriteResult: ...

    def close(self) -> None: ...
