"""What Atlas's hook consumer does to a create/update message before it writes it, with its default settings.

``SerialEntityProcessor.preProcessNotificationMessage`` (``atlas.notification.consumer.preprocess.*``): by default
``hive_process`` and ``hive_column_lineage`` are named by their qualifiedName and get a start/end time when they
have none (``HivePreprocessor.HiveProcessPreprocessor``); Hive's dummy database and table and its temporary
``Values__Tmp__Table__`` tables are left out with their columns and storage descriptors
(``hive_db.ignore.dummy``, ``hive_table.ignore.dummy``, ``hive_table.ignore.name.prefixes``), and a process
whose inputs or outputs were all left out goes too; an ``aws_s3_v2_directory``'s ``objectPrefix`` that names the
directory itself is cut back to its parent's (``AWSS3V2Preprocessor``, ``s3_v2_directory.prune.object_prefix``).

The other defaults change nothing here: moving owned references (``hive_types.remove.ownedref.attrs``) from a table
onto its columns only reorders what one transaction writes; the ignore/prune patterns are empty.
"""

from __future__ import annotations

from typing import Any

DUMMY_DATABASES = ("_dummy_database",)  # ...hive_db.ignore.dummy.names
DUMMY_TABLES = ("_dummy_table",)  # ...hive_table.ignore.dummy.names
TABLE_NAME_PREFIXES = ("values__tmp__table__",)  # ...hive_table.ignore.name.prefixes, compared ignoring case
PROCESS_TYPES = ("hive_process", "hive_column_lineage")


def _attrs(entity: dict[str, Any]) -> dict[str, Any]:
    attrs = entity.get("attributes")
    return attrs if isinstance(attrs, dict) else {}


def _qualified_name(entity: Any) -> str | None:
    if not isinstance(entity, dict):
        return None
    qn = _attrs(entity).get("qualifiedName")
    if qn is None and isinstance(entity.get("uniqueAttributes"), dict):
        qn = entity["uniqueAttributes"].get("qualifiedName")
    return qn if isinstance(qn, str) else None


def table_ignored(qualified_name: str | None) -> bool:
    """``PreprocessorContext.getPreprocessActionForHiveTable`` with the default lists: IGNORE."""
    if not qualified_name:
        return False
    dot = qualified_name.find(".")
    at = qualified_name.find("@", dot + 1)
    table = qualified_name[dot + 1:at].lower() if dot != -1 and at != -1 else None
    if table is not None and (table in DUMMY_TABLES or table.startswith(TABLE_NAME_PREFIXES)):
        return True
    end = dot if dot != -1 else qualified_name.find("@")
    return end != -1 and qualified_name[:end].lower() in DUMMY_DATABASES


def _table_of(entity: dict[str, Any]) -> str | None:
    """The qualifiedName of the table a hive_column or hive_storagedesc belongs to (by its own qualifiedName)."""
    qn = _qualified_name(entity)
    if qn is None:
        return None
    if entity.get("typeName") == "hive_storagedesc":
        cut = qn.rfind("_storage")
        return qn[:cut] if cut != -1 else qn
    at = qn.rfind("@")
    dot = qn.rfind(".")
    return qn[:dot] + (qn[at:] if at != -1 else "") if dot != -1 else qn


def _ignored(entity: dict[str, Any]) -> bool:
    type_name = entity.get("typeName")
    if type_name == "hive_db":
        name = _attrs(entity).get("name")
        return isinstance(name, str) and name.lower() in DUMMY_DATABASES
    if type_name == "hive_table":
        return table_ignored(_qualified_name(entity))
    if type_name in ("hive_column", "hive_storagedesc"):
        return table_ignored(_table_of(entity))
    return False


def _prune_object_prefix(entity: dict[str, Any]) -> None:
    attrs = _attrs(entity)
    qn, prefix = attrs.get("qualifiedName"), attrs.get("objectPrefix")
    if not (isinstance(qn, str) and isinstance(prefix, str) and qn.strip() and prefix.strip()) or "://" not in qn:
        return
    bucket_end = qn.find("/", qn.index("://") + 3)
    if bucket_end == -1 or qn[:bucket_end] + prefix + "@" not in qn:
        return
    if "/" not in prefix:
        attrs["objectPrefix"] = "/"
        return
    trimmed = prefix[:-1] if prefix.endswith("/") else prefix
    attrs["objectPrefix"] = trimmed[:trimmed.rfind("/") + 1]


def _process(entity: dict[str, Any], ignored: set[str], now_ms: int) -> bool:
    """A hive process named by its qualifiedName, timed, its left-out inputs/outputs dropped; False if it goes."""
    attrs = entity.setdefault("attributes", {})
    if not isinstance(attrs, dict):
        return True
    if attrs.get("name") != attrs.get("qualifiedName"):
        attrs["name"] = attrs.get("qualifiedName")
    for key in ("startTime", "endTime"):
        if attrs.get(key) in (None, ""):
            attrs[key] = now_ms
    removed = False
    for key in ("inputs", "outputs"):
        refs = attrs.get(key)
        if isinstance(refs, list):
            kept = [r for r in refs if not _ref_ignored(r, ignored)]
            removed = removed or len(kept) < len(refs)
            attrs[key] = kept
    return not (removed and (not attrs.get("inputs") or not attrs.get("outputs")))


def _ref_ignored(ref: Any, ignored: set[str]) -> bool:
    if not isinstance(ref, dict):
        return False
    if ref.get("guid") is not None and str(ref["guid"]) in ignored:
        return True
    if ref.get("typeName") == "hive_table":
        return table_ignored(_qualified_name(ref))
    if ref.get("typeName") == "hive_column":
        return table_ignored(_table_of(ref))
    return False


def preprocess(entities: list[Any], referred: dict[str, Any], now_ms: int
               ) -> tuple[list[Any], dict[str, Any]]:
    """The message's entities and referred entities as Atlas's consumer writes them."""
    ignored: set[str] = set()
    for e in [*entities, *referred.values()]:
        if isinstance(e, dict) and _ignored(e):
            ignored.add(str(e.get("guid")))
    for e in [*entities, *referred.values()]:
        if not isinstance(e, dict) or str(e.get("guid")) in ignored:
            continue
        if e.get("typeName") in PROCESS_TYPES and not _process(e, ignored, now_ms):
            ignored.add(str(e.get("guid")))
        elif e.get("typeName") == "aws_s3_v2_directory":
            _prune_object_prefix(e)
    if not ignored:
        return entities, referred
    return ([e for e in entities if not (isinstance(e, dict) and str(e.get("guid")) in ignored)],
            {g: e for g, e in referred.items() if not (isinstance(e, dict) and str(e.get("guid")) in ignored)})
