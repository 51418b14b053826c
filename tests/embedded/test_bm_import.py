"""Business metadata import (``catalog.embedded.bm_import``): ``GET v2/entity/businessmetadata/import/template`` and
the upload ``POST v2/entity/businessmetadata/import`` as Atlas's UI sends it (multipart, field ``file``), over the
in-process HTTP client.

Expected behaviour: Atlas's ``EntityREST.produceTemplate`` (``FileUtils.getBusinessMetadataHeaders``, downloaded as
``template_business_metadata``) and ``AtlasEntityStoreV2.bulkCreateOrUpdateBusinessAttributes``: each row's entity
found by type and unique attribute, its rows applied as one update, ``Line #n`` failures for rows that can not be.
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

from tests.embedded.conftest import fresh_api, ok
from tests.embedded.xlsx_fixture import xlsx

IMPORT = "/api/atlas/v2/entity/businessmetadata/import"
HEADER = ["EntityType", "EntityUniqueAttributeValue", "BusinessAttributeName", "BusinessAttributeValue",
          "EntityUniqueAttributeName[optional]"]


@pytest.fixture
def api(tmp_path: Path) -> Iterator[TestClient]:
    yield from fresh_api(tmp_path)  # a store per test


def attr(name: str, type_name: str, applies_to: str, **options: str) -> dict[str, Any]:
    return {"name": name, "typeName": type_name, "isOptional": True,
            "options": {"applicableEntityTypes": json.dumps([applies_to]), **options}}


@pytest.fixture
def guids(api: TestClient) -> dict[str, str]:
    """Business metadata Quality (of DataSets) and Ops (of Processes); DataSets one, two, gone (deleted); a job."""
    ok(api.post("/api/atlas/v2/types/typedefs", json={"businessMetadataDefs": [
        {"name": "Quality", "attributeDefs": [attr("score", "int", "DataSet"),
                                              attr("owner", "string", "DataSet", maxStrLength="10"),
                                              attr("tags", "array<string>", "DataSet", maxStrLength="5"),
                                              attr("levels", "array<int>", "DataSet")]},
        {"name": "Ops", "attributeDefs": [attr("team", "string", "Process", maxStrLength="10")]}]}))
    made = ok(api.post("/api/atlas/v2/entity/bulk", json={"entities": [
        {"typeName": t, "guid": f"-{i}", "attributes": {"qualifiedName": f"{n}@test", "name": n}}
        for i, (t, n) in enumerate((("DataSet", "one"), ("DataSet", "two"), ("DataSet", "gone"),
                                    ("Process", "job")), 1)]}))["guidAssignments"]
    out = {n: made[f"-{i}"] for i, n in enumerate(("one", "two", "gone", "job"), 1)}
    ok(api.delete(f"/api/atlas/v2/entity/guid/{out['gone']}"))
    return out


def csv_file(*rows: list[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows([HEADER, *rows])
    return out.getvalue().encode()


def upload(api: TestClient, data: bytes, name: str | None = "bm.csv") -> Any:
    return api.post(IMPORT, files={"file": (name, data, "text/csv")})


def business(api: TestClient, guid: str) -> Any:
    return ok(api.get(f"/api/atlas/v2/entity/guid/{guid}"))["entity"].get("businessAttributes")


def test_the_template_is_a_download_of_the_header_line(api: TestClient) -> None:
    r = api.get(IMPORT + "/template")
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-disposition"] == 'attachment; filename="template_business_metadata"'
    assert r.text == ",".join(HEADER)


def test_import_sets_business_attributes(api: TestClient, guids: dict[str, str]) -> None:
    one, two, job = guids["one"], guids["two"], guids["job"]
    got = ok(upload(api, csv_file(
        ["DataSet", "one@test", "Quality.score", "7"],
        ["DataSet", "one@test", "Quality.owner", "ann"],
        ["DataSet", "two@test", "Quality.tags", "a|b", "qualifiedName"],
        ["DataSet", "two@test", "Quality.levels", "1|x|3"],
        ["DataSet", "one@test"],
        ["NoType", "x", "Quality.score", "1"],
        ["DataSet", "one@test", "Quality.score", "1", "nosuch"],
        ["DataSet", "one", "Quality.score", "1", "name"],
        ["DataSet", "missing@test", "Quality.score", "1"],
        ["DataSet", "one@test", "Ops.team", "x"],
        ["DataSet", "one@test", "Quality", "1"],
        ["DataSet", "gone@test", "Quality.score", "1"],
        ["Asset", "one@test", "Quality.score", "1"],
        ["Process", "job@test", "Ops.team", "far too long a name"])))
    assert [(i["parentObjectName"], i["childObjectName"], i["importStatus"], i["remarks"])
            for i in got["successImportInfoList"]] == [
        (one, "{Quality={score=7, owner=ann}}", "SUCCESS", ""),
        (two, "{Quality={tags=[a, b], levels=[1, 3]}}", "SUCCESS", "")]
    failed = got["failedImportInfoList"]
    assert [i["remarks"] for i in failed[:-1]] == [
        "Provided value x is not of int type at line #5",
        "Line #6: missing fields. [DataSet, one@test]",
        "Line #7: invalid entity-type 'NoType'",
        "Line #8: attribute 'nosuch' not found in entity-type 'DataSet'",
        "Line #9: attribute 'name' is not an unique attribute in entity-type 'DataSet'",
        "Line #10: no DataSet entity found with qualifiedName=missing@test",
        "Line #11: invalid business-metadata 'Ops.team' for entity type 'DataSet'",
        "Line #12: invalid business-metadata 'Quality' for entity type 'DataSet'",
        "Line #13: no DataSet entity found with qualifiedName=gone@test",
        "Line #14: no Asset entity found with qualifiedName=one@test"]
    assert {(i["parentObjectName"], i["childObjectName"], i["importStatus"]) for i in failed[:-1]} == {
        ("", "", "FAILED")}
    last = failed[-1]
    assert (last["parentObjectName"], last["childObjectName"]) == (job, "{Ops={team=far too long a name}}")
    assert last["remarks"].startswith("Invalid instance creation/updation parameters passed : ")
    assert "exceeds maximum length" in last["remarks"]
    assert business(api, one) == {"Quality": {"score": 7, "owner": "ann"}}
    assert business(api, two) == {"Quality": {"tags": ["a", "b"], "levels": [1, 3]}}
    assert business(api, job) is None
    [event] = ok(api.get(f"/api/atlas/v2/entity/{one}/audit", params={"auditAction": "BUSINESS_ATTRIBUTE_UPDATE"}))
    assert json.loads(event["details"].split(": ", 1)[1]) == {"typeName": "Quality",
                                                              "attributes": {"score": 7, "owner": "ann"}}


def test_values_already_set_are_kept(api: TestClient, guids: dict[str, str]) -> None:
    one = guids["one"]
    ok(api.post(f"/api/atlas/v2/entity/guid/{one}/businessmetadata", json={"Quality": {"owner": "bob"}}), 204)
    got = ok(upload(api, csv_file(["DataSet", "one@test", "Quality.score", "9"]), "bm.CSV"))
    assert got["successImportInfoList"][0]["childObjectName"] == "{Quality={owner=bob, score=9}}"
    assert business(api, one) == {"Quality": {"owner": "bob", "score": 9}}


def test_an_xlsx_file(api: TestClient, guids: dict[str, str]) -> None:
    data = xlsx([[*HEADER], ["DataSet", "two@test", "Quality.score", 12]])
    got = ok(upload(api, data, "bm.xlsx"))
    assert got["failedImportInfoList"] == [] and len(got["successImportInfoList"]) == 1
    assert business(api, guids["two"]) == {"Quality": {"score": 12}}


def test_rows_that_all_fail_answer_their_failures(api: TestClient, guids: dict[str, str]) -> None:
    got = ok(upload(api, csv_file(["DataSet", "one@test", "Quality.score", "not a number"])))
    assert got["successImportInfoList"] == []
    [failure] = got["failedImportInfoList"]
    assert failure["parentObjectName"] == guids["one"] and "Quality.score" in failure["remarks"]
    assert business(api, guids["one"]) is None


@pytest.mark.parametrize(("name", "data", "status", "code"), [
    ("", b"h,h\r\na,b\r\n", 404, "ATLAS-404-00-014"),
    (None, b"h,h\r\na,b\r\n", 404, "ATLAS-404-00-014"),
    ("bm.json", b"h,h\r\na,b\r\n", 400, "ATLAS-400-00-098"),
    ("bm.csv", ",".join(HEADER).encode(), 400, "ATLAS-400-00-09B"),
])
def test_files_that_can_not_be_imported(api: TestClient, name: str | None, data: bytes, status: int,
                                        code: str) -> None:
    if name is None:  # a file part without a file name
        body = b'--b\r\nContent-Disposition: form-data; name="file"\r\n\r\n' + data + b"\r\n--b--\r\n"
        r = api.post(IMPORT, content=body, headers={"content-type": "multipart/form-data; boundary=b"})
    else:
        r = upload(api, data, name)
    assert (r.status_code, r.json()["errorCode"]) == (status, code), r.text


def test_a_body_that_is_not_an_upload(api: TestClient) -> None:
    r = api.post(IMPORT, json=[["DataSet", "one@test", "Quality.score", "1"]])
    assert (r.status_code, r.json()["errorCode"]) == (400, "ATLAS-400-00-029")
