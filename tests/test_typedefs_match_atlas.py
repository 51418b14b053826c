"""Our bundled typedefs (``typedefs/*.json``) must match Apache Atlas's current model.

Atlas ships its models as JSON files plus ``patches/`` folders that are applied at server start
(``AtlasTypeDefStoreInitializer``).  The "current" definition of a type is therefore the model file
with every applicable patch folded in.  This module re-implements the relevant parts of that
loader (folder order, file order, version-gated patches) and compares, type by type, the parts
of the definitions that change behaviour: categories, supertypes, attributes (typeName,
isOptional, isUnique, cardinality, options), enum elements, relationship categories/labels/ends,
serviceType and typeVersion.

The Atlas reference models live beside the checkout in ``../shared/atlas-models`` (a copy of
``addons/models`` of apache/atlas).  When that folder is absent, the comparison tests are skipped;
the self-consistency tests on our own files still run.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import typedefs

ATLAS_MODELS = Path(__file__).resolve().parents[2] / "shared" / "atlas-models"

CATEGORY_BY_KEY = {
    "enumDefs": "ENUM",
    "structDefs": "STRUCT",
    "classificationDefs": "CLASSIFICATION",
    "entityDefs": "ENTITY",
    "relationshipDefs": "RELATIONSHIP",
}

BUILTIN_TYPES = frozenset(
    {
        "boolean",
        "byte",
        "short",
        "int",
        "long",
        "float",
        "double",
        "biginteger",
        "bigdecimal",
        "string",
        "date",
    }
)


# --------------------------------------------------------------------------------------------
# A small re-implementation of Atlas's model loader + type patch handlers
# --------------------------------------------------------------------------------------------


class PatchFailed(Exception):
    """Atlas raises AtlasBaseException: the patch is marked FAILED, the next patch is tried."""


class PatchFileAborted(Exception):
    """Atlas raises a RuntimeException: the rest of the patch file is skipped."""


@dataclass
class AtlasRegistry:
    defs: dict[str, dict[str, Any]] = field(default_factory=dict)
    category: dict[str, str] = field(default_factory=dict)
    applied: list[str] = field(default_factory=list)

    # -- model files ------------------------------------------------------------------------

    def load_models(self, root: Path) -> None:
        folders = sorted(p for p in root.iterdir() if p.is_dir() and p.name != "patches")
        for folder in [*folders, root]:
            self._load_folder(folder)

    def _load_folder(self, folder: Path) -> None:
        for path in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix == ".json"):
            types_def = json.loads(path.read_text(encoding="utf-8"))
            for key, category in CATEGORY_BY_KEY.items():
                for typedef in types_def.get(key) or []:
                    self._create_or_update(category, copy.deepcopy(typedef))
        patches_dir = folder / "patches"
        if patches_dir.is_dir():
            for path in sorted(p for p in patches_dir.iterdir() if p.is_file() and p.suffix == ".json"):
                self._apply_patch_file(path)

    def _create_or_update(self, category: str, new: dict[str, Any]) -> None:
        name = new["name"]
        old = self.defs.get(name)
        if old is None:
            self.defs[name] = new
            self.category[name] = category
            return
        # getTypesToUpdate(..., checkTypeVersion=true): only a newer typeVersion replaces the old
        # def; attributes / enum elements of the old def that the new one lacks are kept.
        if str(new.get("typeVersion")) <= str(old.get("typeVersion")):
            return
        if category == "ENUM":
            have = {e["value"] for e in new.get("elementDefs") or []}
            new.setdefault("elementDefs", []).extend(
                e for e in old.get("elementDefs") or [] if e["value"] not in have
            )
        else:
            have = {a["name"] for a in new.get("attributeDefs") or []}
            new.setdefault("attributeDefs", []).extend(
                a for a in old.get("attributeDefs") or [] if a["name"] not in have
            )
        self.defs[name] = new

    # -- patches ----------------------------------------------------------------------------

    def _apply_patch_file(self, path: Path) -> None:
        patches = json.loads(path.read_text(encoding="utf-8")).get("patches") or []
        handlers = {
            "UPDATE_ENUMDEF": self._update_enumdef,
            "ADD_ATTRIBUTE": self._add_or_update_attributes,
            "UPDATE_ATTRIBUTE": self._add_or_update_attributes,
            "REMOVE_LEGACY_REF_ATTRIBUTES": self._remove_legacy_ref_attributes,
            "UPDATE_TYPEDEF_OPTIONS": self._update_typedef_options,
            "SET_SERVICE_TYPE": self._set_service_type,
            "UPDATE_ATTRIBUTE_METADATA": self._update_attribute_metadata,
            "ADD_SUPER_TYPES": self._add_super_types,
        }
        for patch in patches:
            handler = handlers.get(patch.get("action"))
            if handler is None:
                # Unknown here (e.g. SET_PROPAGATE_RENAME, SET_ATTRIBUTE_DEF_OVERRIDES: Trino-only).
                continue
            typedef = self.defs.get(patch["typeName"])
            if typedef is None:
                continue  # PATCH_FOR_UNKNOWN_TYPE -> FAILED
            try:
                if handler(patch, typedef):
                    self.applied.append(f"{path.parent.parent.name}/{path.name}:{patch.get('id')}")
            except PatchFailed:
                continue
            except PatchFileAborted:
                break

    @staticmethod
    def _applicable(patch: dict[str, Any], typedef: dict[str, Any]) -> bool:
        current = typedef.get("typeVersion")
        apply_to = str(patch.get("applyToVersion"))
        return current is None or current.lower() == apply_to.lower() or current.startswith(apply_to + ".")

    def _bump(self, patch: dict[str, Any], typedef: dict[str, Any]) -> bool:
        typedef["typeVersion"] = patch["updateToVersion"]
        return True

    def _update_enumdef(self, patch: dict[str, Any], typedef: dict[str, Any]) -> bool:
        if not self._applicable(patch, typedef):
            return False
        if self.category[typedef["name"]] != "ENUM":
            raise PatchFailed
        elements = typedef.setdefault("elementDefs", [])
        for element in patch.get("elementDefs") or []:
            elements[:] = [e for e in elements if e["value"].lower() != element["value"].lower()]
            elements.append(copy.deepcopy(element))
        return self._bump(patch, typedef)

    def _add_or_update_attributes(self, patch: dict[str, Any], typedef: dict[str, Any]) -> bool:
        if not self._applicable(patch, typedef):
            return False
        if self.category[typedef["name"]] not in ("ENTITY", "CLASSIFICATION", "STRUCT"):
            raise PatchFailed
        attrs = typedef.setdefault("attributeDefs", [])
        for attr in patch.get("attributeDefs") or []:
            # AtlasStructDef.addAttribute: drop any same-named attribute, then append
            attrs[:] = [a for a in attrs if a["name"].lower() != attr["name"].lower()]
            attrs.append(copy.deepcopy(attr))
        return self._bump(patch, typedef)

    def _remove_legacy_ref_attributes(self, patch: dict[str, Any], typedef: dict[str, Any]) -> bool:
        if not self._applicable(patch, typedef):
            return False
        if self.category[typedef["name"]] != "RELATIONSHIP":
            return False  # Atlas returns UNKNOWN without touching the type
        params = patch.get("params") or {}
        end1, end2 = typedef["endDef1"], typedef["endDef2"]
        label = params.get("relationshipLabel")
        if not label:
            if end1.get("isLegacyAttribute"):
                if end2.get("isLegacyAttribute"):
                    raise PatchFailed  # PATCH_MISSING_RELATIONSHIP_LABEL
                label = "__" + self._attribute_qualified_name(end1["type"], end1["name"])
            elif end2.get("isLegacyAttribute"):
                label = "__" + self._attribute_qualified_name(end2["type"], end2["name"])
            else:
                label = typedef.get("relationshipLabel")
        if str(params.get("swapEnds", "false")).lower() == "true":
            typedef["endDef1"], typedef["endDef2"] = end2, end1
        typedef["relationshipLabel"] = label
        if params.get("relationshipCategory") is not None:
            typedef["relationshipCategory"] = str(params["relationshipCategory"])
        # Note: Atlas's handler does not reset isLegacyAttribute on the ends; it only removes
        # the legacy attributes from both end entity types.
        for end in (typedef["endDef1"], typedef["endDef2"]):
            entity = self.defs.get(end["type"])
            if entity is not None:
                entity["attributeDefs"] = [
                    a for a in entity.get("attributeDefs") or [] if a["name"].lower() != end["name"].lower()
                ]
        return self._bump(patch, typedef)

    def _attribute_qualified_name(self, type_name: str, attr_name: str) -> str:
        """AtlasAttribute.getQualifiedName(): <declaring type>.<attribute>."""
        pending = [type_name]
        while pending:
            current = pending.pop(0)
            typedef = self.defs.get(current) or {}
            if any(a["name"] == attr_name for a in typedef.get("attributeDefs") or []):
                return f"{current}.{attr_name}"
            pending.extend(typedef.get("superTypes") or [])
        raise PatchFailed

    def _update_typedef_options(self, patch: dict[str, Any], typedef: dict[str, Any]) -> bool:
        if not patch.get("typeDefOptions"):
            raise PatchFailed
        if not self._applicable(patch, typedef):
            return False
        typedef.setdefault("options", {}).update(patch["typeDefOptions"])
        return self._bump(patch, typedef)

    def _set_service_type(self, patch: dict[str, Any], typedef: dict[str, Any]) -> bool:
        if not self._applicable(patch, typedef):
            return False
        typedef["serviceType"] = patch.get("serviceType")
        return self._bump(patch, typedef)

    def _update_attribute_metadata(self, patch: dict[str, Any], typedef: dict[str, Any]) -> bool:
        if not self._applicable(patch, typedef):
            return False
        if self.category[typedef["name"]] not in ("ENTITY", "STRUCT"):
            raise PatchFailed
        for attr in typedef.get("attributeDefs") or []:
            if attr["name"].lower() != str(patch.get("attributeName")).lower():
                continue
            for key, value in (patch.get("params") or {}).items():
                if key.lower() == "searchweight":
                    attr["searchWeight"] = int(value)
                elif key.lower() == "indextype":
                    if value:
                        attr["indexType"] = value
                elif key.lower() == "isindexable":
                    if not value and attr.get("isIndexable", False):
                        attr["isIndexable"] = False
                else:
                    raise PatchFileAborted  # RuntimeException("Received unknown property ...")
        return self._bump(patch, typedef)

    def _add_super_types(self, patch: dict[str, Any], typedef: dict[str, Any]) -> bool:
        super_types = patch.get("superTypes") or []
        if not super_types or not self._applicable(patch, typedef):
            return False
        if self.category[typedef["name"]] != "ENTITY":
            raise PatchFailed
        current = typedef.setdefault("superTypes", [])
        current.extend(s for s in super_types if s not in current)
        return self._bump(patch, typedef)


# --------------------------------------------------------------------------------------------
# Helpers on our own files
# --------------------------------------------------------------------------------------------


def _our_files() -> list[tuple[str, dict[str, Any]]]:
    files = typedefs.bundled_typedef_files()
    return list(zip((f.name for f in files), typedefs.load_bundled_typedefs(), strict=True))


def _iter_defs(types_def: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for key, category in CATEGORY_BY_KEY.items():
        for typedef in types_def.get(key) or []:
            yield category, typedef


def _our_types() -> dict[str, tuple[str, dict[str, Any]]]:
    ours: dict[str, tuple[str, dict[str, Any]]] = {}
    for _, types_def in _our_files():
        for category, typedef in _iter_defs(types_def):
            ours[typedef["name"]] = (category, typedef)
    return ours


OUR_TYPES = _our_types()


def _type_names_in(type_expr: str) -> Iterator[str]:
    """Element type names of ``array<...>`` / ``map<k,v>`` expressions (recursively)."""
    type_expr = type_expr.strip()
    match = re.fullmatch(r"array<(.+)>", type_expr)
    if match:
        yield from _type_names_in(match.group(1))
        return
    match = re.fullmatch(r"map<(.+)>", type_expr)
    if match:
        inner, depth = match.group(1), 0
        for i, ch in enumerate(inner):
            depth += {"<": 1, ">": -1}.get(ch, 0)
            if ch == "," and depth == 0:
                yield from _type_names_in(inner[:i])
                yield from _type_names_in(inner[i + 1 :])
                return
        raise AssertionError(f"malformed map type {type_expr!r}")
    yield type_expr


def _referenced_types(category: str, typedef: dict[str, Any]) -> set[str]:
    refs: set[str] = set(typedef.get("superTypes") or [])
    for attr in typedef.get("attributeDefs") or []:
        refs.update(_type_names_in(attr["typeName"]))
    if category == "RELATIONSHIP":
        refs.update({typedef["endDef1"]["type"], typedef["endDef2"]["type"]})
    return refs


def _norm_attr(attr: dict[str, Any]) -> dict[str, Any]:
    # Java defaults of AtlasAttributeDef: isOptional=false, isUnique=false, cardinality=SINGLE
    return {
        "typeName": attr["typeName"],
        "isOptional": bool(attr.get("isOptional", False)),
        "isUnique": bool(attr.get("isUnique", False)),
        "cardinality": attr.get("cardinality", "SINGLE"),
        "options": dict(attr.get("options") or {}),
    }


def _norm_attrs(typedef: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["name"]: _norm_attr(a) for a in typedef.get("attributeDefs") or []}


def _norm_end(end: dict[str, Any]) -> dict[str, Any]:
    # Java defaults of AtlasRelationshipEndDef: isContainer=false, cardinality=SINGLE, isLegacyAttribute=false
    return {
        "type": end["type"],
        "name": end["name"],
        "isContainer": bool(end.get("isContainer", False)),
        "cardinality": end.get("cardinality", "SINGLE"),
        "isLegacyAttribute": bool(end.get("isLegacyAttribute", False)),
    }


def _ids(names: Iterable[str]) -> list[str]:
    return sorted(names)


# --------------------------------------------------------------------------------------------
# Tests on our files alone
# --------------------------------------------------------------------------------------------


def test_loader_returns_sorted_files_and_parsed_json() -> None:
    files = typedefs.bundled_typedef_files()
    names = [f.name for f in files]
    assert names, "no bundled typedef files found"
    assert names == sorted(names)
    assert all(re.fullmatch(r"\d{4}-[a-z0-9-]+\.json", n) for n in names), names
    loaded = typedefs.load_bundled_typedefs()
    assert len(loaded) == len(files)
    assert all(isinstance(d, dict) for d in loaded)


@pytest.mark.parametrize("file_name", [name for name, _ in _our_files()])
def test_file_shape(file_name: str) -> None:
    types_def = dict(_our_files())[file_name]
    assert set(types_def) == set(CATEGORY_BY_KEY), f"{file_name}: keys {sorted(types_def)}"
    for key in CATEGORY_BY_KEY:
        assert isinstance(types_def[key], list), f"{file_name}: {key} is not a list"
        for typedef in types_def[key]:
            assert "category" not in typedef, f"{file_name}: category is implied by the list"
            # Atlas itself gives ml_model_deployment_status no serviceType; we mirror that.
            assert typedef.get("serviceType") or typedef["name"] == "ml_model_deployment_status", (
                f"{typedef['name']} has no serviceType"
            )
            assert typedef.get("typeVersion"), f"{typedef['name']} has no typeVersion"


def test_no_type_defined_twice() -> None:
    seen: dict[str, str] = {}
    for file_name, types_def in _our_files():
        for _, typedef in _iter_defs(types_def):
            assert typedef["name"] not in seen, (
                f"{typedef['name']} in {seen.get(typedef['name'])} and {file_name}"
            )
            seen[typedef["name"]] = file_name


def test_files_only_reference_earlier_or_own_types() -> None:
    known: set[str] = set(BUILTIN_TYPES)
    problems: list[str] = []
    for file_name, types_def in _our_files():
        known |= {typedef["name"] for _, typedef in _iter_defs(types_def)}
        for category, typedef in _iter_defs(types_def):
            missing = _referenced_types(category, typedef) - known
            if missing:
                problems.append(f"{file_name}: {typedef['name']} references {sorted(missing)}")
    assert not problems, "\n".join(problems)


def test_enum_attributes_and_struct_attributes_point_at_right_categories() -> None:
    for name, (category, typedef) in OUR_TYPES.items():
        for attr in typedef.get("attributeDefs") or []:
            for ref in _type_names_in(attr["typeName"]):
                if ref in BUILTIN_TYPES:
                    continue
                ref_category = OUR_TYPES[ref][0]
                if category in ("STRUCT", "RELATIONSHIP"):
                    assert ref_category in ("ENUM", "STRUCT"), f"{name}.{attr['name']} -> {ref}"
                else:
                    assert ref_category in ("ENUM", "STRUCT", "ENTITY"), f"{name}.{attr['name']} -> {ref}"


# --------------------------------------------------------------------------------------------
# Comparison with Atlas (needs ../shared/atlas-models)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def atlas() -> AtlasRegistry:
    if not ATLAS_MODELS.is_dir():
        pytest.skip(f"Atlas reference models not found at {ATLAS_MODELS}")
    registry = AtlasRegistry()
    registry.load_models(ATLAS_MODELS)
    return registry


def test_patch_applier_sanity(atlas: AtlasRegistry) -> None:
    # a few facts that only hold if the patches were applied in Atlas's order
    referenceable = _norm_attrs(atlas.defs["Referenceable"])
    assert {"qualifiedName", "replicatedFrom", "replicatedTo"} <= set(referenceable)
    assert "managedLocation" in _norm_attrs(atlas.defs["hive_db"])
    assert atlas.defs["hive_db"]["typeVersion"] == "1.5"
    assert _norm_attrs(atlas.defs["aws_s3_v2_directory"])["objectPrefix"]["isUnique"] is False
    values = {e["value"] for e in atlas.defs["atlas_operation"]["elementDefs"]}
    assert {"TYPE_DEF_CREATE", "AUTO_PURGE"} <= values


@pytest.mark.parametrize("type_name", _ids(OUR_TYPES))
def test_type_matches_atlas(atlas: AtlasRegistry, type_name: str) -> None:
    category, ours = OUR_TYPES[type_name]
    assert type_name in atlas.defs, f"{type_name} is not an Atlas type"
    theirs = atlas.defs[type_name]

    assert category == atlas.category[type_name], "category"
    assert ours.get("serviceType") == theirs.get("serviceType"), "serviceType"
    assert ours.get("typeVersion") == theirs.get("typeVersion"), "typeVersion (after Atlas patches)"
    assert dict(ours.get("options") or {}) == dict(theirs.get("options") or {}), "typedef options"

    if category == "ENUM":
        ours_elems = {e["value"]: e["ordinal"] for e in ours.get("elementDefs") or []}
        theirs_elems = {e["value"]: e["ordinal"] for e in theirs.get("elementDefs") or []}
        assert ours_elems == theirs_elems, "enum elements"
        return

    if category in ("ENTITY", "CLASSIFICATION"):
        assert set(ours.get("superTypes") or []) == set(theirs.get("superTypes") or []), "superTypes"

    ours_attrs, theirs_attrs = _norm_attrs(ours), _norm_attrs(theirs)
    assert sorted(ours_attrs) == sorted(theirs_attrs), "attribute names"
    for attr_name, expected in theirs_attrs.items():
        assert ours_attrs[attr_name] == expected, f"attribute {type_name}.{attr_name}"

    if category == "RELATIONSHIP":
        for key in ("relationshipCategory", "relationshipLabel", "propagateTags"):
            assert ours.get(key) == theirs.get(key), key
        assert _norm_end(ours["endDef1"]) == _norm_end(theirs["endDef1"]), "endDef1"
        assert _norm_end(ours["endDef2"]) == _norm_end(theirs["endDef2"]), "endDef2"


def test_all_relationships_between_our_types_are_included(atlas: AtlasRegistry) -> None:
    our_entities = {n for n, (c, _) in OUR_TYPES.items() if c == "ENTITY"}
    expected = {
        name
        for name, typedef in atlas.defs.items()
        if atlas.category[name] == "RELATIONSHIP"
        and typedef["endDef1"]["type"] in our_entities
        and typedef["endDef2"]["type"] in our_entities
    }
    ours = {n for n, (c, _) in OUR_TYPES.items() if c == "RELATIONSHIP"}
    assert sorted(expected - ours) == [], "Atlas relationshipDefs between our types that we lack"
    assert sorted(ours - expected) == [], "relationshipDefs that Atlas does not have"


def test_descriptions_are_our_own(atlas: AtlasRegistry) -> None:
    """Licence hygiene: we write our own (short) descriptions, never Atlas's text."""
    clashes: list[str] = []
    for name, (_, ours) in OUR_TYPES.items():
        theirs = atlas.defs.get(name) or {}
        if ours.get("description") and ours.get("description") == theirs.get("description"):
            clashes.append(name)
        theirs_attrs = {a["name"]: a for a in theirs.get("attributeDefs") or []}
        for attr in ours.get("attributeDefs") or []:
            desc = attr.get("description")
            if desc and desc == (theirs_attrs.get(attr["name"]) or {}).get("description"):
                clashes.append(f"{name}.{attr['name']}")
    assert not clashes, clashes
