"""Parsing a lineage file's content (bytes or text) into a :class:`LineageFile`, collecting every problem."""

from __future__ import annotations

import difflib
import re
from typing import Literal

from catalog.lineagefile import jsonnodes
from catalog.lineagefile.models import LineageFile, ModelLineage
from catalog.lineagefile.problems import LineageFileError, Problem, quoted
from catalog.lineagefile.refs import CONTROL_CHARS, VALUE_CONTROL_CHARS, HiveTableRef, S3Ref
from catalog.lineagefile.yamlnodes import (
    BOOL_TAG,
    FLOAT_TAG,
    INT_TAG,
    MAP_TAG,
    MERGE_TAG,
    NULL_TAG,
    SEQ_TAG,
    STR_TAG,
    TIMESTAMP_TAG,
    VALUE_TAG,
    Mapping,
    Node,
    Scalar,
    Sequence,
    YamlError,
    compose,
    decode,
)

__all__ = [
    "HIVE_TABLES_KEY",
    "MAX_FILE_BYTES",
    "METADATA_KEY",
    "MODEL_KEYS",
    "S3_SOURCES_KEY",
    "Syntax",
    "describe",
    "parse_lineage",
    "syntax_of",
    "too_big_message",
]

#: Largest lineage file read (1 MiB); bigger files are refused before parsing. Real ones are a few hundred bytes.
MAX_FILE_BYTES = 1024 * 1024

HIVE_TABLES_KEY = "hive_table_qualified_names"
METADATA_KEY = "metadata"
#: Our extension to CML's format: S3 locations training code reads directly rather than through a Hive table.
S3_SOURCES_KEY = "s3_sources"
MODEL_KEYS = (HIVE_TABLES_KEY, METADATA_KEY, S3_SOURCES_KEY)

#: Tags whose scalars stand for themselves; anything else (``!!binary``, ``!!python/...``, ``!local``) is refused.
_SCALAR_TAGS = frozenset({STR_TAG, INT_TAG, FLOAT_TAG, BOOL_TAG, NULL_TAG, TIMESTAMP_TAG, VALUE_TAG})
#: Scalars that are strings for us: plain text, and YAML 1.1's ``=`` "value key" (a string everywhere else).
_STRING_TAGS = frozenset({STR_TAG, VALUE_TAG})
#: Scalars a metadata value may be, kept as written: `epochs: 10` means "10", `enabled: yes` means "yes".
_METADATA_SCALAR_TAGS = frozenset({STR_TAG, VALUE_TAG, INT_TAG, FLOAT_TAG, BOOL_TAG, TIMESTAMP_TAG})
_KIND_NAMES = {INT_TAG: "a number", FLOAT_TAG: "a number", BOOL_TAG: "a boolean", TIMESTAMP_TAG: "a date"}
#: Word -> key, for hints when difflib finds nothing close (``tables`` -> ``hive_table_qualified_names``).
_KEY_WORDS = {"hive": HIVE_TABLES_KEY, "table": HIVE_TABLES_KEY, "s3": S3_SOURCES_KEY, "meta": METADATA_KEY}
_CONTROL = re.compile(CONTROL_CHARS)
_VALUE_CONTROL = re.compile(VALUE_CONTROL_CHARS)


#: How a lineage file is read: YAML (which reads JSON too, as YAML 1.1 does) or strict JSON.
Syntax = Literal["yaml", "json"]


def syntax_of(path: str) -> Syntax:
    """Strict JSON for a name ending in ``.json`` (what editors and ``json.load`` would check it as), else YAML."""
    return "json" if path.lower().endswith(".json") else "yaml"


