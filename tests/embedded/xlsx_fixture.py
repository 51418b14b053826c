"""A minimal .xlsx workbook written with the standard library (the parts ECMA-376 requires of a workbook with one
sheet), for the import tests: strings as shared strings (or inline), numbers and booleans as such, ``None`` cells
left out, so a row's cells may have gaps."""

from __future__ import annotations

import io
import zipfile
from xml.sax.saxutils import escape

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
Cell = str | int | float | bool | None


def _column(index: int) -> str:
    name = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        name = chr(ord("A") + rem) + name
    return name


def _cell(ref: str, value: Cell, shared: list[str], inline: bool) -> str:
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int | float):
        return f'<c r="{ref}"><v>{value}</v></c>'
    text = escape(str(value))
    if inline:
        return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'
    shared.append(text)
    return f'<c r="{ref}" t="s"><v>{len(shared) - 1}</v></c>'


def xlsx(rows: list[list[Cell]], *, inline: bool = False, sheet_name: str = "Sheet1") -> bytes:
    shared: list[str] = []
    xml_rows = []
    for r, row in enumerate(rows, 1):
        cells = "".join(_cell(f"{_column(c)}{r}", v, shared, inline) for c, v in enumerate(row) if v is not None)
        xml_rows.append(f'<row r="{r}">{cells}</row>')
    sheet = f'<worksheet xmlns="{MAIN}"><sheetData>{"".join(xml_rows)}</sheetData></worksheet>'
    strings = f'<sst xmlns="{MAIN}">' + "".join(f"<si><t>{s}</t></si>" for s in shared) + "</sst>"
    workbook = (f'<workbook xmlns="{MAIN}" xmlns:r="{R}"><sheets>'
                f'<sheet name="{sheet_name}" sheetId="1" r:id="rId1"/></sheets></workbook>')
    rels = (f'<Relationships xmlns="{PKG}"><Relationship Id="rId1" Target="worksheets/sheet1.xml" '
            f'Type="{R}/worksheet"/><Relationship Id="rId2" Target="sharedStrings.xml" Type="{R}/sharedStrings"/>'
            "</Relationships>")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as book:
        book.writestr("[Content_Types].xml", '<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
                                             'content-types"/>')
        book.writestr("xl/workbook.xml", workbook)
        book.writestr("xl/_rels/workbook.xml.rels", rels)
        book.writestr("xl/worksheets/sheet1.xml", sheet)
        book.writestr("xl/sharedStrings.xml", strings)
    return out.getvalue()
