"""Classification propagation as Atlas does it (EntityGraphMapper, DeleteHandlerV1, EntityGraphRetriever).

A classification whose ``propagate`` is true reaches the entities its entity impacts: those reachable along ACTIVE
relationships whose ``propagateTags`` allows the direction (ONE_TO_TWO: end1 -> end2, TWO_TO_ONE: end2 -> end1, BOTH),
as ``traverseImpactedVertices`` walks them; only relationship types whose def propagates are looked at (Atlas's
``getTagPropagationEdges``). Lineage is such a path: a table -> the processes reading it -> what they write.

Atlas materialises each reach as a propagated classification edge to the source's classification vertex; here it is a
row of ``propagated_classification`` (entity, type, source entity), written in the transaction of the change, and the
``entity_classification`` view joins it to the source's classification, so the body is shared as the vertex is. When
propagations change:

- a classification added with ``propagate``: to every impacted entity; removed, or ``propagate`` set false: from all;
  its other fields updated: each entity it reaches is told (PROPAGATED_CLASSIFICATION_UPDATE).
- a relationship created: the propagating classifications (own and propagated) of the end it propagates from, to the
  other end and what that one impacts (``addTagPropagation(edge, ...)``).
- a relationship's ``propagateTags`` updated: each classification propagatable through it, before or after, has its
  impacted entities computed both ways and the difference added and removed (``updateTagPropagations``).
- an entity deleted: its classifications say ``entityStatus: DELETED`` and their propagations stay, unless
  ``removePropagationsOnEntityDelete`` (``deleteAllClassifications``). The store deletes softly: a relationship
  deleted alone or with an entity keeps what was propagated through it (``SoftDeleteHandlerV1.deleteEdge`` removes
  propagations only when it removes the edge for good) but carries nothing new.
- an entity purged: the propagations it received go with it, and so do the ones it was the source of (Atlas keeps
  those, with ``entityStatus: PURGED``, until removed one by one; a source gone for good is taken as removing them).
- a relationship removed for good (a glossary term unassigned): :func:`relationship_purged`.

Each propagation added, removed or updated is audited on the entity it reaches. A classification type restricted to
some entity types (``entityTypes``) is not propagated to others, though the walk goes on through them.

The work is bounded: the walk goes a frontier at a time (one query per 500 guids), and a relationship's propagation
stops at entities that already carry the classification (what such an entity impacts carries it already), so a
relationship added below a table tagged before with thousands of entities downstream costs only what is new.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

import orjson

from catalog.embedded import audit
from catalog.embedded.typesystem import TypeRegistry, relationship_label

NONE, ONE_TO_TWO, TWO_TO_ONE, BOTH = "NONE", "ONE_TO_TWO", "TWO_TO_ONE", "BOTH"
PROPAGATE_TAGS = (NONE, ONE_TO_TWO, TWO_TO_ONE, BOTH)
CHUNK = 500  # guids per IN (...) list, well under SQLite's variable limit

_LABELS: WeakKeyDictionary[TypeRegistry, tuple[str, ...]] = WeakKeyDictionary()
# Atlas's RequestContext: an absent ``propagate`` is false while importing or consuming hook notifications.
_DEFAULT_PROPAGATE: ContextVar[bool] = ContextVar("atlas_classification_propagation_default", default=True)


@dataclass(frozen=True)
class Tag:
    """A classification as Atlas identifies its vertex: the entity it is attached to, and its type."""

    source: str
    type_name: str


def default_propagate() -> bool:
    """``propagate`` of a classification added without one (``atlas.classification.propagation.default``)."""
    return _DEFAULT_PROPAGATE.get()


@contextmanager
def notification_processing() -> Iterator[None]:
    """While consuming hook notifications (or importing), classifications added without ``propagate`` do not
    propagate, as Atlas's ``EntityGraphMapper.addClassifications`` decides for ``isInNotificationProcessing``."""
    token = _DEFAULT_PROPAGATE.set(False)
    try:
        yield
    finally:
        _DEFAULT_PROPAGATE.reset(token)


def directions(propagate_tags: str, end1: str, end2: str) -> list[tuple[str, str]]:
    """(from, to) pairs a relationship carries classifications along."""
    out = []
    if propagate_tags in (ONE_TO_TWO, BOTH):
        out.append((end1, end2))
    if propagate_tags in (TWO_TO_ONE, BOTH):
        out.append((end2, end1))
    return out


