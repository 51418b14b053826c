"""Glossary term import: ``GET v2/glossary/import/template`` and ``POST v2/glossary/import`` (GlossaryREST,
``GlossaryService.importGlossaryData``, ``GlossaryTermUtils``).

Each row of the file is a term: its glossary (by name, created when no glossary has that qualifiedName), its name,
short and long description, examples (``a|b``), abbreviation, usage, additional attributes (``key:value|key:value``)
and its related terms, one column per relation (``SeeAlso``, ``Synonyms``...), each ``Glossary:Term|Glossary:Term``.
The import runs in two passes, as Atlas's: first every term is created, without relations, then the relations of
every row are added, so a row may name a term of a later row. A term that already exists is reported as failed in
the first pass and gets the row's relations in the second; relations the term already has stay (Atlas's update
would drop those of a relation the row leaves empty, unless an earlier row named the term). Every row's problems
are ``failedImportInfoList`` entries, every created term a ``successImportInfoList`` entry whose remarks are its
``glossaryTermHeader``. Nothing created is GLOSSARY_IMPORT_FAILED, and the import then leaves nothing behind.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from catalog.embedded import glossary as gl
from catalog.embedded import glossary_read as gr
from catalog.embedded import glossary_terms as terms
from catalog.embedded.bulk_import import (
    BulkImportResponse,
    cell,
    java_array,
    java_split,
    read_rows,
    savepoint,
    uploaded_file,
)
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.raw_content import RawContent
from catalog.embedded.store import EmbeddedStore

if TYPE_CHECKING:
    from catalog.embedded.routes import AtlasRequest

# GlossaryTermUtils.getGlossaryTermHeaders, in column order; the relation columns start at RELATIONS_AT
COLUMNS = ("GlossaryName", "TermName", "ShortDescription", "LongDescription", "Examples", "Abbreviation", "Usage",
           "AdditionalAttributes", "TranslationTerms", "ValidValuesFor", "Synonyms", "ReplacedBy", "ValidValues",
           "ReplacementTerms", "SeeAlso", "TranslatedTerms", "IsA", "Antonyms", "Classifies", "PreferredToTerms",
           "PreferredTerms")
RELATIONS_AT = 8
RELATIONS = ("translationTerms", "validValuesFor", "synonyms", "replacedBy", "validValues", "replacementTerms",
             "seeAlso", "translatedTerms", "isA", "antonyms", "classifies", "preferredToTerms", "preferredTerms")
TEMPLATE = ", ".join(COLUMNS)


def template(store: EmbeddedStore, req: AtlasRequest) -> RawContent:
    """``GET glossary/import/template``: the header line, as an octet stream (Atlas sends no file name)."""
    return RawContent(TEMPLATE.encode())


@dataclass
class Row:
    """One term row of the file (``number``: its place among the data rows, from 1)."""

    number: int
    record: list[str]
    glossary: str
    term: dict[str, Any] | None = None
    messages: list[str] = field(default_factory=list)

    @property
    def name(self) -> str | None:
        return cell(self.record, 1)


def _text(record: list[str], index: int) -> str | None:
    value = cell(record, index)
    return value if value else None


def _additional_attributes(value: str | None, messages: list[str]) -> dict[str, str] | None:
    """GlossaryTermUtils.getMapValue: ``key:value`` pairs; a pair that is not one is reported and left out."""
    if value is None or not value.strip():
        return None
    out: dict[str, str] = {}
    for pair in java_split(value, "|"):
        parts = java_split(pair, ":")
        if len(parts) % 2 == 0:
            out[parts[0]] = parts[1]
        else:
            messages.append(f"The Data in the uploaded file is incorrectly specified  : {value}\n"
                            "AdditionalAttributes needs to be a key:value pair")
    return out


def _term(row: Row, glossary_guid: str) -> dict[str, Any] | None:
    """populateGlossaryTermObject without relations: the term to create, None without a name."""
    record = row.record
    if not (row.name or "").strip():
        row.messages.append(f"The TermName is blank for provided record: {java_array(record)}")
        return None
    examples = _text(record, 4)
    term = {"name": row.name, "anchor": {"glossaryGuid": glossary_guid}, "shortDescription": _text(record, 2),
            "longDescription": _text(record, 3),
            "examples": java_split(examples, "|") if examples and examples.strip() else None,
            "abbreviation": _text(record, 5), "usage": _text(record, 6),
            "additionalAttributes": _additional_attributes(cell(record, 7), row.messages)}
    return {k: v for k, v in term.items() if v is not None}


class GlossaryImport:
    def __init__(self, store: EmbeddedStore, conn: sqlite3.Connection, user: str) -> None:
        self.store, self.conn, self.user = store, conn, user
        self.response = BulkImportResponse()
        self.glossaries: dict[str, str | None] = {}

    def glossary(self, name: str, messages: list[str]) -> str | None:
        """The glossary's guid, by qualifiedName; created (name and qualifiedName the same) when missing."""
        if self.glossaries.get(name):
            return self.glossaries[name]
        found = gr.find(self.conn, gr.GLOSSARY, name)
        guid: str | None = found.guid if found is not None else None
        if guid is None and any(c in name for c in gr.INVALID_NAME_CHARS):
            messages.append(f"The provided Glossary Name {{{name}}} is invalid : "
                            f"{AtlasError(ErrorCode.INVALID_DISPLAY_NAME).message}")
        elif guid is None:
            try:
                with savepoint(self.conn):
                    guid = str(gl.create(self.store, {"name": name, "qualifiedName": name}, self.user)["guid"])
            except AtlasError as e:
                messages.append(e.message)
        self.glossaries[name] = guid
        return guid

    def read(self, records: list[list[str]]) -> list[Row]:
        """getGlossaryTermDataWithoutRelations: each row's glossary and term, and what is wrong with it."""
        rows = []
        for number, record in enumerate(records, 1):
            glossary = record[0] if record and record[0].strip() else ""
            row = Row(number, record, glossary)
            guid = None
            if not glossary:
                row.messages.append(f"The GlossaryName is blank for the record : {java_array(record)}")
            else:
                guid = self.glossary(glossary, row.messages)
                if guid:
                    row.term = _term(row, guid)
            if row.messages:
                self.response.fail(glossary, row.name if guid else None, "\n".join(row.messages))
            rows.append(row)
        return rows

    def create(self, rows: list[Row]) -> None:
        """createGlossaryTerms: each term on its own; none created fails the import."""
        for row in rows:
            if row.term is None:
                continue
            try:
                with savepoint(self.conn):
                    guid = terms.create_in(self.conn, self.store.registry, row.term, self.user)
            except AtlasError as e:
                self.response.fail(row.glossary, row.name, e.message)
                continue
            qn = gr.require(self.conn, guid, gr.TERM).attributes.get("qualifiedName")
            header = orjson.dumps({"termGuid": guid, "qualifiedName": qn}).decode()
            self.response.succeed(row.glossary, row.name, header)
        if not self.response.succeeded:
            raise AtlasError(ErrorCode.GLOSSARY_IMPORT_FAILED)

    def _related(self, row: Row, value: str, messages: list[str]) -> list[str]:
        """getAtlasRelatedTermHeaderSet: the guids of the terms a relation cell names."""
        out = []
        current = f"{row.name}@{row.glossary}"
        for ref in java_split(value, "|"):
            parts = java_split(ref, ":")
            if len(parts) != 2:
                messages.append(f"Incorrect relation data specified for the term : {current}")
                continue
            qn = f"{parts[1]}@{parts[0]}"
            if qn.lower() == current.lower():
                messages.append("Invalid relationship specified for Term. Term cannot have a relationship with self")
                continue
            found = gr.find(self.conn, gr.TERM, qn)
            if found is None:
                messages.append(f"The provided Reference {qn} does not exist at Atlas referred at record with "
                                f"TermName  : {row.name} and GlossaryName : {row.glossary}")
            else:
                out.append(found.guid)
        return out

    def relate(self, rows: list[Row]) -> None:
        """getGlossaryTermDataWithRelations and updateGlossaryTermsRelation: each row's relations, added."""
        for row in rows:
            if not self.glossaries.get(row.glossary) or not (row.name or "").strip():
                continue
            messages: list[str] = []
            wanted = {attr: self._related(row, value, messages)
                      for attr, value in zip(RELATIONS, row.record[RELATIONS_AT:], strict=False) if value.strip()}
            if messages:
                self.response.fail(row.glossary, row.name, "\n".join(messages))
            if any(wanted.values()):
                self._add_relations(row, wanted)

    def _add_relations(self, row: Row, wanted: dict[str, list[str]]) -> None:
        qn = f"{row.name}@{row.glossary}"
        try:
            with savepoint(self.conn):
                stored = gr.find(self.conn, gr.TERM, qn)
                if stored is None:
                    raise AtlasError(ErrorCode.INSTANCE_BY_UNIQUE_ATTRIBUTE_NOT_FOUND, gr.TERM,
                                     {"qualifiedName": qn})
                term = terms.get(self.store, stored.guid)
                for attr, guids in wanted.items():
                    headers = term.setdefault(attr, [])
                    have = {h.get("termGuid") for h in headers}
                    headers += [{"termGuid": g} for g in dict.fromkeys(guids) if g not in have]
                terms.update(self.store, stored.guid, term, self.user)
        except AtlasError as e:
            self.response.fail(row.glossary, row.name, e.message)


def import_glossary(store: EmbeddedStore, file_name: str | None, data: bytes, user: str) -> dict[str, Any]:
    if not file_name or not file_name.strip():
        raise AtlasError(ErrorCode.INVALID_FILE_TYPE, "null" if file_name is None else file_name)
    records = read_rows(file_name, data)
    gr.ensure_types(store, user)
    with store.db.write() as conn:
        run = GlossaryImport(store, conn, user)
        rows = run.read(records)
        run.create(rows)
        run.relate(rows)
        return run.response.json()


def import_data(store: EmbeddedStore, req: AtlasRequest) -> dict[str, Any]:
    """``POST glossary/import``: a multipart upload, the file in field ``file``."""
    upload = uploaded_file(req.body)
    return import_glossary(store, upload.file_name, upload.data, req.user)
