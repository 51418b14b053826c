"""``POST admin/audits/ageout``: aging out entity audit events (AdminResource.ageoutAuditData,
``AtlasAuditReductionService``, the audit reduction tasks and ``deleteEventsV2`` of Atlas's audit repositories).

The body is an ``AuditReductionCriteria``. It becomes up to three agings, each Atlas's task parameters:

- SWEEP (``auditSweepoutEnabled``): every event of the sweep entity types and/or action types goes;
- CUSTOM (``customAgeout*``): the custom entity/action types keep their newest ``customAgeoutAuditCount`` events
  and none older than ``customAgeoutTTLInDays``;
- DEFAULT (``defaultAgeoutEnabled``): every other entity keeps its newest ``defaultAgeoutAuditCount`` events (0: no
  count limit) and none older than ``defaultAgeoutTTLInDays`` (90 if not given; none with ``ignoreDefaultAgeoutTTL``).

TTLs are at least 7 days and counts, where given, at least 50 (``atlas.audit.min.ttl.to.maintain``,
``atlas.audit.min.count.to.maintain``); ENTITY_CREATE and ENTITY_IMPORT_CREATE events stay unless
``createEventsAgeoutAllowed``. Atlas queues each aging as a task and answers the queued tasks; the embedded store
ages out in the request (one transaction) and answers the same tasks, COMPLETE. Without ``auditAgingEnabled``
nothing happens and the answer is empty (204), as it is with ``useAuditConfig=true``: aging by configuration is
off (``atlas.audit.aging.enabled`` false).
"""

from __future__ import annotations

import sqlite3
import uuid
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from catalog.embedded import audit
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.limits import JAVA_INT, shown
from catalog.embedded.store import EmbeddedStore
from catalog.embedded.typesystem import TypeRegistry

if TYPE_CHECKING:
    from catalog.embedded.routes import AtlasRequest

DEFAULT, CUSTOM, SWEEP = "DEFAULT", "CUSTOM", "SWEEP"  # Constants.AtlasAuditAgingType
DEFAULT_TTL_DAYS = 90  # atlas.audit.default.ageout.ttl.in.days
MIN_TTL_DAYS = 7  # atlas.audit.min.ttl.to.maintain
MIN_COUNT = 50  # atlas.audit.min.count.to.maintain
TASK_TYPE = "AUDIT_REDUCTION_ENTITY_RETRIEVAL"  # AuditReductionTaskFactory.ATLAS_AUDIT_REDUCTION_ENTITY_RETRIEVAL
CREATE_ACTIONS = ("ENTITY_CREATE", "ENTITY_IMPORT_CREATE")
# EntityAuditEventV2.EntityAuditActionV2, in its declaration order
ACTIONS = ("ENTITY_CREATE", "ENTITY_UPDATE", "ENTITY_DELETE", "ENTITY_IMPORT_CREATE", "ENTITY_IMPORT_UPDATE",
           "ENTITY_IMPORT_DELETE", "CLASSIFICATION_ADD", "CLASSIFICATION_DELETE", "CLASSIFICATION_UPDATE",
           "PROPAGATED_CLASSIFICATION_ADD", "PROPAGATED_CLASSIFICATION_DELETE", "PROPAGATED_CLASSIFICATION_UPDATE",
           "TERM_ADD", "TERM_DELETE", "LABEL_ADD", "LABEL_DELETE", "ENTITY_PURGE", "BUSINESS_ATTRIBUTE_UPDATE",
           "CUSTOM_ATTRIBUTE_UPDATE")
DAY_MS = 86_400_000
_INT = Field(default=0, ge=JAVA_INT[0], le=JAVA_INT[1])


class AuditReductionCriteria(BaseModel):
    """The body, as Jackson reads it: unknown fields ignored, a null primitive is its default."""

    model_config = ConfigDict(extra="ignore")

    auditAgingEnabled: bool = False
    defaultAgeoutEnabled: bool = False
    auditSweepoutEnabled: bool = False
    createEventsAgeoutAllowed: bool = False
    subTypesIncluded: bool = False
    ignoreDefaultAgeoutTTL: bool = False
    defaultAgeoutAuditCount: int = _INT
    defaultAgeoutTTLInDays: int = _INT
    customAgeoutAuditCount: int = _INT
    customAgeoutTTLInDays: int = _INT
    customAgeoutEntityTypes: str | None = None
    customAgeoutActionTypes: str | None = None
    sweepoutEntityTypes: str | None = None
    sweepoutActionTypes: str | None = None