def propagating_labels(registry: TypeRegistry) -> tuple[str, ...]:
    """Labels of the relationship types whose def propagates (an edge may differ from its type only if the type's is
    BOTH, or by not propagating: AtlasRelationshipStoreV2.validateRelationship)."""
    labels = _LABELS.get(registry)
    if labels is None:
        labels = tuple(sorted({relationship_label(raw) for raw in registry.defs.values()
                               if raw["category"] == "RELATIONSHIP" and (raw.get("propagateTags") or NONE) != NONE}))
        _LABELS[registry] = labels
    return labels


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


def _edges(conn: sqlite3.Connection, labels: tuple[str, ...], frontier: list[str]
           ) -> Iterator[tuple[str, str, str, str]]:
    """(guid, end1, end2, propagateTags) of the ACTIVE propagating relationships with an end in ``frontier``."""
    lm = ",".join("?" * len(labels))
    for chunk in _chunks(frontier):
        gm = ",".join("?" * len(chunk))
        sql = ("SELECT guid, end1, end2, json_extract(body, '$.propagateTags') FROM relationship "
               f"WHERE {{end}} IN ({gm}) AND label IN ({lm}) AND status = 'ACTIVE'")
        yield from conn.execute(sql.format(end="end1") + " UNION " + sql.format(end="end2"),
                                [*chunk, *labels, *chunk, *labels])


def reach(conn: sqlite3.Connection, registry: TypeRegistry, starts: Iterable[str], *, exclude_rel: str | None = None,
          stop: frozenset[str] | set[str] = frozenset(), override: dict[str, str] | None = None) -> set[str]:
    """The entities impacted by ``starts`` (themselves left out), walking a frontier at a time; ``exclude_rel``: a
    relationship not walked (getIncludedImpactedVerticesV2's relationshipGuidToExclude); ``stop``: entities neither
    reported nor walked through; ``override``: relationship guid -> propagateTags to walk it with."""
    labels = propagating_labels(registry)
    frontier = list(dict.fromkeys(starts))
    visited = set(frontier)
    found: set[str] = set()
    if not labels:
        return found
    while frontier:
        nxt: list[str] = []
        current = set(frontier)
        for rel, end1, end2, tags in _edges(conn, labels, frontier):
            if rel == exclude_rel:
                continue
            if override and rel in override:
                tags = override[rel]
            for frm, to in directions(str(tags or NONE), end1, end2):
                if frm in current and to not in visited:
                    visited.add(to)
                    if to not in stop:
                        found.add(to)
                        nxt.append(to)
        frontier = nxt
    return found


# -- reading -------------------------------------------------------------------------------------------------
def _own_body(conn: sqlite3.Connection, tag: Tag) -> dict[str, Any] | None:
    row = conn.execute("SELECT body FROM classification WHERE entity_guid = ? AND type_name = ?",
                       (tag.source, tag.type_name)).fetchone()
    return None if row is None else dict(orjson.loads(row[0]))


def carriers(conn: sqlite3.Connection, tag: Tag) -> set[str]:
    """The entities the classification is propagated to."""
    return {r[0] for r in conn.execute("SELECT entity_guid FROM propagated_classification "
                                       "WHERE source_guid = ? AND type_name = ?", (tag.source, tag.type_name))}


def propagating_tags_on(conn: sqlite3.Connection, guid: str) -> list[Tag]:
    """The classifications an entity passes on: its own and its propagated ones, with ``propagate`` on
    (getPropagationEnabledClassificationVertices)."""
    rows = conn.execute("SELECT source_guid, type_name, body FROM entity_classification WHERE entity_guid = ? "
                        "ORDER BY type_name, source_guid", (guid,))
    return [Tag(s, t) for s, t, body in rows if orjson.loads(body).get("propagate")]


def propagated_through(conn: sqlite3.Connection, propagate_tags: str, end1: str, end2: str) -> list[dict[str, Any]]:
    """AtlasRelationship.propagatedClassifications: what the relationship passes on, from the end(s) it propagates
    from (GraphHelper.getPropagatableClassifications)."""
    out: list[dict[str, Any]] = []
    for frm, _ in directions(propagate_tags, end1, end2):
        for (body,) in conn.execute("SELECT body FROM entity_classification WHERE entity_guid = ? "
                                    "ORDER BY type_name, source_guid", (frm,)):
            c = orjson.loads(body)
            if c.get("propagate") and c not in out:
                out.append(c)
    return out


