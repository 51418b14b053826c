"""``mlcatalog typedefs apply``: make an Atlas carry the types the catalog writes, idempotently.

Missing types are created from our bundled model (identical to Atlas's own, so an Atlas that already has the
ML model is left as it is), and so are mlcatalog's own types (the ``DRIFTING`` classification of
``typedefs/extensions``); our optional extension attributes are added to existing types with a typedef
PUT, the one change Atlas allows on a live type. A change Atlas would refuse, or that would alter an existing
attribute, is refused here first with a message naming the type and attribute.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from catalog.atlas.client import AtlasCatalogClient
from catalog.atlas.models import AttributeDef, TypeDef, typesdef_from_atlas
from catalog.errors import Conflict

READ_ONLY_FIELDS = ("subTypes", "relationshipAttributeDefs", "createTime", "updateTime", "createdBy",
                    "updatedBy", "version")


@dataclass
class TypedefPlan:
    create: list[TypeDef] = field(default_factory=list)
    update: list[TypeDef] = field(default_factory=list)
    added: dict[str, list[str]] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)

    @property
    def changes(self) -> bool:
        return bool(self.create or self.update)

    def summary(self) -> list[str]:
        lines = [f"create {d.category.lower()} type {d.name}" for d in self.create]
        lines += [f"add to {t}: {', '.join(a)}" for t, a in self.added.items()]
        return lines


def desired_types(bundled: list[dict[str, Any]]) -> list[TypeDef]:
    out: list[TypeDef] = []
    for typesdef in bundled:
        out.extend(typesdef_from_atlas(typesdef))
    return out


def _with_attributes(d: TypeDef, extra: list[dict[str, Any]]) -> TypeDef:
    raw = d.model_dump(by_alias=True, exclude_none=True)
    for key in READ_ONLY_FIELDS:
        raw.pop(key, None)
    raw["attributeDefs"] = [*raw.get("attributeDefs", []), *extra]
    return TypeDef.model_validate(raw)


def _existing_conflict(want: TypeDef, have: TypeDef) -> str | None:
    """Why a type Atlas already has under the name cannot serve as ``want`` (None when it can)."""
    if have.category != want.category:
        return (f"{want.name}: Atlas has it as a {have.category.lower()} type, mlcatalog needs a "
                f"{want.category.lower()} type")
    if want.category == "CLASSIFICATION":
        restricted = set((have.model_extra or {}).get("entityTypes") or [])
        needed = set((want.model_extra or {}).get("entityTypes") or [])
        if restricted and not needed <= restricted:
            return (f"{want.name}: Atlas allows it on {', '.join(sorted(restricted))} only, mlcatalog needs it on "
                    f"{', '.join(sorted(needed))}")
    return None


def plan_typedefs(current: dict[str, TypeDef], bundled: list[dict[str, Any]],
                  extensions: dict[str, list[dict[str, Any]]]) -> TypedefPlan:
    """``bundled``: ``AtlasTypesDef`` objects whose types must exist (Atlas's model, then mlcatalog's own types);
    ``extensions``: optional attributes to add, by type name."""
    plan = TypedefPlan()
    for d in desired_types(bundled):
        if d.name in current:
            conflict = _existing_conflict(d, current[d.name])
            if conflict is not None:
                plan.conflicts.append(conflict)
            continue
        extra = [a for a in extensions.get(d.name, []) if a["name"] not in {x.name for x in d.attribute_defs}]
        plan.create.append(_with_attributes(d, extra) if extra else d)
        if extra:
            plan.added[d.name] = [a["name"] for a in extra]
    for type_name, attrs in extensions.items():
        cur = current.get(type_name)
        if cur is None:
            if not any(d.name == type_name for d in plan.create):
                plan.conflicts.append(f"{type_name}: type not found and not in the bundled model")
            continue
        existing = {a.name: a for a in cur.attribute_defs}
        missing: list[dict[str, Any]] = []
        for a in attrs:
            want = AttributeDef.model_validate(a)
            have = existing.get(want.name)
            if have is None:
                missing.append(a)
                continue
            if (have.type_name, have.cardinality) != (want.type_name, want.cardinality):
                plan.conflicts.append(
                    f"{type_name}.{want.name}: Atlas has {have.type_name} ({have.cardinality}), mlcatalog needs "
                    f"{want.type_name} ({want.cardinality}); changing an attribute's type is destructive")
            elif not have.is_optional and want.is_optional:
                plan.conflicts.append(f"{type_name}.{want.name}: Atlas has it mandatory, mlcatalog needs optional")
        if missing:
            plan.update.append(_with_attributes(cur, missing))
            plan.added[type_name] = [a["name"] for a in missing]
    return plan


def apply_typedefs(client: AtlasCatalogClient, *, dry_run: bool = False) -> TypedefPlan:
    from typedefs import load_attribute_extensions, load_bundled_typedefs, load_extension_typedefs

    # mlcatalog's own types last: they may refer to the bundled ones (DRIFTING is for ml_model_deployment only).
    bundled = [*load_bundled_typedefs(), load_extension_typedefs()]
    extensions = load_attribute_extensions()
    names = {d.name for d in desired_types(bundled)}
    # One request for the whole model beats one per type (~60 types).
    current = {n: d for n, d in client.get_typedefs(None).items() if n in names}
    plan = plan_typedefs(current, bundled, extensions)
    if plan.conflicts:
        raise Conflict("refusing destructive typedef change: " + "; ".join(plan.conflicts))
    if not dry_run:
        client.create_typedefs(plan.create)
        client.update_typedefs(plan.update)
    return plan
