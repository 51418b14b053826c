"""Atlas's hook notifications applied to the embedded store: the envelope (plain, unwrapped, gzip-compressed, split),
each message type (V2 and V1), shell entities, a Hive session as the HiveServer2 hook sends it, idempotent replay,
 one bad message failing alone; then the same over real HTTP through ``POST
/api/atlas/v2/notification/topic/ATLAS_HOOK``."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from catalog.embedded import metrics
from catalog.embedded.errors import AtlasError
from catalog.embedded.hook_consumer import APPLIED, FAILED, PENDING, SKIPPED, HookConsumer, Outcome
from catalog.embedded.hook_envelope import SplitBuffer
from catalog.embedded.hook_shells import is_shell
from catalog.embedded.hook_v1 import JSON_CLASS_ID, JSON_CLASS_REFERENCE
from catalog.embedded.store import EmbeddedStore
from tests.conftest import ATLAS_PASSWORD, ATLAS_USER, RunningAtlas, start_atlas
from tests.embedded.conftest import embedded_store
from tests.embedded.hook_helpers import (
    CLUSTER,
    CTAS_INPUT,
    CTAS_OUTPUT,
    CTAS_PROCESS,
    DB_DDL_AT,
    ORDERS,
    ORDERS_COLUMN_GUIDS,
    ORDERS_PROCESS,
    ORDERS_TABLE_GUID,
    ORDERS_V2,
    SENT_AT,
    USER,
    assert_renamed_hive_table,
    create_db,
    create_table,
    create_v2,
    ctas,
    db_notification,
    drop_tables_and_db,
    envelope,
    hive_process,
    hive_session,
    lineage_edges,
    managed_table,
    notification_messages,
    related,
    wire,
)

AUTH = (ATLAS_USER, ATLAS_PASSWORD)
HOOK_TOPIC = "/api/atlas/v2/notification/topic/ATLAS_HOOK"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EmbeddedStore]:
    yield from embedded_store(tmp_path)


@pytest.fixture
def consumer(store: EmbeddedStore) -> HookConsumer:
    return HookConsumer(store)


def applied(outcome: Outcome) -> Outcome:
    assert outcome.status == APPLIED, (outcome.status, outcome.error)
    return outcome


def failed(outcome: Outcome, code: str, *fragments: str) -> AtlasError:
    assert outcome.status == FAILED and outcome.error is not None, outcome
    assert outcome.error.code.code == code, outcome.error
    for fragment in fragments:
        assert fragment in outcome.error.message, outcome.error.message
    return outcome.error


def get(store: EmbeddedStore, type_name: str, qualified_name: str) -> dict[str, Any]:
    return store.get_by_unique(type_name, {"qualifiedName": qualified_name})


def entity(store: EmbeddedStore, type_name: str, qualified_name: str) -> dict[str, Any]:
    found: dict[str, Any] = get(store, type_name, qualified_name)["entity"]
    return found


def tables(store: EmbeddedStore) -> dict[str, list[tuple[Any, ...]]]:
    conn = store.db.reader()
    return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
            for t in ("entity", "relationship", "classification", "uattr", "entity_audit")}


def shells(store: EmbeddedStore) -> dict[str, int]:
    return dict(metrics.metrics(store)["data"]["entity"]["entityShell"])


# ---------------------------------------------------------------------------------------------------------------
# the envelope
# ---------------------------------------------------------------------------------------------------------------
def test_a_whole_notification_message_creates_its_entity(consumer: HookConsumer, store: EmbeddedStore) -> None:
    outcome = applied(consumer.consume(db_notification("create", name="finance", cluster="dr", ts=1717500000000)))
    assert outcome.type == "ENTITY_CREATE_V2" and outcome.user == "hive"
    assert outcome.envelope is not None and outcome.envelope.created_by == "hive"
    assert outcome.envelope.source_ip == "192.0.2.41" and outcome.envelope.creation_time == 1717500000000
    db = entity(store, "hive_db", "finance@dr")
    assert db["guid"] in outcome.created and db["createdBy"] == "hive"  # the message's user, not the caller
    assert db["attributes"]["location"] == "/warehouse/finance.db"
    ddl = db_notification("create-ddl", name="finance", cluster="dr", ts=1717500000001, exec_time=1717500000002)
    applied(consumer.consume(ddl.encode()))  # bytes, as a Kafka record holds them
    assert related(entity(store, "hive_db", "finance@dr"), "ddlQueries") == {
        entity(store, "hive_db_ddl", "finance@dr:1717500000002")["guid"]}
    delete = applied(consumer.consume(db_notification("delete", name="finance", cluster="dr", ts=1)))
    assert db["guid"] in delete.deleted and entity(store, "hive_db", "finance@dr")["status"] == "DELETED"


def test_a_notification_not_wrapped_in_an_envelope_is_read(consumer: HookConsumer, store: EmbeddedStore) -> None:
    outcome = applied(consumer.consume(json.dumps(create_db())))
    assert outcome.envelope is None and len(outcome.created) == 3
    assert entity(store, "hive_db", f"sales@{CLUSTER}")["attributes"]["owner"] == USER


def test_a_compressed_message_is_inflated(consumer: HookConsumer, store: EmbeddedStore) -> None:
    [message] = notification_messages(create_db(), max_length=1500)
    assert json.loads(message)["msgCompressionKind"] == "GZIP"
    applied(consumer.consume(message))
    assert entity(store, "hive_db", f"sales@{CLUSTER}")["status"] == "ACTIVE"


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "uncompressed"])
def test_a_split_message_is_applied_when_its_last_part_arrives(consumer: HookConsumer, store: EmbeddedStore,
                                                              compress: bool) -> None:
    parts = notification_messages(create_db(), max_length=300, compress=compress)
    assert len(parts) > 2 and json.loads(parts[0])["msgSplitCount"] == len(parts)
    for part in parts[:-1]:
        assert consumer.consume(part).status == PENDING
    assert consumer.splits.pending == {"msg-1": len(parts) - 1}
    with pytest.raises(AtlasError):
        get(store, "hive_db", f"sales@{CLUSTER}")
    outcome = applied(consumer.consume(parts[-1]))
    assert len(outcome.created) == 3 and consumer.splits.pending == {}
    assert entity(store, "hive_db", f"sales@{CLUSTER}")["attributes"]["name"] == "sales"


def test_other_messages_are_applied_between_the_parts_of_a_split_one(consumer: HookConsumer,
                                                                     store: EmbeddedStore) -> None:
    parts = notification_messages(create_table(), max_length=2000, compress=False, msg_id="big")
    assert len(parts) > 2
    assert consumer.consume(parts[0]).status == PENDING
    applied(consumer.consume(wire(create_db())))
    for part in parts[1:-1]:
        assert consumer.consume(part).status == PENDING
    applied(consumer.consume(parts[-1]))
    db = entity(store, "hive_db", f"sales@{CLUSTER}")
    assert related(entity(store, "hive_table", ORDERS), "db") == {db["guid"]}


def test_unusable_parts_of_split_messages_fail_clearly(store: EmbeddedStore) -> None:
    now = [0]
    consumer = HookConsumer(store, splits=SplitBuffer(clock=lambda: now[0], wait_ms=1000))
    parts = notification_messages(create_db(), max_length=300)
    failed(consumer.consume(parts[1]), "ATLAS-400-00-029", "part 2 of", "its first part did not arrive")
    consumer.consume(parts[0])
    failed(consumer.consume(parts[-1]), "ATLAS-400-00-029", "part 2 of", "is missing")
    consumer.consume(parts[0])
    now[0] = 1000  # Atlas drops a message whose parts did not all arrive in time
    failed(consumer.consume(parts[1]), "ATLAS-400-00-029", "its first part did not arrive")
    no_id = json.loads(parts[0])
    del no_id["msgId"]
    failed(consumer.consume(json.dumps(no_id)), "ATLAS-400-00-029", "no msgId")
    assert tables(store)["entity"] == []


def test_a_newer_message_version_is_refused(consumer: HookConsumer) -> None:
    message = wire(create_db(), version={"version": "2.0.0", "versionParts": [2]})
    failed(consumer.consume(message), "ATLAS-400-00-029", "version mismatch", "2.0.0")
    applied(consumer.consume(wire(create_db(), version={"version": "1.0", "versionParts": [1]})))


# ---------------------------------------------------------------------------------------------------------------
# the message types
# ---------------------------------------------------------------------------------------------------------------
def test_a_replayed_hive_session_gives_atlas_entities(consumer: HookConsumer, store: EmbeddedStore) -> None:
    session = hive_session()
    created_db, created_table, *rename = [applied(consumer.consume(wire(m))) for m in session]
    assert [o.type for o in rename] == ["ENTITY_PARTIAL_UPDATE_V2"] * 4 + ["ENTITY_FULL_UPDATE_V2",
                                                                          "ENTITY_CREATE_V2"]
    # the database, its DDL and location; the table, its storage, 2 columns, location, process, execution and DDL
    assert len(created_db.created) == 3 and len(created_table.created) == 8
    table = assert_renamed_hive_table(lambda t, qn: get(store, t, qn), lambda g, d: store.lineage(g, d, 3))
    assert table["guid"] == created_table.guid_assignments[ORDERS_TABLE_GUID]  # renamed, not re-created
    column = entity(store, "hive_column", f"sales.orders_v2.order_id@{CLUSTER}")
    assert column["guid"] == created_table.guid_assignments[ORDERS_COLUMN_GUIDS[0]]
    with pytest.raises(AtlasError, match="ATLAS-404-00-009"):
        get(store, "hive_table", ORDERS)

    drops = [applied(consumer.consume(wire(m))) for m in drop_tables_and_db()]
    assert table["guid"] in drops[0].deleted and column["guid"] in drops[0].deleted  # owned columns go with it
    assert drops[1].deleted == drops[2].deleted == ()  # tables the store never had: already gone
    db = entity(store, "hive_db", f"sales@{CLUSTER}")
    assert db["status"] == "DELETED" and db["guid"] in drops[3].deleted
    assert entity(store, "hive_db_ddl", f"sales@{CLUSTER}:{DB_DDL_AT}")["status"] == "DELETED"
    assert entity(store, "hive_storagedesc", f"{ORDERS_V2}_storage")["status"] == "DELETED"
    process = entity(store, "hive_process", ORDERS_PROCESS)
    assert process["status"] == "DELETED" and process["guid"] in drops[0].deleted  # the table was its only output
    assert (ORDERS_PROCESS, ORDERS_V2) in lineage_edges(
        store.lineage(process["guid"], "OUTPUT", 3))  # Atlas's lineage keeps deleted entities


def test_a_message_delivered_again_changes_nothing(consumer: HookConsumer, store: EmbeddedStore) -> None:
    # a source delivers at least once: after a restart it hands over again what it had not committed
    for message in [wire(m) for m in hive_session()]:
        first = applied(consumer.consume(message))
        before = tables(store)
        again = consumer.consume(message)
        assert tables(store) == before, first.type  # no entity, relationship or audit event written twice
        if first.type == "ENTITY_PARTIAL_UPDATE_V2":  # a rename: the old name is gone, as in Atlas (non-retryable)
            failed(again, "ATLAS-404-00-009")
        else:
            assert again.status == APPLIED and again.created == again.updated == again.shells == ()


def test_a_bad_message_fails_alone_and_the_rest_of_the_batch_goes_on(consumer: HookConsumer,
                                                                    store: EmbeddedStore) -> None:
    unknown_type = copy.deepcopy(ctas())
    unknown_type["entities"]["entities"][1]["typeName"] = "hive_nope"
    outcomes = consumer.consume_all([wire(create_db()), wire(unknown_type), "{not json",
                                     wire(create_table())])
    assert [o.status for o in outcomes] == [APPLIED, FAILED, FAILED, APPLIED]
    failed(outcomes[1], "ATLAS-400-00-014", "hive_nope")
    failed(outcomes[2], "ATLAS-400-00-029", "not JSON")
    assert outcomes[1].type == "ENTITY_CREATE_V2" and outcomes[2].type is None
    with pytest.raises(AtlasError):  # the failed message wrote nothing, not even its shells
        get(store, "hive_table", CTAS_INPUT)
    assert shells(store) == {}
    assert entity(store, "hive_table", ORDERS)["status"] == "ACTIVE"


def test_partial_update_and_delete_name_entities_as_atlas_does(consumer: HookConsumer, store: EmbeddedStore) -> None:
    consumer.consume_all([wire(create_db()), wire(create_table())])
    partial = {"type": "ENTITY_PARTIAL_UPDATE_V2", "user": "etl",
               "entityId": {"typeName": "DataSet", "uniqueAttributes": {"qualifiedName": ORDERS}},
               "entity": {"entity": {"typeName": "hive_table", "attributes": {"comment": "one row per order"}}}}
    table_guid = applied(consumer.consume(wire(partial))).partially_updated[0]
    table = entity(store, "hive_table", ORDERS)
    assert table["guid"] == table_guid and table["attributes"]["comment"] == "one row per order"
    assert table["updatedBy"] == "etl" and table["attributes"]["name"] == "orders"  # the rest as it was
    by_guid = {**partial, "entityId": {"guid": table_guid},
               "entity": {"entity": {"typeName": "hive_table", "attributes": {"retention": 7}}}}
    applied(consumer.consume(wire(by_guid)))
    assert entity(store, "hive_table", ORDERS)["attributes"]["retention"] == 7
    unknown = {**partial, "entityId": {"typeName": "hive_table", "uniqueAttributes": {"qualifiedName": f"x@{CLUSTER}"}}}
    failed(consumer.consume(wire(unknown)), "ATLAS-404-00-009", "hive_table")
    failed(consumer.consume(wire({**partial, "entityId": {"typeName": "nope", "uniqueAttributes": {"a": 1}}})),
           "ATLAS-400-00-00A")
    failed(consumer.consume(wire({**partial, "entity": None})), "ATLAS-400-00-01A", "null entity-id/entity")
    delete = {"type": "ENTITY_DELETE_V2", "user": "etl", "entities": [
        {"typeName": "DataSet", "uniqueAttributes": {"qualifiedName": ORDERS}}]}
    assert applied(consumer.consume(wire(delete))).deleted[0] == table_guid
    failed(consumer.consume(wire({**delete, "entities": [{"typeName": "nope", "uniqueAttributes": {}}]})),
           "ATLAS-404-00-001")
    assert consumer.consume(wire(create_v2({"entities": []}))).status == SKIPPED  # Atlas's isEmptyMessage
    failed(consumer.consume(wire({"type": "TYPE_CREATE", "user": "x"})), "ATLAS-400-00-029", "not applied")
    failed(consumer.consume(wire({"type": "ENTITY_SHOUT_V2"})), "ATLAS-400-00-029", "unknown type")


def v1_reference(guid: str, type_name: str, values: dict[str, Any]) -> dict[str, Any]:
    return {"jsonClass": JSON_CLASS_REFERENCE, "typeName": type_name, "values": values, "traitNames": [],
            "traits": {}, "id": {"jsonClass": JSON_CLASS_ID, "id": guid, "version": 0, "typeName": type_name,
                                 "state": "ACTIVE"}}


def test_v1_messages_are_converted_as_atlas_converts_them(consumer: HookConsumer, store: EmbeddedStore) -> None:
    db = v1_reference("-1", "hive_db", {"qualifiedName": "legacy@cm", "name": "legacy", "clusterName": "cm"})
    table = v1_reference("-2", "hive_table", {"qualifiedName": "legacy.t@cm", "name": "t", "db": db})
    created = applied(consumer.consume(wire({"type": "ENTITY_CREATE", "user": "old-hook", "entities": [table]})))
    assert len(created.created) == 2  # the nested database is a referred entity
    t = entity(store, "hive_table", "legacy.t@cm")
    assert related(t, "db") == {entity(store, "hive_db", "legacy@cm")["guid"]} and t["createdBy"] == "old-hook"
    db_id = {"jsonClass": JSON_CLASS_ID, "id": entity(store, "hive_db", "legacy@cm")["guid"], "typeName": "hive_db"}
    partial = {"type": "ENTITY_PARTIAL_UPDATE", "user": "old-hook", "typeName": "hive_table",
               "attribute": "qualifiedName", "attributeValue": "legacy.t@cm",
               "entity": v1_reference("-3", "hive_table", {"comment": "from v1", "db": db_id})}
    applied(consumer.consume(wire(partial)))
    assert entity(store, "hive_table", "legacy.t@cm")["attributes"]["comment"] == "from v1"
    delete = {"type": "ENTITY_DELETE", "user": "old-hook", "typeName": "hive_table", "attribute": "qualifiedName",
              "attributeValue": "legacy.t@cm"}
    assert applied(consumer.consume(wire(delete))).deleted == (t["guid"],)


# ---------------------------------------------------------------------------------------------------------------
# shells
# ---------------------------------------------------------------------------------------------------------------
def test_references_to_unknown_entities_become_shells_completed_by_their_full_entity(
        consumer: HookConsumer, store: EmbeddedStore) -> None:
    # CTAS "create table orders_summary as select * from order_lines": order_lines and its column are named by
    # unique attributes only
    created = applied(consumer.consume(wire(ctas())))
    source = entity(store, "hive_table", CTAS_INPUT)
    column = entity(store, "hive_column", f"sales.order_lines.qty@{CLUSTER}")
    assert set(created.shells) == {source["guid"], column["guid"]}
    assert source["attributes"] == {"qualifiedName": CTAS_INPUT} and source["status"] == "ACTIVE"
    assert shells(store) == {"hive_table": 1, "hive_column": 1}
    assert is_shell(store.db.reader(), source["guid"]) and not is_shell(
        store.db.reader(), entity(store, "hive_table", CTAS_OUTPUT)["guid"])
    edges = {(CTAS_INPUT, CTAS_PROCESS),
             (CTAS_PROCESS, CTAS_OUTPUT)}
    summary = entity(store, "hive_table", CTAS_OUTPUT)
    assert lineage_edges(store.lineage(summary["guid"], "INPUT", 3)) == edges

    partial = {"type": "ENTITY_PARTIAL_UPDATE_V2", "user": "hive",
               "entityId": {"typeName": "hive_table", "uniqueAttributes": {"qualifiedName": CTAS_INPUT}},
               "entity": {"entity": {"typeName": "hive_table", "attributes": {"comment": "seen"}}}}
    applied(consumer.consume(wire(partial)))
    assert is_shell(store.db.reader(), source["guid"])  # a partial update leaves a shell a shell

    full = applied(consumer.consume(wire(managed_table("sales", "order_lines", ["qty"]))))
    assert set(full.completed) == {source["guid"], column["guid"]} and full.shells == ()
    assert shells(store) == {}
    filled = entity(store, "hive_table", CTAS_INPUT)
    assert filled["guid"] == source["guid"] and filled["attributes"]["name"] == "order_lines"
    assert related(filled, "columns") == {column["guid"]}
    assert entity(store, "hive_column", f"sales.order_lines.qty@{CLUSTER}")["attributes"]["type"] == "int"
    assert lineage_edges(store.lineage(summary["guid"], "INPUT", 3)) == edges


def test_a_reference_the_message_itself_resolves_makes_no_shell(consumer: HookConsumer, store: EmbeddedStore) -> None:
    consumer.consume(wire(create_db()))
    outcome = applied(consumer.consume(wire(managed_table("sales", "t1", ["a", "b"]))))
    assert outcome.shells == () and shells(store) == {}


# ---------------------------------------------------------------------------------------------------------------
# what Atlas's consumer does before it writes
# ---------------------------------------------------------------------------------------------------------------
def test_the_default_preprocessing_of_atlas_consumer(consumer: HookConsumer, store: EmbeddedStore) -> None:
    consumer.consume(wire(create_db()))
    message = create_table()
    process = message["entities"]["entities"][1]
    process["attributes"]["name"] = "create external table orders"
    del process["attributes"]["endTime"]
    dummy_qn, values_qn, s3_qn = (f"_dummy_database._dummy_table@{CLUSTER}", f"sales.values__tmp__table__1@{CLUSTER}",
                                  f"s3a://bucket/data/renders/@{CLUSTER}")
    dummy = {"typeName": "hive_table", "guid": "-7", "attributes": {"qualifiedName": dummy_qn, "name": "_dummy_table"}}
    values_tmp = {"typeName": "hive_table", "guid": "-8",
                  "attributes": {"qualifiedName": values_qn, "name": "values__tmp__table__1"}}
    bucket = {"typeName": "aws_s3_v2_bucket", "guid": "-10", "attributes": {"qualifiedName": f"s3a://bucket@{CLUSTER}",
                                                                            "name": "bucket"}}
    s3 = {"typeName": "aws_s3_v2_directory", "guid": "-9", "attributes": {
        "qualifiedName": s3_qn, "name": "renders", "objectPrefix": "/data/renders/"},
        "relationshipAttributes": {"container": {"guid": "-10", "typeName": "aws_s3_v2_bucket"}}}
    message["entities"]["entities"] += [dummy, values_tmp, bucket, s3]
    applied(consumer.consume(wire(message)))
    written = entity(store, "hive_process", ORDERS_PROCESS)["attributes"]
    assert written["name"] == ORDERS_PROCESS and written["endTime"] > SENT_AT
    for qn in (dummy_qn, values_qn):
        with pytest.raises(AtlasError, match="ATLAS-404-00-009"):
            get(store, "hive_table", qn)
    assert entity(store, "aws_s3_v2_directory", s3_qn)["attributes"]["objectPrefix"] == "/data/"


def _tags(store: EmbeddedStore, qualified_name: str) -> set[tuple[str, bool, str]]:
    guid = entity(store, "hive_table", qualified_name)["guid"]
    return {(c["typeName"], bool(c["propagate"]), "own" if c["entityGuid"] == guid else "propagated")
            for c in store.get_classifications(guid)["list"]}


def test_a_classification_without_propagate_stays_on_its_entity(consumer: HookConsumer, store: EmbeddedStore) -> None:
    """SerialEntityProcessor sets RequestContext.isInNotificationProcessing: a classification a message adds
    without ``propagate`` is ``propagate: false`` (EntityGraphMapper.addClassifications); one that says true
    propagates; requests after the message take the API's default again."""
    store.typedefs.create({"classificationDefs": [{"name": n, "attributeDefs": []} for n in ("PII", "Gold")]}, "admin")
    src, dst = f"sales.raw@{CLUSTER}", f"sales.clean@{CLUSTER}"
    table = {"typeName": "hive_table", "guid": "-1", "attributes": {"qualifiedName": src, "name": "raw"},
             "classifications": [{"typeName": "PII"}, {"typeName": "Gold", "propagate": True}]}
    out = {"typeName": "hive_table", "guid": "-2", "attributes": {"qualifiedName": dst, "name": "clean"}}
    process = hive_process(f"sales.clean@{CLUSTER}:1", "-3", inputs=[{"guid": "-1"}], outputs=[{"guid": "-2"}],
                           query="insert into clean select * from raw", operation="QUERY", at=SENT_AT)
    applied(consumer.consume(wire(create_v2({"entities": [table, out, *process]}))))
    assert _tags(store, src) == {("PII", False, "own"), ("Gold", True, "own")}
    assert _tags(store, dst) == {("Gold", True, "propagated")}
    store.typedefs.create({"classificationDefs": [{"name": "Tier1", "attributeDefs": []}]}, "admin")
    store.add_classifications(entity(store, "hive_table", src)["guid"], [{"typeName": "Tier1"}], "u")
    assert ("Tier1", True, "propagated") in _tags(store, dst)


