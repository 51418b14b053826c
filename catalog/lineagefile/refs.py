"""References to training data: Hive tables (by Atlas qualifiedName) and S3 locations (by URI).

The regular expressions here are the single definition of what is valid: the parser applies them and
:func:`catalog.lineagefile.schema.lineage_json_schema` publishes them. They are written in the common subset of
Python ``re`` and ECMAScript with the ``u`` flag (editors evaluate JSON Schema patterns as ECMAScript).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator, model_validator

from catalog.lineagefile.problems import quoted

__all__ = [
    "CONTROL_CHARS",
    "HIVE_QUALIFIED_NAME",
    "IDENTIFIER",
    "NAMESPACE",
    "S3_BUCKET",
    "S3_KEY",
    "S3_KEY_MAX_BYTES",
    "S3_URI",
    "VALUE_CONTROL_CHARS",
    "HiveTableRef",
    "S3Ref",
    "s3_bucket_problem",
    "s3_key_problem",
]

# --- Hive --------------------------------------------------------------------------------------------------------
#: A Hive database or table name. Deliberately narrower than Hive's quoted identifiers: these names end up in Atlas
#: qualifiedNames and in queries people paste, so quotes, spaces, ``;`` and backticks are refused outright.
IDENTIFIER = r"[A-Za-z0-9_]+"
#: An Atlas metadata namespace (``atlas.metadata.namespace``, e.g. ``cm``); cluster names may contain ``.`` and ``-``.
NAMESPACE = r"[A-Za-z0-9_.\-]+"
#: ``db.table@namespace`` with the three parts captured.
HIVE_QUALIFIED_NAME = rf"({IDENTIFIER})\.({IDENTIFIER})@({NAMESPACE})"

# --- S3 ----------------------------------------------------------------------------------------------------------
#: AWS general purpose bucket naming rules (docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html):
#: 3-63 characters of ``a-z0-9.-``, starting and ending with a letter or digit, no ``..``, not an IP address, no
#: reserved prefix or suffix. Legacy us-east-1 names with capitals or underscores are not accepted.
_BUCKET_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
_IP_ADDRESS = r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+"


def _literal(text: str) -> str:
    # Not re.escape: it escapes "-", which ECMAScript's u mode refuses outside a character class.
    return text.replace(".", r"\.")


S3_BUCKET = (
    "(?!" + "|".join(_literal(p) for p in _BUCKET_RESERVED_PREFIXES) + ")"
    rf"(?!{_IP_ADDRESS}(?:/|$))"
    r"(?![a-z0-9.\-]*\.\.)"
    r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]"
    + "".join(f"(?<!{_literal(s)})" for s in _BUCKET_RESERVED_SUFFIXES)
)
#: Characters refused in S3 keys: controls, whitespace and invisible format characters (Unicode separators, zero
#: width and bidi controls), the characters AWS says to avoid in keys, and the ``?``/``*`` wildcards. Keys with spaces
#: or ``%`` cannot be written: a URI would need percent-encoding, and we keep keys exactly as written.
_S3_KEY_BAD_CHARS = (
    r"[\u0000-\u0020\u007f-\u00a0\u00ad\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff"
    r'\ufff0-\uffff\ud800-\udfff\\{}^%`\[\]"<>~#|?*]'
)
_S3_SEGMENT_CHAR = "[^/" + _S3_KEY_BAD_CHARS[1:]
_S3_SEGMENT = rf"(?!\.\.?(?:/|$)){_S3_SEGMENT_CHAR}+"
#: An object key or prefix (after ``bucket/``): non-empty segments, none of them ``.`` or ``..``; may end with ``/``.
S3_KEY = rf"(?:{_S3_SEGMENT}/)*(?:{_S3_SEGMENT})?"
S3_KEY_MAX_BYTES = 1024
#: ``s3://bucket/key`` or ``s3a://bucket/key`` (key optional) with scheme, bucket and key captured.
S3_URI = rf"(s3a?)://({S3_BUCKET})(?:/({S3_KEY}))?"

#: C0 and C1 control characters, refused in model names and metadata keys (they would garble one-line output).
CONTROL_CHARS = r"[\u0000-\u001f\u007f-\u009f]"
#: The same, less tab, line feed and carriage return: refused in metadata values (a query may span lines).
VALUE_CONTROL_CHARS = r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]"

_HIVE_QUALIFIED_NAME_RE = re.compile(HIVE_QUALIFIED_NAME)
_S3_KEY_BAD_CHAR_RE = re.compile(_S3_KEY_BAD_CHARS)
_IP_ADDRESS_RE = re.compile(_IP_ADDRESS)
_BUCKET_CHARS_RE = re.compile(r"[^a-z0-9.\-]")


class HiveTableRef(BaseModel):
    """A ``hive_table`` in Atlas. ``db`` and ``table`` are stored lower-cased, as Atlas names them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    db: Annotated[str, StringConstraints(pattern=f"^{IDENTIFIER}$")]
    table: Annotated[str, StringConstraints(pattern=f"^{IDENTIFIER}$")]
    namespace: Annotated[str, StringConstraints(pattern=f"^{NAMESPACE}$")]

    @field_validator("db", "table")
    @classmethod
    def _lower(cls, value: str) -> str:
        # Hive names are case-insensitive and Atlas's Hive hook lower-cases them (the namespace it keeps as is), so
        # "Default.WineDS@cm" and "default.wineds@cm" are the same entity.
        return value.lower()

    @property
    def qualified_name(self) -> str:
        """The Atlas ``hive_table`` qualifiedName, ``db.table@namespace``."""
        return f"{self.db}.{self.table}@{self.namespace}"

    @classmethod
    def parse(cls, qualified_name: str) -> HiveTableRef:
        """``db.table@namespace`` -> :class:`HiveTableRef`; :class:`ValueError` with a one-line message otherwise."""
        match = _HIVE_QUALIFIED_NAME_RE.fullmatch(qualified_name)
        if match is None:
            raise ValueError(f'expected a qualified name like "db.table@namespace", got {quoted(qualified_name)}')
        return cls(db=match[1], table=match[2], namespace=match[3])