def parse_lineage(data: bytes | str, path: str = "lineage.yml", syntax: Syntax | None = None) -> LineageFile:
    """Parse a lineage file's content; ``path`` is used in problems and the result, and for the syntax when
    ``syntax`` is not given (see :func:`syntax_of`).

    Raises :class:`LineageFileError` listing every problem found (syntax errors that stop the reader end the
    search: nothing after them can be located reliably).
    """
    size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "surrogatepass"))
    if size > MAX_FILE_BYTES:
        raise LineageFileError([Problem(path, 1, 1, too_big_message(size))])
    walker = _Walker(path)
    try:
        if (syntax or syntax_of(path)) == "json":
            root, lenient = jsonnodes.compose(decode(data, "JSON"))
            walker.problems.extend(Problem(path, p.line, p.column, p.message) for p in lenient)
        else:
            root = compose(decode(data))
    except YamlError as exc:
        raise LineageFileError([Problem(path, exc.line, exc.column, exc.message)]) from None
    except jsonnodes.JsonError as exc:
        problems = [Problem(path, p.line, p.column, p.message) for p in exc.problems]
        raise LineageFileError(sorted(problems, key=lambda p: (p.line, p.column))) from None
    models = walker.file(root)
    if walker.problems:
        raise LineageFileError(sorted(walker.problems, key=lambda p: (p.line, p.column)))
    return LineageFile(path=path, models=models)


def too_big_message(size: int) -> str:
    return f"file is {size} bytes; lineage files are limited to {MAX_FILE_BYTES} bytes (1 MiB)"


def describe(node: Node) -> str:
    """How a node reads in "expected ..., got <this>": a quoted string, ``a number (5)``, ``a list``..."""
    if isinstance(node, Mapping):
        return "a mapping"
    if isinstance(node, Sequence):
        return "a list"
    if node.tag in _STRING_TAGS:
        return quoted(node.value)
    if node.tag == NULL_TAG:
        return "nothing (null)"
    kind = _KIND_NAMES.get(node.tag, "a scalar")
    return f"{kind} ({quoted(node.value)[1:-1]})"