# ---------------------------------------------------------------------------------------------------------------
# over real HTTP: Atlas's REST notification endpoint
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hook_atlas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAtlas]:
    running = start_atlas(tmp_path_factory.mktemp("hook-atlas"))
    yield running
    running.stop()


def post(atlas: RunningAtlas, body: Any, topic: str = "ATLAS_HOOK", auth: tuple[str, str] | None = AUTH
         ) -> requests.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(f"{atlas.url}/api/atlas/v2/notification/topic/{topic}", data=data, auth=auth,
                         headers={"Content-Type": "application/json"}, timeout=30)


def http_lookup(atlas: RunningAtlas) -> Any:
    def lookup(type_name: str, qualified_name: str) -> dict[str, Any]:
        r = requests.get(f"{atlas.url}/api/atlas/v2/entity/uniqueAttribute/type/{type_name}",
                         params={"attr:qualifiedName": qualified_name}, auth=AUTH, timeout=30)
        assert r.status_code == 200, r.text
        return dict(r.json())
    return lookup


def http_lineage(atlas: RunningAtlas) -> Any:
    def lineage(guid: str, direction: str) -> dict[str, Any]:
        r = requests.get(f"{atlas.url}/api/atlas/v2/lineage/{guid}", params={"direction": direction}, auth=AUTH,
                         timeout=30)
        assert r.status_code == 200, r.text
        return dict(r.json())
    return lineage


