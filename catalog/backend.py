"""What other parts of mlcatalog ask of the catalog, as one interface with typed requests and results.

:class:`CatalogBackend` is implemented in-process by :class:`catalog.service.LocalCatalog` and over the catalog's
REST API by :class:`catalog.remote.RemoteCatalog`; which one a process uses is chosen by URL where it is assembled.
Both raise the catalog's errors (``catalog.errors``); :class:`~catalog.errors.UpstreamUnavailable` means "try
again later", anything else that the request itself cannot succeed.

The requests are bounded to what the catalog stores: integers to their Atlas types (``int`` is 32 bits, ``date``
epoch ms in 64), strings to a length and without control characters (a NUL cannot reach a path, a git argument
or a URL), lists and maps to a size; anything else is refused before any write.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Literal, Protocol, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:  # catalog.sync.snapshot builds on the bounded types below
    from catalog.sync.snapshot import ResolvedBuild

DEPLOYMENT_STATUSES = ("unknown", "deploying", "deployed", "stopping", "stopped")
DriftStatus = Literal["ok", "warning", "drifting", "unknown"]

INT32_MAX = 2**31 - 1  # Atlas's int
INT64_MAX = 2**63 - 1  # Atlas's long and date; SQLite's and PostgreSQL's largest integer
# C0 and C1 controls, DEL, and lone surrogates (JSON's "\ud800" decodes to one; it cannot be encoded as UTF-8)
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_BUT_LAYOUT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")  # keeps \t \n \r


def no_control(value: str) -> str:
    """``value``, or ValueError when it holds a control character (a pydantic validator)."""
    if CONTROL.search(value):
        raise ValueError("control characters (and lone surrogates) are not allowed")
    return value


def _text(value: str) -> str:
    if _CONTROL_BUT_LAYOUT.search(value):
        raise ValueError("control characters other than tab and line breaks (and lone surrogates) are not allowed")
    return value


EpochMs = Annotated[int, Field(ge=0, le=INT64_MAX, description="epoch milliseconds")]
Count = Annotated[int, Field(ge=0, le=INT32_MAX)]
CrnText = Annotated[str, Field(min_length=1, max_length=1024), AfterValidator(no_control)]
Name = Annotated[str, Field(min_length=1, max_length=1024), AfterValidator(no_control)]
PathText = Annotated[str, Field(min_length=1, max_length=4096), AfterValidator(no_control)]
UrlText = Annotated[str, Field(max_length=4096), AfterValidator(no_control)]
MetadataKey = Annotated[str, Field(min_length=1, max_length=256), AfterValidator(no_control)]
MetadataValue = Annotated[str, Field(max_length=16_384), AfterValidator(_text)]
ColumnText = Annotated[str, Field(max_length=4096), AfterValidator(_text)]  # a metric's name, as tracked


PackageName = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
PackageVersion = Annotated[str, Field(min_length=1, max_length=256), AfterValidator(no_control)]


class BuildEnvironment(BaseModel):
    """The Python environment the build is served from (made by the serving platform): what answered its
    predictions."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: Annotated[str, Field(pattern="^[0-9a-f]{8,64}$")] = Field(
        description="the environment's cache key: a hash of the runtime, requirements.txt and cdsw-build.sh")
    packages: dict[PackageName, PackageVersion] = Field(
        max_length=20_000, description="distribution name -> version, as the environment's interpreter imports them")


class BuildRequest(BaseModel):
    """Record builds of a project on the catalog's filesystem (as ``mlcatalog build`` does)."""

    project_dir: PathText
    models: Annotated[list[Name], Field(max_length=1000)] | None = None
    commit: Annotated[str, Field(min_length=1, max_length=256), AfterValidator(no_control)] = "HEAD"
    allow_unresolved: bool = False
    environment: BuildEnvironment | None = Field(
        default=None, description="the Python environment the builds are served from (their packages), recorded "
                                  "on their build entities")


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

    crn: CrnText
    build_crn: CrnText
    model_crn: CrnText
    model_name: Name
    name: Name
    status: str = Field(pattern="^(" + "|".join(DEPLOYMENT_STATUSES) + ")$")
    create_time_ms: EpochMs
    deployed_time_ms: EpochMs
    cpu_millicores: Count
    memory_mb: Count | None = None
    gpus: Count | None = None
    replicas: Count | None = None
    endpoint_url: UrlText | None = None
    user: Name = "mlcatalog"
    traffic_role: Literal["live", "canary", "shadow", "retired"] | None = Field(
        default=None, description="in its model's traffic: live, canary, shadow (a copy of the calls) or retired")
    traffic_percent: int | None = Field(default=None, ge=0, le=100, description="share of its model's calls")
    metadata: dict[MetadataKey, MetadataValue] = Field(default_factory=dict, max_length=100)


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

    crn: CrnText = Field(description="the deployment's CRN")
    status: DriftStatus
    columns: list[ColumnText] = Field(default_factory=list, max_length=10_000,
                                description="the columns that crossed their threshold")
    checked_time_ms: EpochMs = Field(description="when the window was checked (epoch ms)")
    window_start_ms: EpochMs = Field(description="start of the monitoring window (epoch ms, inclusive)")
    window_end_ms: EpochMs = Field(description="end of the monitoring window (epoch ms, exclusive)")

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

    def record_resolved_build(self, resolved: ResolvedBuild) -> BuildResult:
        """Record builds resolved elsewhere (:meth:`catalog.service.LocalCatalog.resolve_build`): from the snapshot,
        without reading the project it was resolved from."""
        ...

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
