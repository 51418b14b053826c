"""Atlas's ``HookNotification`` messages as typed requests (``HookNotification``, ``HookNotificationV1``).

Three requests cover what a hook asks for: entities to create or fully update (``ENTITY_CREATE_V2``,
``ENTITY_FULL_UPDATE_V2`` with an ``AtlasEntitiesWithExtInfo``; V1's ``ENTITY_CREATE``/``ENTITY_FULL_UPDATE``
converted), one entity to update partially (``ENTITY_PARTIAL_UPDATE_V2``: ``entityId`` and an
``AtlasEntityWithExtInfo``; V1's by ``typeName``/``attribute``/``attributeValue``) and entities to delete by unique
attributes (``ENTITY_DELETE_V2``: ``AtlasObjectId``s; V1's one). Jackson's reading is mirrored: unknown fields are
ignored, a wrong shape is refused. ``TYPE_CREATE``/``TYPE_UPDATE`` and the import notifications are types Atlas's
hook consumer does not apply either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from catalog.embedded import hook_v1
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.limits import shown

UNKNOWN_USER = "UNKNOWN"  # HookNotification.getUser() of a message without one
ENTITIES_TYPES = ("ENTITY_CREATE_V2", "ENTITY_FULL_UPDATE_V2", "ENTITY_CREATE", "ENTITY_FULL_UPDATE")
PARTIAL_TYPES = ("ENTITY_PARTIAL_UPDATE_V2", "ENTITY_PARTIAL_UPDATE")
DELETE_TYPES = ("ENTITY_DELETE_V2", "ENTITY_DELETE")
NOT_APPLIED = ("TYPE_CREATE", "TYPE_UPDATE", "IMPORT_TYPES_DEF", "IMPORT_ENTITY")


@dataclass(frozen=True)
class EntitiesRequest:
    type: str
    user: str
    entities: list[Any]
    referred: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PartialUpdateRequest:
    type: str
    user: str
    entity_id: dict[str, Any]  # AtlasObjectId: an assigned guid, or typeName + uniqueAttributes
    entity: dict[str, Any]
    referred: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DeleteRequest:
    type: str
    user: str
    ids: list[dict[str, Any]]  # AtlasObjectIds by typeName + uniqueAttributes


HookRequest = EntitiesRequest | PartialUpdateRequest | DeleteRequest


def _bad(type_name: str, reason: str) -> AtlasError:
    return AtlasError(ErrorCode.BAD_REQUEST, f"invalid {type_name} notification: {reason}")


def _object(msg: dict[str, Any], key: str, type_name: str) -> dict[str, Any] | None:
    value = msg.get(key)
    if value is not None and not isinstance(value, dict):
        raise _bad(type_name, f"{key} must be an object")
    return value


def _list(value: Any, key: str, type_name: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _bad(type_name, f"{key} must be a list")
    return value


def _referred(value: Any, type_name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _bad(type_name, "referredEntities must be an object of guid: entity")
    return value


def request(msg: Any) -> HookRequest:
    """The typed request of one notification (``AtlasJson.HookNotificationDeserializer``)."""
    if not isinstance(msg, dict):
        raise AtlasError(ErrorCode.BAD_REQUEST, "invalid notification message: the message must be an object")
    type_name = msg.get("type")
    if not isinstance(type_name, str):
        raise AtlasError(ErrorCode.BAD_REQUEST, "invalid notification message: its type is missing")
    user = msg.get("user")
    if user is not None and not isinstance(user, str):
        raise _bad(type_name, "user must be a string")
    user = user or UNKNOWN_USER
    if type_name in ENTITIES_TYPES:
        return _entities(msg, type_name, user)
    if type_name in PARTIAL_TYPES:
        return _partial(msg, type_name, user)
    if type_name in DELETE_TYPES:
        return _delete(msg, type_name, user)
    if type_name in NOT_APPLIED:
        raise AtlasError(ErrorCode.BAD_REQUEST, f"{type_name} notifications are not applied by the hook consumer")
    raise AtlasError(ErrorCode.BAD_REQUEST, f"invalid notification message: unknown type {shown(type_name, 60)}")


def _entities(msg: dict[str, Any], type_name: str, user: str) -> EntitiesRequest:
    if type_name.endswith("_V2"):
        body = _object(msg, "entities", type_name) or {}
        return EntitiesRequest(type_name, user, _list(body.get("entities"), "entities.entities", type_name),
                               _referred(body.get("referredEntities"), type_name))
    entities, referred = hook_v1.to_v2(_list(msg.get("entities"), "entities", type_name))
    return EntitiesRequest(type_name, user, entities, referred)


def _partial(msg: dict[str, Any], type_name: str, user: str) -> PartialUpdateRequest:
    if type_name.endswith("_V2"):
        entity_id = _object(msg, "entityId", type_name)
        body = _object(msg, "entity", type_name)
        entity = body.get("entity") if body else None
        if entity_id is None or not isinstance(entity, dict):
            # AtlasEntityStoreV2.updateEntity
            raise AtlasError(ErrorCode.INVALID_PARAMETERS, "null entity-id/entity")
        return PartialUpdateRequest(type_name, user, entity_id, entity,
                                    _referred(body.get("referredEntities") if body else None, type_name))
    converted, referred = hook_v1.to_v2([_object(msg, "entity", type_name)])
    return PartialUpdateRequest(type_name, user, _v1_object_id(msg, type_name), converted[0], referred)


def _delete(msg: dict[str, Any], type_name: str, user: str) -> DeleteRequest:
    if type_name.endswith("_V2"):
        ids = _list(msg.get("entities"), "entities", type_name)
        if not all(isinstance(i, dict) for i in ids):
            raise _bad(type_name, "every entity must be an AtlasObjectId")
        return DeleteRequest(type_name, user, ids)
    return DeleteRequest(type_name, user, [_v1_object_id(msg, type_name)])


def _v1_object_id(msg: dict[str, Any], type_name: str) -> dict[str, Any]:
    """V1's ``typeName``, ``attribute``, ``attributeValue`` as an AtlasObjectId."""
    values = [msg.get(k) for k in ("typeName", "attribute", "attributeValue")]
    if not all(isinstance(v, str) for v in values):
        raise _bad(type_name, "typeName, attribute and attributeValue must be strings")
    return {"typeName": values[0], "uniqueAttributes": {values[1]: values[2]}}
