"""The ML catalog on Apache Atlas, as a library.

This module is the catalog's public surface for the rest of mlcatalog (the serving platform imports nothing
else of it): its errors, CRNs, the identity of a model build, and :class:`CatalogBackend`, the interface through
which a process records builds, deployments and their drift in a catalog and reads a build's training inputs,
in-process or over its REST API.
"""

from catalog.access import (
    EVERY_PROJECT,
    ROLES,
    Action,
    Principal,
    ProjectRef,
    Role,
    administrator,
    project_path,
)
from catalog.api.errors import error_of
from catalog.api.limits import plain_params
from catalog.backend import (
    CONTROL,
    DEPLOYMENT_STATUSES,
    BuildEnvironment,
    BuildRequest,
    BuildResult,
    BuiltModelOut,
    CatalogBackend,
    DatasetRef,
    DeploymentRecord,
    DriftRecord,
    DriftStatus,
    WriteResult,
    no_control,
)
from catalog.crn import Crn, CrnError, CrnScope, bare_id, dev_crn, is_crn_ref, parse_crn, resolve_ref
from catalog.errors import (
    HTTP_STATUS,
    CatalogError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthorized,
    Unresolved,
    UpstreamUnavailable,
)
from catalog.identity import BuildIdentity, identify_build, uncommitted_change
from catalog.receive_timeout import BodyTimeouts, ReceiveTimeout, TimeoutAnswer
from catalog.redact import redact_text, redact_url
from catalog.sqlite_migrations import Migration, NewerSchemaError, apply_migrations
from catalog.sync.snapshot import ResolvedBuild

__all__ = [
    "CONTROL",
    "DEPLOYMENT_STATUSES",
    "EVERY_PROJECT",
    "HTTP_STATUS",
    "ROLES",
    "Action",
    "BodyTimeouts",
    "BuildEnvironment",
    "BuildIdentity",
    "BuildRequest",
    "BuildResult",
    "BuiltModelOut",
    "CatalogBackend",
    "CatalogError",
    "Conflict",
    "Crn",
    "CrnError",
    "CrnScope",
    "DatasetRef",
    "DeploymentRecord",
    "DriftRecord",
    "DriftStatus",
    "Forbidden",
    "InvalidInput",
    "Migration",
    "NewerSchemaError",
    "NotFound",
    "Principal",
    "ProjectRef",
    "ReceiveTimeout",
    "ResolvedBuild",
    "Role",
    "TimeoutAnswer",
    "Unauthorized",
    "Unresolved",
    "UpstreamUnavailable",
    "WriteResult",
    "administrator",
    "apply_migrations",
    "bare_id",
    "dev_crn",
    "error_of",
    "identify_build",
    "is_crn_ref",
    "no_control",
    "parse_crn",
    "plain_params",
    "project_path",
    "redact_text",
    "redact_url",
    "resolve_ref",
    "uncommitted_change",
]
