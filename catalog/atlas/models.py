"""Typed views of Atlas v2 wire objects. Only this package converts to and from Atlas JSON."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Direction = Literal["INPUT", "OUTPUT", "BOTH"]


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True)


class ObjectRef(_Model):
    """A reference to an entity: by guid, or by type + qualifiedName."""

    guid: str | None = None
    type_name: str | None = None
    qualified_name: str | None = None
    relationship_type: str | None = None  # picks the relationshipDef when several give the same attribute

    def to_atlas(self) -> dict[str, Any]:
        out: dict[str, Any]
        if self.guid:
            out = {"guid": self.guid}
            if self.type_name:
                out["typeName"] = self.type_name
        elif self.type_name and self.qualified_name:
            out = {"typeName": self.type_name, "uniqueAttributes": {"qualifiedName": self.qualified_name}}
        else:
            raise ValueError("an ObjectRef needs a guid or a type_name and qualified_name")
        if self.relationship_type:
            out["relationshipType"] = self.relationship_type
        return out

    @staticmethod
    def from_atlas(d: dict[str, Any]) -> ObjectRef:
        uniq = d.get("uniqueAttributes") or {}
        return ObjectRef(guid=d.get("guid"), type_name=d.get("typeName"),
                         qualified_name=uniq.get("qualifiedName") or d.get("qualifiedName"))


class Classification(_Model):
    type_name: str
    attributes: dict[str, Any] = Field(default_factory=dict)
    entity_guid: str | None = None
    propagate: bool = True

    @staticmethod
    def from_atlas(d: dict[str, Any]) -> Classification:
        return Classification(type_name=d["typeName"], attributes=d.get("attributes") or {},
                              entity_guid=d.get("entityGuid"), propagate=bool(d.get("propagate", True)))


class EntityHeader(_Model):
    guid: str
    type_name: str
    status: str = "ACTIVE"
    display_text: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    classification_names: list[str] = Field(default_factory=list)
    #: The classifications themselves when Atlas sends them (lineage, search): a real Atlas lists propagated ones
    #: too, each with ``entity_guid`` naming the entity it comes from, where ``classification_names`` mixes both.
    classifications: list[Classification] = Field(default_factory=list)

    @property
    def qualified_name(self) -> str | None:
        qn = self.attributes.get("qualifiedName")
        return str(qn) if qn is not None else None

    @staticmethod
    def from_atlas(d: dict[str, Any]) -> EntityHeader:
        # Thousands per sync: built without re-validation (the fields are read straight from Atlas's JSON).
        return EntityHeader.model_construct(
            guid=str(d["guid"]), type_name=str(d["typeName"]), status=d.get("status") or "ACTIVE",
            display_text=d.get("displayText"), attributes=d.get("attributes") or {},
            classification_names=list(d.get("classificationNames") or []),
            classifications=[Classification.from_atlas(c) for c in d.get("classifications") or []
                             if isinstance(c, dict) and c.get("typeName")])


class Entity(_Model):
    """An entity as read back: plain attributes plus relationship attributes as refs."""

    guid: str
    type_name: str
    status: str = "ACTIVE"
    attributes: dict[str, Any] = Field(default_factory=dict)
    relationships: dict[str, list[ObjectRef]] = Field(default_factory=dict)
    classifications: list[Classification] = Field(default_factory=list)
    create_time: int | None = None
    update_time: int | None = None
    version: int | None = None

    @property
    def qualified_name(self) -> str | None:
        qn = self.attributes.get("qualifiedName")
        return str(qn) if qn is not None else None

    @staticmethod
    def from_atlas(d: dict[str, Any]) -> Entity:
        rels: dict[str, list[ObjectRef]] = {}
        for name, value in (d.get("relationshipAttributes") or {}).items():
            values = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
            refs = [ObjectRef.from_atlas(v) for v in values
                    if isinstance(v, dict) and v.get("relationshipStatus", "ACTIVE") == "ACTIVE"]
            rels[name] = refs
        attrs = {k: v for k, v in (d.get("attributes") or {}).items() if v is not None}
        return Entity(guid=d["guid"], type_name=d["typeName"], status=d.get("status") or "ACTIVE",
                      attributes=attrs, relationships=rels,
                      classifications=[Classification.from_atlas(c) for c in d.get("classifications") or []],
                      create_time=d.get("createTime"), update_time=d.get("updateTime"), version=d.get("version"))


class EntitySpec(_Model):
    """An entity to create or update. ``relationships`` values are refs (list for SET ends)."""

    type_name: str
    qualified_name: str
    attributes: dict[str, Any] = Field(default_factory=dict)
    relationships: dict[str, ObjectRef | list[ObjectRef]] = Field(default_factory=dict)
    guid: str | None = None  # a placeholder ("-1") or a real guid

    def to_atlas(self) -> dict[str, Any]:
        attrs = dict(self.attributes)
        attrs["qualifiedName"] = self.qualified_name
        out: dict[str, Any] = {"typeName": self.type_name, "attributes": attrs}
        if self.guid:
            out["guid"] = self.guid
        if self.relationships:
            out["relationshipAttributes"] = {
                k: [r.to_atlas() for r in v] if isinstance(v, list) else v.to_atlas()
                for k, v in self.relationships.items()
            }
        return out


class MutationResult(_Model):
    created: list[EntityHeader] = Field(default_factory=list)
    updated: list[EntityHeader] = Field(default_factory=list)
    deleted: list[EntityHeader] = Field(default_factory=list)
    guid_assignments: dict[str, str] = Field(default_factory=dict)

    @property
    def write_count(self) -> int:
        return len(self.created) + len(self.updated) + len(self.deleted)

    @staticmethod
    def from_atlas(d: dict[str, Any]) -> MutationResult:
        muts = d.get("mutatedEntities") or {}

        def hs(*keys: str) -> list[EntityHeader]:
            return [EntityHeader.from_atlas(h) for k in keys for h in muts.get(k) or []]

        return MutationResult(created=hs("CREATE"), updated=hs("UPDATE", "PARTIAL_UPDATE"),
                              deleted=hs("DELETE", "PURGE"), guid_assignments=d.get("guidAssignments") or {})


class LineageRelation(_Model):
    from_guid: str
    to_guid: str
    relationship_guid: str | None = None


class Lineage(_Model):
    base_guid: str
    direction: Direction
    depth: int
    entities: dict[str, EntityHeader]
    relations: list[LineageRelation]
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)

    @staticmethod
    def from_atlas(d: dict[str, Any]) -> Lineage:
        return Lineage(
            base_guid=d["baseEntityGuid"], direction=d.get("lineageDirection") or "BOTH",
            depth=int(d.get("lineageDepth") or 0),
            entities={g: EntityHeader.from_atlas(h) for g, h in (d.get("guidEntityMap") or {}).items()},
            relations=[LineageRelation(from_guid=r["fromEntityId"], to_guid=r["toEntityId"],
                                       relationship_guid=r.get("relationshipId"))
                       for r in d.get("relations") or []],
            raw=d,
        )


class SearchResult(_Model):
    entities: list[EntityHeader]
    approximate_count: int = -1


class AttributeDef(_Model):
    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="allow")
    name: str
    type_name: str = Field(alias="typeName")
    is_optional: bool = Field(default=False, alias="isOptional")
    cardinality: str = "SINGLE"
    is_unique: bool = Field(default=False, alias="isUnique")

    def to_atlas(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class TypeDef(_Model):
    """Any typedef (entity, relationship, enum, struct, classification), unknown fields kept as they came."""

    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="allow")
    category: str
    name: str
    type_version: str | None = Field(default=None, alias="typeVersion")
    super_types: list[str] = Field(default_factory=list, alias="superTypes")
    attribute_defs: list[AttributeDef] = Field(default_factory=list, alias="attributeDefs")

    def to_atlas(self) -> dict[str, Any]:
        out = self.model_dump(by_alias=True, exclude_none=True)
        out.pop("category", None)
        if self.category in ("ENUM", "RELATIONSHIP", "STRUCT", "BUSINESS_METADATA"):
            out.pop("superTypes", None)
        if self.category == "ENUM":
            out.pop("attributeDefs", None)
        return out

    @staticmethod
    def from_atlas(category: str, d: dict[str, Any]) -> TypeDef:
        return TypeDef.model_validate({**{k: v for k, v in d.items() if v is not None}, "category": category})


CATEGORY_KEYS = {
    "ENUM": "enumDefs",
    "STRUCT": "structDefs",
    "CLASSIFICATION": "classificationDefs",
    "ENTITY": "entityDefs",
    "RELATIONSHIP": "relationshipDefs",
    "BUSINESS_METADATA": "businessMetadataDefs",
}


def typesdef_from_atlas(d: dict[str, Any]) -> list[TypeDef]:
    out: list[TypeDef] = []
    for cat, key in CATEGORY_KEYS.items():
        for item in d.get(key) or []:
            out.append(TypeDef.from_atlas(cat, item))
    return out


def typesdef_to_atlas(defs: list[TypeDef]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {key: [] for key in CATEGORY_KEYS.values()}
    for d in defs:
        out[CATEGORY_KEYS[d.category]].append(d.to_atlas())
    return out
