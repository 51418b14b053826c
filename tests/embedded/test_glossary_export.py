"""``POST v2/glossary/search`` and glossary exports to a file (``download/create_file``, its alias ``create_file``,
``download/status``, ``download/{filename}``): ``catalog.embedded.glossary_search`` / ``glossary_export``.

Expected answers: Atlas's GlossaryREST with GlossarySearchBuilder and GlossaryExportDownloadTask: the search answers
the matching terms and categories, sorted and paged, grouped by glossary, with the count of all matches; an export
answers 204 at once and its file (a CSV with a byte order mark, or a workbook) appears later in the caller's list,
holding the rows the same filters select; another user never sees it; bad input is a 4xx in Atlas's error shape.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from catalog.embedded.glossary_import import COLUMNS
from catalog.embedded.routes import AtlasApi, Reply
from catalog.embedded.store import EmbeddedStore
from catalog.embedded.xlsx_rows import xlsx_rows
from tests.embedded.conftest import embedded_store, in_process_api, ok, settled

G = "/api/atlas/v2/glossary"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStore]:
    yield from embedded_store(tmp_path_factory.mktemp("glossary-export"))


@pytest.fixture(scope="module")
def guids(store: EmbeddedStore) -> dict[str, str]:
    """Two glossaries: finance (terms revenue, cost, a category ledger) and ops (term uptime)."""
    out: dict[str, str] = {}
    for client in in_process_api(store):
        for glossary in ("finance", "ops"):
            out[glossary] = ok(client.post(G, json={"name": glossary, "shortDescription": f"{glossary} words"}))["guid"]
        out["ledger"] = ok(client.post(G + "/category", json={
            "name": "ledger", "anchor": {"glossaryGuid": out["finance"]},
            "additionalAttributes": {"status": "DRAFT"}}))["guid"]
        for name, glossary, short in (("revenue", "finance", "money in"), ("cost", "finance", "money out"),
                                      ("uptime", "ops", "time up")):
            out[name] = ok(client.post(G + "/term", json={
                "name": name, "shortDescription": short, "anchor": {"glossaryGuid": out[glossary]},
                "examples": [f"{name} 1", f"{name} 2"], "additionalAttributes": {"owner": "ann"}}))["guid"]
        ok(client.put(f"{G}/term/{out['revenue']}", json={
            **ok(client.get(f"{G}/term/{out['revenue']}")),
            "categories": [{"categoryGuid": out["ledger"], "status": "DEPRECATED"}],
            "synonyms": [{"termGuid": out["cost"]}]}))
    return out


@pytest.fixture(scope="module")
def api(store: EmbeddedStore, guids: dict[str, str]) -> Iterator[TestClient]:
    yield from in_process_api(store)


def search(api: TestClient, body: Any = None) -> Any:
    return ok(api.post(G + "/search", json=body) if body is not None else api.post(G + "/search"))


def flat(result: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(glossary, TERM/CATEGORY, name, status) of every row answered, in order."""
    return [(g["name"], kind.upper()[:-1] if kind == "terms" else "CATEGORY", row["name"], row["status"])
            for g in result["glossary"] for kind in ("terms", "categories") for row in g[kind]]


# -- search ---------------------------------------------------------------------------------------------------
def test_a_search_without_filters_answers_every_term_and_category(api: TestClient) -> None:
    bodies: tuple[dict[str, Any] | None, ...] = (None, {})
    for body in bodies:
        result = search(api, body)
        assert result["approximateCount"] == 4
        assert [g["name"] for g in result["glossary"]] == ["finance", "ops"]
        finance = result["glossary"][0]
        assert (finance["shortDescription"], finance["status"]) == ("finance words", "ACTIVE")
        assert [t["name"] for t in finance["terms"]] == ["cost", "revenue"]
        assert [(c["name"], c["status"]) for c in finance["categories"]] == [("ledger", "DRAFT")]
        revenue = finance["terms"][1]
        # a term's status is its categorization's, its custom attributes its additional attributes
        assert (revenue["status"], revenue["customAttributes"], revenue["classifications"]) == (
            "DEPRECATED", {"owner": "ann"}, [])
        assert revenue["qualifiedName"] == "revenue@finance"


