"""Atlas's error codes as the store raises them (``catalog.embedded.errors``): the code carries the HTTP status, the
message is Atlas's template with the parameters in place, and no two members share a code and template."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.store import EmbeddedStore
from tests.embedded.official_client_helpers import T0, suffix
from typedefs import load_bundled_typedefs


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


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EmbeddedStore]:
    s = EmbeddedStore(tmp_path / "store", load_bundled_typedefs())
    yield s
    s.close()


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