def parse_criteria(body: Any) -> AuditReductionCriteria:
    if not isinstance(body, dict):
        raise AtlasError(ErrorCode.BAD_REQUEST, "body must be an AuditReductionCriteria object")
    try:
        return AuditReductionCriteria.model_validate({k: v for k, v in body.items() if v is not None})
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise AtlasError(ErrorCode.BAD_REQUEST, f"AuditReductionCriteria.{where}: {first['msg']}, not "
                                                f"{shown(first.get('input'), 60)}") from e


# -- AtlasAuditReductionService.buildAgeoutCriteriaForAllAgingTypes ------------------------------------------
def _names(value: str | None) -> set[str]:
    return {v.strip() for v in value.split(",")} if value else set()


def valid_actions(given: set[str]) -> set[str]:
    """getValidActionTypes: each name, or prefix ending in ``*`` (a leading ``*``: anywhere in the name), names
    actions; none of them naming one is an error."""
    matched: set[str] = set()
    for name in given:
        pattern = name.replace("*", "")
        if name.startswith("*"):
            matched |= {a for a in ACTIONS if pattern in a}
        else:
            matched |= {a for a in ACTIONS if a.startswith(pattern)}
    if given and not matched:
        raise AtlasError(ErrorCode.INVALID_PARAMETERS, "No enum constant org.apache.atlas.model.audit."
                         "EntityAuditEventV2.EntityAuditActionV2." + ",".join(sorted(given)))
    return matched


def _at_least(value: int, minimum: int) -> int:
    return max(value, minimum)


def _aging(kind: str, ttl: int, count: int, entity_types: set[str], actions: set[str],
           c: AuditReductionCriteria) -> dict[str, Any]:
    return {"auditAgingType": kind, "ttl": ttl, "auditCount": count, "entityTypes": sorted(entity_types),
            "actionTypes": sorted(actions), "createEventsAgeoutAllowed": c.createEventsAgeoutAllowed,
            "subTypesIncluded": c.subTypesIncluded}


def agings(c: AuditReductionCriteria) -> list[dict[str, Any]]:
    """The agings the criteria ask for, in Atlas's order (sweep, custom, default)."""
    if c.defaultAgeoutTTLInDays <= 0:  # AdminResource.updateCriteriaWithDefaultValues
        c = c.model_copy(update={"defaultAgeoutTTLInDays": DEFAULT_TTL_DAYS})
    default_ttl = 0 if c.ignoreDefaultAgeoutTTL else _at_least(c.defaultAgeoutTTLInDays, MIN_TTL_DAYS)
    default_count = c.defaultAgeoutAuditCount if c.defaultAgeoutAuditCount <= 0 else \
        _at_least(c.defaultAgeoutAuditCount, MIN_COUNT)
    custom_ttl = c.customAgeoutTTLInDays if c.customAgeoutTTLInDays <= 0 else \
        _at_least(c.customAgeoutTTLInDays, MIN_TTL_DAYS)
    custom_count = c.customAgeoutAuditCount if c.customAgeoutAuditCount <= 0 else \
        _at_least(c.customAgeoutAuditCount, MIN_COUNT)
    custom_types = _names(c.customAgeoutEntityTypes)
    custom_actions = valid_actions(_names(c.customAgeoutActionTypes))
    default_actions = set(ACTIONS)
    default_excluded = set(custom_types)
    if not custom_types:
        default_actions -= custom_actions
    out = []
    if c.auditSweepoutEnabled:
        sweep_types = _names(c.sweepoutEntityTypes)
        sweep_actions = valid_actions(_names(c.sweepoutActionTypes))
        if sweep_types or sweep_actions:
            out.append(_aging(SWEEP, 0, 0, sweep_types, sweep_actions, c))
        default_excluded |= sweep_types
        custom_types -= sweep_types
        if not sweep_types:
            default_actions -= sweep_actions
            custom_actions -= sweep_actions
    if (custom_ttl > 0 or custom_count > 0) and (custom_types or custom_actions):
        out.append(_aging(CUSTOM, custom_ttl, custom_count, custom_types, custom_actions, c))
    if c.defaultAgeoutEnabled and (not c.ignoreDefaultAgeoutTTL or default_count > 0):
        if len(default_actions) == len(ACTIONS):
            default_actions = set()  # every action: the events are read without an action filter
        out.append(_aging(DEFAULT, default_ttl, default_count, default_excluded, default_actions, c))
    return out


