"""Atlas's metrics (``MetricsService``, ``AtlasMetrics``) and their snapshots over time (``AtlasMetricsStat``).

``admin/metrics`` counts the store as Atlas counts its graph: per entity type (not the internal ones) the ACTIVE,
DELETED and shell (``isIncomplete``) entities, per classification the entities it is attached to (propagated
copies are not counted: Atlas counts classification vertices), the number of typedefs and classifications, and the
server's start and uptime. There is no notification processing here, so no ``Notification:*`` statistics (the UI
then shows no notification table); ``system`` describes this process instead of a JVM.

Atlas saves a snapshot of the metrics every hour (``atlas.metrics.persist.schedule``) and drops those older than
``atlas.metrics.ttl.hours`` (336). Here a snapshot is taken when the server starts and, when the snapshots are
read, if none was taken in the current hour: the same hourly series for a server that is looked at.
"""

from __future__ import annotations

import os
import platform
import resource
import sqlite3
import sys
import time
import uuid
from typing import Any

import orjson

from catalog.embedded import admin_audit
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.store import EmbeddedStore

HOUR_MS = 3_600_000
TTL_MS = 336 * HOUR_MS  # atlas.metrics.ttl.hours
NAMESPACE = "default"  # AtlasEntityUtil.getMetadataNamespace() when none is configured
STATUS_CATEGORY = ("Active", "Deleted", "Shell")
INTERNAL = "__internal"


def _uptime(ms: int) -> str:
    """AtlasMetricsUtil.millisToTimeDiff."""
    seconds, minutes, hours, days = ms // 1000 % 60, ms // 60_000 % 60, ms // HOUR_MS % 24, ms // (24 * HOUR_MS)
    parts = [f"{days} day" if days else "", f"{hours} hour" if hours else "", f"{minutes} min" if minutes else "",
             f"{seconds} sec" if seconds else ""]
    return " ".join(p for p in parts if p)


def _server_stats(conn: sqlite3.Connection, now: int) -> dict[str, Any]:
    started = admin_audit.last_server_start(conn) or now
    return {"Server:startTimeStamp": started, "Server:activeTimeStamp": started,
            "Server:upTime": _uptime(now - started), "Server:statusBackendStore": "connected",
            "Server:statusIndexStore": "connected"}


def _system() -> dict[str, Any]:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    return {
        "os": {"os.spec": ", ".join((platform.system(), platform.machine(), platform.release())),
               "os.vcpus": str(os.cpu_count() or 1)},
        "runtime": {"name": platform.python_implementation(), "version": platform.python_version()},
        "memory": {"maxResidentBytes": str(rss)},
    }


def _entity_counts(conn: sqlite3.Connection) -> dict[str, dict[str, int]]:
    """type -> {"Active": n, "Deleted": n, "Shell": n}."""
    out: dict[str, dict[str, int]] = {}
    for type_name, status, count, shells in conn.execute(
            "SELECT type_name, status, COUNT(*), SUM(json_extract(body, '$.isIncomplete') = 1) FROM entity "
            "GROUP BY type_name, status"):
        counts = out.setdefault(type_name, {"Active": 0, "Deleted": 0, "Shell": 0})
        if status == "ACTIVE":
            counts["Active"] += count
        elif status == "DELETED":
            counts["Deleted"] += count
        counts["Shell"] += int(shells or 0)
    return out


def _tag_counts(conn: sqlite3.Connection) -> dict[str, int]:
    rows = conn.execute(
        "SELECT c.type_name, COUNT(*) FROM classification c JOIN entity e ON e.guid = c.entity_guid "
        "WHERE e.status = 'ACTIVE' AND coalesce(json_extract(c.body, '$.entityGuid'), c.entity_guid) = c.entity_guid "
        "GROUP BY c.type_name")
    return {name: int(count) for name, count in rows}


def metrics(store: EmbeddedStore, *, exclude_sub_types: bool = True, now: int | None = None) -> dict[str, Any]:
    """``GET admin/metrics``: an AtlasMetrics ``{"data": {general, entity, tag, system}}``."""
    now = now or int(time.time() * 1000)
    reg = store.registry
    conn = store.db.reader()
    entity_defs = {n: d for n, d in reg.defs.items()
                   if d["category"] == "ENTITY" and INTERNAL not in (d.get("superTypes") or [])}
    counts = _entity_counts(conn)
    maps: dict[str, dict[str, int]] = {status: {} for status in STATUS_CATEGORY}
    unused = total = 0
    for name in entity_defs:
        c = counts.get(name, {})
        for status in STATUS_CATEGORY:
            if c.get(status):
                maps[status][name] = c[status]
        total += c.get("Active", 0) + c.get("Deleted", 0)
        unused += not (c.get("Active") or c.get("Deleted"))
    classifications = [n for n, d in reg.defs.items() if d["category"] == "CLASSIFICATION"]
    tags = _tag_counts(conn)
    entity: dict[str, Any] = {f"entity{status}": maps[status] for status in STATUS_CATEGORY}
    if not exclude_sub_types:
        for status in STATUS_CATEGORY:
            entity[f"entity{status}-typeAndSubTypes"] = _with_sub_types(store, entity_defs, maps[status])
    return {"data": {
        "general": {"collectionTime": now, "stats": _server_stats(conn, now), "typeCount": len(reg.defs),
                    "tagCount": len(classifications), "typeUnusedCount": unused, "entityCount": total},
        "entity": entity,
        "tag": {"tagEntities": {n: tags[n] for n in classifications if tags.get(n)}},
        "system": _system(),
    }}


