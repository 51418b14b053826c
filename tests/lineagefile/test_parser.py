"""parse_lineage / load_lineage_file / find_lineage_file on the examples and on small inline files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from catalog.lineagefile import (
    LINEAGE_FILE_NAMES,
    HiveTableRef,
    LineageFile,
    LineageFileError,
    ModelLineage,
    Problem,
    S3Ref,
    find_lineage_file,
    load_lineage_file,
    parse_lineage,
)

from .conftest import EXAMPLES, INVALID, INVALID_EXAMPLES, VALID_EXAMPLES

WINE_MODEL = "Predict w/ Monitoring & Lineage"

#: Every problem of every invalid example, exactly as lint prints it (paths relative to invalid/).
EXPECTED_PROBLEMS = {
    "alias_bomb.yml": ['alias_bomb.yml:2:4: YAML anchors are not allowed ("&a"); write the value out'],
    "bad_qualified_name.yml": [
        'bad_qualified_name.yml:4:7: expected a qualified name like "db.table@namespace", got "default.wineds"',
        'bad_qualified_name.yml:5:7: expected a qualified name like "db.table@namespace", '
        "got \"default.wineds@cm'; drop table x; --\"",
    ],
    "bad_s3_uri.yml": [
        'bad_s3_uri.yml:4:7: invalid S3 bucket name "Wine_Data" in "s3a://Wine_Data/raw/": '
        'bucket names contain only lowercase letters, digits, dots and hyphens, not "W"',
        'bad_s3_uri.yml:5:7: invalid S3 key "raw/*.csv" in "s3://wine-data/raw/*.csv": '
        "wildcards are not supported; give the common prefix instead",
        'bad_s3_uri.yml:6:7: expected an S3 URI like "s3://bucket/prefix" or "s3a://bucket/prefix", '
        'got "https://wine-data.s3.amazonaws.com/raw/"',
    ],
    "custom_tag.yml": [
        'custom_tag.yml:4:12: unsupported YAML tag "!!python/object/apply:os.system"; '
        "lineage files hold only strings, lists and mappings",
        'custom_tag.yml:5:12: unsupported YAML tag "!vault"; lineage files hold only strings, lists and mappings',
    ],
    "duplicate_key.json": [
        f'duplicate_key.json:3:3: duplicate model name "{WINE_MODEL}" (first on line 2)',
    ],
    "duplicate_key.yml": ['duplicate_key.yml:6:3: duplicate key "metadata" (first on line 3)'],
    "duplicate_model.yaml": ['duplicate_model.yaml:4:3: duplicate model name "Churn Model API" (first on line 2)'],
    "empty.yml": ["empty.yml:1:1: empty lineage file"],
    "metadata_wrong_type.yml": [
        "metadata_wrong_type.yml:5:5: expected a mapping of metadata keys to string values, got a list",
        'metadata_wrong_type.yml:8:15: expected a string value for metadata key "features", got a list',
    ],
    "multiple_documents.yml": ["multiple_documents.yml:3:1: expected a single YAML document, found another one"],
    "non_string_key.yml": [
        "non_string_key.yml:2:1: expected a model name (a string), got a number (2024); "
        'quote it if it is a name: "2024"',
        "non_string_key.yml:6:5: expected a metadata key (a string), got a boolean (yes); "
        'quote it if it is a name: "yes"',
    ],
    "not_utf8.yml": ["not_utf8.yml:2:5: expected UTF-8 text, found byte 0xe8"],
    "tables_not_a_list.yml": [
        'tables_not_a_list.yml:3:31: expected a list of qualified names like "db.table@namespace", '
        'got "default.telco_churn@cm"; write a single one as a list: ["default.telco_churn@cm"]',
    ],
    "trailing_comma.json": [
        "trailing_comma.json:5:40: trailing comma after the last item of the array; JSON does not allow one",
    ],
    "top_level_scalar.yml": [
        "top_level_scalar.yml:2:1: expected a mapping of model names to their lineage (or a list of them), "
        'got "default.wineds_ext@cm"',
    ],
    "unknown_key.yml": [
        'unknown_key.yml:3:3: unknown key "hive_tables" in model "Churn Model"; '
        'did you mean "hive_table_qualified_names"?',
    ],
}


def problems_of(data: bytes | str, path: str = "lineage.yml") -> list[str]:
    with pytest.raises(LineageFileError) as caught:
        parse_lineage(data, path)
    return [str(problem) for problem in caught.value.problems]


# --- the examples ------------------------------------------------------------------------------------------------


def test_examples_are_all_covered() -> None:
    assert {p.name for p in INVALID_EXAMPLES} == set(EXPECTED_PROBLEMS)
    assert {p.parent.name for p in VALID_EXAMPLES} == {"wine_demo", "multi_model", "list_form", "s3_sources"}


@pytest.mark.parametrize("path", VALID_EXAMPLES, ids=lambda p: p.parent.name)
def test_valid_examples_parse(path: Path, yaml_parser: str) -> None:
    lineage = load_lineage_file(path)
    assert lineage.path == str(path)
    assert lineage.models


@pytest.mark.parametrize("path", INVALID_EXAMPLES, ids=lambda p: p.name)
def test_invalid_examples_fail_with_exact_problems(path: Path, yaml_parser: str) -> None:
    with pytest.raises(LineageFileError) as caught:
        load_lineage_file(path)
    shown = [str(problem).removeprefix(f"{INVALID}/") for problem in caught.value.problems]
    assert shown == EXPECTED_PROBLEMS[path.name]
    assert str(caught.value) == "\n".join(str(problem) for problem in caught.value.problems)


@pytest.mark.parametrize("path", INVALID_EXAMPLES, ids=lambda p: p.name)
def test_invalid_examples_say_what_is_wrong_on_line_one(path: Path) -> None:
    first_line = path.read_bytes().split(b"\n", 1)[0]
    assert first_line.startswith(b"# invalid: ") or path.suffix == ".json"  # JSON has no comments


def test_wine_demo_is_the_demos_file_byte_for_byte() -> None:
    data = (EXAMPLES / "wine_demo" / "lineage.yml").read_bytes()
    assert len(data) == 140 and data.startswith(b'{\n  "Predict') and data.endswith(b"}\n} ")
    json.loads(data)  # it is JSON


def test_wine_demo_content() -> None:
    lineage = load_lineage_file(EXAMPLES / "wine_demo" / "lineage.yml")
    assert lineage == LineageFile(
        path=str(EXAMPLES / "wine_demo" / "lineage.yml"),
        models={
            WINE_MODEL: ModelLineage(
                name=WINE_MODEL,
                hive_tables=[
                    HiveTableRef(db="default", table="wineds_ext_nolabel", namespace="cm"),
                    HiveTableRef(db="default", table="wineds_ext", namespace="cm"),
                ],
                line=2,
            )
        },
    )
    assert [t.qualified_name for t in lineage.models[WINE_MODEL].hive_tables] == [
        "default.wineds_ext_nolabel@cm",
        "default.wineds_ext@cm",
    ]


def test_multi_model_content() -> None:
    models = load_lineage_file(EXAMPLES / "multi_model" / "lineage.yml").models
    assert list(models) == ["Churn Model Explainer", "Churn Model Challenger", "Churn Model Sandbox"]
    explainer, challenger, sandbox = models.values()
    assert explainer.metadata == {"query": "select * from historical_data", "training_file": "4_train_models.py"}
    assert (explainer.line, challenger.line, sandbox.line) == (2, 9, 21)
    assert challenger.metadata == {
        "query": "select c.*, p.tenure_band\n"
        "from default.telco_churn c join default.telco_customer_profile p using (customerid)\n",
        "training_file": "4_train_models.py",
        "n_estimators": "200",
        "calibrated": "true",
    }
    assert [t.qualified_name for t in challenger.hive_tables] == [
        "default.telco_churn@cm",
        "default.telco_customer_profile@cm",
    ]
    assert sandbox == ModelLineage(name="Churn Model Sandbox", line=21)


def test_list_form_equals_the_mapping_it_stands_for() -> None:
    listed = load_lineage_file(EXAMPLES / "list_form" / "lineage.yaml")
    items = yaml.safe_load((EXAMPLES / "list_form" / "lineage.yaml").read_text())
    merged = {name: value for item in items for name, value in item.items()}
    as_mapping = parse_lineage(json.dumps(merged, indent=2), listed.path)
    assert [m.model_dump(exclude={"line"}) for m in listed.models.values()] == [
        m.model_dump(exclude={"line"}) for m in as_mapping.models.values()
    ]
    assert listed.models["Churn Model API challenger 1"].metadata["n_estimators"] == "200"


def test_s3_sources_content() -> None:
    models = load_lineage_file(EXAMPLES / "s3_sources" / "lineage.yml").models
    wine = models[WINE_MODEL]
    csv = "wine_dataset/data/WineNewGBTDataSet.csv"
    assert wine.s3_sources == [S3Ref(scheme="s3a", bucket="mlamairesse", prefix=csv)]
    assert [s.uri for s in models["Wine Quality (sklearn)"].s3_sources] == [
        "s3://wine-quality-data/red/",
        "s3://wine-quality-data/white/2020-05-11/",
    ]


# --- forms and values --------------------------------------------------------------------------------------------


def test_model_order_is_kept() -> None:
    names = [f"model {i:02d}" for i in (5, 1, 9, 3, 7)]
    lineage = parse_lineage("\n".join(f'"{n}": {{}}' for n in names))
    assert list(lineage.models) == names


@pytest.mark.parametrize(
    "text",
    ["Model:\n", "Model: {}\n", "Model: ~\n", "Model:\n  hive_table_qualified_names:\n  metadata:\n  s3_sources:\n"],
)
def test_models_and_keys_without_values_mean_no_lineage(text: str) -> None:
    assert parse_lineage(text).models["Model"] == ModelLineage(name="Model", line=1)


def test_commented_out_entries_leave_an_empty_list() -> None:
    text = 'Model:\n  hive_table_qualified_names:\n    # - "default.old_table@cm"\n  metadata:\n    owner: me\n'
    assert parse_lineage(text).models["Model"].hive_tables == []


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        ("10", "10"),
        ("1.50", "1.50"),
        ("0x1F", "0x1F"),
        ("1e5", "1e5"),
        ("true", "true"),
        ("yes", "yes"),
        ("Off", "Off"),
        ("2024-05-01", "2024-05-01"),
        ('"10"', "10"),
        ("'it''s'", "it's"),
        ('""', ""),
        ("plain text: no", None),  # a colon followed by a space is a mapping: invalid YAML here
        ("=", "="),
        ("!!str 5", "5"),
        ("! 5", "5"),
    ],
)
def test_metadata_scalars_are_kept_as_written(written: str, kept: str | None) -> None:
    text = f"Model:\n  metadata:\n    value: {written}\n"
    if kept is None:
        assert problems_of(text)[0].startswith("lineage.yml:3:22: invalid YAML: mapping values are not allowed")
    else:
        assert parse_lineage(text).models["Model"].metadata == {"value": kept}


def test_metadata_from_json_numbers_and_booleans() -> None:
    text = '{"M": {"metadata": {"epochs": 10, "lr": 0.001, "calibrated": false}}}'
    assert parse_lineage(text).models["M"].metadata == {"epochs": "10", "lr": "0.001", "calibrated": "false"}


@pytest.mark.parametrize(
    ("value", "got"),
    [
        ("", 'got nothing (null); write "" for an empty value'),
        ("~", 'got nothing (null); write "" for an empty value'),
        ("[a]", "got a list"),
        ("{a: b}", "got a mapping"),
    ],
)
def test_metadata_values_that_are_not_scalars(value: str, got: str) -> None:
    (problem,) = problems_of(f"Model:\n  metadata:\n    query: {value}\n")
    assert problem.endswith(f'expected a string value for metadata key "query", {got}')


def test_qualified_names_are_lower_cased_except_the_namespace() -> None:
    model = parse_lineage("M:\n  hive_table_qualified_names: [Sales.Orders_2024@CDP-Prod.eu]\n").models["M"]
    (table,) = model.hive_tables
    assert (table.db, table.table, table.namespace) == ("sales", "orders_2024", "CDP-Prod.eu")
    assert table.qualified_name == "sales.orders_2024@CDP-Prod.eu"


def test_duplicate_tables_are_found_whatever_their_case() -> None:
    text = "M:\n  hive_table_qualified_names:\n    - Default.X@cm\n    - default.x@cm\n    - default.x@CM\n"
    assert problems_of(text) == [
        'lineage.yml:4:7: duplicate table "default.x@cm" '
        '(first on line 3, as "Default.X@cm"; Atlas lower-cases db and table names)'
    ]


def test_duplicate_s3_sources() -> None:
    text = "M:\n  s3_sources:\n    - s3://bucket\n    - s3://bucket/\n"
    assert problems_of(text) == ['lineage.yml:4:7: duplicate S3 source "s3://bucket/" (first on line 3)']


def test_all_problems_of_a_file_are_reported_in_order() -> None:
    text = (
        "A:\n"
        "  hive_tables: [x]\n"
        "  hive_table_qualified_names: [default.t, ok.ok@cm]\n"
        "B:\n"
        "  metadata: {k: [1]}\n"
        "A: {}\n"
        "C:\n"
        "  s3_sources: [s3://x]\n"
    )
    assert problems_of(text) == [
        'lineage.yml:2:3: unknown key "hive_tables" in model "A"; did you mean "hive_table_qualified_names"?',
        'lineage.yml:3:32: expected a qualified name like "db.table@namespace", got "default.t"',
        'lineage.yml:5:17: expected a string value for metadata key "k", got a list',
        'lineage.yml:6:1: duplicate model name "A" (first on line 1)',
        'lineage.yml:8:16: invalid S3 bucket name "x" in "s3://x": bucket names are 3 to 63 characters long',
    ]


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("hive_tables", 'did you mean "hive_table_qualified_names"?'),
        ("hive_table_qualified_name", 'did you mean "hive_table_qualified_names"?'),
        ("tables", 'did you mean "hive_table_qualified_names"?'),
        ("Metadata", 'did you mean "metadata"?'),
        ("meta", 'did you mean "metadata"?'),
        ("s3", 'did you mean "s3_sources"?'),
        ("s3_paths", 'did you mean "s3_sources"?'),
        ("owner", "expected keys hive_table_qualified_names, metadata or s3_sources"),
    ],
)
def test_unknown_keys_get_a_hint(key: str, hint: str) -> None:
    assert problems_of(f"M:\n  {key}: []\n") == [f'lineage.yml:2:3: unknown key "{key}" in model "M"; {hint}']


def test_model_keys_at_the_top_level_get_a_hint() -> None:
    (problem,) = problems_of("hive_table_qualified_names: [default.t@cm]\n")
    assert problem == (
        "lineage.yml:1:29: expected a mapping with keys hive_table_qualified_names, metadata or s3_sources for model "
        '"hive_table_qualified_names", got a list; the top-level keys are model names'
    )


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ('""', 'lineage.yml:1:1: expected a model name, got an empty string'),
        ('"  "', "lineage.yml:1:1: expected a model name, got an empty string"),
        ('" Model"', 'lineage.yml:1:1: model name " Model" has leading or trailing whitespace'),
        ('"Model\\t"', 'lineage.yml:1:1: model name "Model\\u0009" contains control character U+0009'),
        ('"a\\u0085b"', 'lineage.yml:1:1: model name "a\\u0085b" contains control character U+0085'),
    ],
)
def test_bad_model_names(name: str, problem: str) -> None:
    assert problems_of(f"{name}: {{}}\n") == [problem]


def test_names_with_punctuation_and_unicode() -> None:
    names = ["Predict w/ Monitoring & Lineage", "modèle: prix (v2) #1", "模型", "emoji 😀"]
    text = json.dumps({name: {} for name in names})  # ensure_ascii: "😀" is written as a surrogate pair
    assert "\\ud83d\\ude00" in text
    assert list(parse_lineage(text).models) == names


def test_json_with_tab_indentation(yaml_parser: str) -> None:
    text = json.dumps({WINE_MODEL: {"hive_table_qualified_names": ["default.t@cm"]}}, indent="\t")
    if yaml_parser == "libyaml":
        assert parse_lineage(text).models[WINE_MODEL].hive_tables[0].qualified_name == "default.t@cm"
    else:  # PyYAML's own scanner does not take tabs as separators; the problem points at the first one
        assert problems_of(text)[0].startswith("lineage.yml:2:1: invalid YAML: found character '\\t'")


@pytest.mark.parametrize(
    "data",
    [
        b"\xef\xbb\xbfM: {}\n",  # UTF-8 byte order mark
        b"M:\r\n  metadata:\r\n    k: v\r\n",  # Windows line ends
        "M: {}",  # text rather than bytes
    ],
)
def test_encodings_and_line_ends(data: bytes | str) -> None:
    assert list(parse_lineage(data).models) == ["M"]


def test_problem_positions_with_a_byte_order_mark_ignore_it() -> None:
    assert problems_of(b"\xef\xbb\xbfM: [x]\n")[0].startswith("lineage.yml:1:4:")


def test_path_is_used_in_problems_and_result() -> None:
    assert parse_lineage("M: {}", "proj/lineage.yaml").path == "proj/lineage.yaml"
    assert problems_of("M: 1", "proj/lineage.yaml")[0].startswith("proj/lineage.yaml:1:4: ")


# --- the pydantic models -----------------------------------------------------------------------------------------


def test_hive_table_ref() -> None:
    table = HiveTableRef.parse("Default.WineDS@cm")
    assert table == HiveTableRef(db="default", table="wineds", namespace="cm")
    assert table.qualified_name == "default.wineds@cm"
    with pytest.raises(ValidationError):
        HiveTableRef(db="default;", table="t", namespace="cm")
    with pytest.raises(ValueError, match=r'got "default\.wineds"$'):
        HiveTableRef.parse("default.wineds")
    with pytest.raises(ValidationError):
        table.db = "other"  # frozen


def test_s3_ref() -> None:
    assert S3Ref.parse("s3://bucket").uri == "s3://bucket"
    assert S3Ref.parse("s3://bucket/") == S3Ref(scheme="s3", bucket="bucket")
    parsed = S3Ref.parse("s3a://my.bucket-1/a/b=1/c.csv")
    assert parsed == S3Ref(scheme="s3a", bucket="my.bucket-1", prefix="a/b=1/c.csv")
    with pytest.raises(ValidationError, match="bucket names are 3 to 63 characters long"):
        S3Ref(scheme="s3", bucket="ab")
    with pytest.raises(ValidationError):
        S3Ref(scheme="gs", bucket="bucket")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("s3:///x", "the bucket name is missing"),
        ("s3://" + "a" * 64, "bucket names are 3 to 63 characters long"),
        ("s3://-bucket", "bucket names begin and end with a letter or digit"),
        ("s3://bucket./x", "bucket names begin and end with a letter or digit"),
        ("s3://my..bucket", "bucket names do not contain two adjacent dots"),
        ("s3://192.168.5.4/x", "bucket names are not formatted as IP addresses"),
        ("s3://xn--bucket", "bucket names do not start with xn--, sthree-, amzn-s3-demo- (reserved by AWS)"),
        ("s3://bucket-s3alias", "bucket names do not end with -s3alias, --ol-s3, .mrap, --x-s3, --table-s3"),
        ("s3://bucket/a//b", "empty path segments (//) are not allowed"),
        ("s3://bucket/a/../b", '"." and ".." path segments are not allowed'),
        ("s3://bucket/./b", '"." and ".." path segments are not allowed'),
        ("s3://bucket/a\\b", 'the character "\\\\" (U+005C) is not allowed'),
        ("s3://bucket/a%20b", 'the character "%" (U+0025) is not allowed'),
        ("s3://bucket/a?x=1", "wildcards are not supported"),
        ("s3://bucket/a\u00a0b", 'whitespace ("\\u00a0") is not allowed'),
        ("s3://bucket/a\u202eb", 'the character "\\u202e" (U+202E) is not allowed'),
        ("s3://bucket/" + "k" * 1025, "S3 keys are at most 1024 bytes long"),
        ("S3://bucket", 'expected an S3 URI like "s3://bucket/prefix"'),
        ("s3:/bucket", 'expected an S3 URI like "s3://bucket/prefix"'),
    ],
)
def test_s3_uri_rules(uri: str, reason: str) -> None:
    with pytest.raises(ValueError) as caught:
        S3Ref.parse(uri)
    assert reason in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "uri", ["s3://abc", "s3a://a.b-c/x", "s3://bucket/a/b/", "s3://bucket/é/ü.csv", "s3://bucket/year=2024/part-0"]
)
def test_s3_uris_accepted(uri: str) -> None:
    assert S3Ref.parse(uri).uri == uri


def test_lineage_file_keys_must_be_model_names() -> None:
    with pytest.raises(ValidationError):
        LineageFile(path="x", models={"a": ModelLineage(name="b")})


def test_problem_str_is_one_line() -> None:
    assert str(Problem("dir/lineage.yml", 4, 7, "message")) == "dir/lineage.yml:4:7: message"
    assert str(Problem("odd\nname.yml", 1, 1, "m")) == "odd\\u000aname.yml:1:1: m"


# --- files -------------------------------------------------------------------------------------------------------


def test_find_lineage_file(tmp_path: Path) -> None:
    assert LINEAGE_FILE_NAMES == ("lineage.yml", "lineage.yaml")
    assert find_lineage_file(tmp_path) is None
    (tmp_path / "lineage.yaml").write_text("M: {}\n")
    assert find_lineage_file(tmp_path) == tmp_path / "lineage.yaml"
    (tmp_path / "lineage.yml").write_text("M: {}\n")
    with pytest.raises(LineageFileError) as caught:
        find_lineage_file(tmp_path)
    assert [str(p) for p in caught.value.problems] == [
        f"{tmp_path}/lineage.yaml:1:1: both lineage.yml and lineage.yaml exist in this directory; keep one"
    ]
    (tmp_path / "lineage.yaml").unlink()
    assert find_lineage_file(tmp_path) == tmp_path / "lineage.yml"


def test_a_directory_named_like_a_lineage_file_is_not_one(tmp_path: Path) -> None:
    (tmp_path / "lineage.yml").mkdir()
    assert find_lineage_file(tmp_path) is None
    with pytest.raises(LineageFileError, match="expected a lineage file, got a directory"):
        load_lineage_file(tmp_path / "lineage.yml")


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LineageFileError) as caught:
        load_lineage_file(tmp_path / "lineage.yml")
    assert str(caught.value) == f"{tmp_path}/lineage.yml:1:1: no such file or directory"


def test_values_under_duplicate_keys_and_names_are_still_checked() -> None:
    text = "M:\n  metadata: {a: b}\n  metadata: {c: [1]}\nM:\n  tables: []\n"
    assert problems_of(text) == [
        'lineage.yml:3:3: duplicate key "metadata" (first on line 2)',
        'lineage.yml:3:17: expected a string value for metadata key "c", got a list',
        'lineage.yml:4:1: duplicate model name "M" (first on line 1)',
        'lineage.yml:5:3: unknown key "tables" in model "M"; did you mean "hive_table_qualified_names"?',
    ]
