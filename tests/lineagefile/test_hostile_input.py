"""A hostile-input corpus of lineage files, each read by the parser (``parse_lineage``) and by ``mlcatalog lint``.

Every case is a file a careless or hostile project may commit: YAML bombs and deep nesting, bytes that are not
UTF-8 text, tags that would construct objects, duplicate keys, the wrong type at every level of the format, numbers
and lines too long for anything, control characters in names, S3 URIs of other schemes, paths that climb out.

The parser must raise :class:`LineageFileError` whose problems all read ``path:line:column: message`` on one
printable line, the first one saying what the case is about, within seconds and a bounded amount of memory. ``lint``
must print those problems (one line each, nothing else), exit 1 without a traceback, and write nothing.
tests/lineagefile/test_hostile.py holds the exact messages of the cases that define the format's limits.
"""

from __future__ import annotations

import os
import re
import resource
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalog.lineagefile import MAX_FILE_BYTES, LineageFileError, lint_paths, parse_lineage
from catalog.lineagefile.yamlnodes import MAX_DEPTH, MAX_NODES
from mlcatalog.cli import app

#: A case must be answered within this many seconds (the 1 MiB ones take ~1 s with libyaml).
TIME_BOUND_S = 20.0
#: Most memory the parser may allocate for one case (a 1 MiB file of 100,000 nodes peaks at ~13 MiB).
MEMORY_BOUND = 64 * 1024 * 1024
#: Pure-Python PyYAML is ~20x slower than libyaml: only files up to this size are read with it too.
PURE_PYTHON_MAX_BYTES = 64 * 1024

TABLES = "hive_table_qualified_names"
BINARY = "is this a binary file?"
TAG = "unsupported YAML tag"
QN = 'expected a qualified name like "db.table@namespace"'
S3 = "S3"


def model(body: str) -> bytes:
    """A one-model file whose model holds ``body`` (YAML indented by two)."""
    return ("M:\n" + "".join(f"  {line}\n" for line in body.splitlines())).encode()


def table(item: str) -> bytes:
    return model(f"{TABLES}:\n  - {item}")


def s3(item: str) -> bytes:
    return model(f"s3_sources:\n  - {item}")


def meta(key: str, value: str) -> bytes:
    return model(f"metadata:\n  {key}: {value}")


def billion_laughs() -> bytes:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi", strict=True)]
    return "\n".join(lines).encode()


def block_mappings(depth: int) -> bytes:
    return "".join(f"{'  ' * i}k{i}:\n" for i in range(depth)).encode()


def block_sequences(depth: int) -> bytes:
    return "".join(f"{'  ' * i}-\n" for i in range(depth)).encode()