def _types(conn: sqlite3.Connection, guids: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for chunk in _chunks(guids):
        out.update(conn.execute(f"SELECT guid, type_name FROM entity WHERE guid IN ({','.join('?' * len(chunk))})",
                                chunk).fetchall())
    return out


def _audited(registry: TypeRegistry | None, type_name: str | None) -> bool:
    return type_name is not None and (registry is None or audit.is_audited(registry, type_name))


# -- writing -------------------------------------------------------------------------------------------------
def add(conn: sqlite3.Connection, registry: TypeRegistry, tag: Tag, targets: Iterable[str],
        body: dict[str, Any] | None = None, have: set[str] | None = None) -> list[str]:
    """Propagate the classification to ``targets`` (addTagPropagation): those that have it already (``have``, if
    the caller knows them), the source itself and entities of types it does not apply to are left out. Returns the
    entities it reached."""
    body = body if body is not None else _own_body(conn, tag)
    if body is None:
        return []
    if have is None:
        have = carriers(conn, tag)
    wanted = sorted({g for g in targets if g != tag.source and g not in have})
    types = _types(conn, wanted)
    ct = registry.get(tag.type_name)
    allowed = (ct.raw.get("entityTypes") or []) if ct is not None else []
    new = []
    for g in wanted:
        et = registry.get(types.get(g, ""))
        if et is not None and (not allowed or any(et.is_a(x) for x in allowed)):
            new.append(g)
    conn.executemany("INSERT OR IGNORE INTO propagated_classification(entity_guid, type_name, source_guid) "
                     "VALUES (?, ?, ?)", [(g, tag.type_name, tag.source) for g in new])
    details = "Added propagated classification: " + audit.to_json(body)
    for g in new:
        if _audited(registry, types.get(g)):
            audit.record(conn, g, "PROPAGATED_CLASSIFICATION_ADD", details)
    return new


def remove(conn: sqlite3.Connection, registry: TypeRegistry | None, tag: Tag,
           targets: Iterable[str] | None = None) -> list[str]:
    """Take the classification's propagation off ``targets`` (all when None: removeTagPropagation). Returns the
    entities it was removed from."""
    have = carriers(conn, tag)
    gone = sorted(have if targets is None else have & set(targets))
    conn.executemany("DELETE FROM propagated_classification WHERE entity_guid = ? AND type_name = ? AND "
                     "source_guid = ?", [(g, tag.type_name, tag.source) for g in gone])
    types = _types(conn, gone)
    for g in gone:
        if _audited(registry, types.get(g)):
            audit.record(conn, g, "PROPAGATED_CLASSIFICATION_DELETE", f"Deleted propagated classification: "
                                                                      f"{tag.type_name}")
    return gone


# -- the changes that move propagations ------------------------------------------------------------------------
def classification_added(conn: sqlite3.Connection, registry: TypeRegistry, guid: str, type_name: str) -> list[str]:
    """An own classification was just written: propagate it if it says so."""
    tag = Tag(guid, type_name)
    body = _own_body(conn, tag)
    if body is None or not body.get("propagate"):
        return []
    have = carriers(conn, tag)
    return add(conn, registry, tag, reach(conn, registry, [guid], stop=have), body, have)


def classification_changed(conn: sqlite3.Connection, registry: TypeRegistry, guid: str, type_name: str,
                           old: dict[str, Any], new: dict[str, Any]) -> None:
    """An own classification was updated (EntityGraphMapper.updateClassifications): ``propagate`` turned on or
    off adds or removes its propagations; any other change is told to the entities it reaches."""
    tag = Tag(guid, type_name)
    was, now = bool(old.get("propagate")), bool(new.get("propagate"))
    if was and not now:
        remove(conn, registry, tag)
    elif now and not was:
        classification_added(conn, registry, guid, type_name)
    elif now and any(old.get(k) != new.get(k) for k in ("attributes", "validityPeriods",
                                                         "removePropagationsOnEntityDelete")):
        reached = sorted(carriers(conn, tag))
        details = "Updated propagated classification: " + audit.to_json(new)
        active = dict(_active_types(conn, reached))
        for g in reached:
            if _audited(registry, active.get(g)):
                audit.record(conn, g, "PROPAGATED_CLASSIFICATION_UPDATE", details)


def _active_types(conn: sqlite3.Connection, guids: list[str]) -> Iterator[tuple[str, str]]:
    for chunk in _chunks(guids):
        yield from conn.execute(f"SELECT guid, type_name FROM entity WHERE status = 'ACTIVE' AND guid IN "
                                f"({','.join('?' * len(chunk))})", chunk)


def classification_removed(conn: sqlite3.Connection, registry: TypeRegistry, guid: str, type_name: str) -> list[str]:
    """An own classification was removed: so are its propagations."""
    return remove(conn, registry, Tag(guid, type_name))


def relationships_created(conn: sqlite3.Connection, registry: TypeRegistry, rel_guids: Iterable[str]) -> None:
    """New relationships pass on what their from-end carries (DeleteHandlerV1.addTagPropagation(edge, ...)):
    to the to-end and what it impacts, the new relationship itself not walked back."""
    reached: dict[Tag, set[str]] = {}  # per classification: who carries it, as found in this call
    bodies: dict[Tag, dict[str, Any] | None] = {}
    for rel in dict.fromkeys(rel_guids):
        row = conn.execute("SELECT end1, end2, json_extract(body, '$.propagateTags') FROM relationship "
                           "WHERE guid = ? AND status = 'ACTIVE'", (rel,)).fetchone()
        if row is None:
            continue
        for frm, to in directions(str(row[2] or NONE), row[0], row[1]):
            for tag in propagating_tags_on(conn, frm):
                have = reached.get(tag)
                if have is None:
                    have = reached[tag] = carriers(conn, tag) | {tag.source}
                if to in have:
                    continue  # it, and what it impacts, carry the classification already
                targets = {to} | reach(conn, registry, [to], exclude_rel=rel, stop=have)
                if tag not in bodies:
                    bodies[tag] = _own_body(conn, tag)
                add(conn, registry, tag, targets, bodies[tag], have)
                have |= targets


def propagate_tags_changed(conn: sqlite3.Connection, registry: TypeRegistry, rel: str, end1: str, end2: str,
                           old: str, new: str) -> None:
    """A relationship's propagateTags went from ``old`` to ``new`` (DeleteHandlerV1.updateTagPropagations): every
    classification it passes on either way has its impacted entities computed with the old and the new value."""
    if old == new:
        return
    candidates: dict[Tag, None] = {}
    for tags in (old, new):
        for frm, _ in directions(tags, end1, end2):
            candidates.update(dict.fromkeys(propagating_tags_on(conn, frm)))
    for tag in candidates:
        before = reach(conn, registry, [tag.source], override={rel: old})
        after = reach(conn, registry, [tag.source], override={rel: new})
        if after - before:
            add(conn, registry, tag, after - before)
        if before - after:
            remove(conn, registry, tag, before - after)


TERM_ASSIGNMENT = "AtlasGlossarySemanticAssignment"


def relationship_purged(conn: sqlite3.Connection, registry: TypeRegistry, rel: str) -> None:
    """A relationship is about to be removed for good (call it before the row goes): what it alone carried is
    removed for classifications with ``removePropagationsOnEntityDelete``, and for all when it assigns a glossary
    term (DeleteHandlerV1.removeTagPropagation(edge)); a soft-deleted one carried nothing any more."""
    row = conn.execute("SELECT type_name, end1, end2, json_extract(body, '$.propagateTags') FROM relationship "
                       "WHERE guid = ? AND status = 'ACTIVE'", (rel,)).fetchone()
    if row is None:
        return
    type_name, end1, end2, tags = row
    candidates: dict[Tag, None] = {}
    for frm, _ in directions(str(tags or NONE), end1, end2):
        candidates.update(dict.fromkeys(propagating_tags_on(conn, frm)))
    for tag in candidates:
        body = _own_body(conn, tag)
        if type_name != TERM_ASSIGNMENT and not (body or {}).get("removePropagationsOnEntityDelete"):
            continue
        gone = reach(conn, registry, [tag.source]) - reach(conn, registry, [tag.source], exclude_rel=rel)
        if gone:
            remove(conn, registry, tag, gone)


def entity_deleted(conn: sqlite3.Connection, registry: TypeRegistry, guid: str) -> None:
    """An entity was (softly) deleted: its classifications say so, and take their propagations with them only if
    ``removePropagationsOnEntityDelete``."""
    rows = conn.execute("SELECT type_name, body FROM classification WHERE entity_guid = ?", (guid,)).fetchall()
    for type_name, raw in rows:
        body = orjson.loads(raw)
        body["entityStatus"] = "DELETED"
        conn.execute("UPDATE classification SET body = ? WHERE entity_guid = ? AND type_name = ?",
                     (orjson.dumps(body).decode(), guid, type_name))
        if body.get("removePropagationsOnEntityDelete"):
            remove(conn, registry, Tag(guid, type_name))


def entity_purged(conn: sqlite3.Connection, registry: TypeRegistry | None, guid: str) -> None:
    """An entity is being purged (before its classifications are): what it received goes with it, and what it
    was the source of is removed."""
    for (type_name,) in conn.execute("SELECT type_name FROM classification WHERE entity_guid = ?", (guid,)).fetchall():
        remove(conn, registry, Tag(guid, type_name))
    conn.execute("DELETE FROM propagated_classification WHERE entity_guid = ?", (guid,))
