"""What the two file imports (glossary terms, business metadata values) share: the uploaded file, its rows, and the
``BulkImportResponse`` they answer.

Atlas takes the file as the ``file`` field of a ``multipart/form-data`` body (``@FormDataParam("file")``, the field
Atlas's UI uploads with; :mod:`catalog.embedded.form_data`) and reads it by its name's extension
(``FileUtils.readFileData``): a CSV file's first line is its header and is skipped, as are lines of fewer than two
cells. Files of the legacy binary Excel format (.xls) are refused; .xlsx files are read
(:mod:`catalog.embedded.xlsx_rows`).
"""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.form_data import FormPart, form_parts
from catalog.embedded.limits import shown
from catalog.embedded.xlsx_rows import XlsxError, xlsx_rows

FILE_FIELD = "file"
SUCCESS, FAILED = "SUCCESS", "FAILED"  # BulkImportResponse.ImportStatus


# -- the upload -----------------------------------------------------------------------------------------------
def uploaded_file(body: bytes) -> FormPart:
    """The ``file`` part of a multipart/form-data body: its file name and content."""
    found = form_parts(body).get(FILE_FIELD)
    if found is None:
        raise AtlasError(ErrorCode.BAD_REQUEST, f"expected a multipart/form-data body with a '{FILE_FIELD}' file: "
                                                f"there is no '{FILE_FIELD}' part")
    return found


# -- its rows -------------------------------------------------------------------------------------------------
def extension(file_name: str) -> str:
    """FilenameUtils.getExtension: after the last dot of the last path segment."""
    base = file_name.replace("\\", "/").rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[1] if "." in base else ""


def csv_rows(data: bytes) -> list[list[str]]:
    """FileUtils.readCSV: the rows after the header, each of more than one cell."""
    text = data.decode("utf-8-sig", errors="replace")
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as e:
        raise AtlasError(ErrorCode.NOT_VALID_FILE, "CSV") from e
    if not rows or not rows[0]:
        return []
    return [r for r in rows[1:] if len(r) > 1]


def read_rows(file_name: str, data: bytes) -> list[list[str]]:
    """FileUtils.readFileData: the file's data rows, by its type; none is NO_DATA_FOUND."""
    ext = extension(file_name).lower()
    if ext == "csv":
        rows = csv_rows(data)
    elif ext == "xlsx":
        try:
            rows = xlsx_rows(data)
        except XlsxError as e:
            raise AtlasError(ErrorCode.NOT_VALID_FILE, "XLS") from e
    elif ext == "xls":
        raise AtlasError(ErrorCode.INVALID_FILE_TYPE_XLS, shown(file_name, 200))
    else:
        raise AtlasError(ErrorCode.INVALID_FILE_TYPE, shown(file_name, 200))
    if not rows:
        raise AtlasError(ErrorCode.NO_DATA_FOUND)
    return rows


def java_split(text: str, separator: str) -> list[str]:
    """``String.split`` of a one-character separator: trailing empty pieces are dropped."""
    if separator not in text:
        return [text]
    parts = text.split(separator)
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def java_array(record: list[str]) -> str:
    """``Arrays.toString`` of a row, as Atlas quotes a row in its messages."""
    return "[" + ", ".join(record) + "]"


def cell(record: list[str], index: int) -> str | None:
    return record[index] if len(record) > index else None


# -- the answer -----------------------------------------------------------------------------------------------
@dataclass
class BulkImportResponse:
    failed: list[dict[str, Any]] = field(default_factory=list)
    succeeded: list[dict[str, Any]] = field(default_factory=list)

    @staticmethod
    def info(parent: str | None, child: str | None, status: str, remarks: str | None) -> dict[str, Any]:
        """ImportInfo as Atlas's JSON shows it (its rowNumber has no getter, so it is not sent)."""
        return {"parentObjectName": parent, "childObjectName": child, "importStatus": status, "remarks": remarks}

    def fail(self, parent: str | None, child: str | None, remarks: str) -> None:
        self.failed.append(self.info(parent, child, FAILED, remarks))

    def succeed(self, parent: str | None, child: str | None, remarks: str) -> None:
        self.succeeded.append(self.info(parent, child, SUCCESS, remarks))

    def json(self) -> dict[str, Any]:
        return {"failedImportInfoList": self.failed, "successImportInfoList": self.succeeded}


@contextmanager
def savepoint(conn: sqlite3.Connection, name: str = "import_item") -> Iterator[None]:
    """One item of an import, undone alone if it fails (the import's other items stay)."""
    conn.execute(f"SAVEPOINT {name}")
    try:
        yield
    except BaseException:
        conn.execute(f"ROLLBACK TO {name}")
        conn.execute(f"RELEASE {name}")
        raise
    conn.execute(f"RELEASE {name}")