# (content, file name, line of the first problem, text the first problem's message holds)
CASES = [
    # -- YAML bombs and nesting ---------------------------------------------------------------------------------
    pytest.param(billion_laughs(), "lineage.yml", 1, "anchors are not allowed", id="billion-laughs"),
    pytest.param(b"&a [*a]\n", "lineage.yml", 1, "anchors are not allowed", id="self-referencing-anchor"),
    pytest.param(b"M: *nowhere\n", "lineage.yml", 1, "aliases are not allowed", id="alias-to-nothing"),
    pytest.param(b"&m M: {}\nN: *m\n", "lineage.yml", 1, "anchors are not allowed", id="anchor-on-model-name"),
    pytest.param(model(f"{TABLES}: &t [a.b@c]\ns3_sources: *t"), "lineage.yml", 2, "anchors are not allowed",
                 id="anchor-on-table-list"),
    pytest.param(model("<<: {metadata: {}}"), "lineage.yml", 2, "merge keys", id="merge-key"),
    pytest.param(b"base: &b {metadata: {}}\nM:\n  <<: *b\n", "lineage.yml", 1, "anchors are not allowed",
                 id="merge-key-with-alias"),
    pytest.param(b"[" * 100_000, "lineage.yml", 1, f"nesting deeper than {MAX_DEPTH}", id="flow-lists-100000"),
    pytest.param(b"{a: " * 50_000, "lineage.yml", 1, f"nesting deeper than {MAX_DEPTH}", id="flow-mappings-50000"),
    pytest.param(b"[" * 17 + b"]" * 17, "lineage.yml", 1, f"nesting deeper than {MAX_DEPTH}", id="flow-lists-17"),
    pytest.param(block_mappings(500), "lineage.yml", MAX_DEPTH + 1, f"nesting deeper than {MAX_DEPTH}",
                 id="block-mappings-500"),
    pytest.param(block_sequences(500), "lineage.yml", MAX_DEPTH + 1, f"nesting deeper than {MAX_DEPTH}",
                 id="block-sequences-500"),
    pytest.param(meta("k", "[" * 40 + "]" * 40), "lineage.yml", 3, f"nesting deeper than {MAX_DEPTH}",
                 id="metadata-value-nested-40"),
    pytest.param(b'{"M": {"metadata": {"k": ' + b"[" * 300 + b"]" * 300 + b"}}}", "lineage.yml", 1,
                 f"nesting deeper than {MAX_DEPTH}", id="json-in-yaml-nested-300"),
    pytest.param(b'{"M": {"metadata": {"k": ' + b"[" * 300 + b"]" * 300 + b"}}}", "lineage.json", 1,
                 f"nesting deeper than {MAX_DEPTH}", id="json-nested-300"),
    pytest.param(b"? " + b"[" * 20 + b"]" * 20 + b"\n: {}\n", "lineage.yml", 1, f"nesting deeper than {MAX_DEPTH}",
                 id="complex-key-nested-20"),
    pytest.param(b"[" + b"1," * (MAX_FILE_BYTES // 2 - 2) + b"1]", "lineage.yml", 1, f"more than {MAX_NODES}",
                 id="one-mib-of-nodes"),
    pytest.param(b"".join(b"m%d: 1\n" % i for i in range(110_000))[:MAX_FILE_BYTES], "lineage.yml", MAX_NODES // 2,
                 f"more than {MAX_NODES}", id="110000-models"),
    # -- size and long lines ------------------------------------------------------------------------------------
    pytest.param(b" " * (MAX_FILE_BYTES + 1), "lineage.yml", 1, "limited to 1048576 bytes", id="over-1-mib-spaces"),
    pytest.param(b"\n" * (MAX_FILE_BYTES + 1), "lineage.yml", 1, "limited to 1048576 bytes",
                 id="over-1-mib-newlines"),
    pytest.param(b"M: {}\n" + b"#" * MAX_FILE_BYTES, "lineage.yml", 1, "limited to 1048576 bytes",
                 id="valid-head-then-1-mib-comment"),
    pytest.param(b"x" * 2000 + b": {}\n", "lineage.yml", 1, "invalid YAML", id="key-of-2000-characters"),
    pytest.param(b"x" * (MAX_FILE_BYTES - 10) + b": {}\n", "lineage.yml", 1, "invalid YAML",
                 id="key-of-1-mib"),
    pytest.param(table("x" * (MAX_FILE_BYTES - 100)), "lineage.yml", 3, QN, id="table-name-of-1-mib"),
    pytest.param(s3("s3://bucket/" + "k" * 2000), "lineage.yml", 3, "1024", id="s3-key-over-1024-bytes"),
    pytest.param(model("bogus: " + "y" * (MAX_FILE_BYTES - 200)), "lineage.yml", 2, "unknown key",
                 id="unknown-key-with-1-mib-value"),
    pytest.param(b"{" + b", ".join(b'"M": {}' for _ in range(20_000)) + b"}", "lineage.yml", 1,
                 "duplicate model name", id="one-line-20000-duplicates"),
    # -- bytes that are not UTF-8 text --------------------------------------------------------------------------
    pytest.param(b"\x00", "lineage.yml", 1, BINARY, id="nul-alone"),
    pytest.param(b"M: {}\n\x00\x00\x00\x00", "lineage.yml", 2, BINARY, id="nul-after-a-model"),
    pytest.param(b"M: 'a\x00b'\n", "lineage.yml", 1, BINARY, id="nul-in-quoted-string"),
    pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "lineage.yml", 1, "UTF-8", id="png-header"),
    pytest.param(b"PK\x03\x04\x14\x00\x00\x00", "lineage.yml", 1, BINARY, id="zip-header"),
    pytest.param(b"\x1f\x8b\x08\x00\x00\x00\x00\x00", "lineage.yml", 1, "UTF-8", id="gzip-header"),
    pytest.param(b"M: \x80\n", "lineage.yml", 1, "found byte 0x80", id="lone-continuation-byte"),
    pytest.param(b"M: \xc0\xaf\n", "lineage.yml", 1, "found byte 0xc0", id="overlong-encoding"),
    pytest.param(b"M: \xed\xa0\x80\n", "lineage.yml", 1, "found byte 0xed", id="utf8-encoded-surrogate"),
    pytest.param(b"M: \xf4\x90\x80\x80\n", "lineage.yml", 1, "found byte 0xf4", id="beyond-u10ffff"),
    pytest.param(b"M: {}\n# \xe2\x82", "lineage.yml", 2, "found byte 0xe2", id="truncated-multibyte-at-end"),
    pytest.param(b"M: {}\n\xff", "lineage.yml", 2, "found byte 0xff", id="byte-ff"),
    pytest.param("M: {}\n".encode("utf-16-le"), "lineage.yml", 1, BINARY, id="utf16-le-without-bom"),
    pytest.param("\ufeffM: {}\n".encode("utf-16-le"), "lineage.yml", 1, "UTF-16 byte order mark",
                 id="utf16-le-bom"),
    pytest.param("\ufeffM: {}\n".encode("utf-16-be"), "lineage.yml", 1, "UTF-16 byte order mark",
                 id="utf16-be-bom"),
    pytest.param("\ufeffM: {}\n".encode("utf-32-le"), "lineage.yml", 1, "UTF-16 byte order mark",
                 id="utf32-le-bom"),
    pytest.param("\ufeffM: {}\n".encode("utf-32-be"), "lineage.yml", 1, "UTF-8", id="utf32-be-bom"),
    pytest.param(b"\xef\xbb\xbf\x00", "lineage.yml", 1, BINARY, id="utf8-bom-then-nul"),
    pytest.param(b"\xef\xbb\xbf" + table("nope"), "lineage.yml", 3, QN, id="utf8-bom-then-bad-table"),
    pytest.param("M: '\uffff'\n".encode(), "lineage.yml", 1, "U+FFFF", id="noncharacter-uffff"),
    pytest.param(b"M: {}\n\x1b]0;owned\x07", "lineage.yml", 2, BINARY, id="terminal-title-escape"),
    pytest.param(b"M:\n  metadata:\n    k: a\xc2\x9bb\n", "lineage.yml", 3, BINARY, id="raw-c1-csi"),
    pytest.param(b"M: {}\r\x00", "lineage.yml", 1, BINARY, id="cr-then-nul"),
    # -- tags that would construct objects ----------------------------------------------------------------------
    pytest.param(b"M: !!python/object/apply:os.system [id]\n", "lineage.yml", 1, TAG, id="python-apply"),
    pytest.param(b"M: !!python/object/new:subprocess.Popen [[id]]\n", "lineage.yml", 1, TAG, id="python-new"),
    pytest.param(b"M: !!python/module:os\n", "lineage.yml", 1, TAG, id="python-module"),
    pytest.param(meta("k", "!!python/object/apply:os.system ['id']"), "lineage.yml", 3, TAG,
                 id="python-apply-in-metadata"),
    pytest.param(model(f"{TABLES}: !!python/tuple [a.b@c]"), "lineage.yml", 2, TAG, id="python-tuple-list"),
    pytest.param(table("!!python/bytes YQ=="), "lineage.yml", 3, TAG, id="python-bytes-item"),
    pytest.param(model("metadata: !!omap [{a: b}]"), "lineage.yml", 2, TAG, id="omap-metadata"),
    pytest.param(meta("k", "!!binary aGVsbG8="), "lineage.yml", 3, TAG, id="binary-value"),
    pytest.param(b"!Ref M: {}\n", "lineage.yml", 1, TAG, id="local-tag-on-key"),
    pytest.param(b"!<tag:evil.example,2024:x> {M: {}}\n", "lineage.yml", 1, TAG, id="verbatim-tag-on-root"),
    pytest.param(b"%TAG !e! tag:evil.example,2024:\n---\nM: !e!x {}\n", "lineage.yml", 3, TAG, id="tag-directive"),
    pytest.param(b"%YAML 2.0\n---\nM: {}\n", "lineage.yml", 1, "invalid YAML", id="yaml-2-directive"),
    pytest.param(b"%YAML 1.1\n%YAML 1.1\n---\nM: {}\n", "lineage.yml", 2, "invalid YAML", id="duplicate-directive"),
    pytest.param(meta("k", "!!null ''"), "lineage.yml", 3, "nothing (null)", id="explicit-null-value"),
    # -- documents and roots ------------------------------------------------------------------------------------
    pytest.param(b"M: {}\n---\nN: {}\n", "lineage.yml", 2, "single YAML document", id="two-documents"),
    pytest.param(b"---\n---\n---\n", "lineage.yml", 2, "single YAML document", id="three-empty-documents"),
    pytest.param(b"M: {}\n...\ngarbage\n", "lineage.yml", 3, "invalid YAML", id="junk-after-end-marker"),
    pytest.param(b"", "lineage.yml", 1, "empty lineage file", id="empty"),
    pytest.param(b"\xef\xbb\xbf", "lineage.yml", 1, "empty lineage file", id="bom-only"),
    pytest.param(b"~\n", "lineage.yml", 1, "empty lineage file", id="root-null"),
    pytest.param(b"true\n", "lineage.yml", 1, "a boolean", id="root-bool"),
    pytest.param(b"1e999\n", "lineage.yml", 1, 'got "1e999"', id="root-1e999"),
    pytest.param(b"9" * 5000 + b"\n", "lineage.yml", 1, "a number", id="root-5000-digits"),
    pytest.param(b'"just a string"\n', "lineage.yml", 1, "got \"just a string\"", id="root-string"),
    pytest.param(b"[[M]]\n", "lineage.yml", 1, "got a list", id="root-list-of-lists"),
    pytest.param(b"- 1\n- M: {}\n", "lineage.yml", 1, "got a number", id="root-list-with-number"),
    pytest.param(b"null", "lineage.json", 1, "empty lineage file", id="json-null"),
    pytest.param(b'"M"', "lineage.json", 1, 'got "M"', id="json-string-root"),
    pytest.param(b'{"M": {}} {"N": {}}', "lineage.json", 1, None, id="json-two-values"),
    pytest.param(b'{"M": {"metadata": {"k": NaN}}}', "lineage.json", 1, "NaN", id="json-nan"),
    pytest.param(b"{'M': {}}", "lineage.json", 1, "quote", id="json-single-quotes"),
    pytest.param(b'{"M": {},}', "lineage.json", 1, "comma", id="json-trailing-comma"),
    pytest.param(b'{"M": {"hive_table_qualified_names": "a.b@c"}}', "lineage.yml", 1, "write a single one",
                 id="json-in-yaml-table-string"),
    pytest.param(b'{"M": {"metadata": {"k": "\\u0000"}}}', "lineage.yml", 1, "control character U+0000",
                 id="json-in-yaml-escaped-nul"),
    # -- duplicates ---------------------------------------------------------------------------------------------
    pytest.param(b"M: {}\nM: {}\n", "lineage.yml", 2, "duplicate model name", id="duplicate-model"),
    pytest.param(b"- M: {}\n- M: {}\n", "lineage.yml", 2, "duplicate model name", id="duplicate-across-items"),
    pytest.param(model("metadata: {}\nmetadata: {}"), "lineage.yml", 3, "duplicate key", id="duplicate-field"),
    pytest.param(meta("k", "a\n  k: b"), "lineage.yml", 4, "duplicate key", id="duplicate-metadata-key"),
    pytest.param(model(f"{TABLES}: [db.t@cm, DB.T@cm]"), "lineage.yml", 2, "duplicate table",
                 id="duplicate-table-other-case"),
    pytest.param(model("s3_sources: [s3://bucket/a, s3://bucket/a]"), "lineage.yml", 2, "duplicate S3 source",
                 id="duplicate-s3"),
    pytest.param(b'{"M": {}, "M": {}}', "lineage.json", 1, "duplicate model name", id="json-duplicate-model"),
    # -- the wrong type at every level --------------------------------------------------------------------------
    pytest.param(b"M: [a.b@c]\n", "lineage.yml", 1, "expected a mapping with keys", id="model-a-list"),
    pytest.param(b"M: a.b@c\n", "lineage.yml", 1, "expected a mapping with keys", id="model-a-string"),
    pytest.param(b"M: 42\n", "lineage.yml", 1, "a number", id="model-a-number"),
    pytest.param(b"M: yes\n", "lineage.yml", 1, "a boolean", id="model-a-boolean"),
    pytest.param(b"1: {}\n", "lineage.yml", 1, "expected a model name", id="model-name-a-number"),
    pytest.param(b"0x1F: {}\n", "lineage.yml", 1, "expected a model name", id="model-name-hex"),
    pytest.param(b".nan: {}\n", "lineage.yml", 1, "expected a model name", id="model-name-nan"),
    pytest.param(b"-.inf: {}\n", "lineage.yml", 1, "expected a model name", id="model-name-infinity"),
    pytest.param(b"9" * 1000 + b": {}\n", "lineage.yml", 1, "expected a model name", id="model-name-1000-digits"),
    pytest.param(b"null: {}\n", "lineage.yml", 1, "expected a model name", id="model-name-null"),
    pytest.param(b"2024-01-01 10:00:00: {}\n", "lineage.yml", 1, "expected a model name", id="model-name-timestamp"),
    pytest.param(b"? {a: b}\n: {}\n", "lineage.yml", 1, "got a mapping", id="model-name-a-mapping"),
    pytest.param(model(f"{TABLES}: a.b@c"), "lineage.yml", 2, "write a single one", id="tables-a-string"),
    pytest.param(model(f"{TABLES}: {{a: b}}"), "lineage.yml", 2, "got a mapping", id="tables-a-mapping"),
    pytest.param(model(f"{TABLES}: 3"), "lineage.yml", 2, "a number", id="tables-a-number"),
    pytest.param(table("{db: a, table: b}"), "lineage.yml", 3, "got a mapping", id="table-a-mapping"),
    pytest.param(table("[a.b@c]"), "lineage.yml", 3, "got a list", id="table-a-list"),
    pytest.param(table("12"), "lineage.yml", 3, "a number", id="table-a-number"),
    pytest.param(table("~"), "lineage.yml", 3, "nothing (null)", id="table-null"),
    pytest.param(table("true"), "lineage.yml", 3, "a boolean", id="table-a-boolean"),
    pytest.param(model("s3_sources: 1.5"), "lineage.yml", 2, "a number", id="s3-sources-a-number"),
    pytest.param(s3("{bucket: b}"), "lineage.yml", 3, "got a mapping", id="s3-source-a-mapping"),
    pytest.param(model("metadata: [a, b]"), "lineage.yml", 2, "got a list", id="metadata-a-list"),
    pytest.param(model("metadata: k=v"), "lineage.yml", 2, 'got "k=v"', id="metadata-a-string"),
    pytest.param(meta("k", "[1, 2]"), "lineage.yml", 3, "got a list", id="metadata-value-a-list"),
    pytest.param(meta("k", "{a: b}"), "lineage.yml", 3, "got a mapping", id="metadata-value-a-mapping"),
    pytest.param(meta("k", ""), "lineage.yml", 3, 'write "" for an empty value', id="metadata-value-null"),
    pytest.param(meta("3", "x"), "lineage.yml", 3, "expected a metadata key", id="metadata-key-a-number"),
    pytest.param(meta("[a]", "x"), "lineage.yml", 3, "got a list", id="metadata-key-a-list"),
    pytest.param(model("tables: [a.b@c]"), "lineage.yml", 2, "did you mean", id="unknown-key"),
    pytest.param(model("HIVE_TABLE_QUALIFIED_NAMES: []"), "lineage.yml", 2, "unknown key", id="key-in-capitals"),
    pytest.param(b"hive_table_qualified_names:\n  - a.b@c\n", "lineage.yml", 2, "the top-level keys are model names",
                 id="model-keys-at-top-level"),
    # -- tabs and whitespace ------------------------------------------------------------------------------------
    pytest.param(b"M:\n\thive_table_qualified_names: []\n", "lineage.yml", 2, "invalid YAML", id="tab-indentation"),
    pytest.param(b"M:\n  metadata:\n  \t k: v\n", "lineage.yml", 3, "invalid YAML", id="tab-in-indentation"),
    pytest.param(b'"M\\t": {}\n', "lineage.yml", 1, "control character U+0009", id="tab-in-model-name"),
    pytest.param(b'" M": {}\n', "lineage.yml", 1, "leading or trailing whitespace", id="space-around-model-name"),
    pytest.param(b'"M\\u2028": {}\n', "lineage.yml", 1, "leading or trailing whitespace",
                 id="line-separator-after-model-name"),
    pytest.param(b'"   ": {}\n', "lineage.yml", 1, "empty string", id="blank-model-name"),
    pytest.param(meta('"\\t"', "x"), "lineage.yml", 3, "empty string", id="blank-metadata-key"),
    # -- control characters in names ----------------------------------------------------------------------------
    pytest.param(b'"M\\e[2J": {}\n', "lineage.yml", 1, "control character U+001B", id="escape-in-model-name"),
    pytest.param(b'"M\\x85": {}\n', "lineage.yml", 1, "control character U+0085", id="nel-in-model-name"),
    pytest.param(b'"M\\0": {}\n', "lineage.yml", 1, "control character U+0000", id="nul-escape-in-model-name"),
    pytest.param(meta('"k\\a"', "x"), "lineage.yml", 3, "control character U+0007", id="bel-in-metadata-key"),
    pytest.param(meta("k", '"a\\x1b]52;c;b3duZWQ=\\x07"'), "lineage.yml", 3, "control character U+001B",
                 id="clipboard-escape-in-metadata-value"),
    pytest.param(table('"default.t\\x1b[31m@cm"'), "lineage.yml", 3, QN, id="escape-in-table"),
    pytest.param(table('"default.t\\u202e@cm"'), "lineage.yml", 3, QN, id="bidi-override-in-table"),
    pytest.param(table('"default.t\\u200b@cm"'), "lineage.yml", 3, QN, id="zero-width-space-in-table"),
    pytest.param(table('"default.t\\x85@cm"'), "lineage.yml", 3, QN, id="nel-in-table"),
    pytest.param(table('"default.t\\0@cm"'), "lineage.yml", 3, QN, id="nul-in-table"),
    pytest.param(table("'default.t\u0430ble@cm'"), "lineage.yml", 3, QN, id="cyrillic-homoglyph-in-table"),
    pytest.param(table("\"default.t@cm'; DROP TABLE t; --\""), "lineage.yml", 3, QN, id="sql-in-table"),
    pytest.param(table("'default.${jndi:ldap://x}@cm'"), "lineage.yml", 3, QN, id="jndi-in-table"),
    pytest.param(table("'../../etc/passwd@cm'"), "lineage.yml", 3, QN, id="path-traversal-table"),
    pytest.param(table("'default.t@../../cm'"), "lineage.yml", 3, QN, id="path-traversal-namespace"),
    pytest.param(table("'default.t@cm/../../x'"), "lineage.yml", 3, QN, id="slash-in-namespace"),
    # -- S3 URIs of other schemes and odd forms -----------------------------------------------------------------
    pytest.param(s3("file:///etc/passwd"), "lineage.yml", 3, S3, id="s3-file-scheme"),
    pytest.param(s3("http://bucket/key"), "lineage.yml", 3, S3, id="s3-http-scheme"),
    pytest.param(s3("S3://bucket/key"), "lineage.yml", 3, S3, id="s3-scheme-in-capitals"),
    pytest.param(s3("s3n://bucket/key"), "lineage.yml", 3, S3, id="s3n-scheme"),
    pytest.param(s3("gs://bucket/key"), "lineage.yml", 3, S3, id="gcs-scheme"),
    pytest.param(s3("'javascript:alert(1)'"), "lineage.yml", 3, S3, id="javascript-scheme"),
    pytest.param(s3("s3:/bucket/key"), "lineage.yml", 3, S3, id="s3-one-slash"),
    pytest.param(s3("s3:///key"), "lineage.yml", 3, S3, id="s3-empty-bucket"),
    pytest.param(s3("s3://user:pw@bucket/key"), "lineage.yml", 3, S3, id="s3-userinfo"),
    pytest.param(s3("s3://Bucket/key"), "lineage.yml", 3, "bucket", id="s3-bucket-capitals"),
    pytest.param(s3("s3://192.168.0.1/key"), "lineage.yml", 3, "IP address", id="s3-bucket-ip"),
    pytest.param(s3("s3://xn--bucket/key"), "lineage.yml", 3, "reserved", id="s3-bucket-punycode"),
    pytest.param(s3("s3://b/key"), "lineage.yml", 3, "bucket", id="s3-bucket-too-short"),
    pytest.param(s3("s3://bucket/../../etc/passwd"), "lineage.yml", 3, S3, id="s3-key-dot-dot"),
    pytest.param(s3("s3://bucket/a/./b"), "lineage.yml", 3, S3, id="s3-key-dot"),
    pytest.param(s3("s3://bucket//key"), "lineage.yml", 3, S3, id="s3-key-empty-segment"),
    pytest.param(s3("'s3://bucket/key with space'"), "lineage.yml", 3, S3, id="s3-key-space"),
    pytest.param(s3("'s3://bucket/key*'"), "lineage.yml", 3, S3, id="s3-key-wildcard"),
    pytest.param(s3('"s3://bucket/key\\0"'), "lineage.yml", 3, S3, id="s3-key-nul"),
    pytest.param(s3('"s3://bucket/k\\u202eey"'), "lineage.yml", 3, S3, id="s3-key-bidi-override"),
    pytest.param(s3("s3://bucket/%2e%2e/x"), "lineage.yml", 3, S3, id="s3-key-percent-encoded"),
    pytest.param(s3("s3://bucket/key?versionId=1"), "lineage.yml", 3, S3, id="s3-query-string"),
]


