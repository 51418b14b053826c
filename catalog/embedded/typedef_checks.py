"""The shape of one typedef, checked before it is stored, as Jackson and Atlas's def stores check it.

Atlas reads a typedef into Java classes (``AtlasEnumDef``, ``AtlasAttributeDef``...), so a field of the wrong JSON
type never reaches its store; the store then applies its naming rules (``AtlasAbstractDefStoreV2.validateType``).
Here the def stays a dict, so both happen in :func:`check_typedef`: a def that passes can be resolved, stored and
read back by every later request. Fields Atlas does not know are kept as they are, as Atlas ignores them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.limits import JAVA_INT, JAVA_LONG, in_range, shown

# AtlasAbstractDefStoreV2: NAME_REGEX, or "__" + NAME_REGEX for Atlas's internal types.
_NAME = re.compile(r"(?:__)?[a-zA-Z][a-zA-Z0-9_ ]*")
# AtlasClassificationDefStoreV2.TRAIT_NAME_REGEX: also '.' and any non-ASCII character.
_TRAIT_NAME = re.compile(r"[a-zA-Z\u0080-\U0010ffff][a-zA-Z0-9\u0080-\U0010ffff_ .]*")
_RESERVED_NAMES = frozenset({"description", "version", "options", "name", "servicetype"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

Check = tuple[Callable[[Any], bool], str]  # (accepts the value, what it should be)


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and in_range(v, JAVA_INT)


def _is_long(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and in_range(v, JAVA_LONG)


def _is_str_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _is_str_map(v: Any) -> bool:
    return isinstance(v, dict) and all(isinstance(x, str) for x in v.values())


def _is_object_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, dict) for x in v)


def _is_constraints(v: Any) -> bool:
    return _is_object_list(v) and all(isinstance(c.get("type"), str) and isinstance(c.get("params", {}), dict)
                                      for c in v)


def _one_of(*values: str) -> Check:
    return (lambda v: v in values), "one of " + ", ".join(values)


STR: Check = (_is_str, "a string")
BOOL: Check = (_is_bool, "a boolean")
INT: Check = (_is_int, "an integer (32 bits)")
LONG: Check = (_is_long, "an integer (64 bits)")
STR_LIST: Check = (_is_str_list, "a list of strings")
STR_MAP: Check = (_is_str_map, "an object of strings")
OBJECT_LIST: Check = (_is_object_list, "a list of objects")
CARDINALITY = _one_of("SINGLE", "LIST", "SET")

# AtlasBaseTypeDef's fields (the bookkeeping ones are replaced by the store, but Jackson reads them first).
_BASE: dict[str, Check] = {
    "description": STR, "typeVersion": STR, "serviceType": STR, "options": STR_MAP, "guid": STR,
    "createdBy": STR, "updatedBy": STR, "createTime": LONG, "updateTime": LONG, "version": LONG,
    "attributeDefs": OBJECT_LIST,
}
_ATTRIBUTE: dict[str, Check] = {
    "name": STR, "typeName": STR, "isOptional": BOOL, "cardinality": CARDINALITY, "valuesMinCount": INT,
    "valuesMaxCount": INT, "isUnique": BOOL, "isIndexable": BOOL, "includeInNotification": BOOL,
    "defaultValue": STR, "description": STR, "searchWeight": INT, "indexType": _one_of("DEFAULT", "STRING"),
    "constraints": (_is_constraints, "a list of {type, params} objects"), "options": STR_MAP, "displayName": STR,
    "isDefaultValueNull": BOOL,
}
_ELEMENT: dict[str, Check] = {"value": STR, "ordinal": INT, "description": STR}
_END: dict[str, Check] = {
    "type": STR, "name": STR, "isContainer": BOOL, "cardinality": CARDINALITY, "isLegacyAttribute": BOOL,
    "description": STR, "propagateDelete": BOOL, "propagateRename": BOOL,
}
_BY_CATEGORY: dict[str, dict[str, Check]] = {
    "ENUM": {"elementDefs": OBJECT_LIST, "defaultValue": STR},
    "STRUCT": {},
    "ENTITY": {"superTypes": STR_LIST},
    "CLASSIFICATION": {"superTypes": STR_LIST, "entityTypes": STR_LIST},
    "BUSINESS_METADATA": {},
    "RELATIONSHIP": {
        "relationshipCategory": _one_of("ASSOCIATION", "AGGREGATION", "COMPOSITION"),
        "propagateTags": _one_of("NONE", "ONE_TO_TWO", "TWO_TO_ONE", "BOTH"),
        "relationshipLabel": STR,
        "endDef1": ((lambda v: isinstance(v, dict)), "an object"),
        "endDef2": ((lambda v: isinstance(v, dict)), "an object"),
    },
}


def _invalid(where: str, problem: str) -> AtlasError:
    return AtlasError(ErrorCode.INVALID_TYPE_DEFINITION, f"{where}: {problem}")


def _check_fields(obj: Mapping[str, Any], checks: Mapping[str, Check], where: str) -> None:
    for key, (accepts, expected) in checks.items():
        if key in obj and not accepts(obj[key]):
            raise _invalid(where, f"{key} must be {expected}, not {shown(obj[key], 60)}")


def check_type_name(name: str, category: str) -> None:
    """AtlasAbstractDefStoreV2.validateType: the name rule of the category, then the reserved names."""
    pattern = _TRAIT_NAME if category == "CLASSIFICATION" else _NAME
    if not pattern.fullmatch(name):
        raise AtlasError(ErrorCode.TYPE_NAME_INVALID_FORMAT, shown(name), category)
    if name in _RESERVED_NAMES:
        raise AtlasError(ErrorCode.UNSUPPORTED_TYPE_NAME, category)


def _check_attributes(d: dict[str, Any]) -> None:
    name, category = d["name"], d["category"]
    seen: set[str] = set()
    for a in d.get("attributeDefs") or []:
        _check_fields(a, _ATTRIBUTE, f"{name} attribute {shown(a.get('name'), 60)}")
        attr = a.get("name")
        if not attr or not a.get("typeName"):
            raise _invalid(name, "attribute without name/typeName")
        # Only a business metadata's attribute names follow the type-name rule in Atlas; a control character is
        # refused everywhere: no client means one, and it ends up in every answer and log line.
        if (category == "BUSINESS_METADATA" and not _NAME.fullmatch(attr)) or _CONTROL.search(attr):
            raise AtlasError(ErrorCode.ATTRIBUTE_NAME_INVALID_CHARS, shown(attr))
        # AtlasStructDef.setAttributeDefs keeps the last of names equal but for case; refusing keeps the request
        # from silently losing an attribute.
        if attr.lower() in seen:
            if category == "BUSINESS_METADATA":
                raise AtlasError(ErrorCode.DUPLICATE_BUSINESS_METADATA_ATTRIBUTE, shown(attr), name)
            raise _invalid(name, f"attribute {shown(attr)} is defined twice")
        seen.add(attr.lower())


def _check_elements(d: dict[str, Any]) -> None:
    for e in d.get("elementDefs") or []:
        _check_fields(e, _ELEMENT, f"{d['name']} element")
        if not e.get("value") or "ordinal" not in e:
            raise _invalid(d["name"], "every element needs a value and an ordinal")


def _check_ends(d: dict[str, Any]) -> None:
    for key in ("endDef1", "endDef2"):
        end = d.get(key)
        if end is None:
            continue
        _check_fields(end, _END, f"{d['name']}.{key}")
        if not end.get("type") or not end.get("name"):
            raise _invalid(d["name"], f"{key} needs a type and a name")
        if _CONTROL.search(end["name"]):
            raise AtlasError(ErrorCode.ATTRIBUTE_NAME_INVALID_CHARS, shown(end["name"]))


def check_typedef(d: dict[str, Any]) -> None:
    """Refuse a def (nulls already removed, ``category`` set) that Jackson or Atlas's def store would refuse."""
    name, category = d["name"], d["category"]
    check_type_name(name, category)
    _check_fields(d, _BASE, name)
    _check_fields(d, _BY_CATEGORY[category], name)
    _check_attributes(d)
    if category == "ENUM":
        _check_elements(d)
    if category == "RELATIONSHIP":
        _check_ends(d)
