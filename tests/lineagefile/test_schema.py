"""The JSON Schema agrees with the parser: it accepts the valid examples, rejects what it can express of the rest."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.lineagefile import HiveTableRef, LineageFileError, S3Ref, lineage_json_schema, parse_lineage
from catalog.lineagefile.refs import HIVE_QUALIFIED_NAME, S3_URI
from catalog.lineagefile.schema import anchored

from .conftest import INVALID, VALID_EXAMPLES

SCHEMA = lineage_json_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

#: Invalid examples the schema cannot see: they are refused by the YAML reader, or a YAML loader hides the problem.
NOT_EXPRESSIBLE = {
    "alias_bomb.yml",  # must never be given to a YAML loader
    "custom_tag.yml",
    "duplicate_key.json",  # loaders keep the last value
    "duplicate_key.yml",
    "duplicate_model.yaml",  # each list item is valid on its own
    "multiple_documents.yml",
    "non_string_key.yml",  # YAML-only: JSON keys are always strings
    "not_utf8.yml",
    "trailing_comma.json",  # not JSON, but YAML loaders (and JSON5) read it
}


class _StringDates(yaml.SafeLoader):
    """safe_load, but dates stay strings, as editors and JSON treat them."""


def _timestamp_as_str(loader: _StringDates, node: yaml.Node) -> str:
    return loader.construct_yaml_str(node)


_StringDates.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_str)


def load(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_StringDates)


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    json.dumps(SCHEMA)


@pytest.mark.parametrize("path", VALID_EXAMPLES, ids=lambda p: p.parent.name)
def test_valid_examples_validate(path: Path) -> None:
    VALIDATOR.validate(load(path))


@pytest.mark.parametrize(
    "path", sorted(p for p in INVALID.iterdir() if p.name not in NOT_EXPRESSIBLE), ids=lambda p: p.name
)
def test_invalid_examples_are_rejected(path: Path) -> None:
    assert not VALIDATOR.is_valid(load(path))


@pytest.mark.parametrize(
    "document",
    [
        {"M": None},
        {"M": {}},
        {"M": {"hive_table_qualified_names": None, "metadata": None, "s3_sources": None}},
        {"M": {"metadata": {"epochs": 10, "ok": True, "q": "line 1\nline 2\t"}}},
        [{"A": {}}, {"B": {"s3_sources": ["s3://bucket"]}}],
        [],
        {},
    ],
)
def test_schema_accepts(document: Any) -> None:
    VALIDATOR.validate(document)


@pytest.mark.parametrize(
    "document",
    [
        None,
        "M",
        ["M"],
        {"M": []},
        {"M": {"tables": []}},
        {"M": {"hive_table_qualified_names": "default.t@cm"}},
        {"M": {"hive_table_qualified_names": ["default.t@cm", "default.t@cm"]}},
        {"M": {"hive_table_qualified_names": ["default.t@cm\n"]}},
        {"M": {"metadata": {"k": None}}},
        {"M": {"metadata": {"k": ["v"]}}},
        {"M": {"metadata": {"k": "\u0000"}}},
        {"M": {"metadata": {"": "v"}}},
        {"M": {"s3_sources": ["s3://Bucket/x"]}},
        {"": {}},
        {" M": {}},
        {"M\n": {}},
    ],
)
def test_schema_rejects(document: Any) -> None:
    assert not VALIDATOR.is_valid(document)


def _accepted(parse: Any, text: str) -> bool:
    try:
        parse(text)
    except ValueError:
        return False
    return True


_QN_CHARS = st.text(alphabet=st.sampled_from(list("aZ09_.@-; '`\"\n/é")), max_size=16)
_S3_CHARS = st.text(alphabet=st.sampled_from(list("ab09.-_/*?%\\ \n\u00a0éA")), max_size=70)


@settings(max_examples=500, deadline=None)
@given(st.one_of(_QN_CHARS, st.from_regex(HIVE_QUALIFIED_NAME, fullmatch=True)))
def test_qualified_name_pattern_agrees_with_the_parser(text: str) -> None:
    pattern = SCHEMA["$defs"]["hiveTableQualifiedName"]["pattern"]
    assert (re.search(pattern, text) is not None) == _accepted(HiveTableRef.parse, text)


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.builds(lambda scheme, rest: scheme + rest, st.sampled_from(["s3://", "s3a://", "s3:/", "gs://"]), _S3_CHARS),
        st.from_regex(S3_URI, fullmatch=True, alphabet=st.characters()),
    )
)
def test_s3_uri_pattern_agrees_with_the_parser(text: str) -> None:
    pattern = SCHEMA["$defs"]["s3Uri"]["pattern"]
    # The schema cannot count UTF-8 bytes: keys over 1024 bytes are the parser's alone to refuse.
    if len(text.encode("utf-8", "surrogatepass")) > 1024:
        return
    assert (re.search(pattern, text) is not None) == _accepted(S3Ref.parse, text), text


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("M é\t\n\u0085\u00a0x")), max_size=6))
def test_model_name_pattern_agrees_with_the_parser(name: str) -> None:
    pattern = SCHEMA["$defs"]["modelName"]["pattern"]
    try:
        parse_lineage(json.dumps({name: {}}))
    except LineageFileError:
        accepted = False
    else:
        accepted = True
    assert (re.search(pattern, name) is not None) == accepted


def test_anchored_pattern_refuses_a_trailing_newline() -> None:
    assert re.search(anchored("a"), "a") and not re.search(anchored("a"), "a\n")


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to check the ECMAScript side")
def test_patterns_are_ecmascript_with_the_u_flag() -> None:
    patterns = {name: definition["pattern"] for name, definition in SCHEMA["$defs"].items() if "pattern" in definition}
    samples = ["default.wineds@cm", "s3a://mlamairesse/wine_dataset/data/", "s3://Bad_Bucket", "Model A", " M", "x\n"]
    script = (
        "const patterns = JSON.parse(process.argv[1]); const samples = JSON.parse(process.argv[2]);"
        "const out = {}; for (const [k, p] of Object.entries(patterns)) {"
        "  const re = new RegExp(p, 'u'); out[k] = samples.map((s) => re.test(s)); }"
        "console.log(JSON.stringify(out));"
    )
    result = subprocess.run(
        ["node", "-e", script, json.dumps(patterns), json.dumps(samples)], capture_output=True, text=True, check=True
    )
    in_js = json.loads(result.stdout)
    in_python = {k: [re.search(p, s) is not None for s in samples] for k, p in patterns.items()}
    assert in_js == in_python