def first_problem_ok(problems: list[str], path: str, line: int, text: str | None) -> None:
    assert problems, "no problem reported"
    for problem in problems:
        assert re.match(rf"^{re.escape(path)}:\d+:\d+: \S", problem), problem
        assert "\n" not in problem and problem.isprintable(), problem
    where = f"{path}:{line}:"
    assert problems[0].startswith(where), (where, problems[:3])
    if text is not None:
        assert text in problems[0], (text, problems[:3])


@pytest.mark.parametrize(("data", "name", "line", "text"), CASES)
def test_the_parser_lists_located_problems(data: bytes, name: str, line: int, text: str | None) -> None:
    # tracemalloc counts every allocation, but slows the parser down ~8x: it watches the small inputs (where a
    # bomb would hide), the process's peak resident size the large ones (bounded by their size anyway)
    traced = len(data) <= PURE_PYTHON_MAX_BYTES
    if traced:
        tracemalloc.start()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    started = time.monotonic()
    try:
        with pytest.raises(LineageFileError) as caught:
            parse_lineage(data, name)
        elapsed = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1] if traced else (
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss_before)
    finally:
        if traced:
            tracemalloc.stop()
    first_problem_ok([str(p) for p in caught.value.problems], name, line, text)
    assert all(p.line >= 1 and p.column >= 1 for p in caught.value.problems)
    assert elapsed < TIME_BOUND_S, f"{elapsed:.1f} s"
    assert peak < MEMORY_BOUND, f"{peak / 2**20:.0f} MiB"