class _Walker:
    """Walks the node tree of one file, building models and recording every problem it meets."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[Problem] = []

    def report(self, node: Node, message: str) -> None:
        self.problems.append(Problem(self.path, node.line, node.column, message))

    def tag_ok(self, node: Node) -> bool:
        """False (and a problem) for tags that would make a YAML loader construct something other than data."""
        allowed = MAP_TAG if isinstance(node, Mapping) else SEQ_TAG if isinstance(node, Sequence) else None
        if node.tag == allowed or (isinstance(node, Scalar) and node.tag in _SCALAR_TAGS):
            return True
        if node.tag == MERGE_TAG:
            self.report(node, 'YAML merge keys ("<<") are not allowed; write the keys out')
        else:
            standard = "tag:yaml.org,2002:"
            shown = "!!" + node.tag.removeprefix(standard) if node.tag.startswith(standard) else node.tag
            self.report(
                node, f"unsupported YAML tag {quoted(shown)}; lineage files hold only strings, lists and mappings"
            )
        return False

    # --- the file and its models ---------------------------------------------------------------------------------

    def file(self, root: Node | None) -> dict[str, ModelLineage]:
        models: dict[str, ModelLineage] = {}
        if root is None or (isinstance(root, Scalar) and root.tag == NULL_TAG):
            self.problems.append(Problem(self.path, 1, 1, "empty lineage file"))
            return models
        if not self.tag_ok(root):
            return models
        first_lines: dict[str, int] = {}
        if isinstance(root, Sequence):
            # The list form Cloudera's AMPs write with yaml.dump([{name: {...}}]); names are unique across items.
            for item in root.items:
                if not self.tag_ok(item):
                    continue
                if isinstance(item, Mapping):
                    self.models(item, models, first_lines)
                else:
                    self.report(item, f"expected a mapping of model names to their lineage, got {describe(item)}")
        elif isinstance(root, Mapping):
            self.models(root, models, first_lines)
        else:
            self.report(
                root, f"expected a mapping of model names to their lineage (or a list of them), got {describe(root)}"
            )
        return models

    def models(self, node: Mapping, models: dict[str, ModelLineage], first_lines: dict[str, int]) -> None:
        for key, value in node.pairs:
            name = self.string_key(key, "a model name (a string)")
            usable = name is not None
            if name is not None:
                if name in first_lines:
                    self.report(key, f"duplicate model name {quoted(name)} (first on line {first_lines[name]})")
                    usable = False
                else:
                    first_lines[name] = key.line
                    usable = self.name_ok(key, name, "model name")
            # The value is checked even under an unusable name, so that one run shows all the file's problems.
            shown = name if name is not None else key.value if isinstance(key, Scalar) else "?"
            model = self.model(shown, key, value)
            if usable and name is not None and model is not None:
                models[name] = model

    def model(self, name: str, key: Node, node: Node) -> ModelLineage | None:
        """The model's lineage, or None if it has problems (which are reported)."""
        before = len(self.problems)
        if not self.tag_ok(node):
            return None
        tables: list[HiveTableRef] = []
        sources: list[S3Ref] = []
        metadata: dict[str, str] = {}
        if isinstance(node, Mapping):
            seen: dict[str, int] = {}
            for field_key, value in node.pairs:
                field = self.string_key(field_key, "a string key")
                if field is None:
                    continue
                duplicate = field in seen
                if duplicate:
                    self.report(field_key, f"duplicate key {quoted(field)} (first on line {seen[field]})")
                seen.setdefault(field, field_key.line)
                # A duplicate's value is still checked; which one is kept does not matter, the model is dropped.
                if field == HIVE_TABLES_KEY:
                    tables = self.hive_tables(value)
                elif field == S3_SOURCES_KEY:
                    sources = self.s3_sources(value)
                elif field == METADATA_KEY:
                    metadata = self.metadata(value)
                elif not duplicate:
                    self.report(field_key, _unknown_key_message(field, name))
        elif not (isinstance(node, Scalar) and node.tag == NULL_TAG):  # `Model:` alone is a model without lineage
            hint = "; the top-level keys are model names" if name in MODEL_KEYS else ""
            expected = f"a mapping with {_keys_text()} for model {quoted(name)}"
            self.report(node, f"expected {expected}, got {describe(node)}{hint}")
        if len(self.problems) > before or not name:
            return None
        return ModelLineage(name=name, hive_tables=tables, s3_sources=sources, metadata=metadata, line=key.line)

    # --- the three keys ------------------------------------------------------------------------------------------

    def hive_tables(self, node: Node) -> list[HiveTableRef]:
        tables: list[HiveTableRef] = []
        first_lines: dict[str, tuple[int, str]] = {}
        for item in self.string_list(node, 'a list of qualified names like "db.table@namespace"'):
            if not (isinstance(item, Scalar) and item.tag in _STRING_TAGS):
                self.report(item, f'expected a qualified name like "db.table@namespace", got {describe(item)}')
                continue
            try:
                table = HiveTableRef.parse(item.value)
            except ValueError as exc:
                self.report(item, str(exc))
                continue
            if table.qualified_name in first_lines:
                line, written = first_lines[table.qualified_name]
                same = "" if written == item.value else f", as {quoted(written)}; Atlas lower-cases db and table names"
                self.report(item, f"duplicate table {quoted(item.value)} (first on line {line}{same})")
                continue
            first_lines[table.qualified_name] = (item.line, item.value)
            tables.append(table)
        return tables

    def s3_sources(self, node: Node) -> list[S3Ref]:
        sources: list[S3Ref] = []
        first_lines: dict[str, int] = {}
        for item in self.string_list(node, 'a list of S3 URIs like "s3://bucket/prefix"'):
            if not (isinstance(item, Scalar) and item.tag in _STRING_TAGS):
                self.report(item, f'expected an S3 URI like "s3://bucket/prefix", got {describe(item)}')
                continue
            try:
                source = S3Ref.parse(item.value)
            except ValueError as exc:
                self.report(item, str(exc))
                continue
            if source.uri in first_lines:
                self.report(item, f"duplicate S3 source {quoted(item.value)} (first on line {first_lines[source.uri]})")
                continue
            first_lines[source.uri] = item.line
            sources.append(source)
        return sources

    def metadata(self, node: Node) -> dict[str, str]:
        metadata: dict[str, str] = {}
        if not self.tag_ok(node) or (isinstance(node, Scalar) and node.tag == NULL_TAG):
            return metadata
        if not isinstance(node, Mapping):
            self.report(node, f"expected a mapping of metadata keys to string values, got {describe(node)}")
            return metadata
        first_lines: dict[str, int] = {}
        for key_node, value in node.pairs:
            key = self.string_key(key_node, "a metadata key (a string)")
            if key is None:
                continue
            if key in first_lines:
                self.report(key_node, f"duplicate key {quoted(key)} (first on line {first_lines[key]})")
                continue
            first_lines[key] = key_node.line
            if not self.name_ok(key_node, key, "metadata key") or not self.tag_ok(value):
                continue
            if isinstance(value, Scalar) and value.tag in _METADATA_SCALAR_TAGS:
                if bad := _VALUE_CONTROL.search(value.value):
                    self.report(value, f"metadata value contains control character U+{ord(bad[0]):04X}")
                else:
                    # CML keeps metadata as strings: unquoted numbers, booleans and dates keep their text as written.
                    metadata[key] = value.value
            else:
                empty = '; write "" for an empty value' if isinstance(value, Scalar) else ""
                expected = f"a string value for metadata key {quoted(key)}"
                self.report(value, f"expected {expected}, got {describe(value)}{empty}")
        return metadata

    # --- shared checks -------------------------------------------------------------------------------------------

    def string_list(self, node: Node, expected: str) -> tuple[Node, ...]:
        """The items of a list (null means an empty list); a problem and no items for anything else."""
        if not self.tag_ok(node):
            return ()
        if isinstance(node, Sequence):
            return tuple(item for item in node.items if self.tag_ok(item))
        if isinstance(node, Scalar) and node.tag == NULL_TAG:
            return ()
        hint = f"; write a single one as a list: [{quoted(node.value)}]" if isinstance(node, Scalar) else ""
        self.report(node, f"expected {expected}, got {describe(node)}{hint}")
        return ()

    def string_key(self, node: Node, expected: str) -> str | None:
        if not self.tag_ok(node):
            return None
        if isinstance(node, Scalar) and node.tag in _STRING_TAGS:
            return node.value
        hint = f"; quote it if it is a name: {quoted(node.value)}" if isinstance(node, Scalar) else ""
        self.report(node, f"expected {expected}, got {describe(node)}{hint}")
        return None

    def name_ok(self, node: Node, name: str, what: str) -> bool:
        if not name.strip():
            self.report(node, f"expected a {what}, got an empty string")
        elif bad := _CONTROL.search(name):
            self.report(node, f"{what} {quoted(name)} contains control character U+{ord(bad[0]):04X}")
        elif name != name.strip():
            self.report(node, f"{what} {quoted(name)} has leading or trailing whitespace")
        else:
            return True
        return False


def _keys_text() -> str:
    return "keys " + ", ".join(MODEL_KEYS[:-1]) + " or " + MODEL_KEYS[-1]


def _unknown_key_message(key: str, model: str) -> str:
    close = difflib.get_close_matches(key.lower(), MODEL_KEYS, n=1, cutoff=0.5)
    guess = close[0] if close else next((k for word, k in _KEY_WORDS.items() if word in key.lower()), None)
    if guess is not None:
        return f"unknown key {quoted(key)} in model {quoted(model)}; did you mean {quoted(guess)}?"
    return f"unknown key {quoted(key)} in model {quoted(model)}; expected {_keys_text()}"

