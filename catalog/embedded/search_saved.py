"""Saved searches (``search/saved``): AtlasUserSavedSearch kept per user, as Atlas's UserProfileService keeps them.

A saved search belongs to its ``ownerName`` (the requesting user when absent); a user only sees, changes and
runs their own, and asking for another user's is Atlas's 400 "invalid data". Names are unique per owner (409
``ATLAS-409-00-006``), an update cannot move a search to another owner (400 ``ATLAS-400-00-056``), and a search
not found is Atlas's 404 by guid (``ATLAS-404-00-005``) or by unique name ``owner:name`` (``ATLAS-404-00-009``).
"""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

import orjson

from catalog.embedded import search_params
from catalog.embedded.entity_write import now_ms
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.limits import QUERY_PARAM_MAX_LENGTH, shown

SEARCH_TYPES = ("BASIC", "ADVANCED", "BASIC_RELATIONSHIP")
ENTITY_TYPE = "__AtlasUserSavedSearch"  # the entity type Atlas keeps them as, named in its 404 messages


def _bad(message: str) -> AtlasError:
    return AtlasError(ErrorCode.BAD_REQUEST, message)


def _string(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise _bad(f"{key} must be a string, not {shown(value, 60)}")
    if value is not None and len(value) > QUERY_PARAM_MAX_LENGTH:  # DiscoveryREST.validateUserSavedSearch
        raise AtlasError(ErrorCode.INVALID_QUERY_PARAM_LENGTH, key)
    return value


def from_body(body: Any, current_user: str) -> dict[str, Any]:
    """An AtlasUserSavedSearch as Jackson reads it and DiscoveryREST checks it; the owner defaults to the user."""
    if not isinstance(body, dict):
        raise _bad("body must be an AtlasUserSavedSearch")
    saved: dict[str, Any] = {}
    for key in ("guid", "ownerName", "name", "uiParameters"):
        value = _string(body, key)
        if value is not None:
            saved[key] = value
    if not saved.get("name"):
        raise AtlasError(ErrorCode.INVALID_PARAMETERS, "name of the saved search is required")
    search_type = body.get("searchType")
    if search_type is not None and search_type not in SEARCH_TYPES:
        raise _bad(f"searchType must be one of {', '.join(SEARCH_TYPES)}, not {shown(search_type, 60)}")
    saved["searchType"] = search_type or "BASIC"  # SavedSearchType.to(null) is BASIC
    if body.get("searchParameters") is not None:
        params = search_params.normalize_lengths(search_params.from_body(body["searchParameters"]))
        saved["searchParameters"] = search_params.echo(params)
    if not saved.get("ownerName"):
        saved["ownerName"] = current_user
    if saved["ownerName"] != current_user:
        raise _bad("invalid data")  # EntityDiscoveryService.checkSavedSearchOwnership
    return saved


def _row(conn: sqlite3.Connection, where: str, args: tuple[str, ...]) -> dict[str, Any] | None:
    row = conn.execute(f"SELECT body FROM saved_search WHERE {where}", args).fetchone()
    return None if row is None else dict(orjson.loads(row[0]))


def by_guid(conn: sqlite3.Connection, current_user: str, guid: str) -> dict[str, Any]:
    saved = _row(conn, "guid = ?", (guid,))
    if saved is None:
        raise AtlasError(ErrorCode.INSTANCE_GUID_NOT_FOUND, guid)
    if saved["ownerName"] != current_user:
        raise _bad("invalid data")
    return saved


def _owner(current_user: str, user: str | None) -> str:
    if user and user != current_user:
        raise _bad("invalid data")  # EntityDiscoveryService.getSavedSearches / getSavedSearchByName
    return current_user


def by_name(conn: sqlite3.Connection, current_user: str, user: str | None, name: str) -> dict[str, Any]:
    owner = _owner(current_user, user)
    saved = _row(conn, "owner_name = ? AND name = ?", (owner, name))
    if saved is None:
        raise AtlasError(ErrorCode.INSTANCE_BY_UNIQUE_ATTRIBUTE_NOT_FOUND, ENTITY_TYPE,
                         "{uniqueName=" + shown(f"{owner}:{name}", 200) + "}")
    return saved


def listed(conn: sqlite3.Connection, current_user: str, user: str | None) -> list[dict[str, Any]]:
    owner = _owner(current_user, user)
    rows = conn.execute("SELECT body FROM saved_search WHERE owner_name = ? ORDER BY create_time, rowid",
                        (owner,)).fetchall()
    return [dict(orjson.loads(r[0])) for r in rows]


def _write(conn: sqlite3.Connection, saved: dict[str, Any], created: bool) -> None:
    now = now_ms()
    body = orjson.dumps(saved).decode()
    if created:
        conn.execute("INSERT INTO saved_search(guid, owner_name, name, body, create_time, update_time) "
                     "VALUES (?, ?, ?, ?, ?, ?)", (saved["guid"], saved["ownerName"], saved["name"], body, now, now))
    else:
        conn.execute("UPDATE saved_search SET name = ?, body = ?, update_time = ? WHERE guid = ?",
                     (saved["name"], body, now, saved["guid"]))


def add(conn: sqlite3.Connection, current_user: str, body: Any) -> dict[str, Any]:
    saved = from_body(body, current_user)
    if saved.get("guid") and not saved["guid"].startswith("-"):
        by_guid(conn, current_user, saved["guid"])  # someone else's guid is "invalid data"
    if _row(conn, "owner_name = ? AND name = ?", (saved["ownerName"], saved["name"])) is not None:
        raise AtlasError(ErrorCode.SAVED_SEARCH_ALREADY_EXISTS, shown(saved["name"], 200), saved["ownerName"])
    saved["guid"] = str(uuid.uuid4())
    _write(conn, saved, created=True)
    return saved


def update(conn: sqlite3.Connection, current_user: str, body: Any) -> dict[str, Any]:
    saved = from_body(body, current_user)
    if not saved.get("guid"):
        raise AtlasError(ErrorCode.INVALID_OBJECT_ID, "null")  # UserProfileService: a blank guid
    existing = _row(conn, "guid = ?", (saved["guid"],))
    if existing is None:
        raise AtlasError(ErrorCode.INSTANCE_GUID_NOT_FOUND, saved["guid"])
    if existing["ownerName"] != saved["ownerName"]:
        raise AtlasError(ErrorCode.SAVED_SEARCH_CHANGE_USER, shown(existing["name"], 200), existing["ownerName"],
                         saved["ownerName"])
    other = _row(conn, "owner_name = ? AND name = ? AND guid != ?", (saved["ownerName"], saved["name"],
                                                                      saved["guid"]))
    if other is not None:
        raise AtlasError(ErrorCode.SAVED_SEARCH_ALREADY_EXISTS, shown(saved["name"], 200), saved["ownerName"])
    _write(conn, saved, created=False)
    return saved


def delete(conn: sqlite3.Connection, current_user: str, guid: str) -> None:
    by_guid(conn, current_user, guid)
    conn.execute("DELETE FROM saved_search WHERE guid = ?", (guid,))