@pytest.mark.parametrize(("data", "name", "line", "text"),
                         [c for c in CASES if len(c.values[0]) <= PURE_PYTHON_MAX_BYTES])  # type: ignore[arg-type]
def test_the_pure_python_parser_agrees(data: bytes, name: str, line: int, text: str | None,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from catalog.lineagefile import yamlnodes

    with pytest.raises(LineageFileError) as fast:
        parse_lineage(data, name)
    monkeypatch.setattr(yamlnodes, "_USE_LIBYAML", False)
    started = time.monotonic()
    with pytest.raises(LineageFileError) as slow:
        parse_lineage(data, name)
    assert time.monotonic() - started < TIME_BOUND_S
    problems = [str(p) for p in slow.value.problems]
    for problem in problems:
        assert "\n" not in problem and problem.isprintable(), problem
    if "invalid YAML" not in str(fast.value):  # the two parsers word (and place) syntax errors differently
        assert problems == [str(p) for p in fast.value.problems]


def listing(directory: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(directory)): (p.lstat().st_size, p.lstat().st_mtime_ns)
            for p in sorted(directory.rglob("*"))}


def lint(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["lint", *args], prog_name="mlcatalog")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError("lint raised") from result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(("data", "name", "line", "text"), CASES)
def test_lint_prints_one_line_per_problem_and_exits_1(data: bytes, name: str, line: int, text: str | None,
                                                       tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    before = listing(tmp_path)
    started = time.monotonic()
    code, out, err = lint(str(path))
    assert time.monotonic() - started < TIME_BOUND_S
    assert code == 1, (code, out[:2000], err[:2000])
    assert err == "" and "Traceback" not in out
    first_problem_ok(out.splitlines(), str(path), line, text)
    assert listing(tmp_path) == before
    assert path.read_bytes() == data


@pytest.fixture
def odd_paths(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "a-directory").mkdir()
    (tmp_path / "both").mkdir()
    (tmp_path / "both" / "lineage.yml").write_text("M: {}\n")
    (tmp_path / "both" / "lineage.yaml").write_text("M: {}\n")
    (tmp_path / "dir-named-lineage").mkdir()
    (tmp_path / "dir-named-lineage" / "lineage.yml").mkdir()
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "fifo")
    yield tmp_path


