"""Atlas's error codes as the store raises them (``catalog.embedded.errors``): the code carries the HTTP status (but
for the members of HTTP_STATUS_APART_FROM_CODE), the message is Atlas's template with the parameters in place, and
no two members share a code and template."""

from __future__ import annotations

import pytest

from catalog.embedded.errors import HTTP_STATUS_APART_FROM_CODE, AtlasError, ErrorCode
from catalog.embedded.store import EmbeddedStore
from tests.embedded.official_client_helpers import T0, suffix


def test_invalid_propagation_type_is_atlas_400_00_091() -> None:
    """AtlasRelationshipStoreV2.validateRelationship: a relationship's propagateTags other than NONE, its type's,
    or (for a BOTH type) any."""
    e = AtlasError(ErrorCode.INVALID_PROPAGATION_TYPE, "BOTH", "dataset_process_inputs", "ONE_TO_TWO")
    assert e.http_status == 400
    assert e.body() == {"errorCode": "ATLAS-400-00-091", "errorMessage": "Invalid propagation BOTH for "
                        "relationship-type=dataset_process_inputs. Default value is ONE_TO_TWO"}


def test_codes_are_well_formed() -> None:
    aliases = [name for name, member in ErrorCode.__members__.items() if member.name != name]
    assert aliases == []  # a member with another's code and template would silently be that one
    for member in ErrorCode:
        code, template = member.value
        assert code.startswith("ATLAS-") and 100 <= member.http_status < 600, member
        assert template, member


def test_a_status_apart_from_the_code_comes_from_one_table() -> None:
    """AtlasErrorCode.FAILED_TO_OBTAIN_IMPORT_EXPORT_LOCK is (409, "ATLAS-500-00-006"): Atlas sends 409."""
    assert HTTP_STATUS_APART_FROM_CODE == {ErrorCode.FAILED_TO_OBTAIN_IMPORT_EXPORT_LOCK: 409}
    busy = AtlasError(ErrorCode.FAILED_TO_OBTAIN_IMPORT_EXPORT_LOCK)
    assert (busy.http_status, busy.body()) == (409, {
        "errorCode": "ATLAS-500-00-006", "errorMessage": "Another import or export is in progress. Please try again"})
    for member, status in HTTP_STATUS_APART_FROM_CODE.items():
        assert status != int(member.code.split("-")[1]), member  # an entry that agrees with its code is noise
    for member in set(ErrorCode) - set(HTTP_STATUS_APART_FROM_CODE):
        assert member.http_status == int(member.code.split("-")[1]), member


@pytest.mark.parametrize(("code", "params", "status", "body"), [
    (ErrorCode.INVALID_FILE_TYPE, ("terms.txt",), 400, (
        "ATLAS-400-00-098", "The provided file type: terms.txt is not supported. Expected file formats are .csv and "
        ".xls.")),
    (ErrorCode.NO_DATA_FOUND, (), 400, ("ATLAS-400-00-09B", "No data found in the uploaded file")),
    (ErrorCode.NOT_VALID_FILE, ("CSV",), 400, ("ATLAS-400-00-09C", "Invalid CSV file")),
    (ErrorCode.FILE_NAME_NOT_FOUND, (), 404, ("ATLAS-404-00-014", "File name should not be blank")),
    (ErrorCode.GLOSSARY_IMPORT_FAILED, (), 409, ("ATLAS-409-00-011", "Glossary import failed")),
    (ErrorCode.IMPORT_ATTEMPTING_EMPTY_ZIP, (), 400, ("ATLAS-400-00-08A", "Attempting to import empty ZIP file.")),
    (ErrorCode.IMPORT_INVALID_ZIP_ENTRY, ("g1.json", "missing"), 400, (
        "ATLAS-400-00-09F", "g1.json: invalid zip entry. Reason: missing")),
])
def test_file_and_import_codes_as_atlas_sends_them(code: ErrorCode, params: tuple[str, ...], status: int,
                                                   body: tuple[str, str]) -> None:
    e = AtlasError(code, *params)
    assert (e.http_status, e.body()) == (status, {"errorCode": body[0], "errorMessage": body[1]})


def test_the_store_refuses_a_propagation_its_type_does_not_allow(store: EmbeddedStore) -> None:
    uid = suffix()
    table = {"typeName": "hive_table", "attributes": {"qualifiedName": f"err_{uid}.t@cm", "name": "t"}}
    process = {"typeName": "hive_process", "attributes": {
        "qualifiedName": f"err_{uid}:p", "name": "p", "startTime": T0, "endTime": T0, "userName": "u",
        "operationType": "QUERY", "queryText": "q", "queryPlan": "p", "queryId": "q"}}
    created = store.create_or_update([table, process], None, "u")["mutatedEntities"]["CREATE"]
    guids = {h["typeName"]: h["guid"] for h in created}
    with pytest.raises(AtlasError) as refused:
        store.create_relationship({"typeName": "dataset_process_inputs", "end1": {"guid": guids["hive_process"]},
                                   "end2": {"guid": guids["hive_table"]}, "propagateTags": "BOTH"}, "u")
    assert refused.value.body() == {"errorCode": "ATLAS-400-00-091", "errorMessage": "Invalid propagation BOTH for "
                                    "relationship-type=dataset_process_inputs. Default value is TWO_TO_ONE"}
