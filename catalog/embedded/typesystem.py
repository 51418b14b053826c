"""The type registry: Atlas typedefs resolved into lookup structures.

A :class:`TypeRegistry` is immutable once built; typedef changes build a new one and swap it in, so
readers never see a half-applied typedef request (Atlas takes a type-update lock for the same reason).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.limits import MAX_SUPERTYPE_DEPTH, MAX_TYPE_NESTING, shown

PRIMITIVES = frozenset(
    {"boolean", "byte", "short", "int", "long", "float", "double", "biginteger", "bigdecimal", "string", "date"}
)
CATEGORY_KEYS = {
    "ENUM": "enumDefs",
    "STRUCT": "structDefs",
    "CLASSIFICATION": "classificationDefs",
    "ENTITY": "entityDefs",
    "RELATIONSHIP": "relationshipDefs",
    "BUSINESS_METADATA": "businessMetadataDefs",
}
KEY_CATEGORIES = {v: k for k, v in CATEGORY_KEYS.items()}
# Entity attributes Atlas puts in every AtlasEntityHeader when the type defines them.
HEADER_ATTRIBUTES = ("name", "description", "owner", "createTime")
# AtlasBusinessMetadataDef.ATTR_OPTION_APPLICABLE_ENTITY_TYPES: a JSON list of entity type names.
APPLICABLE_ENTITY_TYPES = "applicableEntityTypes"


@dataclass(frozen=True)
class TypeRef:
    """A parsed attribute type name: ``string``, ``array<hive_column>``, ``map<string,string>``."""

    kind: str  # primitive | array | map | named
    name: str
    elem: TypeRef | None = None
    key: TypeRef | None = None

    def named_types(self) -> list[str]:
        if self.kind == "named":
            return [self.name]
        out: list[str] = []
        for sub in (self.key, self.elem):
            if sub is not None:
                out.extend(sub.named_types())
        return out


def parse_type(type_name: str, _nesting: int = 0) -> TypeRef:
    if _nesting > MAX_TYPE_NESTING:
        raise AtlasError(ErrorCode.INVALID_TYPE_DEFINITION,
                         f"{shown(type_name)}: array/map types nest more than {MAX_TYPE_NESTING} levels")
    t = type_name.strip()
    if t.startswith("array<") and t.endswith(">"):
        return TypeRef("array", t, elem=parse_type(t[6:-1], _nesting + 1))
    if t.startswith("map<") and t.endswith(">"):
        inner = t[4:-1]
        depth = 0
        for i, ch in enumerate(inner):
            if ch == "<":
                depth += 1
            elif ch == ">":
                depth -= 1
            elif ch == "," and depth == 0:
                return TypeRef("map", t, key=parse_type(inner[:i], _nesting + 1),
                               elem=parse_type(inner[i + 1 :], _nesting + 1))
        raise AtlasError(ErrorCode.UNKNOWN_TYPE, shown(type_name))
    if t in PRIMITIVES:
        return TypeRef("primitive", t)
    if not t or "<" in t or ">" in t:
        raise AtlasError(ErrorCode.UNKNOWN_TYPE, shown(type_name))
    return TypeRef("named", t)


@dataclass(frozen=True)
class AttrDef:
    name: str
    type_name: str
    type_ref: TypeRef
    optional: bool
    unique: bool
    cardinality: str
    defined_in: str
    options: dict[str, str]
    default: Any = None

    @property
    def append_on_partial_update(self) -> bool:
        return str(self.options.get("isAppendOnPartialUpdate", "false")).lower() == "true"

    @property
    def applicable_entity_types(self) -> list[str]:
        """A business attribute's entity types (its ``applicableEntityTypes`` option); [] if none or unreadable
        (a def is checked when stored, see business_metadata.check_defs)."""
        raw = self.options.get(APPLICABLE_ENTITY_TYPES)
        try:
            names = json.loads(raw) if raw else []
        except ValueError:
            return []
        return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []


@dataclass(frozen=True)
class RelEnd:
    """One end of a relationshipDef as seen from the entity type that owns the attribute."""

    rel_type: str
    label: str
    category: str
    propagate_tags: str
    side: int  # 1 or 2: which end this entity is
    attr_name: str
    end_type: str  # the type declared on this end
    other_type: str
    cardinality: str  # of this end's attribute (SINGLE/SET/LIST)
    is_container: bool
    other_is_container: bool
    other_attr: str
    other_cardinality: str
    is_legacy: bool

    @property
    def is_composition_child(self) -> bool:
        return self.category == "COMPOSITION" and self.other_is_container

    @property
    def mandatory(self) -> bool:
        # AtlasRelationshipType.addRelationshipAttributeToEndType: a COMPOSITION's non-container end is required.
        return self.is_composition_child


@dataclass
class StructType:
    name: str
    category: str
    raw: dict[str, Any]
    super_types: list[str] = field(default_factory=list)
    all_super_types: set[str] = field(default_factory=set)
    all_sub_types: set[str] = field(default_factory=set)
    attributes: dict[str, AttrDef] = field(default_factory=dict)
    rel_attrs: dict[str, list[RelEnd]] = field(default_factory=dict)
    unique_attrs: list[AttrDef] = field(default_factory=list)

    @property
    def type_and_sub_types(self) -> set[str]:
        return self.all_sub_types | {self.name}

    def is_a(self, other: str) -> bool:
        return other == self.name or other in self.all_super_types

    def rel_end(self, attr: str, rel_type: str | None = None) -> RelEnd | None:
        ends = self.rel_attrs.get(attr)
        if not ends:
            return None
        if rel_type:
            for e in ends:
                if e.rel_type == rel_type:
                    return e
            return None
        # Several relationshipDefs can give the same attribute name (hive_column.table); Atlas picks the
        # legacy one if any, else the first defined.
        for e in ends:
            if e.is_legacy:
                return e
        return ends[0]

    def display_text_attr(self) -> str | None:
        opt = (self.raw.get("options") or {}).get("displayTextAttribute")
        return str(opt) if opt else None


def _attr_def(raw: dict[str, Any], defined_in: str) -> AttrDef:
    name = raw.get("name")
    type_name = raw.get("typeName")
    if not name or not type_name:
        raise AtlasError(ErrorCode.INVALID_TYPE_DEFINITION, f"{defined_in}: attribute without name/typeName")
    card = raw.get("cardinality") or "SINGLE"
    return AttrDef(
        name=str(name),
        type_name=str(type_name),
        type_ref=parse_type(str(type_name)),
        optional=bool(raw.get("isOptional") or False),
        unique=bool(raw.get("isUnique") or False),
        cardinality=str(card),
        defined_in=defined_in,
        options={str(k): str(v) for k, v in (raw.get("options") or {}).items()},
        default=raw.get("defaultValue"),
    )


def relationship_label(rel: dict[str, Any]) -> str:
    label = rel.get("relationshipLabel")
    if label:
        return str(label)
    for key in ("endDef1", "endDef2"):
        end = rel.get(key) or {}
        if end.get("isLegacyAttribute"):
            return f"__{end.get('type')}.{end.get('name')}"
    return f"r:{rel['name']}"


class TypeRegistry:
    """All typedefs by name, with resolved inheritance and relationship attributes."""

    def __init__(self, defs: dict[str, dict[str, Any]]) -> None:
        self.defs = defs  # name -> raw def (with "category")
        self.types: dict[str, StructType] = {}
        # entity type -> business metadata name -> attribute (AtlasEntityType.getBusinessAttributes)
        self.business: dict[str, dict[str, dict[str, AttrDef]]] = {}
        self._resolve()

    # -- construction -------------------------------------------------------------------------------
    def _resolve(self) -> None:
        for name, raw in self.defs.items():
            cat = raw["category"]
            if cat in ("ENTITY", "STRUCT", "CLASSIFICATION", "BUSINESS_METADATA", "RELATIONSHIP"):
                # Only entity and classification types have supertypes (Atlas ignores the field elsewhere).
                supers = raw.get("superTypes") if cat in ("ENTITY", "CLASSIFICATION") else None
                self.types[name] = StructType(name, cat, raw, list(supers or []))
        # Supertypes must exist and be of the same category.
        for t in self.types.values():
            for s in t.super_types:
                st = self.types.get(s)
                if st is None or st.category != t.category:
                    raise AtlasError(ErrorCode.TYPE_NAME_NOT_FOUND, s)
        self._lineages = self._linearize_all()
        for t in self.types.values():
            t.all_super_types = set(self._lineages[t.name][:-1])
        for t in self.types.values():
            for s in t.all_super_types:
                self.types[s].all_sub_types.add(t.name)
        for t in self.types.values():
            self._collect_attrs(t)
        for t in self.types.values():
            for a in t.attributes.values():
                self._check_type_exists(a.type_ref, t.name)
        for raw in self.defs.values():
            if raw["category"] == "RELATIONSHIP":
                self._add_relationship(raw)
        for t in self.types.values():
            t.unique_attrs = [a for a in t.attributes.values() if a.unique]
        self._collect_business_attributes()

    def _collect_business_attributes(self) -> None:
        """A business attribute applies to its entity types and their subtypes (AtlasBusinessMetadataType
        .resolveReferencesPhase2/3)."""
        for t in self.types.values():
            if t.category != "BUSINESS_METADATA":
                continue
            for a in t.attributes.values():
                for name in a.applicable_entity_types:
                    et = self.types.get(name)
                    if et is None or et.category != "ENTITY":
                        continue
                    for sub in et.type_and_sub_types:
                        self.business.setdefault(sub, {}).setdefault(t.name, {})[a.name] = a

    def _linearize_all(self) -> dict[str, list[str]]:
        """Every type's supertypes, depth first and each once, then the type itself (the order its attributes are
        shown in). Without recursion: a hostile chain of supertypes must not exhaust the stack."""
        lineages: dict[str, list[str]] = {}
        depths: dict[str, int] = {}
        for root in self.types:
            stack: list[tuple[str, bool]] = [(root, False)]
            on_path: set[str] = set()
            while stack:
                name, expanded = stack.pop()
                supers = self.types[name].super_types
                if expanded:
                    on_path.discard(name)
                    order = dict.fromkeys(x for s in supers for x in lineages[s])
                    lineages[name] = [*order, name]
                    depths[name] = 1 + max((depths[s] for s in supers), default=0)
                    if depths[name] > MAX_SUPERTYPE_DEPTH:
                        raise AtlasError(ErrorCode.INVALID_TYPE_DEFINITION,
                                         f"{shown(name)}: supertypes nest more than {MAX_SUPERTYPE_DEPTH} levels")
                elif name not in lineages:
                    if name in on_path:
                        raise AtlasError(ErrorCode.CIRCULAR_REFERENCE, name, name)
                    on_path.add(name)
                    stack.append((name, True))
                    stack.extend((s, False) for s in reversed(supers) if s not in lineages)
        return lineages

    def _collect_attrs(self, t: StructType) -> None:
        # Supertypes' attributes first so the entity shows inherited attributes in Atlas's order.
        for s in self._lineages[t.name]:
            st = self.types[s]
            for raw_attr in st.raw.get("attributeDefs") or []:
                a = _attr_def(raw_attr, st.name)
                t.attributes.setdefault(a.name, a)

    def check_inherited_attributes(self, names: Iterable[str]) -> None:
        """AtlasEntityType/AtlasClassificationType.collectTypeHierarchyInfo: an attribute is defined by one type of
        a hierarchy only, so a subtype can not redefine (or retype) what it inherits. Checked for ``names`` and their
        subtypes only, so a store written before this rule still opens."""
        todo: set[str] = set()
        for n in names:
            t = self.types.get(n)
            if t is not None and t.category in ("ENTITY", "CLASSIFICATION"):
                todo |= t.type_and_sub_types
        for n in sorted(todo):
            owners: dict[str, str] = {}
            for s in self._lineages[n]:
                for raw_attr in self.types[s].raw.get("attributeDefs") or []:
                    attr = str(raw_attr.get("name"))
                    owner = owners.setdefault(attr, s)
                    if owner != s:
                        raise AtlasError(ErrorCode.ATTRIBUTE_NAME_ALREADY_EXISTS_IN_ANOTHER_PARENT_TYPE, s, attr, owner)

    def _check_type_exists(self, ref: TypeRef, owner: str) -> None:
        for n in ref.named_types():
            if n not in self.defs:
                raise AtlasError(ErrorCode.UNKNOWN_TYPE, f"{n} (referenced by {owner})")

    def _add_relationship(self, raw: dict[str, Any]) -> None:
        name = raw["name"]
        e1 = raw.get("endDef1") or {}
        e2 = raw.get("endDef2") or {}
        for e in (e1, e2):
            et = self.types.get(str(e.get("type")))
            if et is None or et.category != "ENTITY":
                raise AtlasError(ErrorCode.INVALID_RELATIONSHIP_END_TYPE, name, e1.get("type"), e2.get("type"))
        label = relationship_label(raw)
        category = str(raw.get("relationshipCategory") or "ASSOCIATION")
        propagate = str(raw.get("propagateTags") or "NONE")
        for side, mine, other in ((1, e1, e2), (2, e2, e1)):
            end = RelEnd(
                rel_type=name,
                label=label,
                category=category,
                propagate_tags=propagate,
                side=side,
                attr_name=str(mine.get("name")),
                end_type=str(mine.get("type")),
                other_type=str(other.get("type")),
                cardinality=str(mine.get("cardinality") or "SINGLE"),
                is_container=bool(mine.get("isContainer")),
                other_is_container=bool(other.get("isContainer")),
                other_attr=str(other.get("name")),
                other_cardinality=str(other.get("cardinality") or "SINGLE"),
                is_legacy=bool(mine.get("isLegacyAttribute")),
            )
            owner = self.types[end.end_type]
            for tname in owner.type_and_sub_types:
                self.types[tname].rel_attrs.setdefault(end.attr_name, []).append(end)

    # -- queries ------------------------------------------------------------------------------------
    def get(self, name: str) -> StructType | None:
        return self.types.get(name)

    def entity_type(self, name: str) -> StructType:
        t = self.types.get(name)
        if t is None or t.category != "ENTITY":
            raise AtlasError(ErrorCode.TYPE_NAME_INVALID, "entity", name)
        return t

    def category_of(self, name: str) -> str | None:
        raw = self.defs.get(name)
        return None if raw is None else str(raw["category"])

    def raw_def(self, name: str) -> dict[str, Any] | None:
        return self.defs.get(name)

    def business_attributes(self, entity_type: str) -> dict[str, dict[str, AttrDef]]:
        """The business metadata an entity of ``entity_type`` may carry: name -> attribute name -> attribute."""
        return self.business.get(entity_type, {})

    def relationship_def(self, name: str) -> dict[str, Any] | None:
        raw = self.defs.get(name)
        return raw if raw is not None and raw["category"] == "RELATIONSHIP" else None

    def with_defs(self, changes: dict[str, dict[str, Any]], removed: set[str] | None = None) -> TypeRegistry:
        defs = dict(self.defs)
        defs.update(changes)
        for r in removed or set():
            defs.pop(r, None)
        return TypeRegistry(defs)

    def render_def(self, name: str) -> dict[str, Any]:
        """A def as Atlas returns it, with computed subTypes / relationshipAttributeDefs on entities."""
        raw = copy.deepcopy(self.defs[name])
        t = self.types.get(name)
        if t is not None and t.category in ("ENTITY", "CLASSIFICATION"):
            raw["subTypes"] = sorted(
                s for s in t.all_sub_types if name in (self.types[s].super_types or [])
            )
        if t is not None and t.category == "ENTITY":
            rel_defs: list[dict[str, Any]] = []
            for attr, ends in sorted(t.rel_attrs.items()):
                for e in ends:
                    rel_defs.append(
                        {
                            "name": attr,
                            "typeName": (
                                f"array<{e.other_type}>" if e.cardinality in ("SET", "LIST") else e.other_type
                            ),
                            "isOptional": not e.mandatory,
                            "cardinality": e.cardinality,
                            "valuesMinCount": 1 if e.mandatory else 0,
                            "valuesMaxCount": 1 if e.cardinality == "SINGLE" else 2147483647,
                            "isUnique": False,
                            "isIndexable": False,
                            "includeInNotification": False,
                            "searchWeight": -1,
                            "relationshipTypeName": e.rel_type,
                            "isLegacyAttribute": e.is_legacy,
                        }
                    )
            raw["relationshipAttributeDefs"] = rel_defs
            bm_defs = self._business_attribute_defs(name)
            if bm_defs:  # Atlas sends {} for none; left out then, as before business metadata existed here
                raw["businessAttributeDefs"] = bm_defs
        return raw

    def _business_attribute_defs(self, entity_type: str) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for bm, attrs in sorted(self.business_attributes(entity_type).items()):
            raw_attrs = self.defs[bm].get("attributeDefs") or []
            out[bm] = [copy.deepcopy(a) for a in raw_attrs if a.get("name") in attrs]
        return out