def test_filters_sort_and_page(api: TestClient, guids: dict[str, str]) -> None:
    assert flat(search(api, {"glossaryType": "TERM", "sortBy": "name", "sortOrder": "DESCENDING"})) == [
        ("ops", "TERM", "uptime", "ACTIVE"), ("finance", "TERM", "revenue", "DEPRECATED"),
        ("finance", "TERM", "cost", "ACTIVE")]
    assert flat(search(api, {"glossaryType": "CATEGORY"})) == [("finance", "CATEGORY", "ledger", "DRAFT")]
    assert flat(search(api, {"searchQuery": "MONEY"})) == [("finance", "TERM", "cost", "ACTIVE"),
                                                           ("finance", "TERM", "revenue", "DEPRECATED")]
    assert flat(search(api, {"status": "depr"})) == [("finance", "TERM", "revenue", "DEPRECATED")]
    assert flat(search(api, {"glossary": {"guid": guids["ops"]}})) == [("ops", "TERM", "uptime", "ACTIVE")]
    assert flat(search(api, {"glossary": {"name": "FIN"}, "glossaryType": "TERM"})) == [
        ("finance", "TERM", "cost", "ACTIVE"), ("finance", "TERM", "revenue", "DEPRECATED")]
    # a glossary's name matches the query unless the search is within one glossary
    assert search(api, {"searchQuery": "ops"})["approximateCount"] == 1
    assert search(api, {"searchQuery": "ops", "glossary": {"guid": guids["ops"]}})["approximateCount"] == 0
    # the page (ledger, revenue of cost, ledger, revenue, uptime) grouped: a glossary's terms, then its categories
    page = search(api, {"sortBy": "name", "limit": 2, "offset": 1})
    assert (page["approximateCount"], [n for _, _, n, _ in flat(page)]) == (4, ["revenue", "ledger"])
    assert search(api, {"offset": 10}) == {"glossary": [], "approximateCount": 4}


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"glossaryType": "GLOSSARY"}, 400, "ATLAS-400-00-029"),
    ({"limit": "many"}, 400, "ATLAS-400-00-029"),
    ({"sortOrder": "UP"}, 400, "ATLAS-400-00-029"),
    ([], 400, "ATLAS-400-00-029"),
    ({"glossary": {"guid": "no-such-glossary"}}, 404, "ATLAS-404-00-005"),
])
def test_a_bad_search_is_refused(api: TestClient, body: Any, status: int, code: str) -> None:
    r = api.post(G + "/search", json=body)
    assert (r.status_code, r.json()["errorCode"]) == (status, code), r.text


# -- exports --------------------------------------------------------------------------------------------------
def as_user(store: EmbeddedStore, user: str, method: str, path: str, body: Any = None) -> Reply:
    return AtlasApi(store).dispatch(method, "/v2/glossary" + path, b"", b"" if body is None else orjson.dumps(body),
                                    user)



def files(api: TestClient) -> set[str]:
    return {r["fileName"] for r in settled(lambda: ok(api.get(G + "/download/status")))}


def export(api: TestClient, body: Any, path: str = "/download/create_file") -> tuple[str, bytes]:
    before = files(api)
    assert ok(api.post(G + path, json=body), 204) is None
    (name,) = files(api) - before
    r = api.get(f"{G}/download/{name}")
    assert r.status_code == 200
    assert r.headers["content-disposition"] == f'attachment; filename="{name}"'
    return name, r.content


def csv_rows(content: bytes) -> list[list[str]]:
    assert content.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def test_an_audit_csv_holds_the_rows_the_search_finds(api: TestClient, guids: dict[str, str]) -> None:
    # the UI's request: a search body with a format (its page is ignored: every match is exported)
    name, content = export(api, {"glossaryType": "TERM", "limit": 1, "offset": 0, "format": "CSV",
                                 "sortBy": "glossaryName", "sortOrder": "DESCENDING"})
    assert name.startswith("admin_GLOSSARY_EXPORT_") and name.endswith(".csv")
    rows = csv_rows(content)
    assert rows[0] == ["Record Type", "Name", "Glossary Name", "Short Description", "Long Description", "Status",
                       "Classifications", "Custom Attributes", "Related Categories / Parent", "Qualified Name",
                       "GUID"]
    assert rows[1:] == [
        ["TERM", "uptime", "ops", "time up", "", "ACTIVE", "", "owner=ann", "", "uptime@ops", guids["uptime"]],
        ["TERM", "revenue", "finance", "money in", "", "DEPRECATED", "", "owner=ann", "ledger", "revenue@finance",
         guids["revenue"]],
        ["TERM", "cost", "finance", "money out", "", "ACTIVE", "", "owner=ann", "", "cost@finance", guids["cost"]]]
    found = flat(search(api, {"glossaryType": "TERM", "sortBy": "glossaryName", "sortOrder": "DESCENDING"}))
    assert {(r[2], r[0], r[1], r[5]) for r in rows[1:]} == set(found)


