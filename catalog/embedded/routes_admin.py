"""AdminResource's routes the Atlas web UI boots with (session, metrics, metrics snapshots, admin audits), the root
types it asks for (``_ALL_ENTITY_TYPES``, ``_ALL_CLASSIFICATION_TYPES``) and the on-demand lineage; AdminResource's
health and maintenance routes (:mod:`admin_health`, :mod:`admin_tasks`, :mod:`checkstate`, :mod:`audit_ageout`),
the index recovery (:mod:`index_recovery`)
and the UI's business metadata import (:mod:`bm_import`).

Each route is ``(method, path, handler, status)``; a handler answers the content (``routes.py`` wraps it into a
reply). The typedef and purge routes of ``routes.py`` write their admin audit entries through
:mod:`catalog.embedded.admin_audit`.
"""

from __future__ import annotations

import functools
import secrets
import zoneinfo
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from catalog.embedded import (
    admin_audit,
    admin_health,
    admin_tasks,
    audit_ageout,
    bm_import,
    checkstate,
    impexp_routes,
    index_recovery,
    metrics,
)
from catalog.embedded import lineage as lineage_mod
from catalog.embedded.store import EmbeddedStore
from catalog.embedded.websession import CSRF_HEADER, CSRF_SAFE_METHODS, IDLE_SECONDS, current_web

if TYPE_CHECKING:
    from catalog.embedded.routes import AtlasRequest

Route = tuple[str, str, Callable[[EmbeddedStore, "AtlasRequest"], Any], int]
ALL_ENTITY_TYPES = "_ALL_ENTITY_TYPES"
ALL_CLASSIFICATION_TYPES = "_ALL_CLASSIFICATION_TYPES"


# -- admin/session --------------------------------------------------------------------------------------------
@functools.cache
def _timezones() -> list[str]:
    return sorted(zoneinfo.available_timezones())


def session(store: EmbeddedStore, req: AtlasRequest) -> dict[str, Any]:
    """``GET admin/session`` (``AdminResource.getUserProfile``): the user and the UI's settings. The values are
    Atlas's defaults, except where the embedded store differs: no background tasks (classification propagation
    happens in the request) and on-demand lineage on."""
    web = current_web()
    return {
        "atlas.rest-csrf.enabled": True,
        "atlas.rest-csrf.browser-useragents-regex": "^Mozilla.*,^Opera.*,^Chrome",
        "atlas.rest-csrf.methods-to-ignore": ",".join(sorted(CSRF_SAFE_METHODS)),
        "atlas.rest-csrf.custom-header": CSRF_HEADER,
        "atlas.entity.update.allowed": True,
        "atlas.entity.create.allowed": True,
        "atlas.ui.editable.entity.types": "hdfs_path",
        "atlas.ui.default.version": "v3",
        "userName": req.user,
        "groups": ["ADMIN"],  # the role of Atlas's file-based admin user; the one user here may do anything
        "timezones": _timezones(),
        "atlas.ui.date.timezone.format.enabled": True,
        "atlas.ui.date.format": "MM/DD/YYYY hh:mm:ss A",
        "atlas.debug.metrics.enabled": False,
        "atlas.tasks.enabled": False,
        "atlas.tasks.ui.tab.enabled": False,
        "atlas.lineage.on.demand.enabled": True,
        "atlas.lineage.on.demand.default.node.count": lineage_mod.ON_DEMAND_NODE_COUNT,
        "atlas.relationship.search.enabled": False,
        "atlas.session.timeout.secs": IDLE_SECONDS,
        **web.ui_settings,
        # Atlas makes a session, and its token, for any caller; a Basic caller's is never checked
        "_csrfToken": web.csrf_token or secrets.token_hex(16),
    }


# -- metrics --------------------------------------------------------------------------------------------------
def get_metrics(store: EmbeddedStore, req: AtlasRequest) -> dict[str, Any]:
    return metrics.metrics(store, exclude_sub_types=req.qbool("excludeTypeAndSubTypeEntity", True))


def metrics_stats(store: EmbeddedStore, req: AtlasRequest) -> list[dict[str, Any]]:
    metrics.ensure_hourly(store)
    return metrics.all_stats(store.db.reader(), req.qbool("mininfo", True))


def metrics_stat(store: EmbeddedStore, req: AtlasRequest) -> dict[str, Any]:
    metrics.ensure_hourly(store)
    return metrics.stat_at(store.db.reader(), req.param("collectionTime"))


def metrics_range(store: EmbeddedStore, req: AtlasRequest) -> list[dict[str, Any]]:
    metrics.ensure_hourly(store)
    q = req.query
    return metrics.stats_in_range(store.db.reader(), q.get("startTime"), q.get("endTime"), q.getlist("typeName"))


def metrics_charts(store: EmbeddedStore, req: AtlasRequest) -> dict[str, Any]:
    metrics.ensure_hourly(store)
    q = req.query
    return metrics.charts(store.db.reader(), q.get("startTime"), q.get("endTime"), q.getlist("typeName"))


# -- admin audits ---------------------------------------------------------------------------------------------
def audits(store: EmbeddedStore, req: AtlasRequest) -> list[dict[str, Any]]:
    body = req.json() if req.body.strip() else None
    return admin_audit.search(store.db.reader(), body, req.limits.search_default_limit, req.limits.search_max_limit)


