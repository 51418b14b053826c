"""Hostile input: every case ends in a clear problem, quickly, without a crash or a large allocation."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.lineagefile import MAX_FILE_BYTES, LineageFileError, lint_paths, load_lineage_file, parse_lineage
from catalog.lineagefile.yamlnodes import MAX_DEPTH, MAX_NODES

BILLION_LAUGHS = "\n".join(
    [
        'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]',
        *(f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi", strict=True)),
    ]
)


def problems_of(data: bytes | str) -> list[str]:
    with pytest.raises(LineageFileError) as caught:
        parse_lineage(data)
    return [str(problem) for problem in caught.value.problems]


def test_billion_laughs_is_refused_at_the_first_anchor(yaml_parser: str) -> None:
    assert problems_of(BILLION_LAUGHS) == ['lineage.yml:1:4: YAML anchors are not allowed ("&a"); write the value out']


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a: *x\n", 'lineage.yml:1:4: YAML aliases are not allowed ("*x"); write the value out'),
        ("&m M: {}\n", 'lineage.yml:1:1: YAML anchors are not allowed ("&m"); write the value out'),
        ("M:\n  metadata: &md {}\n", 'lineage.yml:2:13: YAML anchors are not allowed ("&md"); write the value out'),
        ("M:\n  <<: {metadata: {}}\n", 'lineage.yml:2:3: YAML merge keys ("<<") are not allowed; write the keys out'),
    ],
)
def test_anchors_aliases_and_merge_keys(text: str, problem: str, yaml_parser: str) -> None:
    assert problems_of(text) == [problem]


@pytest.mark.parametrize(
    ("text", "tag", "column"),
    [
        ("M: !!python/object:os.system {}\n", "!!python/object:os.system", 4),
        ('M: !!python/object/apply:subprocess.run [["id"]]\n', "!!python/object/apply:subprocess.run", 4),
        ("M: !!python/name:os.system\n", "!!python/name:os.system", 4),
        ("M: !foo bar\n", "!foo", 4),
        ("M: !<tag:example.com,2024:x> bar\n", "tag:example.com,2024:x", 4),
        ("M: !!binary aGVsbG8=\n", "!!binary", 4),
        ("M: !!set {a, b}\n", "!!set", 4),
        ("M: !!omap [a: 1]\n", "!!omap", 4),
        ("!!python/object:x M: {}\n", "!!python/object:x", 1),
        ("%TAG !py! tag:yaml.org,2002:python/\n---\nM: !py!object:os.system {}\n", "!!python/object:os.system", 4),
    ],
)
def test_custom_tags_are_refused(text: str, tag: str, column: int, yaml_parser: str) -> None:
    (problem,) = problems_of(text)
    line = text.count("\n") if text.startswith("%") else 1
    assert problem == (
        f'lineage.yml:{line}:{column}: unsupported YAML tag "{tag}"; '
        "lineage files hold only strings, lists and mappings"
    )


def test_standard_tags_are_data() -> None:
    text = 'M:\n  metadata: !!map {a: !!str 1, b: ! "x"}\n  hive_table_qualified_names: !!seq [!!str a.b@c]\n'
    model = parse_lineage(text).models["M"]
    assert model.metadata == {"a": "1", "b": "x"}


def test_file_over_one_mib_is_refused_before_parsing(tmp_path: Path) -> None:
    big = b"#" * (MAX_FILE_BYTES + 1)
    message = f"file is {MAX_FILE_BYTES + 1} bytes; lineage files are limited to {MAX_FILE_BYTES} bytes (1 MiB)"
    assert problems_of(big) == [f"lineage.yml:1:1: {message}"]
    assert problems_of("é" * (MAX_FILE_BYTES // 2 + 1)) == [f"lineage.yml:1:1: {message.replace('1048577', '1048578')}"]
    path = tmp_path / "lineage.yml"
    path.write_bytes(big)
    assert [str(p) for p in lint_paths([path])] == [f"{path}:1:1: {message}"]


def test_file_of_exactly_one_mib_is_read(tmp_path: Path) -> None:
    head = b"M: {}\n"
    path = tmp_path / "lineage.yml"
    path.write_bytes(head + b"#" * (MAX_FILE_BYTES - len(head)))
    assert list(load_lineage_file(path).models) == ["M"]


def test_one_mib_of_nodes_stops_at_the_node_limit(yaml_parser: str) -> None:
    text = "[" + "1," * (MAX_FILE_BYTES // 2 - 2) + "1]"
    assert len(text) <= MAX_FILE_BYTES
    started = time.monotonic()
    (problem,) = problems_of(text)
    assert problem.endswith(f"more than {MAX_NODES} YAML nodes; lineage files are small")
    assert time.monotonic() - started < 30  # ~0.2 s with libyaml, ~3 s pure Python; a hang would take minutes


@pytest.mark.parametrize("opener", ["[", "{a: ", "- ", "a:\n "])
def test_deep_nesting_is_refused(opener: str, yaml_parser: str) -> None:
    if opener == "a:\n ":
        text = "".join(f"{' ' * i}a{i}:\n" for i in range(200))
    elif opener == "- ":
        text = "".join(f"{' ' * (2 * i)}-\n" for i in range(200))
    else:
        text = opener * 100_000
    (problem,) = problems_of(text)
    assert problem.endswith(f"nesting deeper than {MAX_DEPTH} levels")


MODEL_NAME = "expected a model name (a string)"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("1: {}\n", f'1:1: {MODEL_NAME}, got a number (1); quote it if it is a name: "1"'),
        ("1.5: {}\n", f'1:1: {MODEL_NAME}, got a number (1.5); quote it if it is a name: "1.5"'),
        ("on: {}\n", f'1:1: {MODEL_NAME}, got a boolean (on); quote it if it is a name: "on"'),
        ("~: {}\n", f'1:1: {MODEL_NAME}, got nothing (null); quote it if it is a name: "~"'),
        ("2024-01-01: {}\n", f'1:1: {MODEL_NAME}, got a date (2024-01-01); quote it if it is a name: "2024-01-01"'),
        ("? [a, b]\n: {}\n", f"1:3: {MODEL_NAME}, got a list"),
        ("? {a: b}\n: {}\n", f"1:3: {MODEL_NAME}, got a mapping"),
        ("{1: {}}", f'1:2: {MODEL_NAME}, got a number (1); quote it if it is a name: "1"'),
        ("M:\n  1: x\n", '2:3: expected a string key, got a number (1); quote it if it is a name: "1"'),
        (
            "M:\n  metadata:\n    2: x\n",
            '3:5: expected a metadata key (a string), got a number (2); quote it if it is a name: "2"',
        ),
    ],
)
def test_non_string_keys(text: str, problem: str) -> None:
    assert problems_of(text) == [f"lineage.yml:{problem}"]


@pytest.mark.parametrize(
    "name",
    [
        "default.wineds",  # no namespace
        "wineds@cm",  # no database
        "default.wineds@",  # empty namespace
        ".wineds@cm",
        "default.@cm",
        "default.wine ds@cm",  # space
        " default.wineds@cm",
        "default.wineds@cm ",
        "default.wineds@cm;drop",  # injection-ish characters
        "default.wineds@cm'",
        'default.wine"ds@cm',
        "default.`wineds`@cm",
        "default.wineds@c m",
        "default.wineds@cm@cm",
        "default.wine.ds@cm",
        "default.wineds@cm/x",
        "défault.wineds@cm",  # non-ASCII
        "default.wineds\u200b@cm",  # zero width space
        "",
    ],
)
def test_bad_qualified_names(name: str) -> None:
    from catalog.lineagefile.problems import quoted

    text = f"M:\n  hive_table_qualified_names:\n    - {quoted(name)}\n"
    assert problems_of(text) == [
        f'lineage.yml:3:7: expected a qualified name like "db.table@namespace", got {quoted(name)}'
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("M: {}\nM: {}\n", 'lineage.yml:2:1: duplicate model name "M" (first on line 1)'),
        ('{"M": {}, "M": {}}', 'lineage.yml:1:11: duplicate model name "M" (first on line 1)'),
        ('{"M": {"metadata": {}, "metadata": {}}}', 'lineage.yml:1:24: duplicate key "metadata" (first on line 1)'),
        ('{"M": {"metadata": {"k": "1", "k": "2"}}}', 'lineage.yml:1:31: duplicate key "k" (first on line 1)'),
        ("- M: {}\n- N: {}\n  M: {}\n", 'lineage.yml:3:3: duplicate model name "M" (first on line 1)'),
        # quoting is no way around it
        ("'M': {}\n\"M\": {}\n", 'lineage.yml:2:1: duplicate model name "M" (first on line 1)'),
    ],
)
def test_duplicate_keys_yaml_and_json(text: str, problem: str, yaml_parser: str) -> None:
    assert problems_of(text) == [problem]


BINARY = "(is this a binary file?)"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"M: {}\n#\xc3\x28\n", "2:2: expected UTF-8 text, found byte 0xc3"),
        (b"\xff\xfeM\x00", "1:1: expected UTF-8 text, found a UTF-16 byte order mark; save the file as UTF-8"),
        (b"M: '\xe9t\xe9'\n", "1:5: expected UTF-8 text, found byte 0xe9"),
        ("M: 'é".encode() + b"\xe9'", "1:6: expected UTF-8 text, found byte 0xe9"),
        (b"M: {}\x00\n", f"1:6: expected text, found control character U+0000 {BINARY}"),
        (b"\x1b[31mM: {}\n", f"1:1: expected text, found control character U+001B {BINARY}"),
        ("M: '\ufffe'".encode(), "1:5: expected text, found character U+FFFE, which YAML does not allow"),
        (b"\x7fELF\x02\x01\x01\x00", f"1:1: expected text, found control character U+007F {BINARY}"),
    ],
)
def test_encoding_and_binary_junk(data: bytes, problem: str) -> None:
    assert problems_of(data) == [f"lineage.yml:{problem}"]


def test_random_binary_junk_gives_one_problem() -> None:
    junk = random.Random(1234).randbytes(64 * 1024)
    (problem,) = problems_of(junk)
    assert problem.startswith("lineage.yml:")


TOP = "expected a mapping of model names to their lineage"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "1:1: empty lineage file"),
        ("   \n\n", "1:1: empty lineage file"),
        ("# just a comment\n", "1:1: empty lineage file"),
        ("---\n", "1:1: empty lineage file"),
        ("~\n", "1:1: empty lineage file"),
        ("hello\n", f'1:1: {TOP} (or a list of them), got "hello"'),
        ("42\n", f"1:1: {TOP} (or a list of them), got a number (42)"),
        ('"M"\n', f'1:1: {TOP} (or a list of them), got "M"'),
        ("[1]\n", f"1:2: {TOP}, got a number (1)"),
        ("- \n", f"1:2: {TOP}, got nothing (null)"),
        ("M: {}\n---\nN: {}\n", "2:1: expected a single YAML document, found another one"),
        ("M: {}\n...\n", None),
    ],
)
def test_empty_and_top_level_shapes(text: str, problem: str | None, yaml_parser: str) -> None:
    if problem is None:
        assert list(parse_lineage(text).models) == ["M"]
    else:
        assert problems_of(text) == [f"lineage.yml:{problem}"]


@pytest.mark.parametrize(
    "text",
    ["M: [", "M: {a: b", "M: 'unterminated", "M:\n\t- x\n", "M: b: c", "- a\nb: c\n", "[a]]", "M: @x"],
)
def test_yaml_syntax_errors_are_one_located_problem(text: str, yaml_parser: str) -> None:
    (problem,) = problems_of(text)
    assert problem.startswith("lineage.yml:") and ": invalid YAML: " in problem and "\n" not in problem


def test_escapes_cannot_smuggle_control_characters_into_output(yaml_parser: str) -> None:
    text = 'M:\n  metadata:\n    "k\\e[2J": x\n    k2: "\\x00"\n  unknown\\x1b: 1\n"\\u202eevil":\n  x: 1\n'
    problems = problems_of(text)
    assert problems == [
        'lineage.yml:3:5: metadata key "k\\u001b[2J" contains control character U+001B',
        "lineage.yml:4:9: metadata value contains control character U+0000",
        'lineage.yml:5:3: unknown key "unknown\\\\x1b" in model "M"; expected keys hive_table_qualified_names, '
        "metadata or s3_sources",
        'lineage.yml:7:3: unknown key "x" in model "\\u202eevil"; expected keys hive_table_qualified_names, '
        "metadata or s3_sources",
    ]
    assert all(problem.isprintable() for problem in problems)


def test_lone_surrogate_escape(yaml_parser: str) -> None:
    (problem,) = problems_of('{"M \\ud83d": {}}')
    assert (problem.startswith("lineage.yml:1:") and "surrogate" in problem) or "escape" in problem


def test_long_values_are_shortened_in_messages() -> None:
    (problem,) = problems_of(f"M:\n  hive_table_qualified_names: [{'x' * 100_000}]\n")
    assert problem.endswith('got "' + "x" * 80 + '..." (100000 characters)')


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "lineage.yml"
    os.mkfifo(fifo)
    assert [str(p) for p in lint_paths([fifo])] == [f"{fifo}:1:1: expected a regular file"]


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_device_is_not_read() -> None:
    assert [str(p) for p in lint_paths([Path("/dev/zero")])] == ["/dev/zero:1:1: expected a regular file"]


# --- properties --------------------------------------------------------------------------------------------------

_YAMLISH = st.text(alphabet=st.sampled_from([*list("Mab.@_:-[]{},'\"&*!#|>%?\\ \t\n"), "é", "\x00", "�"]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=400), _YAMLISH, st.text(max_size=200)))
def test_any_input_gives_a_result_or_located_problems(data: bytes | str) -> None:
    try:
        lineage = parse_lineage(data)
    except LineageFileError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.line >= 1 and problem.column >= 1
            assert "\n" not in str(problem) and str(problem).isprintable()
    else:
        assert all(name == model.name for name, model in lineage.models.items())
