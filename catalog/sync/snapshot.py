"""A resolved build: everything recording a build needs that is not in Atlas, as one JSON value.

``mlcatalog build`` resolves a build and records it at once. The serving platform resolves at deploy time and keeps
the snapshot in its outbox, so that recording it later (Atlas being down at deploy time) needs neither the project
directory nor its git repository: the snapshot carries the build's identities, the git facts, the committed lineage
file's text, and what HiveServer2 and S3 said of its inputs.

A lookup that could not be made (HiveServer2 or S3 unavailable, or failing) is kept as such and made again when the
snapshot is recorded, where a resolver is configured: those servers outlive the project directory.

It is also a request body (``POST /api/v1/builds/resolved``), so it is bounded like the catalog's other requests
(``catalog.backend``): a snapshot a parseable lineage file produces always fits.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from catalog.backend import (
    INT64_MAX,
    BuildEnvironment,
    Count,
    CrnText,
    EpochMs,
    MetadataKey,
    Name,
    PathText,
    UrlText,
    no_control,
)
from catalog.lineagefile import MAX_FILE_BYTES
from catalog.sync.builder import Column, TableFacts

# What a lineage file (or a Hive table) can name: the file's parser stops at 100 000 values.
MAX_REFS = 100_000
MAX_COLUMNS = 100_000
LONG_TEXT = 1024 * 1024  # a view's SQL, a complex column type
# catalog.backend's free text, in lengths of its own here (HiveServer2's comments and view SQL can be long)
_NOT_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# What the lineage file reader accepts (YAML's printable set): NEL (U+0085) is a YAML line break.
_NOT_YAML = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: str) -> str:
    if _NOT_TEXT.search(value):
        raise ValueError("control characters other than tab and line breaks (and lone surrogates) are not allowed")
    return value


def _yaml_text(value: str) -> str:
    if found := _NOT_YAML.search(value):
        raise ValueError(f"character U+{ord(found[0]):04X} is not allowed in a lineage file")
    return value


Short = Annotated[str, Field(max_length=1024), AfterValidator(no_control)]
# A name the lineage file gives (a model, a table's qualifiedName, an S3 URI): bounded by the file alone.
Ref = Annotated[str, Field(min_length=1, max_length=MAX_FILE_BYTES), AfterValidator(no_control)]
Text = Annotated[str, Field(max_length=65_536), AfterValidator(_text)]
LongText = Annotated[str, Field(max_length=LONG_TEXT), AfterValidator(_text)]
Message = Annotated[str, Field(max_length=16_384), AfterValidator(_text)]
Size = Annotated[int, Field(ge=0, le=INT64_MAX)]

#: How a lookup of an input went: ``described`` (facts attached), ``not_found`` (the server says it does not
#: exist), ``unavailable`` (the server could not be reached), ``failed`` (it answered with another error),
#: ``not_asked`` (no server configured where the build was resolved: the input is recorded as declared).
Lookup = Literal["described", "not_found", "unavailable", "failed", "not_asked"]
ASK_AGAIN: tuple[Lookup, ...] = ("unavailable", "failed")

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class ColumnFacts(BaseModel):
    model_config = _FROZEN

    name: Name
    type: LongText
    comment: Text | None = None
    position: Count = 0


class HiveFacts(BaseModel):
    """What HiveServer2 reported for a table (None: not reported)."""

    model_config = _FROZEN

    columns: list[ColumnFacts] = Field(default_factory=list, max_length=MAX_COLUMNS)
    partition_keys: list[ColumnFacts] = Field(default_factory=list, max_length=MAX_COLUMNS)
    table_type: Short | None = None
    location: UrlText | None = None
    owner: Short | None = None
    create_time_ms: EpochMs | None = None
    comment: Text | None = None
    input_format: Short | None = None
    output_format: Short | None = None
    serde: Short | None = None
    parameters: dict[MetadataKey, Text] = Field(default_factory=dict, max_length=10_000)
    view_text: LongText | None = None

    @classmethod
    def of(cls, info: Any) -> HiveFacts:
        """From a resolver's ``HiveTableInfo``."""
        def cols(items: Any) -> list[ColumnFacts]:
            return [ColumnFacts(name=c.name, type=c.type, comment=c.comment or None, position=c.position)
                    for c in items]

        return cls(columns=cols(info.columns), partition_keys=cols(info.partition_keys), table_type=info.table_type,
                   location=info.location, owner=info.owner, create_time_ms=info.create_time_ms,
                   comment=info.comment or None, input_format=info.input_format, output_format=info.output_format,
                   serde=info.serde, parameters=dict(sorted((info.parameters or {}).items())),
                   view_text=info.view_text)

    def table_facts(self) -> TableFacts:
        def cols(items: list[ColumnFacts]) -> tuple[Column, ...]:
            return tuple(Column(name=c.name, type=c.type, comment=c.comment, position=c.position) for c in items)

        return TableFacts(
            columns=cols(self.columns), partition_keys=cols(self.partition_keys), table_type=self.table_type,
            location=self.location, owner=self.owner, create_time_ms=self.create_time_ms, comment=self.comment,
            input_format=self.input_format, output_format=self.output_format, serde=self.serde,
            parameters=tuple(sorted(self.parameters.items())), view_text=self.view_text)