# -- root types -----------------------------------------------------------------------------------------------
def _attribute(name: str, type_name: str, unique: bool = False) -> dict[str, Any]:
    """An AtlasAttributeDef as ``new AtlasAttributeDef(name, typeName, isUnique, isIndexable=true)`` makes it."""
    return {"name": name, "typeName": type_name, "isOptional": False, "cardinality": "SINGLE",
            "valuesMinCount": -1, "valuesMaxCount": -1, "isUnique": unique, "isIndexable": True,
            "includeInNotification": False, "searchWeight": -1}


def _root(category: str, name: str, description: str, attributes: list[dict[str, Any]]) -> dict[str, Any]:
    return {"category": category, "name": name, "description": description, "typeVersion": "1.0",
            "version": 1, "attributeDefs": attributes, "superTypes": [], "subTypes": []}


ENTITY_ROOT = {**_root("ENTITY", "__ENTITY_ROOT", "Root entity for system attributes", [
    _attribute("__timestamp", "date"), _attribute("__modificationTimestamp", "date"),
    _attribute("__modifiedBy", "string"), _attribute("__createdBy", "string"), _attribute("__state", "string"),
    _attribute("__guid", "string", unique=True), _attribute("__historicalGuids", "string", unique=True),
    _attribute("__typeName", "string"), _attribute("__classificationsText", "string"),
    _attribute("__classificationNames", "string"), _attribute("__propagatedClassificationNames", "string"),
    _attribute("__isIncomplete", "int"), _attribute("__labels", "string"), _attribute("__customAttributes", "string"),
    _attribute("__pendingTasks", "string")]), "relationshipAttributeDefs": [], "businessAttributeDefs": {}}
CLASSIFICATION_ROOT = {**_root("CLASSIFICATION", "__CLASSIFICATION_ROOT", "Root classification for system attributes",
                               [_attribute("__typeName", "string"), _attribute("__timestamp", "date"),
                                _attribute("__modificationTimestamp", "date"), _attribute("__modifiedBy", "string"),
                                _attribute("__createdBy", "string"), _attribute("__entityStatus", "string")]),
                       "entityTypes": []}


def entity_def(store: EmbeddedStore, req: AtlasRequest) -> dict[str, Any]:
    """``types/entitydef/name/{name}``; ``_ALL_ENTITY_TYPES`` is the root of every entity type (its system
    attributes), as AtlasTypeDefGraphStore.getEntityDefByName answers it."""
    name = req.param("name")
    if name == ALL_ENTITY_TYPES and store.registry.raw_def(name) is None:
        return ENTITY_ROOT
    return store.typedefs.get_by_name(name, "ENTITY")


def classification_def(store: EmbeddedStore, req: AtlasRequest) -> dict[str, Any]:
    """``types/classificationdef/name/{name}``; ``_ALL_CLASSIFICATION_TYPES`` (in any case, as Atlas compares it)
    is the root of every classification."""
    name = req.param("name")
    if name.upper() == ALL_CLASSIFICATION_TYPES and store.registry.raw_def(name) is None:
        return CLASSIFICATION_ROOT
    return store.typedefs.get_by_name(name, "CLASSIFICATION")


# -- on-demand lineage ----------------------------------------------------------------------------------------
def lineage_on_demand(store: EmbeddedStore, req: AtlasRequest) -> dict[str, Any]:
    constraints = lineage_mod.constraints_of(req.json() if req.body.strip() else None)
    return lineage_mod.lineage_on_demand(store.db.reader(), store.registry, req.param("guid"), constraints)


ROUTES: list[Route] = [
    ("GET", "/v2/types/entitydef/name/{name}", entity_def, 200),
    ("GET", "/v2/types/classificationdef/name/{name}", classification_def, 200),
    ("POST", "/v2/lineage/{guid}", lineage_on_demand, 200),
    ("GET", "/admin/session", session, 200),
    ("GET", "/admin/metrics", get_metrics, 200),
    ("GET", "/admin/metricsstats", metrics_stats, 200),
    ("GET", "/admin/metricsstat/{collectionTime}", metrics_stat, 200),
    ("GET", "/admin/metricsstats/range", metrics_range, 200),
    ("GET", "/admin/metricsstats/charts", metrics_charts, 200),
    ("POST", "/admin/audits", audits, 200),
    *admin_audit.ROUTES,
    # health, diagnostics, tasks, searches in flight, consistency and audit aging
    ("GET", "/admin/liveness", admin_health.liveness, 200),
    ("GET", "/admin/readiness", admin_health.readiness, 200),
    ("GET", "/admin/stack", admin_health.stack, 200),
    ("GET", "/admin/debug/metrics", admin_health.debug_metrics, 200),
    ("GET", "/admin/patches", admin_health.patches, 200),
    ("GET", "/admin/tasks", admin_tasks.get_tasks, 200),
    ("DELETE", "/admin/tasks", admin_tasks.delete_tasks, 204),
    ("GET", "/admin/activeSearches", admin_tasks.active_searches, 200),
    ("DELETE", "/admin/activeSearches/{id}", admin_tasks.terminate_search, 200),
    ("POST", "/admin/checkstate", checkstate.checkstate, 200),
    ("POST", "/admin/audits/ageout", audit_ageout.ageout, 200),
    # IndexRecoveryREST: rebuilding what the store derives from entities, from a start time
    *index_recovery.ROUTES,
    # the business metadata import of Atlas's UI (EntityREST)
    ("GET", "/v2/entity/businessmetadata/import/template", bm_import.template, 200),
    ("POST", "/v2/entity/businessmetadata/import", bm_import.import_attributes, 200),
    # export/import of Atlas's ZIP format, and the servers and audit entries they record
    *impexp_routes.ROUTES,
]
