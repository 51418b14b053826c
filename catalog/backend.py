"""What other parts of mlcatalog ask of the catalog, as one interface with typed requests and results.

:class:`CatalogBackend` is implemented in-process by :class:`catalog.service.LocalCatalog` and over the catalog's
REST API by :class:`catalog.remote.RemoteCatalog`; which one a process uses is chosen by URL where it is assembled.
Both raise the catalog's errors (``catalog.errors``); :class:`~catalog.errors.UpstreamUnavailable` means "try
again later", anything else that the request itself cannot succeed.
"""

from __future__ import annotations

from typing import Literal, Protocol, Self

from pydantic import BaseModel, Field, model_validator

DEPLOYMENT_STATUSES = ("unknown", "deploying", "deployed", "stopping", "stopped")
DriftStatus = Literal["ok", "warning", "drifting", "unknown"]


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


class DriftRecord(BaseModel):
    """A deployment's drift status after a monitoring window (used by the model monitor).

    Recorded on the deployment entity as its ``driftStatus``, ``driftColumns``, ``driftCheckedTime``,
    ``driftWindowStart`` and ``driftWindowEnd`` attributes; the deployment carries the classification ``DRIFTING``
    exactly while its status is ``drifting``.
    """

    crn: str = Field(min_length=1, description="the deployment's CRN")
    status: DriftStatus
    columns: list[str] = Field(default_factory=list, description="the columns that crossed their threshold")
    checked_time_ms: int = Field(ge=0, description="when the window was checked (epoch ms)")
    window_start_ms: int = Field(ge=0, description="start of the monitoring window (epoch ms, inclusive)")
    window_end_ms: int = Field(ge=0, description="end of the monitoring window (epoch ms, exclusive)")

    @model_validator(mode="after")
    def _window_in_order(self) -> Self:
        if self.window_end_ms < self.window_start_ms:
            raise ValueError("window_end_ms is before window_start_ms")
        return self


class DatasetRef(BaseModel):
    """A training input of a build (a Hive table, an S3 directory or object...), as its lineage names it."""

    type_name: str = Field(description="its Atlas type, e.g. hive_table, aws_s3_v2_directory")
    qualified_name: str
    name: str | None = None
    columns: list[str] = Field(default_factory=list,
                               description="a hive_table's column names in table order (partition keys last), "
                                           "as recorded in the catalog; else []")


class CatalogBackend(Protocol):
    def record_build(self, request: BuildRequest) -> BuildResult: ...

    def record_deployment(self, record: DeploymentRecord) -> WriteResult: ...

    def record_drift(self, record: DriftRecord) -> WriteResult:
        """Set the deployment's drift status (:class:`~catalog.errors.NotFound` when it is not in the catalog);
        recording the same status again writes nothing."""
        ...

    def build_inputs(self, build_crn: str) -> list[DatasetRef]:
        """The training inputs of a build, in the order its training process lists them (the project, an input of
        that process too, is left out); :class:`~catalog.errors.NotFound` for a build not in the catalog."""
        ...

    def close(self) -> None: ...