class TableLookup(BaseModel):
    """A Hive table of the build, as HiveServer2 described it (``facts``), or why it did not (``message``)."""

    model_config = _FROZEN

    lookup: Lookup
    facts: HiveFacts | None = None
    message: Message | None = None

    @model_validator(mode="after")
    def _facts_when_described(self) -> Self:
        if (self.facts is not None) != (self.lookup == "described"):
            raise ValueError("facts are given exactly when the table was described")
        return self


class S3Lookup(BaseModel):
    """An S3 source of the build, as S3 described it, or why it did not (``message``)."""

    model_config = _FROZEN

    lookup: Lookup
    kind: Literal["prefix", "object"] | None = None
    object_count: Size | None = None
    total_size_bytes: Size | None = None
    newest_modified_ms: EpochMs | None = None
    message: Message | None = None

    @model_validator(mode="after")
    def _facts_when_described(self) -> Self:
        described = self.lookup == "described"
        if described != (self.kind is not None and self.object_count is not None
                         and self.total_size_bytes is not None):
            raise ValueError("kind, object_count and total_size_bytes are given exactly when the source was described")
        if not described and self.newest_modified_ms is not None:
            raise ValueError("newest_modified_ms is only given when the source was described")
        return self


class ResolvedModel(BaseModel):
    """A model of the build, with its CRN and the CRN of its build at the snapshot's commit."""

    model_config = _FROZEN

    name: Ref
    model_crn: CrnText
    build_crn: CrnText


class ResolvedBuild(BaseModel):
    """Builds of models of a project at a commit, resolved: recording it reads Atlas and nothing else (but a
    resolver for a lookup that could not be made)."""

    model_config = _FROZEN

    format: Literal[1] = Field(default=1, description="the snapshot's format (outbox entries outlive releases)")
    project_crn: CrnText
    project_name: Name
    git_url: Annotated[str, Field(min_length=1, max_length=4096), AfterValidator(no_control)] = Field(
        description="the repository's remote URL, else its path where it was resolved")
    commit: Annotated[str, Field(pattern="^[0-9a-f]{40}([0-9a-f]{24})?$")]
    author: Annotated[str, Field(min_length=1, max_length=16_384), AfterValidator(no_control)]
    commit_time_ms: EpochMs
    lineage_path: PathText = Field(description="the lineage file's path in the repository")
    lineage_text: Annotated[str, Field(max_length=MAX_FILE_BYTES), AfterValidator(_yaml_text)] = Field(
        description="the lineage file as committed")
    models: list[ResolvedModel] = Field(min_length=1, max_length=MAX_REFS)
    reuse_unchanged: bool = Field(description="every model of the file was asked for: one whose lineage is unchanged "
                                              "keeps its latest build instead of a new one at this commit")
    allow_unresolved: bool = False
    tables: dict[Ref, TableLookup] = Field(default_factory=dict, max_length=MAX_REFS,
                                           description="by qualifiedName: the models' Hive tables")
    s3: dict[Ref, S3Lookup] = Field(default_factory=dict, max_length=MAX_REFS,
                                    description="by URI: the models' S3 sources")
    notes: list[Message] = Field(default_factory=list, max_length=100,
                                 description="what resolving noticed (a lineage file edited but not committed)")
    environment: BuildEnvironment | None = Field(
        default=None, description="the models' build environment, recorded on their build entities; None: unknown")

    @model_validator(mode="after")
    def _models_once(self) -> Self:
        if len({m.name for m in self.models}) != len(self.models):
            raise ValueError("a model is named twice")
        return self