# -- the tasks: AuditReductionEntityRetrievalTask, AuditReductionTask -----------------------------------------
def _entity_types(registry: TypeRegistry, names: list[str], kind: str, sub_types: bool) -> set[str] | None:
    """validateTypesAndIncludeSubTypes: the entity types named (a trailing ``*``: a prefix), with their subtypes if
    asked; None when a custom or sweep aging names no entity type at all (it ages nothing)."""
    all_names = {n for n, d in registry.defs.items() if d.get("category") == "ENTITY"}
    found: set[str] = set()
    for name in names:
        if name.endswith("*"):
            prefix = name.replace("*", "")
            found |= {n for n in all_names if n.startswith(prefix)}
        elif name in all_names:
            found.add(name)
    if kind != DEFAULT and not found:
        return None
    if sub_types:
        for name in list(found):
            t = registry.get(name)
            found |= t.type_and_sub_types if t is not None else set()
    return found


def eligible_entities(conn: sqlite3.Connection, registry: TypeRegistry, aging: dict[str, Any]) -> list[str]:
    """The entities whose audit an aging reduces: of its types, or for DEFAULT of every type but those."""
    kind = aging["auditAgingType"]
    types: set[str] | None = set()
    if aging["entityTypes"]:
        types = _entity_types(registry, aging["entityTypes"], kind, aging["subTypesIncluded"])
    if types is None:
        return []
    rows = conn.execute("SELECT guid, type_name FROM entity ORDER BY guid").fetchall()
    if not types:
        return [g for g, _ in rows]
    return [g for g, t in rows if (t in types) != (kind == DEFAULT)]


def events_to_age_out(conn: sqlite3.Connection, guid: str, aging: dict[str, Any], now: int) -> list[int]:
    """deleteEventsV2 for one entity: the events (their row ids) the aging removes."""
    count, ttl, kind = int(aging["auditCount"]), int(aging["ttl"]), aging["auditAgingType"]
    actions: list[str] = aging["actionTypes"]
    rows = conn.execute("SELECT seq, ts, action FROM entity_audit WHERE entity_guid = ? "
                        "ORDER BY ts DESC, idx DESC, seq DESC", (guid,)).fetchall()
    if not aging["createEventsAgeoutAllowed"]:
        rows = [r for r in rows if r[2] not in CREATE_ACTIONS]
    groups = [[r for r in rows if r[2] == a] for a in actions] if actions else [rows]
    by_count = count > 0 or kind == SWEEP
    keep: list[tuple[Any, ...]] = []
    out: list[int] = []
    for group in groups:
        if by_count:
            keep += group[:max(count, 0)]
            out += [r[0] for r in group[max(count, 0):]]
        else:
            keep += group
    if by_count and (kind == DEFAULT or not actions):  # the count limits the entity's events of all actions
        keep.sort(key=lambda r: (r[1], r[0]), reverse=True)
        out += [r[0] for r in keep[count:]]
        keep = keep[:count]
    if ttl > 0:
        cutoff = now - ttl * DAY_MS
        out += [r[0] for r in keep if r[1] < cutoff]
    return list(dict.fromkeys(out))


def age_out(conn: sqlite3.Connection, registry: TypeRegistry, aging: dict[str, Any], now: int) -> int:
    """Run one aging; returns how many events it removed."""
    removed = 0
    for guid in eligible_entities(conn, registry, aging):
        seqs = events_to_age_out(conn, guid, aging, now)
        for i in range(0, len(seqs), 500):
            chunk = seqs[i:i + 500]
            conn.execute(f"DELETE FROM entity_audit WHERE seq IN ({','.join('?' * len(chunk))})", chunk)
        removed += len(seqs)
    return removed


def ageout(store: EmbeddedStore, req: AtlasRequest) -> list[dict[str, Any]] | None:
    """``POST admin/audits/ageout[?useAuditConfig=true]``: the agings' tasks, run; None (204) when aging is off."""
    if req.qbool("useAuditConfig", False):
        return None
    criteria = parse_criteria(req.json())
    if not criteria.auditAgingEnabled:
        return None
    tasks = []
    with store.db.write() as conn:
        for aging in agings(criteria):
            start = audit.now_ms()
            age_out(conn, store.registry, aging, start)
            end = audit.now_ms()
            tasks.append({"type": TASK_TYPE, "guid": str(uuid.uuid4()), "createdBy": req.user, "createdTime": start,
                          "updatedTime": end, "startTime": start, "endTime": end, "parameters": aging,
                          "attemptCount": 0, "status": "COMPLETE"})
    return tasks
