"""The helpers the glossary writes share (``catalog.embedded.glossary_read``), on the store itself.

``unlink`` removes a relationship for good, as Atlas's ``relationshipStore.deleteById(guid, forceDelete=true)``
does; a term assignment propagates a term's classifications to the entity (ONE_TO_TWO), so removing one takes back
what it alone carried (``DeleteHandlerV1.removeTagPropagation(edge)``, ``propagation.relationship_purged``), from the
entity and from what the entity's lineage passes it on to.
"""

from __future__ import annotations

from typing import Any

import pytest

from catalog.embedded import audit, glossary, glossary_terms
from catalog.embedded import glossary_read as gr
from catalog.embedded.store import EmbeddedStore
from tests.embedded.official_client_helpers import T0, suffix


@pytest.fixture(scope="module")
def store(store: EmbeddedStore) -> EmbeddedStore:
    """conftest's, with a classification type."""
    store.typedefs.create({"classificationDefs": [{"name": "Sensitive", "attributeDefs": []}]}, "admin")
    return store


def _chain(store: EmbeddedStore) -> dict[str, str]:
    """Tables A -> hive_process P -> B."""
    uid = suffix()

    def table(guid: str, name: str) -> dict[str, Any]:
        return {"typeName": "hive_table", "guid": guid, "attributes": {"qualifiedName": f"gr_{uid}.{name}@cm",
                                                                       "name": name}}

    process = {"typeName": "hive_process", "guid": "-3", "attributes": {
        "qualifiedName": f"gr_{uid}:p", "name": "p", "startTime": T0, "endTime": T0, "userName": "u",
        "operationType": "QUERY", "queryText": "q", "queryPlan": "p", "queryId": "q",
        "inputs": [{"guid": "-1"}], "outputs": [{"guid": "-2"}]}}
    ga = store.create_or_update([table("-1", "a"), table("-2", "b"), process], None, "u")["guidAssignments"]
    return {"A": ga["-1"], "B": ga["-2"], "P": ga["-3"]}


def _tags(store: EmbeddedStore, guid: str) -> set[tuple[str, str]]:
    return {(c["typeName"], c["entityGuid"]) for c in store.get_classifications(guid)["list"]}


def _tagged_term(store: EmbeddedStore) -> str:
    g = glossary.create(store, {"name": f"g_{suffix()}"}, "u")
    t = glossary_terms.create(store, {"name": "customer", "anchor": {"glossaryGuid": g["guid"]}}, "u")
    store.add_classifications(t["guid"], [{"typeName": "Sensitive"}], "u")
    return str(t["guid"])


def _assignment(store: EmbeddedStore, term: str, entity: str) -> str:
    row = store.db.reader().execute("SELECT guid FROM relationship WHERE type_name = ? AND end1 = ? AND end2 = ? "
                                    "AND status = 'ACTIVE'", (gr.TERM_ASSIGNMENT, term, entity)).fetchone()
    return str(row[0])


def test_unlinking_a_term_assignment_takes_back_what_it_propagated(store: EmbeddedStore) -> None:
    c = _chain(store)
    term = _tagged_term(store)
    glossary_terms.assign(store, term, [{"guid": c["A"]}], "u")
    for k in ("A", "P", "B"):
        assert _tags(store, c[k]) == {("Sensitive", term)}, k
    with store.db.write() as conn:
        gr.unlink(conn, _assignment(store, term, c["A"]), store.registry)
    for k in ("A", "P", "B"):
        assert _tags(store, c[k]) == set(), k
    assert _tags(store, term) == {("Sensitive", term)}  # the term keeps its own
    taken_back = audit.events(store.db.reader(), c["B"], action="PROPAGATED_CLASSIFICATION_DELETE")
    assert [e["details"] for e in taken_back] == ["Deleted propagated classification: Sensitive"]


def test_what_another_assignment_carries_stays(store: EmbeddedStore) -> None:
    """Assigned to A and to B (downstream of A): unlinking A's assignment leaves B its propagation, which now
    comes only through B's own assignment, and takes it off P, which only A's reached."""
    c = _chain(store)
    term = _tagged_term(store)
    glossary_terms.assign(store, term, [{"guid": c["A"]}, {"guid": c["B"]}], "u")
    with store.db.write() as conn:
        gr.unlink(conn, _assignment(store, term, c["A"]), store.registry)
    assert _tags(store, c["B"]) == {("Sensitive", term)}
    assert _tags(store, c["A"]) == _tags(store, c["P"]) == set()


def test_unlinking_a_relationship_that_carries_nothing(store: EmbeddedStore) -> None:
    c = _chain(store)
    term = _tagged_term(store)
    anchor = store.db.reader().execute("SELECT guid FROM relationship WHERE type_name = ? AND end2 = ?",
                                       (gr.TERM_ANCHOR, term)).fetchone()[0]
    with store.db.write() as conn:
        gr.unlink(conn, anchor, store.registry)
        gr.unlink(conn, None, store.registry)
    assert store.db.reader().execute("SELECT COUNT(*) FROM relationship WHERE guid = ?", (anchor,)).fetchone() == (0,)
    assert _tags(store, c["A"]) == set()


def test_dissociating_a_term_takes_back_its_propagations(store: EmbeddedStore) -> None:
    """``DELETE glossary/terms/{guid}/assignedEntities`` (GlossaryService.removeTermFromEntities)."""
    c = _chain(store)
    term = _tagged_term(store)
    glossary_terms.assign(store, term, [{"guid": c["A"]}], "u")
    glossary_terms.dissociate(store, term, [{"guid": c["A"], "relationshipGuid": _assignment(store, term, c["A"])}],
                              "u")
    for k in ("A", "P", "B"):
        assert _tags(store, c[k]) == set(), k
