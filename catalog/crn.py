"""Cloudera Resource Names (CRNs): parse and format, CML's model/build/deployment forms included.

``crn:<partition>:<service>:<region>:<account>:<resourceType>:<resource>``; CML's ML objects use resource type
``workspace`` and resource ``<workspace>/<object-uuid>``. Dev-mode CRNs (``crn:cdp:ml:::workspace:dev/model``)
have an empty region and account, which Cloudera's own regex rejects; we accept them.

CML's SDK also takes a *bare* ``/<id>`` form in place of a model, build or deployment CRN (the example in
``track_aggregate_metrics``' help: ``model_deployment_crn="/db401b6a-..."``). It is a reference, not a CRN: it names
whichever known CRN has that object id, so it is resolved against the CRNs the caller knows (:func:`resolve_ref`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

_CRN = re.compile(
    r"^crn:(?P<partition>[a-z]+):(?P<service>[a-z]+):(?P<region>[a-z0-9-]*):(?P<account>[^:\s]*):"
    r"(?P<resource_type>[A-Za-z]+):(?P<resource>\S+)$"
)
_BARE = re.compile(r"^/(?P<id>[A-Za-z0-9][A-Za-z0-9._-]*)$")
# uuid5 namespace for CRNs derived from stable identities (project path, model name, git commit)
MLCATALOG_NAMESPACE = uuid.UUID("7a3a5c1e-2b6f-5d3e-9b0a-6d1c2f8e4a10")
DEV_WORKSPACE = "dev"


class CrnError(ValueError):
    pass


class Crn(BaseModel):
    model_config = ConfigDict(frozen=True)

    partition: str = "cdp"
    service: str = "ml"
    region: str = ""
    account: str = ""
    resource_type: str = "workspace"
    resource: str

    def __str__(self) -> str:
        return (f"crn:{self.partition}:{self.service}:{self.region}:{self.account}:"
                f"{self.resource_type}:{self.resource}")

    @property
    def workspace(self) -> str | None:
        if self.resource_type != "workspace":
            return None
        return self.resource.split("/", 1)[0] or None

    @property
    def object_id(self) -> str | None:
        """The last path element of an ML object's resource (the model/build/deployment id)."""
        if "/" not in self.resource:
            return None
        return self.resource.rsplit("/", 1)[1]

    @property
    def is_dev(self) -> bool:
        return self.workspace == DEV_WORKSPACE and not self.region and not self.account


def parse_crn(text: str) -> Crn:
    m = _CRN.match(text.strip()) if isinstance(text, str) else None
    if m is None:
        raise CrnError(f"not a CRN: {text!r} (expected crn:<partition>:<service>:<region>:<account>:<type>:<resource>)")
    return Crn(**m.groupdict())


def is_crn(text: str) -> bool:
    try:
        parse_crn(text)
    except CrnError:
        return False
    return True


def bare_id(text: str) -> str | None:
    """The object id of CML's bare ``/<id>`` form, or None when ``text`` is not in that form."""
    m = _BARE.match(text.strip()) if isinstance(text, str) else None
    return m.group("id") if m else None


def is_crn_ref(text: str) -> bool:
    """A CRN or CML's bare ``/<id>`` form of one."""
    return bare_id(text) is not None or is_crn(text)


def resolve_ref(ref: str, known: Iterable[str]) -> str | None:
    """The CRN that ``ref`` names: ``ref`` itself when it is a full CRN; for the bare ``/<id>`` form, the one CRN in
    ``known`` whose object id is ``<id>`` (None if there is none). CrnError when ``ref`` is neither form, or when
    the bare id matches several different CRNs."""
    oid = bare_id(ref)
    if oid is None:
        return str(parse_crn(ref))
    found = {c for c in known if is_crn(c) and parse_crn(c).object_id == oid}
    if len(found) > 1:
        raise CrnError(f"{ref} is ambiguous: it matches {', '.join(sorted(found))}; give the full CRN")
    return found.pop() if found else None


def ml_crn(region: str, account: str, workspace: str, object_id: str | uuid.UUID) -> Crn:
    """A CML model/build/deployment CRN: ``crn:cdp:ml:<region>:<account>:workspace:<workspace>/<id>``."""
    return Crn(region=region, account=account, resource=f"{workspace}/{object_id}")


def derived_id(*parts: str) -> uuid.UUID:
    """A stable id for an object named by ``parts`` (e.g. project identity, model name, commit)."""
    return uuid.uuid5(MLCATALOG_NAMESPACE, "\x1f".join(parts))


def dev_crn(kind: str) -> Crn:
    """CML local-dev-mode CRNs: ``crn:cdp:ml:::workspace:dev/model``, ``dev/model-build``, ``dev/model-deployment``."""
    if kind not in ("model", "model-build", "model-deployment"):
        raise CrnError(f"unknown dev CRN kind {kind!r}")
    return Crn(resource=f"{DEV_WORKSPACE}/{kind}")


@dataclass(frozen=True)
class CrnScope:
    """Where this catalog mints CRNs: ``crn:cdp:ml:<region>:<account>:workspace:<workspace>/<id>``."""

    region: str
    account: str
    workspace: str

    def crn(self, object_id: Any) -> str:
        return str(ml_crn(self.region, self.account, self.workspace, object_id))