def s3_bucket_problem(bucket: str) -> str | None:
    """Why ``bucket`` is not a valid S3 bucket name, or ``None``; the same rules as :data:`S3_BUCKET`."""
    if not bucket:
        return "the bucket name is missing"
    if not 3 <= len(bucket) <= 63:
        return "bucket names are 3 to 63 characters long"
    if bad := _BUCKET_CHARS_RE.search(bucket):
        return f"bucket names contain only lowercase letters, digits, dots and hyphens, not {quoted(bad[0])}"
    if not (bucket[0].isalnum() and bucket[-1].isalnum()):
        return "bucket names begin and end with a letter or digit"
    if ".." in bucket:
        return "bucket names do not contain two adjacent dots"
    if _IP_ADDRESS_RE.fullmatch(bucket):
        return "bucket names are not formatted as IP addresses"
    if bucket.startswith(_BUCKET_RESERVED_PREFIXES):
        return "bucket names do not start with " + ", ".join(_BUCKET_RESERVED_PREFIXES) + " (reserved by AWS)"
    if bucket.endswith(_BUCKET_RESERVED_SUFFIXES):
        return "bucket names do not end with " + ", ".join(_BUCKET_RESERVED_SUFFIXES) + " (reserved by AWS)"
    return None


def s3_key_problem(key: str) -> str | None:
    """Why ``key`` (the part after ``bucket/``) is refused, or ``None``; the same rules as :data:`S3_KEY`."""
    if len(key.encode("utf-8", "surrogatepass")) > S3_KEY_MAX_BYTES:
        return f"S3 keys are at most {S3_KEY_MAX_BYTES} bytes long"
    if bad := _S3_KEY_BAD_CHAR_RE.search(key):
        char = bad[0]
        if char in "*?":
            return "wildcards are not supported; give the common prefix instead"
        if char.isspace():
            return f"whitespace ({quoted(char)}) is not allowed"
        return f"the character {quoted(char)} (U+{ord(char):04X}) is not allowed"
    segments = key.split("/")[:-1] if key.endswith("/") else key.split("/")
    if key and "" in segments:
        return "empty path segments (//) are not allowed"
    if "." in segments or ".." in segments:
        return '"." and ".." path segments are not allowed'
    return None


class S3Ref(BaseModel):
    """An S3 location read directly by training code: a bucket and an optional key or prefix.

    ``prefix`` is everything after ``bucket/`` exactly as written (a trailing ``/`` is kept); ``""`` is the whole
    bucket, so ``s3://bucket`` and ``s3://bucket/`` are the same reference. The scheme is kept, as Atlas does.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    scheme: Literal["s3", "s3a"]
    bucket: str
    prefix: str = ""

    @model_validator(mode="after")
    def _check(self) -> S3Ref:
        problem = s3_bucket_problem(self.bucket) or s3_key_problem(self.prefix)
        if problem is not None:
            raise ValueError(problem)
        return self

    @property
    def uri(self) -> str:
        """``scheme://bucket/prefix``, or ``scheme://bucket`` for a whole bucket."""
        base = f"{self.scheme}://{self.bucket}"
        return f"{base}/{self.prefix}" if self.prefix else base

    @classmethod
    def parse(cls, uri: str) -> S3Ref:
        """``s3://bucket/prefix`` or ``s3a://...`` -> :class:`S3Ref`; :class:`ValueError` with a one-line message."""
        scheme, separator, rest = uri.partition("://")
        if not separator or scheme not in ("s3", "s3a"):
            raise ValueError(
                f'expected an S3 URI like "s3://bucket/prefix" or "s3a://bucket/prefix", got {quoted(uri)}'
            )
        bucket, _, prefix = rest.partition("/")
        if problem := s3_bucket_problem(bucket):
            raise ValueError(f"invalid S3 bucket name {quoted(bucket)} in {quoted(uri)}: {problem}")
        if problem := s3_key_problem(prefix):
            raise ValueError(f"invalid S3 key {quoted(prefix)} in {quoted(uri)}: {problem}")
        return cls(scheme="s3a" if scheme == "s3a" else "s3", bucket=bucket, prefix=prefix)
