"""A JSON Schema (draft 2020-12) of lineage files, for editors (e.g. yaml-language-server) and other tools.

It says what the parser accepts as far as JSON Schema can: not that the file must be non-empty, that a table is
listed twice in different case, that an S3 key is longer than 1024 bytes, nor anything about YAML itself (anchors,
tags, duplicate keys are refused by the parser before any schema would see them).
"""

from __future__ import annotations

from typing import Any

from catalog.lineagefile.parser import HIVE_TABLES_KEY, METADATA_KEY, S3_SOURCES_KEY
from catalog.lineagefile.refs import CONTROL_CHARS, HIVE_QUALIFIED_NAME, S3_URI, VALUE_CONTROL_CHARS

__all__ = ["anchored", "lineage_json_schema"]


def anchored(body: str) -> str:
    """``body`` as a whole-string JSON Schema pattern.

    Patterns are searched, not matched, hence ``^...$``. The extra ``(?!\\n)`` is for Python's ``re``, whose ``$``
    also matches before a final newline; ECMAScript's does not, and there it changes nothing.
    """
    return f"^(?:{body})$(?!\\n)"


def _name(what: str) -> dict[str, Any]:
    not_control = "[^" + CONTROL_CHARS[1:]
    return {
        "type": "string",
        "description": f"{what}: not empty, no control characters, no leading or trailing whitespace",
        "pattern": anchored(rf"(?!\s){not_control}+(?<!\s)"),
    }


def _list_of(ref: str, description: str) -> dict[str, Any]:
    return {
        "type": ["array", "null"],
        "description": description + " A key with no value means an empty list.",
        "items": {"$ref": ref},
        "uniqueItems": True,
    }


def lineage_json_schema() -> dict[str, Any]:
    """The JSON Schema of ``lineage.yml``/``lineage.yaml`` files, as a JSON-serialisable dict."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "CML lineage file (lineage.yml)",
        "description": (
            "Links CML models to their training data. Top-level keys are model names (as created in CML); each "
            "model may list hive_table_qualified_names, metadata and (an mlcatalog extension) s3_sources. The file "
            "is either one mapping of model names or a list of such mappings."
        ),
        "anyOf": [
            {"$ref": "#/$defs/models"},
            {
                "type": "array",
                "description": "The list form, as yaml.dump([{name: {...}}]) writes it; model names stay unique.",
                "items": {"$ref": "#/$defs/models"},
            },
        ],
        "$defs": {
            "models": {
                "type": "object",
                "description": "Model name -> that model's lineage.",
                "propertyNames": {"$ref": "#/$defs/modelName"},
                "additionalProperties": {"$ref": "#/$defs/model"},
            },
            "modelName": _name("The CML model name"),
            "model": {
                "type": ["object", "null"],
                "description": "One model's lineage; no value (null) or {} means no lineage.",
                "properties": {
                    HIVE_TABLES_KEY: _list_of(
                        "#/$defs/hiveTableQualifiedName", "The Hive tables the model was trained on."
                    ),
                    S3_SOURCES_KEY: _list_of(
                        "#/$defs/s3Uri", "S3 locations training read directly, not through Hive (mlcatalog extension)."
                    ),
                    METADATA_KEY: {
                        "type": ["object", "null"],
                        "description": "Free-form metadata, e.g. query and training_file. Values are kept as strings.",
                        "propertyNames": {"$ref": "#/$defs/metadataKey"},
                        "additionalProperties": {"$ref": "#/$defs/metadataValue"},
                    },
                },
                "additionalProperties": False,
            },
            "hiveTableQualifiedName": {
                "type": "string",
                "description": (
                    "An Atlas hive_table qualifiedName, db.table@namespace (e.g. default.wineds@cm); db and table are "
                    "letters, digits and underscores, the namespace may also have dots and hyphens."
                ),
                "examples": ["default.wineds_ext@cm"],
                "pattern": anchored(HIVE_QUALIFIED_NAME),
            },
            "s3Uri": {
                "type": "string",
                "description": (
                    "s3://bucket/prefix or s3a://bucket/prefix: a valid S3 bucket name; a key without spaces, "
                    "wildcards, empty, '.' or '..' segments, or characters AWS says to avoid; at most 1024 bytes."
                ),
                "examples": ["s3a://my-bucket/wine_dataset/data/"],
                "pattern": anchored(S3_URI),
            },
            "metadataKey": _name("A metadata key"),
            "metadataValue": {
                "description": "A string; numbers and booleans are accepted and kept as written.",
                "type": ["string", "number", "boolean"],
                "pattern": anchored("[^" + VALUE_CONTROL_CHARS[1:] + "*"),
            },
        },
    }
