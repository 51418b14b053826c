"""Lineage files named ``*.json`` are strict JSON: what YAML would let through is a located problem, all at once."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.lineagefile import (
    MAX_FILE_BYTES,
    LineageFileError,
    ModelLineage,
    lint_paths,
    load_lineage_file,
    parse_lineage,
    syntax_of,
)
from catalog.lineagefile.cli import lint_command
from catalog.lineagefile.jsonnodes import MAX_PROBLEMS
from catalog.lineagefile.yamlnodes import MAX_DEPTH, MAX_NODES

from .conftest import INVALID, VALID_EXAMPLES

TABLES = "hive_table_qualified_names"


def problems_of(data: bytes | str, path: str = "lineage.json") -> list[str]:
    with pytest.raises(LineageFileError) as caught:
        parse_lineage(data, path)
    return [str(problem) for problem in caught.value.problems]


# --- which files are JSON ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "syntax"),
    [("lineage.json", "json"), ("a/b/MODELS.JSON", "json"), ("lineage.yml", "yaml"), ("lineage.json.yml", "yaml"),
     ("lineage.yaml", "yaml"), ("json", "yaml")],
)
def test_syntax_follows_the_file_name(path: str, syntax: str) -> None:
    assert syntax_of(path) == syntax


def test_explicit_syntax_overrides_the_name() -> None:
    text = '{"M": {"metadata": {"a": "1",}}}'
    assert parse_lineage(text, "lineage.yml").models["M"].metadata == {"a": "1"}
    with pytest.raises(LineageFileError) as caught:
        parse_lineage(text, "lineage.yml", syntax="json")
    assert [p.message for p in caught.value.problems] == [
        "trailing comma after the last member of the object; JSON does not allow one"]


# --- what strict JSON refuses, one problem each; YAML takes every one of them -------------------------------------

NOT_STRICT = [
    ('{"M": {"hive_table_qualified_names": ["a.b@c",]}}',
     "1:46: trailing comma after the last item of the array; JSON does not allow one"),
    ('{"M": {"hive_table_qualified_names": ["a.b@c"],}}',
     "1:47: trailing comma after the last member of the object; JSON does not allow one"),
    ('{"M": {},\n}', "1:9: trailing comma after the last member of the object; JSON does not allow one"),
    ('// models\n{"M": {}}', "1:1: comments are not allowed in JSON"),
    ('{"M": {}} // trailing', "1:11: comments are not allowed in JSON"),
    ('{"M": /* none */ {}}', "1:7: comments are not allowed in JSON"),
    ('# yaml habit\n{"M": {}}', "1:1: comments are not allowed in JSON"),
    ("{'M': {}}", "1:2: strings are in double quotes in JSON, not single quotes"),
    ('{"M": {"metadata": {"k": \'it\\\'s\'}}}', "1:26: strings are in double quotes in JSON, not single quotes"),
    ('{"M": {"metadata": {"k": NaN}}}',
     '1:26: NaN is not a JSON number (JSON has no NaN or Infinity); quote it if it is text: "NaN"'),
    ('{"M": {"metadata": {"k": -Infinity}}}',
     '1:26: -Infinity is not a JSON number (JSON has no NaN or Infinity); quote it if it is text: "-Infinity"'),
    ('{"M": {"metadata": {"k": .inf}}}',
     '1:26: .inf is not a JSON number (JSON has no NaN or Infinity); quote it if it is text: ".inf"'),
    ('{"M": {"metadata": {"k": True}}}', '1:26: True is not JSON; write true (or "True" for text)'),
    ('{"M": None}', '1:7: None is not JSON; write null (or "None" for text)'),
    ('{"M": {"metadata": {"k": 01}}}',
     '1:26: invalid JSON number "01": JSON numbers are written like -12.5e3, without leading zeros, \'+\', hex '
     "digits or a '.' at either end; quote it if it is text"),
    ('{"M": {"metadata": {"k": +1}}}', None),
    ('{"M": {"metadata": {"k": .5}}}', None),
    ('{"M": {"metadata": {"k": 1.}}}', None),
    ('{"M": {"metadata": {"k": 0x1F}}}', None),
    ('{"M": {"metadata": {"k": yes}}}', '1:26: unquoted text "yes"; JSON strings are in double quotes'),
    ('{M: {}}', '1:2: object keys are strings in double quotes in JSON: "M"'),
    ('{"M": {"metadata": {"k": "a\tb"}}}', "1:28: control character U+0009 in a string; write it as \\t"),
    ('{"M": {"metadata": {"k": "\\x41"}}}',
     '1:27: invalid escape "\\x" in a string; JSON has \\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX'),
    ('{"M": {"metadata": {"k": "\\ud83d"}}}', "1:27: invalid escape: unpaired UTF-16 surrogate (\\uD800-\\uDFFF)"),
    ('{"M": {"metadata": {"k": "\\ud83d\\ud83d"}}}', None),  # two high surrogates: one problem each
    ('{"M":\u00a0{}}', "1:6: character U+00A0 is not whitespace in JSON (only spaces, tabs and line breaks are)"),
]


@pytest.mark.parametrize(("text", "problem"), NOT_STRICT)
def test_what_strict_json_refuses(text: str, problem: str | None) -> None:
    found = problems_of(text)
    if "ud83d" in text and problem is None:
        assert found == [f"lineage.json:1:{c}: invalid escape: unpaired UTF-16 surrogate (\\uD800-\\uDFFF)"
                         for c in (27, 33)]
    elif problem is None:
        assert len(found) == 1 and "invalid JSON number" in found[0], found
    else:
        assert found == [f"lineage.json:{problem}"]


#: The ones a YAML reader takes as it stands (PyYAML: "#" comments, YAML 1.1 scalars, flow-style trailing commas).
YAML_TAKES = [text for text, _ in NOT_STRICT if any(mark in text for mark in (
    ",]", ",}", ",\n}", "# yaml", "{'M'", "NaN", "Infinity", ".inf", "True", "01", "+1", ".5", "1.", "0x1F",
    "yes", "{M:"))]


@pytest.mark.parametrize("text", YAML_TAKES)
def test_yaml_would_have_taken_it(text: str) -> None:
    """The reason for a JSON reader: every one of these is a valid lineage.yml."""
    assert "M" in parse_lineage(text, "lineage.yml").models


def test_every_problem_of_a_file_is_reported_in_one_run() -> None:
    text = "\n".join([
        "// the churn project",
        "{",
        "  'Churn Model': {",
        f'    "{TABLES}": ["default.churn@cm", "no_at_sign",],',
        '    "metadata": {"epochs": NaN, "ok": True, "bad": ["list"]},',
        '    "hive_tables": [],',
        "  },",
        '  "Churn Model": {},',
        "}",
    ])
    assert problems_of(text) == [
        "lineage.json:1:1: comments are not allowed in JSON",
        "lineage.json:3:3: strings are in double quotes in JSON, not single quotes",
        'lineage.json:4:56: expected a qualified name like "db.table@namespace", got "no_at_sign"',
        "lineage.json:4:68: trailing comma after the last item of the array; JSON does not allow one",
        'lineage.json:5:28: NaN is not a JSON number (JSON has no NaN or Infinity); quote it if it is text: "NaN"',
        'lineage.json:5:39: True is not JSON; write true (or "True" for text)',
        'lineage.json:5:52: expected a string value for metadata key "bad", got a list',
        'lineage.json:6:5: unknown key "hive_tables" in model "Churn Model"; '
        'did you mean "hive_table_qualified_names"?',
        "lineage.json:6:22: trailing comma after the last member of the object; JSON does not allow one",
        'lineage.json:8:3: duplicate model name "Churn Model" (first on line 3)',
        "lineage.json:8:20: trailing comma after the last member of the object; JSON does not allow one",
    ]


# --- what stops the reader: the problems found so far, then that one -----------------------------------------------


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        ('{"M": {}', ["1:9: expected ',' or '}' after an object member, found the end of the file "
                      "(in the object opened at 1:1)"]),
        ('[{"M": {}} {"N": {}}]', ["1:12: expected ',' or ']' after an array item, found \"{\" "
                                   "(in the array opened at 1:1)"]),
        ('{"M": [}', ['1:8: expected a JSON value, found "}"']),
        ('{"M" {}}', ["1:6: expected ':' after an object key, found \"{\""]),
        ('{[1]: {}}', ['1:2: expected an object key (a string in double quotes), found "["']),
        ('{"M": {}} {"N": {}}', ['1:11: expected a single JSON value, found more after it: "{"']),
        ('{"M": {"metadata": {"q": "select\n  *"}}}',
         ["1:26: unterminated string: no closing quote before the end of the line (write \\n for a line break)"]),
        ('{"M": {"metadata": {"q": "select',
         ["1:26: unterminated string: no closing quote before the end of the file"]),
        ("{'M': {}, /* oops", ["1:2: strings are in double quotes in JSON, not single quotes",
                               "1:11: unterminated /* comment (and comments are not allowed in JSON)"]),
        ('// one\n{"M": 1,, }', ["1:1: comments are not allowed in JSON", '2:9: expected an object key (a string in '
                                 'double quotes), found ","']),
    ],
)
def test_syntax_errors_stop_with_the_problems_so_far(text: str, problems: list[str]) -> None:
    assert problems_of(text) == [f"lineage.json:{p}" for p in problems]


@pytest.mark.parametrize(
    ("text", "problem"),
    [("", "1:1: empty lineage file"), (" \n\t\r\n", "1:1: empty lineage file"),
     ("null", "1:1: empty lineage file"), ('"M"', '1:1: expected a mapping of model names to their lineage (or a '
                                                  'list of them), got "M"')],
)
def test_empty_and_top_level_shapes(text: str, problem: str) -> None:
    assert problems_of(text) == [f"lineage.json:{problem}"]


def test_positions_count_characters_and_every_kind_of_line_break() -> None:
    text = '{\r\n"é€😀": 5,\r"M": 5,\n"N": {"x": 1}}'
    assert problems_of(text) == [
        'lineage.json:2:8: expected a mapping with keys hive_table_qualified_names, metadata or s3_sources for '
        'model "é€😀", got a number (5)',
        'lineage.json:3:6: expected a mapping with keys hive_table_qualified_names, metadata or s3_sources for '
        'model "M", got a number (5)',
        'lineage.json:4:7: unknown key "x" in model "N"; expected keys hive_table_qualified_names, metadata or '
        "s3_sources",
    ]


# --- the same models as YAML gives --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", VALID_EXAMPLES, ids=lambda p: p.parent.name)
def test_valid_examples_as_json_give_the_same_models(path: Path, tmp_path: Path) -> None:
    from_yaml = load_lineage_file(path)
    document = parse_lineage_document(path)
    as_json = tmp_path / "lineage.json"
    for text in (json.dumps(document, indent=2), json.dumps(document, ensure_ascii=True)):
        as_json.write_text(text)
        assert without_lines(load_lineage_file(as_json).models) == without_lines(from_yaml.models)


def without_lines(models: dict[str, ModelLineage]) -> dict[str, ModelLineage]:
    """The models, less the line each starts on (the same content is laid out differently)."""
    return {name: model.model_copy(update={"line": 1}) for name, model in models.items()}


def parse_lineage_document(path: Path) -> Any:
    """The example as plain data with metadata values as written (YAML's ``epochs: 10`` is the string "10")."""
    lineage = load_lineage_file(path)
    return {name: {TABLES: [t.qualified_name for t in m.hive_tables], "s3_sources": [s.uri for s in m.s3_sources],
                   "metadata": m.metadata} for name, m in lineage.models.items()}


def test_json_numbers_booleans_and_escapes_are_kept_as_written() -> None:
    text = ('{"M": {"metadata": {"epochs": 10, "ratio": 1.50, "big": -2.5E+3, "on": true, "q": "a\\"b\\\\c\\/d\\n",'
            ' "emoji": "\\ud83d\\ude00", "raw": "😀é", "e": ""}}}')
    model = parse_lineage(text, "lineage.json").models["M"]
    assert model.metadata == {"epochs": "10", "ratio": "1.50", "big": "-2.5E+3", "on": "true", "q": 'a"b\\c/d\n',
                              "emoji": "😀", "raw": "😀é", "e": ""}
    assert parse_lineage(text, "lineage.yml").models["M"] == model


def test_wine_demo_reads_the_same_as_json() -> None:
    wine = next(p for p in VALID_EXAMPLES if p.parent.name == "wine_demo")
    assert parse_lineage(wine.read_bytes(), "lineage.json").models == load_lineage_file(wine).models  # lines too


_NAMES = st.sampled_from(["M", "Churn Model", "Predict w/ Monitoring & Lineage", "é", "", " x", "a\u0000b", "M"])
_TABLES = st.lists(st.sampled_from(["default.t@cm", "Default.T@cm", "db.x@cm", "no_at_sign", "a.b@c"]), max_size=3)
_SOURCES = st.lists(st.sampled_from(["s3a://bucket-1/raw/", "s3://bucket-1/x.csv", "s3a://B/x", "s3://bucket-1"]),
                    max_size=3)
_SCALARS = st.one_of(st.text(max_size=8), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                     st.booleans(), st.none())
_METADATA = st.dictionaries(st.text(max_size=6), st.one_of(_SCALARS, st.lists(_SCALARS, max_size=2)), max_size=3)
_MODEL = st.one_of(st.none(), st.fixed_dictionaries({}, optional={TABLES: _TABLES, "s3_sources": _SOURCES,
                                                                  "metadata": _METADATA,
                                                                  "hive_tables": st.just([])}), _SCALARS)
_DOCUMENTS = st.one_of(st.dictionaries(_NAMES, _MODEL, max_size=3),
                       st.lists(st.dictionaries(_NAMES, _MODEL, max_size=2), max_size=2), _SCALARS)


@settings(max_examples=300, deadline=None)
@given(_DOCUMENTS, st.sampled_from([None, 2]))
def test_json_text_gives_what_yaml_gives(document: Any, indent: int | None) -> None:
    """On any JSON json.dumps writes (ASCII, as YAML's \\u escapes are JSON's), both readers agree."""
    text = json.dumps(document, indent=indent, ensure_ascii=True, allow_nan=False)
    results: list[dict[str, ModelLineage] | None] = []
    for path in ("lineage.json", "lineage.yml"):
        try:
            results.append(parse_lineage(text, path).models)
        except LineageFileError:
            results.append(None)
    assert results[0] == results[1], text


# --- hostile input: the YAML reader's limits ----------------------------------------------------------------------


def test_file_over_one_mib_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "lineage.json"
    path.write_bytes(b" " * (MAX_FILE_BYTES + 1))
    (problem,) = (str(p) for p in lint_paths([path]))
    assert problem.startswith(f"{path}:1:1: file is {MAX_FILE_BYTES + 1} bytes")


@pytest.mark.parametrize("opener", ["[", '{"a": '])
def test_deep_nesting_is_refused(opener: str) -> None:
    (problem,) = problems_of(opener * 100_000)
    assert problem == f"lineage.json:1:{(MAX_DEPTH) * len(opener) + 1}: nesting deeper than {MAX_DEPTH} levels"


def test_one_mib_of_values_stops_at_the_node_limit() -> None:
    text = "[" + "1," * (MAX_FILE_BYTES // 2 - 2) + "1]"
    started = time.monotonic()
    (problem,) = problems_of(text)
    assert problem == f"lineage.json:1:{2 * MAX_NODES}: more than {MAX_NODES} JSON values; lineage files are small"
    assert time.monotonic() - started < 30  # well under a second; a quadratic reader would take minutes


def test_one_mib_string_is_read_in_linear_time() -> None:
    text = '{"M": {"metadata": {"q": "' + "ab\\n" * (MAX_FILE_BYTES // 4 - 10) + '"}}}'
    started = time.monotonic()
    assert len(parse_lineage(text, "lineage.json").models["M"].metadata["q"]) == 3 * (MAX_FILE_BYTES // 4 - 10)
    assert time.monotonic() - started < 30


def test_problems_are_capped() -> None:
    text = "// x\n" * (MAX_PROBLEMS + 5) + '{"M": {}}'
    problems = problems_of(text)
    assert len(problems) == MAX_PROBLEMS + 1
    assert problems[-1] == f"lineage.json:{MAX_PROBLEMS + 1}:1: more than {MAX_PROBLEMS} problems; fix these first"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b'{"M": {}}\x00', "1:10: expected text, found control character U+0000 (is this a binary file?)"),
        (b'{"\xe9": {}}', "1:3: expected UTF-8 text, found byte 0xe9"),
        ('{"M": "\ufffe"}'.encode(), "1:8: expected text, found character U+FFFE, which JSON does not allow"),
        (b"\xef\xbb\xbf{}", None),  # a UTF-8 byte order mark is dropped, as json.loads(bytes) does
    ],
)
def test_encoding_and_binary_junk(data: bytes, problem: str | None) -> None:
    if problem is None:
        assert parse_lineage(data, "lineage.json").models == {}
    else:
        assert problems_of(data) == [f"lineage.json:{problem}"]


def test_escaped_control_characters_cannot_reach_the_output() -> None:
    problems = problems_of('{"M\\u001b[2J": {}, "N": {"metadata": {"k": "\\u0000"}}, "\\u202e": {"x": 1}}')
    assert problems == [
        'lineage.json:1:2: model name "M\\u001b[2J" contains control character U+001B',
        "lineage.json:1:44: metadata value contains control character U+0000",
        'lineage.json:1:67: unknown key "x" in model "\\u202e"; expected keys hive_table_qualified_names, '
        "metadata or s3_sources",
    ]
    assert all(problem.isprintable() for problem in problems)


_JSONISH = st.text(alphabet=st.sampled_from([*list('Mab.@_:-[]{},\'"/*#\\ \t\n\rnultrefNaI0159eE+'), "é", "\xa0"]))


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_JSONISH, st.binary(max_size=200), st.text(max_size=200)))
def test_any_input_gives_a_result_or_located_one_line_problems(data: str | bytes) -> None:
    try:
        lineage = parse_lineage(data, "lineage.json")
    except LineageFileError as exc:
        for problem in exc.problems:
            assert problem.line >= 1 and problem.column >= 1
            assert "\n" not in str(problem) and str(problem).isprintable()
        assert [(p.line, p.column) for p in exc.problems] == sorted((p.line, p.column) for p in exc.problems)
    else:
        assert all(name == model.name for name, model in lineage.models.items())
        # What the strict reader accepts, Python's json module accepts too (a str's BOM aside: decode() drops it).
        json.loads(data.removeprefix("\ufeff") if isinstance(data, str) else data)


# --- lint ---------------------------------------------------------------------------------------------------------


def test_lint_of_a_json_file_reports_strict_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "models.json"
    path.write_text('{\n  "M": {"hive_table_qualified_names": ["default.t@cm",],},\n  // done\n}\n')
    assert lint_command([path, INVALID / "trailing_comma.json"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{path}:2:54: trailing comma after the last item of the array; JSON does not allow one",
        f"{path}:2:56: trailing comma after the last member of the object; JSON does not allow one",
        f"{path}:2:58: trailing comma after the last member of the object; JSON does not allow one",
        f"{path}:3:3: comments are not allowed in JSON",
        f"{INVALID}/trailing_comma.json:5:40: trailing comma after the last item of the array; "
        "JSON does not allow one",
    ]
    path.write_text('{"M": {"hive_table_qualified_names": ["default.t@cm"]}}')
    assert lint_command([path]) == 0