def test_an_import_compatible_workbook(api: TestClient, guids: dict[str, str]) -> None:
    name, content = export(api, {"exportParameters": {"format": "XLSX", "mode": "IMPORT_COMPATIBLE",
                                                      "glossaryGuid": guids["finance"]}}, "/create_file")
    assert name.endswith(".xlsx")
    rows = xlsx_rows(content)  # the header row skipped, as Atlas's import reads a workbook
    synonyms = COLUMNS.index("Synonyms")
    assert [r[:5] for r in rows] == [["finance", "cost", "money out", "", "cost 1|cost 2"],
                                     ["finance", "revenue", "money in", "", "revenue 1|revenue 2"]]
    assert rows[1][synonyms] == "cost:ACTIVE"
    assert all(len(r) <= len(COLUMNS) for r in rows)


def test_exports_are_the_owners_alone(api: TestClient, store: EmbeddedStore) -> None:
    admin_file, _ = export(api, {"format": "CSV", "recordType": "CATEGORY"})
    assert as_user(store, "bob", "GET", f"/download/{admin_file}").status == 204
    assert as_user(store, "bob", "GET", "/download/status").content == {"searchDownloadRecords": []}
    assert as_user(store, "bob", "POST", "/create_file", {"format": "CSV"}).status == 204
    (record,) = settled(lambda: as_user(store, "bob", "GET", "/download/status").content)
    assert (record["status"], record["createdBy"]) == ("COMPLETE", "bob")
    assert record["fileName"] not in files(api)
    assert api.get(f"{G}/download/{record['fileName']}").status_code == 204
    reply = as_user(store, "bob", "GET", f"/download/{record['fileName']}")
    assert reply.status == 200 and len(csv_rows(reply.body())) == 5


@pytest.mark.parametrize(("body", "message"), [
    ({}, "Export format (CSV or XLSX) is required"),
    ({"exportParameters": {"mode": "AUDIT"}}, "Export format (CSV or XLSX) is required"),
    ({"format": "PDF", "mode": "AUDIT"}, "GlossaryExportParameters.format"),
    ({"exportParameters": {"format": "CSV", "exportTimestamp": "../../x"}}, "exportTimestamp"),
    ({"exportParameters": {"format": "CSV", "recordType": "GLOSSARY"}}, "GlossaryExportParameters.recordType"),
    ({"format": "CSV", "glossaryType": "X"}, "GlossarySearchParameters.glossaryType"),
    ("CSV", "body must be"),
])
def test_a_bad_export_request_is_refused(api: TestClient, body: Any, message: str) -> None:
    before = files(api)
    r = api.post(G + "/download/create_file", json=body)
    assert (r.status_code, r.json()["errorCode"]) == (400, "ATLAS-400-00-029"), r.text
    assert message in r.json()["errorMessage"]
    assert files(api) == before


def test_an_export_of_an_unknown_glossary_is_not_found(api: TestClient) -> None:
    r = api.post(G + "/create_file", json={"exportParameters": {"format": "CSV", "glossaryGuid": "nope"}})
    assert (r.status_code, r.json()["errorCode"]) == (404, "ATLAS-404-00-005")


@pytest.mark.parametrize("name", ["..admin_GLOSSARY_EXPORT_x.csv", "admin_GLOSSARY_EXPORT_x.pdf", "admin_BASIC_x.csv",
                                  "admin_GLOSSARY_EXPORT_..csv"])
def test_a_file_name_that_is_not_an_export_is_refused(api: TestClient, name: str) -> None:
    r = api.get(f"{G}/download/{name}")
    assert r.status_code == 400
    assert r.json() == {"errorCode": "ATLAS-400-00-029", "errorMessage": "Invalid download file name"}


def test_an_export_that_does_not_exist_is_no_content(api: TestClient) -> None:
    assert ok(api.get(G + "/download/admin_GLOSSARY_EXPORT_2020-01-01_00-00-00.csv"), 204) is None