def test_rest_replay_of_a_hive_session_as_atlas_client_posts_it(hook_atlas: RunningAtlas) -> None:
    # AtlasClientV2.postNotificationToTopic(topic, List<String>): a JSON array of message texts
    r = post(hook_atlas, [wire(m) for m in hive_session()])
    assert r.status_code == 204 and r.content == b"", r.text
    assert_renamed_hive_table(http_lookup(hook_atlas), http_lineage(hook_atlas))
    again = post(hook_atlas, [envelope(m) for m in hive_session()])  # message objects are read too
    assert again.status_code == 204, again.text


def test_rest_split_message_across_requests(hook_atlas: RunningAtlas) -> None:
    cluster = f"c{uuid.uuid4().hex[:8]}"
    message = json.loads(db_notification("create", name="split", cluster=cluster, ts=1))["message"]
    parts = notification_messages(message, max_length=200, msg_id=f"m-{cluster}")
    assert len(parts) >= 3
    assert post(hook_atlas, parts[:2]).status_code == 204
    assert post(hook_atlas, parts[2:]).status_code == 204
    assert http_lookup(hook_atlas)("hive_db", f"split@{cluster}")["entity"]["status"] == "ACTIVE"


def test_rest_one_message_failing_leaves_the_others_applied(hook_atlas: RunningAtlas) -> None:
    cluster = f"c{uuid.uuid4().hex[:8]}"
    good = [db_notification("create", name=n, cluster=cluster, ts=1) for n in ("a", "b")]
    bad = wire({"type": "ENTITY_PARTIAL_UPDATE_V2", "user": "hive", "entity": {"entity": {"typeName": "hive_db"}},
                "entityId": {"typeName": "hive_db", "uniqueAttributes": {"qualifiedName": f"nope@{cluster}"}}})
    r = post(hook_atlas, [good[0], bad, good[1]])
    assert r.status_code == 404, r.text
    body = r.json()
    assert body["errorCode"] == "ATLAS-404-00-009"
    assert body["errorMessage"].startswith("1 of 3 hook notification messages failed (the other 2 were accepted): "
                                           "message 2 of 3 (ENTITY_PARTIAL_UPDATE_V2): ATLAS-404-00-009")
    for name in ("a", "b"):
        assert http_lookup(hook_atlas)("hive_db", f"{name}@{cluster}")["entity"]["status"] == "ACTIVE"


def test_rest_refuses_other_topics_and_anonymous_callers(hook_atlas: RunningAtlas) -> None:
    message = [db_notification("create", name="x", cluster="never", ts=1)]
    for topic in ("ATLAS_ENTITIES", "nope"):
        r = post(hook_atlas, message, topic=topic)
        assert r.status_code == 400 and r.json() == {"errorCode": "ATLAS-400-00-101",
                                                     "errorMessage": f"Unsupported topic name : {topic}"}
    assert post(hook_atlas, message, auth=None).status_code == 401
    assert post(hook_atlas, message, auth=(ATLAS_USER, "wrong")).status_code == 401
    r = requests.get(f"{hook_atlas.url}/api/atlas/v2/entity/uniqueAttribute/type/hive_db",
                     params={"attr:qualifiedName": "x@never"}, auth=AUTH, timeout=30)
    assert r.status_code == 404

