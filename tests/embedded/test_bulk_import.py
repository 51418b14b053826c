"""The file handling both imports share (``catalog.embedded.bulk_import``, ``catalog.embedded.xlsx_rows``): the
``file`` part of a multipart body, the rows of a CSV or .xlsx file as Atlas's ``FileUtils.readFileData`` reads them,
and its errors (``INVALID_FILE_TYPE``, ``NO_DATA_FOUND``, ``NOT_VALID_FILE``) in Atlas's shape.
"""

from __future__ import annotations

import io
import zipfile

import httpx
import pytest

from catalog.embedded.bulk_import import (
    BulkImportResponse,
    csv_rows,
    extension,
    java_split,
    read_rows,
    uploaded_file,
)
from catalog.embedded.errors import AtlasError, ErrorCode
from tests.embedded.xlsx_fixture import xlsx


def multipart(files: dict[str, tuple[str, bytes, str]], data: dict[str, str] | None = None) -> bytes:
    """A body as httpx (and so a browser's FormData, or Atlas's UI) sends it."""
    return httpx.Request("POST", "http://atlas/", files=files, data=data).read()


# -- the upload -----------------------------------------------------------------------------------------------
def test_the_file_part_is_found_among_others() -> None:
    content = b"GlossaryName,TermName\r\n--not-a-boundary\r\n\r\nbinary\x00\xff"
    upload = uploaded_file(multipart({"file": ("terms.csv", content, "text/csv")}, {"request": "{}"}))
    assert (upload.file_name, upload.data) == ("terms.csv", content)


def test_an_upload_without_a_file_part() -> None:
    with pytest.raises(AtlasError) as e:
        uploaded_file(multipart({"other": ("x.csv", b"a,b", "text/csv")}))
    assert e.value.body() == {"errorCode": "ATLAS-400-00-029", "errorMessage": "expected a multipart/form-data body "
                                                                               "with a 'file' file: there is no 'file' "
                                                                               "part"}


# -- the rows -------------------------------------------------------------------------------------------------
def test_csv_rows_skip_the_header_and_single_cells() -> None:
    data = ('\ufeffH1, H2, H3\r\na,"b, with comma",c\r\nlonely\r\n\r\n"multi\nline",x\r\nd,e\n').encode()
    assert csv_rows(data) == [["a", "b, with comma", "c"], ["multi\nline", "x"], ["d", "e"]]
    assert csv_rows(b"") == [] and csv_rows(b"\r\nnot,header\r\n") == []  # an empty header line: no data


def test_a_file_is_read_by_its_extension() -> None:
    assert read_rows("dir.v2/Terms.CSV", b"h,h\r\na,b\r\n") == [["a", "b"]]
    assert extension("dir.v2/terms") == "" and extension("C:\\x.y\\terms.csv") == "csv"
    for name in ("terms.txt", "terms", "terms.csv.gz"):
        with pytest.raises(AtlasError) as e:
            read_rows(name, b"h,h\r\na,b\r\n")
        assert (e.value.http_status, e.value.body()) == (400, {
            "errorCode": "ATLAS-400-00-098",
            "errorMessage": f"The provided file type: {name} is not supported. Expected file formats are .csv and "
                            ".xls."})


def test_legacy_excel_files_are_refused() -> None:
    with pytest.raises(AtlasError) as e:
        read_rows("terms.xls", b"\xd0\xcf\x11\xe0")
    assert (e.value.http_status, e.value.body()) == (400, {
        "errorCode": "ATLAS-400-00-098",
        "errorMessage": "The provided file type: terms.xls is not supported: the binary Excel format (.xls) is not "
                        "read here. Expected file formats are .csv and .xlsx."})


def test_a_file_without_data_rows() -> None:
    for name, data in (("a.csv", b"GlossaryName,TermName\r\n"), ("a.csv", b""), ("a.csv", b"h,h\r\nonly-one\r\n"),
                       ("a.xlsx", xlsx([["GlossaryName", "TermName"]]))):
        with pytest.raises(AtlasError) as e:
            read_rows(name, data)
        assert e.value.body() == {"errorCode": "ATLAS-400-00-09B", "errorMessage": "No data found in the uploaded file"}


def test_an_unreadable_csv() -> None:
    with pytest.raises(AtlasError) as e:
        read_rows("a.csv", b"h,h\r\n" + b'"' + b"x" * 200_000 + b'",y\r\n')  # beyond the csv module's field limit
    assert e.value.body() == {"errorCode": "ATLAS-400-00-09C", "errorMessage": "Invalid CSV file"}


def test_xlsx_rows_as_text() -> None:
    data = xlsx([["EntityType", "Value"], ["DataSet", "a", None, "gap"], [None], ["x", 42, 2.5, True],
                 ["  padded  ", "y"]])
    assert read_rows("bm.xlsx", data) == [["DataSet", "a", "", "gap"], ["x", "42", "2.5", "TRUE"], ["padded", "y"]]
    assert read_rows("bm.xlsx", xlsx([["h"], ["inline", "text"]], inline=True)) == [["inline", "text"]]


@pytest.mark.parametrize("data", [b"not a zip", b"PK\x03\x04 truncated"])
def test_xlsx_that_is_not_a_workbook(data: bytes) -> None:
    with pytest.raises(AtlasError) as e:
        read_rows("bm.xlsx", data)
    assert e.value.body() == {"errorCode": "ATLAS-400-00-09C", "errorMessage": "Invalid XLS file"}


def test_xlsx_missing_parts_or_broken_xml() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as book:
        book.writestr("xl/workbook.xml", "<workbook")
    with pytest.raises(AtlasError) as e:
        read_rows("bm.xlsx", out.getvalue())
    assert e.value.code is ErrorCode.NOT_VALID_FILE
    good = zipfile.ZipFile(io.BytesIO(xlsx([["h"], ["a", "b"]])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as book:
        for name in good.namelist():
            book.writestr(name, good.read(name) if name != "xl/sharedStrings.xml" else b"<sst/>")
    with pytest.raises(AtlasError) as e:  # cells naming shared strings that are not there
        read_rows("bm.xlsx", out.getvalue())
    assert e.value.code is ErrorCode.NOT_VALID_FILE


# -- helpers --------------------------------------------------------------------------------------------------
def test_java_split_drops_trailing_empty_pieces() -> None:
    assert java_split("a|b", "|") == ["a", "b"]
    assert java_split("a||b||", "|") == ["a", "", "b"]
    assert java_split("|a", "|") == ["", "a"]
    assert java_split("", "|") == [""] and java_split("|", "|") == [] and java_split("a:", ":") == ["a"]


def test_the_response_shape() -> None:
    response = BulkImportResponse()
    response.fail("g", None, "why")
    response.succeed("g", "t", "{}")
    assert response.json() == {
        "failedImportInfoList": [{"parentObjectName": "g", "childObjectName": None, "importStatus": "FAILED",
                                  "remarks": "why"}],
        "successImportInfoList": [{"parentObjectName": "g", "childObjectName": "t", "importStatus": "SUCCESS",
                                   "remarks": "{}"}]}
