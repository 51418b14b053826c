"""mlcatalog's bundled base type model, as Atlas-v2 ``AtlasTypesDef`` JSON files.

Each ``NNNN-*.json`` file in this package is one ``AtlasTypesDef`` object (keys ``enumDefs``,
``structDefs``, ``classificationDefs``, ``entityDefs``, ``relationshipDefs``).  Files are meant to
be loaded in file-name order; a file only references builtin types and types defined in itself
or in an earlier file.  The definitions mirror Apache Atlas's current bundled models (with Atlas's
type patches folded in) for the types mlcatalog uses; see ``tests/test_typedefs_match_atlas.py``.
"""

from __future__ import annotations

import json
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

__all__ = ["bundled_typedef_files", "load_attribute_extensions", "load_bundled_typedefs"]


def bundled_typedef_files() -> list[Traversable]:
    """The bundled typedef JSON files, sorted by file name (= load order)."""
    package = files(__name__)
    return sorted(
        (entry for entry in package.iterdir() if entry.is_file() and entry.name.endswith(".json")),
        key=lambda entry: entry.name,
    )


def load_bundled_typedefs() -> list[dict[str, Any]]:
    """The parsed ``AtlasTypesDef`` objects, in the order of :func:`bundled_typedef_files`."""
    loaded: list[dict[str, Any]] = []
    for entry in bundled_typedef_files():
        data = json.loads(entry.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"{entry.name}: expected a JSON object (AtlasTypesDef)")
        loaded.append(data)
    return loaded


def load_attribute_extensions() -> dict[str, list[dict[str, Any]]]:
    """mlcatalog's optional extension attributes, by Atlas type name (``extensions/mlcatalog-ml.json``)."""
    entry = files(__name__).joinpath("extensions", "mlcatalog-ml.json")
    data = json.loads(entry.read_text(encoding="utf-8"))
    ext = data.get("attributeExtensions") if isinstance(data, dict) else None
    if not isinstance(ext, dict):
        raise ValueError("extensions/mlcatalog-ml.json: expected an attributeExtensions object")
    return {str(k): list(v) for k, v in ext.items()}
