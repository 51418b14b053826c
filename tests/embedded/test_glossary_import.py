"""Glossary term import (``catalog.embedded.glossary_import``): ``GET v2/glossary/import/template`` and the upload
``POST v2/glossary/import`` as Atlas's UI sends it (multipart, field ``file``), over the in-process HTTP client.

Expected behaviour: Atlas's ``GlossaryREST.produceTemplate`` (the header line of ``GlossaryTermUtils``) and
``GlossaryService.importGlossaryData``: glossaries created by name, terms created (pass 1) then related (pass 2), a
``BulkImportResponse`` of failed and successful rows, GLOSSARY_IMPORT_FAILED when no term is created.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from catalog.embedded.glossary_import import COLUMNS
from tests.embedded.conftest import fresh_api, ok
from tests.embedded.xlsx_fixture import xlsx

G = "/api/atlas/v2/glossary"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[TestClient]:
    yield from fresh_api(tmp_path)  # a store per test


def row(glossary: str, term: str, **cells: str) -> list[str]:
    """A data row: cells by template column name."""
    out = [glossary, term] + [""] * (len(COLUMNS) - 2)
    for name, value in cells.items():
        out[COLUMNS.index(name)] = value
    return out


def csv_file(*rows: list[str]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return out.getvalue().encode()


def upload(api: TestClient, data: bytes, name: str = "terms.csv") -> Any:
    return api.post(f"{G}/import", files={"file": (name, data, "text/csv")})


def term(api: TestClient, glossary: dict[str, Any], name: str) -> dict[str, Any]:
    [head] = [t for t in glossary["terms"] if t["displayText"] == name]
    return dict(ok(api.get(f"{G}/term/{head['termGuid']}")))


def glossary(api: TestClient, name: str) -> dict[str, Any]:
    [found] = [g for g in ok(api.get(G)) if g["name"] == name]
    return dict(found)


def names(headers: list[dict[str, Any]] | None) -> list[str]:
    return sorted(h["displayText"] for h in headers or [])


def test_the_template_is_the_header_line(api: TestClient) -> None:
    r = api.get(f"{G}/import/template")
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    assert r.text == ("GlossaryName, TermName, ShortDescription, LongDescription, Examples, Abbreviation, Usage, "
                      "AdditionalAttributes, TranslationTerms, ValidValuesFor, Synonyms, ReplacedBy, ValidValues, "
                      "ReplacementTerms, SeeAlso, TranslatedTerms, IsA, Antonyms, Classifies, PreferredToTerms, "
                      "PreferredTerms")
    assert "content-disposition" not in r.headers


@pytest.fixture
def finance(api: TestClient) -> dict[str, str]:
    """Glossary Finance with terms Revenue and Cost, Revenue a synonym of Cost."""
    g = ok(api.post(G, json={"name": "Finance"}))["guid"]
    cost = ok(api.post(f"{G}/term", json={"name": "Cost", "anchor": {"glossaryGuid": g}}))["guid"]
    revenue = ok(api.post(f"{G}/term", json={"name": "Revenue", "shortDescription": "money in",
                                             "anchor": {"glossaryGuid": g}, "synonyms": [{"termGuid": cost}]}))
    return {"glossary": g, "cost": cost, "revenue": revenue["guid"]}


def test_import_creates_terms_glossaries_and_relations(api: TestClient, finance: dict[str, str]) -> None:
    data = csv_file(
        row("Finance", "Margin", ShortDescription="what is left", LongDescription="revenue less cost",
            Examples="10%|20%", Abbreviation="MGN", Usage="reports", AdditionalAttributes="unit:pct|owner:ann",
            Synonyms="Finance:Profit", SeeAlso="Finance:Revenue"),
        row("Finance", "Profit", ShortDescription="gain"),
        row("Sales", "Lead", IsA="Finance:Margin"),
        row("Finance", "Revenue", ShortDescription="not this", Antonyms="Finance:Cost"),
        row("", "Orphan"),
        row("Finance", ""),
        row("bad.name", "Term"),
        row("Finance", "Weird", AdditionalAttributes="novalue"),
        row("Finance", "Selfish", Synonyms="Finance:Selfish|Finance:Ghost|broken"),
        row("Finance", "Bad@Name"))
    got = ok(upload(api, data))
    created = [(i["parentObjectName"], i["childObjectName"]) for i in got["successImportInfoList"]]
    assert created == [("Finance", "Margin"), ("Finance", "Profit"), ("Sales", "Lead"), ("Finance", "Weird"),
                       ("Finance", "Selfish")]
    assert {i["importStatus"] for i in got["successImportInfoList"]} == {"SUCCESS"}
    assert json.loads(got["successImportInfoList"][0]["remarks"])["qualifiedName"] == "Margin@Finance"
    failed = [(i["parentObjectName"], i["childObjectName"], i["importStatus"], i["remarks"])
              for i in got["failedImportInfoList"]]
    blank = row("", "Orphan")
    assert failed == [
        ("", None, "FAILED", "The GlossaryName is blank for the record : [" + ", ".join(blank) + "]"),
        ("Finance", "", "FAILED", "The TermName is blank for provided record: [" + ", ".join(row("Finance", ""))
         + "]"),
        ("bad.name", None, "FAILED", "The provided Glossary Name {bad.name} is invalid : name cannot contain following "
                                     "special chars ('@', '.', '<', '>')"),
        ("Finance", "Weird", "FAILED", "The Data in the uploaded file is incorrectly specified  : novalue\n"
                                       "AdditionalAttributes needs to be a key:value pair"),
        ("Finance", "Revenue", "FAILED", "Glossary term with qualifiedName Revenue@Finance already exists"),
        ("Finance", "Bad@Name", "FAILED", "name cannot contain following special chars ('@', '.', '<', '>')"),
        ("Finance", "Selfish", "FAILED",
         "Invalid relationship specified for Term. Term cannot have a relationship with self\n"
         "The provided Reference Ghost@Finance does not exist at Atlas referred at record with TermName  : Selfish and "
         "GlossaryName : Finance\nIncorrect relation data specified for the term : Selfish@Finance")]

    fin = glossary(api, "Finance")
    margin = term(api, fin, "Margin")
    assert (margin["qualifiedName"], margin["shortDescription"], margin["longDescription"]) == (
        "Margin@Finance", "what is left", "revenue less cost")
    assert (margin["examples"], margin["abbreviation"], margin["usage"]) == (["10%", "20%"], "MGN", "reports")
    assert margin["additionalAttributes"] == {"unit": "pct", "owner": "ann"}
    assert (names(margin["synonyms"]), names(margin["seeAlso"]), names(margin["classifies"])) == (
        ["Profit"], ["Revenue"], ["Lead"])
    assert names(term(api, fin, "Profit")["synonyms"]) == ["Margin"]  # a term of a later row
    revenue = term(api, fin, "Revenue")
    assert revenue["shortDescription"] == "money in"  # an existing term is not rewritten
    assert (names(revenue["synonyms"]), names(revenue["antonyms"]), names(revenue["seeAlso"])) == (
        ["Cost"], ["Cost"], ["Margin"])  # its relations kept, the row's added
    assert "additionalAttributes" not in term(api, fin, "Weird")
    sales = glossary(api, "Sales")
    assert sales["qualifiedName"] == "Sales" and names(sales["terms"]) == ["Lead"]
    assert names(term(api, sales, "Lead")["isA"]) == ["Margin"]
    assert not [g for g in ok(api.get(G)) if g["name"] == "bad.name"]


def test_importing_the_same_file_again_only_adds_what_is_missing(api: TestClient, finance: dict[str, str]) -> None:
    data = csv_file(row("Finance", "Margin", Synonyms="Finance:Cost"))
    assert len(ok(upload(api, data))["successImportInfoList"]) == 1
    again = upload(api, data)
    assert (again.status_code, again.json()) == (409, {"errorCode": "ATLAS-409-00-011",
                                                       "errorMessage": "Glossary import failed"})
    margin = term(api, glossary(api, "Finance"), "Margin")
    assert names(margin["synonyms"]) == ["Cost"]


def test_an_import_that_creates_nothing_leaves_nothing(api: TestClient) -> None:
    r = upload(api, csv_file(row("Fresh", "Bad<Name"), row("", "x")))
    assert (r.status_code, r.json()["errorCode"]) == (409, "ATLAS-409-00-011")
    assert ok(api.get(G)) == []  # the glossary made for it is gone too


def test_an_xlsx_file(api: TestClient) -> None:
    data = xlsx([list(COLUMNS), ["Ops", "Uptime", "time up"], ["Ops", "Downtime", None, None, None, None, None, None,
                                                                None, None, None, None, None, None, None, None, None,
                                                                "Ops:Uptime"]])
    got = ok(upload(api, data, "terms.xlsx"))
    assert [i["childObjectName"] for i in got["successImportInfoList"]] == ["Uptime", "Downtime"]
    assert got["failedImportInfoList"] == []
    ops = glossary(api, "Ops")
    assert names(term(api, ops, "Downtime")["antonyms"]) == ["Uptime"]
    assert term(api, ops, "Uptime")["shortDescription"] == "time up"


@pytest.mark.parametrize(("name", "data", "status", "code"), [
    ("terms.txt", b"h,h\r\na,b\r\n", 400, "ATLAS-400-00-098"),
    ("terms.csv", b"GlossaryName,TermName\r\n", 400, "ATLAS-400-00-09B"),
    ("terms.xlsx", b"not a workbook", 400, "ATLAS-400-00-09C"),
    ("", b"h,h\r\na,b\r\n", 400, "ATLAS-400-00-098"),
])
def test_files_that_can_not_be_imported(api: TestClient, name: str, data: bytes, status: int, code: str) -> None:
    r = upload(api, data, name)
    assert (r.status_code, r.json()["errorCode"]) == (status, code), r.text
    assert ok(api.get(G)) == []


def test_requests_that_are_not_an_upload(api: TestClient) -> None:
    r = api.post(f"{G}/import", json={"file": "terms.csv"})
    assert (r.status_code, r.json()["errorCode"]) == (400, "ATLAS-400-00-029")
    r = api.post(f"{G}/import", files={"data": ("terms.csv", b"h,h\r\na,b\r\n", "text/csv")})
    assert (r.status_code, r.json()["errorCode"]) == (400, "ATLAS-400-00-029")
    assert "'file'" in r.json()["errorMessage"]
    body = b'--b\r\nContent-Disposition: form-data; name="file"\r\n\r\nh,h\r\nG,T\r\n--b--\r\n'
    r = api.post(f"{G}/import", content=body, headers={"content-type": "multipart/form-data; boundary=b"})
    assert r.json() == {"errorCode": "ATLAS-400-00-098", "errorMessage": "The provided file type: null is not "
                                                                         "supported. Expected file formats are .csv "
                                                                         "and .xls."}
