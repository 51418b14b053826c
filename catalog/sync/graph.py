"""The desired entity graph: what Atlas should contain, keyed by (typeName, qualifiedName).

Each entity carries a ``layer``: entities only reference entities of lower layers, so writing layer by layer
(Atlas resolves ``{typeName, uniqueAttributes}`` references against what is already stored) never refers to
something not yet written. ``managed`` entities are ours to create and update; unmanaged ones (a table the
Atlas Hive hook created) are only referenced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from catalog.atlas.models import EntitySpec, ObjectRef

# Layers, lowest first.
L_ROOT = 0  # hive_db, aws_s3_v2_bucket, ml_project
L_S3_DIR = 1  # + depth of the directory
L_TABLE = 100
L_TABLE_PARTS = 101  # columns, storage descriptor
L_TABLE_PROCESS = 102  # hive_process S3 dir -> table
L_BUILD = 200
L_TRAIN = 201
L_DEPLOYMENT = 300
L_DEPLOY = 301


@dataclass
class Desired:
    type_name: str
    qualified_name: str
    layer: int
    attributes: dict[str, Any] = field(default_factory=dict)
    create_attributes: dict[str, Any] = field(default_factory=dict)  # only written when creating
    relationships: dict[str, list[ObjectRef] | ObjectRef] = field(default_factory=dict)
    managed: bool = True

    @property
    def key(self) -> tuple[str, str]:
        return (self.type_name, self.qualified_name)

    def ref(self) -> ObjectRef:
        return ObjectRef(type_name=self.type_name, qualified_name=self.qualified_name)

    def spec(self, creating: bool) -> EntitySpec:
        attrs = {**self.create_attributes, **self.attributes} if creating else dict(self.attributes)
        return EntitySpec(type_name=self.type_name, qualified_name=self.qualified_name, attributes=attrs,
                          relationships=dict(self.relationships))


class Graph:
    def __init__(self) -> None:
        self.entities: dict[tuple[str, str], Desired] = {}

    def add(self, d: Desired) -> Desired:
        """Add ``d``; an entity already present is kept (several models may share a table)."""
        existing = self.entities.get(d.key)
        if existing is not None:
            existing.layer = min(existing.layer, d.layer)
            return existing
        self.entities[d.key] = d
        return d

    def managed(self) -> list[Desired]:
        return [d for d in self.entities.values() if d.managed]

    def by_type(self) -> dict[str, list[Desired]]:
        out: dict[str, list[Desired]] = {}
        for d in self.entities.values():
            out.setdefault(d.type_name, []).append(d)
        return out
