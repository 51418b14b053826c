"""The rows of an .xlsx workbook's first sheet as text, as Atlas's ``FileUtils.readExcel`` reads them (POI): the first
row is the header and is skipped, empty rows are skipped, each cell is trimmed and a missing cell is empty.

An .xlsx file is a zip of XML parts (ECMA-376): ``xl/workbook.xml`` lists the sheets, its relationships name each
sheet's part, ``xl/sharedStrings.xml`` holds the strings cells refer to by index. Only the standard library reads it;
each part is read up to a bound, so a small upload can not inflate into a large one.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
import zlib
from xml.etree import ElementTree

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
MAX_PART_BYTES = 64 * 1024 * 1024
_COLUMN = re.compile(r"([A-Z]+)")


class XlsxError(ValueError):
    """Not a workbook this reader can read."""


def _xml(book: zipfile.ZipFile, name: str) -> ElementTree.Element:
    try:
        info = book.getinfo(name)
    except KeyError as e:
        raise XlsxError(f"the workbook has no part {name}") from e
    if info.file_size > MAX_PART_BYTES:
        raise XlsxError(f"part {name} is larger than {MAX_PART_BYTES} bytes")
    try:
        with book.open(info) as part:
            data = part.read(MAX_PART_BYTES + 1)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError, zlib.error) as e:
        raise XlsxError(f"part {name} can not be read: {e}") from e
    try:
        return ElementTree.fromstring(data)
    except ElementTree.ParseError as e:
        raise XlsxError(f"part {name} is not XML: {e}") from e


def _text(element: ElementTree.Element) -> str:
    """A string item's text: its runs' texts, without phonetic guides."""
    if (t := element.find(f"{MAIN}t")) is not None:
        return t.text or ""
    return "".join(t.text or "" for t in element.iterfind(f"{MAIN}r/{MAIN}t"))


def _first_sheet(book: zipfile.ZipFile) -> str:
    sheet = _xml(book, "xl/workbook.xml").find(f"{MAIN}sheets/{MAIN}sheet")
    if sheet is None:
        raise XlsxError("the workbook has no sheet")
    rel_id = sheet.get(f"{REL}id")
    for rel in _xml(book, "xl/_rels/workbook.xml.rels").iter(f"{PKG_REL}Relationship"):
        if rel.get("Id") == rel_id:
            target = rel.get("Target") or ""
            return target.lstrip("/") if target.startswith("/") else posixpath.normpath(f"xl/{target}")
    raise XlsxError("the first sheet's part is not named")


def _column(ref: str | None, default: int) -> int:
    """A cell reference's column, 0-based (``C7`` is 2)."""
    m = _COLUMN.match(ref or "")
    if m is None:
        return default
    n = 0
    for ch in m.group(1):
        n = n * 26 + ord(ch) - ord("A") + 1
    return n - 1


def _cell_text(c: ElementTree.Element, shared: list[str]) -> str:
    kind = c.get("t", "n")
    if kind == "inlineStr":
        item = c.find(f"{MAIN}is")
        return _text(item) if item is not None else ""
    value = c.findtext(f"{MAIN}v") or ""
    if kind == "s":
        index = int(value) if value.isdigit() else -1
        if not 0 <= index < len(shared):
            raise XlsxError(f"cell {c.get('r')} names no shared string")
        return shared[index]
    if kind == "b":
        return "TRUE" if value == "1" else "FALSE"
    return value


def xlsx_rows(data: bytes) -> list[list[str]]:
    try:
        book = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as e:
        raise XlsxError("not a zip file") from e
    with book:
        shared: list[str] = []
        if "xl/sharedStrings.xml" in book.namelist():
            shared = [_text(si) for si in _xml(book, "xl/sharedStrings.xml").iterfind(f"{MAIN}si")]
        sheet = _xml(book, _first_sheet(book))
    rows = []
    for row in sheet.iterfind(f"{MAIN}sheetData/{MAIN}row"):
        cells: dict[int, str] = {}
        for i, c in enumerate(row.iterfind(f"{MAIN}c")):
            cells[_column(c.get("r"), i)] = _cell_text(c, shared).strip()
        values = [cells.get(i, "") for i in range(max(cells) + 1)] if cells else []
        rows.append(values)
    if not rows or not any(rows[0]):
        return []
    return [r for r in rows[1:] if any(r)]
