"""mlcatalog's own OpenLineage facets: what a build and a deployment are in the catalog (commit, CRNs, status).

The spec asks a custom facet for a producer-specific name prefix (``mlcatalog_``), a ``_producer`` and a
``_schemaURL`` pointing at the facet's JSON schema. The schemas are here (:data:`FACET_SCHEMAS`), each with its
``$id`` equal to the facets' ``_schemaURL`` (without the fragment): a consumer that registers them resolves the
facets offline. mlcatalog publishes no web site, so the ids are URNs, never a URL that answers nothing.
"""

from __future__ import annotations

from typing import Any

import attr
from openlineage.client.generated.base import DatasetFacet

__all__ = ["BUILD_FACET", "DEPLOYMENT_FACET", "FACET_SCHEMAS", "SCHEMA_BASE", "BuildDatasetFacet",
           "DeploymentDatasetFacet"]

SCHEMA_BASE = "urn:mlcatalog:openlineage:facets:1-0-0:"
BUILD_FACET = "mlcatalog_build"
DEPLOYMENT_FACET = "mlcatalog_deployment"
_SPEC = "https://openlineage.io/spec/2-0-2/OpenLineage.json"


def _schema_url(name: str) -> str:
    return f"{SCHEMA_BASE}{name}.json#/$defs/{name}"


@attr.define
class BuildDatasetFacet(DatasetFacet):
    """On a build's output dataset: the build as the catalog records it in Atlas (``ml_model_build``)."""

    buildCrn: str = attr.field(kw_only=True)  # camelCase: the JSON names, as the spec spells its own
    modelCrn: str = attr.field(kw_only=True)
    modelName: str = attr.field(kw_only=True)
    projectCrn: str = attr.field(kw_only=True)
    projectName: str = attr.field(kw_only=True)
    gitUrl: str = attr.field(kw_only=True)
    commit: str = attr.field(kw_only=True)
    author: str = attr.field(kw_only=True)
    commitTime: str = attr.field(kw_only=True)
    lineagePath: str = attr.field(kw_only=True)
    _additional_skip_redact = ["buildCrn", "modelCrn", "projectCrn", "commit"]  # noqa: RUF012 - attrs' ClassVar

    @staticmethod
    def _get_schema() -> str:
        return _schema_url("MlcatalogBuildDatasetFacet")


@attr.define
class DeploymentDatasetFacet(DatasetFacet):
    """On a deployment's output dataset: the deployment as the platform serves it (``ml_model_deployment``)."""

    deploymentCrn: str = attr.field(kw_only=True)
    buildCrn: str = attr.field(kw_only=True)
    modelCrn: str = attr.field(kw_only=True)
    modelName: str = attr.field(kw_only=True)
    name: str = attr.field(kw_only=True)
    status: str = attr.field(kw_only=True)
    createTime: str = attr.field(kw_only=True)
    deployedTime: str = attr.field(kw_only=True)
    cpuMillicores: int = attr.field(kw_only=True)
    memoryMb: int | None = attr.field(default=None, kw_only=True)
    replicas: int | None = attr.field(default=None, kw_only=True)
    endpointUrl: str | None = attr.field(default=None, kw_only=True)
    _additional_skip_redact = ["deploymentCrn", "buildCrn", "modelCrn", "status"]  # noqa: RUF012

    @staticmethod
    def _get_schema() -> str:
        return _schema_url("MlcatalogDeploymentDatasetFacet")


def _facet_schema(key: str, name: str, required: dict[str, Any], optional: dict[str, Any], description: str
                  ) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{SCHEMA_BASE}{name}.json",
        "$defs": {name: {
            "allOf": [{"$ref": f"{_SPEC}#/$defs/DatasetFacet"}, {
                "type": "object",
                "description": description,
                "properties": {**_BASE, **required, **optional},
                "required": sorted(required),
                "additionalProperties": False,
            }],
            "type": "object",
        }},
        "type": "object",
        "properties": {key: {"$ref": f"#/$defs/{name}"}},
    }


# the base facet's own fields (checked by the spec's DatasetFacet): allowed beside ours, nothing else is
_BASE: dict[str, Any] = {"_producer": {}, "_schemaURL": {}, "_deleted": {}}
_STR = {"type": "string"}
_CRN = {"type": "string", "pattern": "^crn:"}
_TIME = {"type": "string", "format": "date-time"}
_COUNT = {"type": "integer", "minimum": 0}

#: facet name (``_schemaURL`` without the fragment) -> its JSON schema
FACET_SCHEMAS: dict[str, dict[str, Any]] = {
    f"{SCHEMA_BASE}MlcatalogBuildDatasetFacet.json": _facet_schema(
        BUILD_FACET, "MlcatalogBuildDatasetFacet",
        {"buildCrn": _CRN, "modelCrn": _CRN, "modelName": _STR, "projectCrn": _CRN, "projectName": _STR,
         "gitUrl": _STR, "commit": {"type": "string", "pattern": "^[0-9a-f]{40}([0-9a-f]{24})?$"}, "author": _STR,
         "commitTime": _TIME, "lineagePath": _STR},
        {}, "a model build as mlcatalog records it: its CRNs and the git commit it was built from"),
    f"{SCHEMA_BASE}MlcatalogDeploymentDatasetFacet.json": _facet_schema(
        DEPLOYMENT_FACET, "MlcatalogDeploymentDatasetFacet",
        {"deploymentCrn": _CRN, "buildCrn": _CRN, "modelCrn": _CRN, "modelName": _STR, "name": _STR,
         "status": {"enum": ["unknown", "deploying", "deployed", "stopping", "stopped"]}, "createTime": _TIME,
         "deployedTime": _TIME, "cpuMillicores": _COUNT},
        {"memoryMb": _COUNT, "replicas": _COUNT, "endpointUrl": _STR},
        "a model deployment as mlcatalog serves it: its CRNs, status and resources"),
}