@pytest.mark.parametrize(("arg", "text"), [
    pytest.param("missing.yml", "no such file or directory", id="missing"),
    pytest.param("a-directory", "no lineage.yml or lineage.yaml in this directory", id="directory-without-file"),
    pytest.param("both", "keep one", id="directory-with-both-names"),
    pytest.param("dir-named-lineage", "no lineage.yml or lineage.yaml in this directory",
                 id="lineage-yml-is-a-directory"),
    pytest.param("dir-named-lineage/lineage.yml", "no lineage.yml or lineage.yaml in this directory",
                 id="lineage-yml-given-is-a-directory"),
    pytest.param("loop", "cannot read: Too many levels of symbolic links", id="symlink-loop"),
    pytest.param("dangling", "no such file or directory", id="dangling-symlink"),
    pytest.param("fifo", "expected a regular file", id="fifo"),
    pytest.param("/dev/zero", "expected a regular file", id="device"),
    pytest.param("x" * 300 + ".yml", "cannot read: File name too long", id="name-over-255-bytes"),
    pytest.param("/".join(["d" * 200] * 25), "cannot read: File name too long", id="path-over-path-max"),
])
def test_lint_refuses_paths_it_cannot_read(arg: str, text: str, odd_paths: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    if arg == "fifo" and not (odd_paths / "fifo").exists():
        pytest.skip("needs FIFOs")
    monkeypatch.chdir(odd_paths)
    before = listing(odd_paths)
    code, out, err = lint(arg)
    assert code == 1 and err == "" and "Traceback" not in out, (code, out, err)
    (line,) = out.splitlines()
    assert re.match(r"^.+:1:1: \S", line) and text in line and line.isprintable(), line
    assert len(line) < 6000
    assert listing(odd_paths) == before


def test_lint_refuses_a_nul_in_a_path_as_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """click checks a path argument before lint sees it: exit 2 and its usage message, no traceback."""
    monkeypatch.chdir(tmp_path)
    code, out, err = lint("nul\x00byte.yml")
    assert code == 2 and out == "" and "null byte" in err and "Traceback" not in err, (code, out, err)
    assert list(tmp_path.iterdir()) == []


def test_lint_paths_never_raises_for_a_path() -> None:
    """The library entry point too: every path gives problems, never an exception."""
    for path, reason in ((Path("nul\x00byte"), "embedded null byte"), (Path("x" * 300), "File name too long"),
                         (Path("/".join(["d" * 200] * 25)), "File name too long")):
        (problem,) = lint_paths([path])
        assert (problem.line, problem.column, problem.message) == (1, 1, f"cannot read: {reason}")
        assert str(problem).isprintable()
