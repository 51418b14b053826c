"""The shape of entity, classification and relationship bodies, checked before anything is resolved or written.

Atlas reads these bodies into Java classes (``AtlasEntity``, ``AtlasClassification``, ``AtlasRelationship``), so
Jackson refuses a field of the wrong JSON type with a 400 before any store code runs, coercing only a number to a
string; then ``AtlasEntityGraphDiscoveryV2`` checks custom attributes and labels. Both happen here, answered in
Atlas's error shape: BAD_REQUEST for what Jackson refuses, Atlas's own codes for its own rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.limits import (
    CUSTOM_ATTRIBUTE_KEY_MAX_LENGTH,
    CUSTOM_ATTRIBUTE_VALUE_MAX_LENGTH,
    JAVA_INT,
    JAVA_LONG,
    LABEL_MAX_LENGTH,
    MAX_VALUE_DEPTH,
    depth_exceeds,
    in_range,
    shown,
)

# EntityGraphMapper.CUSTOM_ATTRIBUTE_KEY_REGEX and LABEL_REGEX (the same characters).
_KEY_OR_LABEL = re.compile("[\u2e80-\u2fd5\u3190-\u319f\u3400-\u4dbf\u4e00-\u9fcc\uf900-\ufaada-zA-Z0-9_-]*")

Check = tuple[Callable[[Any], bool], str]


def _is_int(bounds: tuple[int, int]) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and in_range(v, bounds)


def _is_date(v: Any) -> bool:  # java.util.Date: epoch milliseconds or a formatted string
    return isinstance(v, str) or _is_int(JAVA_LONG)(v)


STR: Check = (lambda v: isinstance(v, str), "a string")
BOOL: Check = (lambda v: isinstance(v, bool), "a boolean")
INT: Check = (_is_int(JAVA_INT), "an integer (32 bits)")
LONG: Check = (_is_int(JAVA_LONG), "an integer (64 bits)")
DATE: Check = (_is_date, "a date (epoch milliseconds or a string)")
OBJECT: Check = (lambda v: isinstance(v, dict), "an object")
OBJECT_LIST: Check = (lambda v: isinstance(v, list) and all(isinstance(x, dict) for x in v), "a list of objects")
STR_LIST: Check = (lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), "a list of strings")
STR_MAP: Check = (lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
                  "an object of strings")
OBJECT_MAP: Check = (lambda v: isinstance(v, dict) and all(isinstance(x, dict) for x in v.values()),
                     "an object of objects")
STATUS: Check = (lambda v: v in ("ACTIVE", "DELETED", "PURGED"), "one of ACTIVE, DELETED, PURGED")
PROPAGATE_TAGS: Check = (lambda v: v in ("NONE", "ONE_TO_TWO", "TWO_TO_ONE", "BOTH"),
                         "one of NONE, ONE_TO_TWO, TWO_TO_ONE, BOTH")

_ENTITY: dict[str, Check] = {
    "typeName": STR, "guid": STR, "homeId": STR, "createdBy": STR, "updatedBy": STR, "status": STATUS,
    "createTime": DATE, "updateTime": DATE, "version": LONG, "provenanceType": INT, "isProxy": BOOL,
    "isIncomplete": BOOL, "proxy": BOOL, "attributes": OBJECT, "relationshipAttributes": OBJECT,
    "classifications": OBJECT_LIST, "meanings": OBJECT_LIST, "customAttributes": STR_MAP,
    "businessAttributes": OBJECT_MAP, "labels": STR_LIST, "pendingTasks": STR_LIST,
}
_CLASSIFICATION: dict[str, Check] = {
    "typeName": STR, "attributes": OBJECT, "entityGuid": STR, "entityStatus": STATUS, "propagate": BOOL,
    "removePropagationsOnEntityDelete": BOOL, "validityPeriods": OBJECT_LIST,
}
_VALIDITY_PERIOD: dict[str, Check] = {"startTime": STR, "endTime": STR, "timeZone": STR}
_RELATIONSHIP: dict[str, Check] = {
    "typeName": STR, "guid": STR, "homeId": STR, "label": STR, "status": (lambda v: v in ("ACTIVE", "DELETED"),
                                                                           "one of ACTIVE, DELETED"),
    "createdBy": STR, "updatedBy": STR, "createTime": DATE, "updateTime": DATE, "version": LONG,
    "provenanceType": INT, "propagateTags": PROPAGATE_TAGS, "attributes": OBJECT, "end1": OBJECT, "end2": OBJECT,
    "blockedPropagatedClassifications": OBJECT_LIST, "propagatedClassifications": OBJECT_LIST,
}


def check_fields(obj: Mapping[str, Any], checks: Mapping[str, Check], where: str) -> None:
    for key, (accepts, expected) in checks.items():
        value = obj.get(key)
        if value is not None and not accepts(value):
            raise AtlasError(ErrorCode.BAD_REQUEST, f"{where}.{key} must be {expected}, not {shown(value, 60)}")


def coerce_guid(obj: dict[str, Any]) -> None:
    """Jackson reads a number where a string is expected as its text: ``"guid": -1`` is the placeholder "-1"."""
    guid = obj.get("guid")
    if isinstance(guid, int) and not isinstance(guid, bool):
        obj["guid"] = str(guid)


def check_values(values: Mapping[str, Any], where: str) -> None:
    """Attribute values nest at most MAX_VALUE_DEPTH levels (see limits)."""
    for name, value in values.items():
        if depth_exceeds(value, MAX_VALUE_DEPTH):
            raise AtlasError(ErrorCode.BAD_REQUEST,
                             f"{where}.{shown(name, 60)}: the value nests more than {MAX_VALUE_DEPTH} levels")


def _check_custom_attributes(custom: Mapping[str, str]) -> None:
    """EntityGraphMapper.validateCustomAttributes. (With Atlas's default empty special prefix its value check never
    runs, a bug; the documented bound applies here.)"""
    for key, value in custom.items():
        if len(key) > CUSTOM_ATTRIBUTE_KEY_MAX_LENGTH:
            raise AtlasError(ErrorCode.INVALID_CUSTOM_ATTRIBUTE_KEY_LENGTH, shown(key))
        if not _KEY_OR_LABEL.fullmatch(key):
            raise AtlasError(ErrorCode.INVALID_CUSTOM_ATTRIBUTE_KEY_CHARACTERS, shown(key))
        if len(value) > CUSTOM_ATTRIBUTE_VALUE_MAX_LENGTH:
            raise AtlasError(ErrorCode.INVALID_CUSTOM_ATTRIBUTE_VALUE, shown(value),
                             CUSTOM_ATTRIBUTE_VALUE_MAX_LENGTH)


def _check_labels(labels: list[str]) -> None:
    """EntityGraphMapper.validateLabels."""
    for label in labels:
        if len(label) > LABEL_MAX_LENGTH:
            raise AtlasError(ErrorCode.INVALID_LABEL_LENGTH, shown(label), LABEL_MAX_LENGTH)
        if not _KEY_OR_LABEL.fullmatch(label):
            raise AtlasError(ErrorCode.INVALID_LABEL_CHARACTERS, shown(label))


def check_entity(entity: dict[str, Any]) -> None:
    """An AtlasEntity as Jackson and AtlasEntityGraphDiscoveryV2 accept it (nulls already removed)."""
    coerce_guid(entity)
    where = str(entity.get("typeName", "entity"))[:100]
    check_fields(entity, _ENTITY, where)
    for key in ("attributes", "relationshipAttributes", "businessAttributes"):
        check_values(entity.get(key) or {}, where)
    for c in entity.get("classifications") or []:
        check_classification(c)
    _check_custom_attributes(entity.get("customAttributes") or {})
    _check_labels(entity.get("labels") or [])


def check_classification(c: Any) -> None:
    """An AtlasClassification as Jackson reads it."""
    if not isinstance(c, dict):
        raise AtlasError(ErrorCode.BAD_REQUEST, "each classification must be an object")
    where = str(c.get("typeName", "classification"))[:100]
    check_fields(c, _CLASSIFICATION, where)
    for period in c.get("validityPeriods") or []:
        check_fields(period, _VALIDITY_PERIOD, f"{where}.validityPeriods")
    check_values(c.get("attributes") or {}, where)


def check_relationship(body: dict[str, Any]) -> None:
    """An AtlasRelationship as Jackson reads it (nulls already removed)."""
    coerce_guid(body)
    where = str(body.get("typeName", "relationship"))[:100]
    check_fields(body, _RELATIONSHIP, where)
    for end in ("end1", "end2"):
        if isinstance(body.get(end), dict):
            coerce_guid(body[end])
            check_fields(body[end], {"guid": STR, "typeName": STR, "uniqueAttributes": OBJECT}, f"{where}.{end}")
    check_values(body.get("attributes") or {}, where)
