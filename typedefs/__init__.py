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

__all__ = ["bundled_typedef_files", "load_attribute_extensions", "load_bundled_typedefs", "load_extension_typedefs"]

EXTENSION_TYPE_KEYS = ("enumDefs", "structDefs", "classificationDefs", "entityDefs", "relationshipDefs")


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


def _extensions() -> dict[str, Any]:
    entry = files(__name__).joinpath("extensions", "mlcatalog-ml.json")
    data = json.loads(entry.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("extensions/mlcatalog-ml.json: expected a JSON object")
    return data


def load_attribute_extensions() -> dict[str, list[dict[str, Any]]]:
    """mlcatalog's optional extension attributes, by Atlas type name (``extensions/mlcatalog-ml.json``)."""
    ext = _extensions().get("attributeExtensions")
    if not isinstance(ext, dict):
        raise ValueError("extensions/mlcatalog-ml.json: expected an attributeExtensions object")
    return {str(k): list(v) for k, v in ext.items()}


def load_extension_typedefs() -> dict[str, Any]:
    """mlcatalog's own types (e.g. the ``DRIFTING`` classification), as one ``AtlasTypesDef`` object.

    They are not part of Atlas's model (which the bundled files mirror): ``typedefs apply`` creates them where
    missing, after the bundled types they may refer to.
    """
    data = _extensions()
    out: dict[str, Any] = {}
    for key in EXTENSION_TYPE_KEYS:
        defs = data.get(key)
        if defs is None:
            continue
        if not isinstance(defs, list) or not all(isinstance(d, dict) for d in defs):
            raise ValueError(f"extensions/mlcatalog-ml.json: {key} must be a list of objects")
        out[key] = defs
    return out
