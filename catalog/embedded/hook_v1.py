"""Atlas's V1 instances in hook notifications, as the V2 entities ``AtlasInstanceConverter`` turns them into.

V1 messages (``ENTITY_CREATE``, ``ENTITY_FULL_UPDATE``, ``ENTITY_PARTIAL_UPDATE``) carry ``Referenceable``s:
``{typeName, values, id: {id, typeName, version, state}, traitNames, traits}``. Inside ``values`` a nested instance
says what it is with ``jsonClass`` (``Struct.normalizeAttributeValue``): an ``_Id`` is a reference, a ``_Struct`` a
struct value, a ``_Reference`` a reference to an entity that, when it has any value set, is also an entity of the
request (``AtlasObjectIdConverter.fromV1ToV2``: a referred entity).
"""

from __future__ import annotations

from typing import Any

_PREFIX = "org.apache.atlas.typesystem.json.InstanceSerialization$"
JSON_CLASS_ID = _PREFIX + "_Id"
JSON_CLASS_STRUCT = _PREFIX + "_Struct"
JSON_CLASS_REFERENCE = _PREFIX + "_Reference"


def _guid(ref: dict[str, Any]) -> str | None:
    id_ = ref.get("id")
    value = id_.get("id") if isinstance(id_, dict) else id_
    return None if value is None else str(value)


def _type_name(ref: dict[str, Any]) -> Any:
    id_ = ref.get("id")
    return ref.get("typeName") or (id_.get("typeName") if isinstance(id_, dict) else None)


class V1Converter:
    """Converts the Referenceables of one message; ``referred`` collects the nested entities."""

    def __init__(self, top_level_guids: set[str]) -> None:
        self.known = set(top_level_guids)
        self.referred: dict[str, dict[str, Any]] = {}

    def entity(self, ref: Any) -> dict[str, Any]:
        if not isinstance(ref, dict):
            return {}  # not an entity: the entity write refuses it with Atlas's message
        out: dict[str, Any] = {"typeName": _type_name(ref), "attributes": self._values(ref.get("values"))}
        guid = _guid(ref)
        if guid is not None:
            out["guid"] = guid
        traits: dict[str, Any] = ref["traits"] if isinstance(ref.get("traits"), dict) else {}
        names: list[Any] = ref["traitNames"] if isinstance(ref.get("traitNames"), list) else list(traits)
        classifications = []
        for name in names:
            trait = traits.get(name)
            values = trait.get("values") if isinstance(trait, dict) else None
            classifications.append({"typeName": name, "attributes": self._values(values)})
        if classifications:
            out["classifications"] = classifications
        return out

    def _values(self, values: Any) -> dict[str, Any]:
        if not isinstance(values, dict):
            return {}
        return {k: self.value(v) for k, v in values.items()}

    def value(self, v: Any) -> Any:
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if not isinstance(v, dict):
            return v
        json_class = v.get("jsonClass")
        if json_class == JSON_CLASS_ID:
            return {"guid": _guid({"id": v.get("id")}), "typeName": v.get("typeName")}
        if json_class == JSON_CLASS_STRUCT:
            return {"typeName": v.get("typeName"), "attributes": self._values(v.get("values"))}
        if json_class == JSON_CLASS_REFERENCE:
            guid = _guid(v)
            values = v.get("values")
            if guid is not None and guid not in self.known and isinstance(values, dict) \
                    and any(x is not None for x in values.values()):
                self.known.add(guid)
                self.referred[guid] = self.entity(v)
            return {"guid": guid, "typeName": _type_name(v)}
        return {k: self.value(x) for k, x in v.items()}


def to_v2(referenceables: list[Any]) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """``AtlasInstanceConverter.toAtlasEntities``: the entities and the referred entities."""
    tops = {g for r in referenceables if isinstance(r, dict) and (g := _guid(r)) is not None}
    converter = V1Converter(tops)
    entities = [converter.entity(r) for r in referenceables]
    return entities, converter.referred