def _with_sub_types(store: EmbeddedStore, names: dict[str, Any], counts: dict[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for name in names:
        t = store.registry.get(name)
        subtypes = {name, *(t.all_sub_types if t is not None else ())}
        n = sum(counts.get(s, 0) for s in subtypes)
        if n:
            out[name] = n
    return out


# -- snapshots ------------------------------------------------------------------------------------------------
def save_snapshot(store: EmbeddedStore, now: int | None = None) -> int:
    """Take a snapshot (and drop the expired ones); its collectionTime."""
    return _save(store, metrics(store, now=now), only_if_none_since=None)


def ensure_hourly(store: EmbeddedStore, now: int | None = None) -> None:
    """A snapshot for the current hour, unless there is one."""
    now = now or int(time.time() * 1000)
    hour = now - now % HOUR_MS
    if _latest(store.db.reader()) < hour:
        _save(store, metrics(store, now=now), only_if_none_since=hour)


def _latest(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT MAX(collection_time) FROM metrics_stat").fetchone()
    return -1 if row[0] is None else int(row[0])


def _save(store: EmbeddedStore, body: dict[str, Any], *, only_if_none_since: int | None) -> int:
    collection_time = int(body["data"]["general"]["collectionTime"])
    with store.db.write() as conn:
        if only_if_none_since is not None and _latest(conn) >= only_if_none_since:
            return collection_time  # another request took this hour's snapshot meanwhile
        conn.execute("DELETE FROM metrics_stat WHERE collection_time + ttl_ms < ?", (collection_time,))
        conn.execute("INSERT OR REPLACE INTO metrics_stat(collection_time, guid, ttl_ms, body) VALUES (?, ?, ?, ?)",
                     (collection_time, str(uuid.uuid4()), TTL_MS, orjson.dumps(body).decode()))
    return collection_time


def _stat(row: tuple[Any, ...], *, with_metrics: bool, type_names: list[str] | None = None) -> dict[str, Any]:
    collection_time, guid, ttl, body = row
    out: dict[str, Any] = {"guid": guid, "metricsId": f"atlas_metrics_{collection_time}@{NAMESPACE}",
                           "collectionTime": collection_time, "timeToLiveMillis": ttl}
    data = orjson.loads(body)
    if type_names:
        entity = data["data"].get("entity") or {}
        out["typeData"] = {t: {s: int((entity.get(f"entity{s}") or {}).get(t, 0)) for s in STATUS_CATEGORY}
                           for t in type_names}
    if with_metrics:
        out["metrics"] = data
    return out


_COLUMNS = "SELECT collection_time, guid, ttl_ms, body FROM metrics_stat"


def all_stats(conn: sqlite3.Connection, min_info: bool) -> list[dict[str, Any]]:
    """``GET admin/metricsstats``: newest first; ``mininfo`` leaves out the metrics themselves."""
    rows = conn.execute(_COLUMNS + " ORDER BY collection_time DESC").fetchall()
    return [_stat(r, with_metrics=not min_info) for r in rows]


def stat_at(conn: sqlite3.Connection, collection_time: str) -> dict[str, Any]:
    """``GET admin/metricsstat/{collectionTime}``."""
    try:
        at = int(collection_time)
    except ValueError as e:
        raise AtlasError(ErrorCode.INVALID_PARAMETERS, f"collectionTime={collection_time[:40]}") from e
    row = conn.execute(_COLUMNS + " WHERE collection_time = ?", (at,)).fetchone()
    if row is None:
        raise AtlasError(ErrorCode.INSTANCE_BY_UNIQUE_ATTRIBUTE_NOT_FOUND, "__AtlasMetricsStat",
                         {"metricsId": f"atlas_metrics_{at}@{NAMESPACE}"})
    return _stat(row, with_metrics=True)


def _range(start: str | None, end: str | None) -> tuple[int, int]:
    if not start or not start.strip() or not end or not end.strip():
        raise AtlasError(ErrorCode.BAD_REQUEST, "startTime or endTime is null/empty.")
    try:
        lo, hi = int(start), int(end)
    except ValueError as e:
        raise AtlasError(ErrorCode.INVALID_PARAMETERS, "startTime and endTime must be epoch milliseconds") from e
    if lo >= hi:
        raise AtlasError(ErrorCode.INVALID_PARAMETERS, f"startTime: '{lo}', should be less than, endTime: '{hi}'")
    return lo, hi


def stats_in_range(conn: sqlite3.Connection, start: str | None, end: str | None, type_names: list[str]
                   ) -> list[dict[str, Any]]:
    """``GET admin/metricsstats/range``: newest first, each with the counts of ``type_names`` only."""
    lo, hi = _range(start, end)
    rows = conn.execute(_COLUMNS + " WHERE collection_time BETWEEN ? AND ? ORDER BY collection_time DESC",
                        (lo, hi)).fetchall()
    return [_stat(r, with_metrics=False, type_names=type_names) for r in rows]


def charts(conn: sqlite3.Connection, start: str | None, end: str | None, type_names: list[str]
           ) -> dict[str, list[dict[str, Any]]]:
    """``GET admin/metricsstats/charts``: per type, one series per status (Active, Deleted, Shell) of
    ``[collectionTime, count]`` pairs, oldest first, for a stacked area chart."""
    stats = list(reversed(stats_in_range(conn, start, end, type_names)))
    out: dict[str, list[dict[str, Any]]] = {}
    for name in type_names:
        out[name] = [{"key": status, "values": [[s["collectionTime"], s["typeData"][name][status]] for s in stats]}
                     for status in STATUS_CATEGORY] if stats else []
    return out
