"""Entity labels: ``POST`` (set), ``PUT`` (add) and ``DELETE`` (remove) ``entity/guid/{guid}/labels``.

As ``AtlasEntityStoreV2.setLabels/addLabels/removeLabels`` and ``EntityGraphMapper``: labels are a set, each within
``atlas.entity.label.max.length`` characters of letters, digits, '_' and '-'; setting always touches the entity,
adding or removing only when the set changes; each change is audited, removals (LABEL_DELETE "Deleted labels: a b")
before additions (LABEL_ADD "Added labels: c").
"""

from __future__ import annotations

import sqlite3
from typing import Any

from catalog.embedded import audit
from catalog.embedded.entity_read import EntityRow, require_entity
from catalog.embedded.errors import AtlasError, ErrorCode

# EntityGraphMapper.validateLabels, the check entity bodies get as well (instance_checks).
from catalog.embedded.instance_checks import _check_labels as check_labels
from catalog.embedded.typesystem import TypeRegistry


def parse(body: Any) -> list[str] | None:
    """A ``Set<String>`` body as Jackson reads it: null (no body) stays None, duplicates go."""
    if body is None:
        return None
    if not isinstance(body, list) or not all(isinstance(x, str) for x in body):
        raise AtlasError(ErrorCode.BAD_REQUEST, "body must be a JSON list of labels")
    return list(dict.fromkeys(body))


def _required(labels: list[str] | None) -> list[str]:
    if not labels:
        raise AtlasError(ErrorCode.INVALID_PARAMETERS, "labels is null/empty")
    return labels


def _write(conn: sqlite3.Connection, registry: TypeRegistry, e: EntityRow, labels: list[str], added: list[str],
           removed: list[str], user: str) -> None:
    body = dict(e.body)
    if labels:
        body["labels"] = labels
    else:
        body.pop("labels", None)
    now = audit.rewrite_body(conn, e.guid, body, user)
    if not audit.is_audited(registry, e.type_name):
        return
    if removed:
        audit.record(conn, e.guid, "LABEL_DELETE", "Deleted labels: " + " ".join(removed), user, now)
    if added:
        audit.record(conn, e.guid, "LABEL_ADD", "Added labels: " + " ".join(added), user, now)


def set_labels(conn: sqlite3.Connection, registry: TypeRegistry, guid: str, labels: list[str] | None,
               user: str) -> None:
    """Replace the entity's labels (none given: remove them all)."""
    e = require_entity(conn, guid)
    new = labels or []
    check_labels(new)
    current: list[str] = e.body.get("labels") or []
    _write(conn, registry, e, new, [x for x in new if x not in current], [x for x in current if x not in new], user)


def add_labels(conn: sqlite3.Connection, registry: TypeRegistry, guid: str, labels: list[str] | None,
               user: str) -> None:
    wanted = _required(labels)
    e = require_entity(conn, guid)
    check_labels(wanted)
    current: list[str] = e.body.get("labels") or []
    added = [x for x in wanted if x not in current]
    if added:
        _write(conn, registry, e, current + added, added, [], user)


def remove_labels(conn: sqlite3.Connection, registry: TypeRegistry, guid: str, labels: list[str] | None,
                  user: str) -> None:
    unwanted = _required(labels)
    e = require_entity(conn, guid)
    check_labels(unwanted)
    current: list[str] = e.body.get("labels") or []
    removed = [x for x in current if x in unwanted]
    if removed:
        _write(conn, registry, e, [x for x in current if x not in unwanted], [], removed, user)
