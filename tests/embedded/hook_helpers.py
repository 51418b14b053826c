"""Hook notifications as Atlas's hooks write them, for the hook consumer's tests.

``envelope`` and ``notification_messages`` are Python ports of ``AtlasNotificationMessage``'s JSON and of
``AbstractNotification.createNotificationMessages`` (compress a message over the length limit, split one still over
it), with the limit a parameter so a test can force either. The Hive messages are built here in the shapes the
HiveServer2 hook sends (HookNotification V2: AtlasEntitiesWithExtInfo, AtlasRelatedObjectId, negative guids for
entities new to the message), for a session of our own: ``create database sales``, ``create external table
orders``, its rename to ``orders_v2``, the drops, and a CTAS ``orders_summary`` from ``order_lines``.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable
from typing import Any

VERSION = {"version": "1.0.0", "versionParts": [1]}  # MessageVersion.CURRENT_VERSION as Jackson writes it
CLUSTER = "prod"
NAMENODE = "hdfs://nn1.example.com:8020"
USER = "dana"  # who ran the queries: the hook's message user
SENT_AT = 1717405260400  # msgCreationTime of the envelopes wire() writes

# the session's clock (ms): Hive's createTime is whole seconds, the hook's own times are not
DB_DDL_AT = 1717405200123
TABLE_CREATED = 1717405260000
TABLE_DDL_AT = 1717405259871
TABLE_HOOK_AT = 1717405260342
RENAME_DDL_AT = 1717405320456
CTAS_CREATED = 1717405380000
CTAS_DDL_AT = 1717405377654
CTAS_HOOK_AT = 1717405383210

ORDERS = f"sales.orders@{CLUSTER}"
ORDERS_V2 = f"sales.orders_v2@{CLUSTER}"
ORDERS_PATH = f"{NAMENODE}/data/raw/orders"
ORDERS_COLUMNS = (("order_id", "bigint"), ("amount", "decimal(10,2)"))
ORDERS_PROCESS = f"{ORDERS}:{TABLE_CREATED}"
ORDERS_TABLE_GUID = "-2001"  # the guids the create-table message gives the table and its columns
ORDERS_COLUMN_GUIDS = ("-2003", "-2004")
CTAS_INPUT = f"sales.order_lines@{CLUSTER}"
CTAS_OUTPUT = f"sales.orders_summary@{CLUSTER}"
CTAS_PROCESS = f"{CTAS_OUTPUT}:{CTAS_CREATED}"


# ---------------------------------------------------------------------------------------------------------------
# entities and references, as AtlasType.toJson writes them
# ---------------------------------------------------------------------------------------------------------------
def ref(type_name: str, qualified_name: str | None, relationship: str | None = None, guid: str | None = None
        ) -> dict[str, Any]:
    """An AtlasRelatedObjectId: the hook adds the guid when the entity is in the same message."""
    out: dict[str, Any] = {"guid": guid} if guid else {}
    out["typeName"] = type_name
    if qualified_name is not None:
        out["uniqueAttributes"] = {"qualifiedName": qualified_name}
    if relationship:
        out["relationshipType"] = relationship
    return out


def atlas_entity(type_name: str, guid: str, attributes: dict[str, Any],
                 relationships: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"typeName": type_name, "attributes": attributes, "guid": guid, "isIncomplete": False,
                           "provenanceType": 0, "version": 0}
    if relationships is not None:
        out["relationshipAttributes"] = relationships
    out["proxy"] = False
    return out


def ext_info(entities: list[dict[str, Any]], referred: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """An AtlasEntitiesWithExtInfo."""
    out: dict[str, Any] = {} if referred is None else {"referredEntities": {e["guid"]: e for e in referred}}
    out["entities"] = entities
    return out


def hive_db(name: str, guid: str, owner: str = USER) -> dict[str, Any]:
    return atlas_entity("hive_db", guid, {
        "owner": owner, "ownerType": "USER", "managedLocation": None, "qualifiedName": f"{name}@{CLUSTER}",
        "clusterName": CLUSTER, "name": name, "location": f"{NAMENODE}/warehouse/external/{name}.db",
        "parameters": {}})


def hdfs_path(url: str, guid: str, relationships: dict[str, Any] | None = None) -> dict[str, Any]:
    return atlas_entity("hdfs_path", guid, {"path": url, "qualifiedName": f"{url}@{CLUSTER}", "clusterName": CLUSTER,
                                            "name": url.removeprefix(NAMENODE)}, relationships)


def hive_column(table_qn: str, name: str, type_name: str, position: int, guid: str, table_guid: str | None
                ) -> dict[str, Any]:
    db_table, cluster = table_qn.split("@")
    return atlas_entity("hive_column", guid, {
        "owner": USER, "qualifiedName": f"{db_table}.{name}@{cluster}", "name": name, "comment": None,
        "position": position, "type": type_name},
        {"table": ref("hive_table", table_qn, "hive_table_columns", table_guid)})


def hive_storagedesc(table_qn: str, location: str, guid: str, table_guid: str | None) -> dict[str, Any]:
    return atlas_entity("hive_storagedesc", guid, {
        "qualifiedName": f"{table_qn}_storage", "storedAsSubDirectories": False, "location": location,
        "compressed": False, "inputFormat": "org.apache.hadoop.mapred.TextInputFormat", "parameters": {},
        "outputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
        "serdeInfo": {"typeName": "hive_serde", "attributes": {
            "serializationLib": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe", "name": None,
            "parameters": {"serialization.format": "1"}}},
        "numBuckets": -1},
        {"table": ref("hive_table", table_qn, "hive_table_storagedesc", table_guid)})


def hive_table(table_qn: str, guid: str, *, columns: list[dict[str, Any]], sd: dict[str, Any],
               db_guid: str | None = None, external: bool = False, aliases: list[str] | None = None,
               created: int = TABLE_CREATED) -> dict[str, Any]:
    """A hive_table naming its columns and storage descriptor (entities of the same message) and its database."""
    db_table, cluster = table_qn.split("@")
    db, name = db_table.split(".")
    parameters = {"numFiles": "0", "totalSize": "0", "transient_lastDdlTime": str(created // 1000)}
    if external:
        parameters["EXTERNAL"] = "TRUE"
    attrs: dict[str, Any] = {
        "owner": USER, "tableType": "EXTERNAL_TABLE" if external else "MANAGED_TABLE", "temporary": False,
        "lastAccessTime": created, "createTime": created, "qualifiedName": table_qn, "name": name, "comment": None,
        "parameters": parameters, "retention": 0}
    if aliases:
        attrs["aliases"] = aliases
        parameters.update(last_modified_by=USER, last_modified_time=str(RENAME_DDL_AT // 1000))
    return atlas_entity("hive_table", guid, attrs, {
        "sd": ref("hive_storagedesc", sd["attributes"]["qualifiedName"], "hive_table_storagedesc", sd["guid"]),
        "columns": [ref("hive_column", c["attributes"]["qualifiedName"], "hive_table_columns", c["guid"])
                    for c in columns],
        "partitionKeys": [],
        "db": ref("hive_db", f"{db}@{cluster}", "hive_table_db", db_guid)})


def ddl(type_name: str, target: dict[str, Any], query: str, at: int, guid: str) -> dict[str, Any]:
    """A hive_db_ddl / hive_table_ddl for ``query`` run on ``target`` (an AtlasRelatedObjectId) at ``at``."""
    attr = "db" if type_name == "hive_db_ddl" else "table"
    target_qn = target["uniqueAttributes"]["qualifiedName"]
    return atlas_entity(type_name, guid, {
        "serviceType": "hive", "qualifiedName": f"{target_qn}:{at}", "execTime": at, "queryText": query,
        "name": query, "userName": USER}, {attr: {**target, "relationshipType": f"{type_name[:-4]}_ddl_queries"}})


def hive_process(qualified_name: str, guid: str, *, inputs: list[dict[str, Any]], outputs: list[dict[str, Any]],
                 query: str, operation: str, at: int) -> list[dict[str, Any]]:
    """The hive_process of a query, with its hive_process_execution: [process, execution]."""
    process = atlas_entity("hive_process", guid, {
        "recentQueries": [query], "qualifiedName": qualified_name, "clusterName": CLUSTER, "name": qualified_name,
        "queryText": "", "operationType": operation, "startTime": at, "queryPlan": "Not Supported", "endTime": at,
        "userName": "", "queryId": ""},
        {"outputs": [{**o, "relationshipType": "process_dataset_outputs"} for o in outputs],
         "inputs": [{**i, "relationshipType": "dataset_process_inputs"} for i in inputs]})
    run = f"{qualified_name}:{at - 471}:{at}"
    execution = atlas_entity("hive_process_execution", f"{guid}1", {
        "hostName": "hs2-1.example.com", "qualifiedName": run, "name": run, "queryText": query,
        "startTime": at - 471, "queryPlan": "Not Supported", "endTime": at, "userName": USER,
        "queryId": f"hive_{at}_{guid.lstrip('-')}"},
        {"process": ref("hive_process", None, "hive_process_process_executions", guid)})
    return [process, execution]


# ---------------------------------------------------------------------------------------------------------------
# the messages
# ---------------------------------------------------------------------------------------------------------------
def create_v2(entities: Any, user: str = USER) -> dict[str, Any]:
    return {"type": "ENTITY_CREATE_V2", "user": user, "entities": entities}


def delete_v2(type_name: str, qualified_name: str) -> dict[str, Any]:
    return {"type": "ENTITY_DELETE_V2", "user": USER, "entities": [ref(type_name, qualified_name)]}


def partial_update_v2(type_name: str, qualified_name: str, entity: dict[str, Any]) -> dict[str, Any]:
    return {"type": "ENTITY_PARTIAL_UPDATE_V2", "user": USER, "entityId": ref(type_name, qualified_name),
            "entity": {"entity": entity}}


def create_db() -> dict[str, Any]:
    """``create database sales``: the database, its DDL and its location."""
    db = hive_db("sales", "-1001")
    db_ref = ref("hive_db", db["attributes"]["qualifiedName"], None, "-1001")
    location = hdfs_path(db["attributes"]["location"], "-1003",
                         {"hiveDb": {**db_ref, "relationshipType": "hive_db_location"}})
    return create_v2(ext_info([db, ddl("hive_db_ddl", db_ref, "create database sales", DB_DDL_AT, "-1002"), location],
                              referred=[]))


def orders_columns(table_qn: str, table_guid: str | None, guids: tuple[str, ...] = ORDERS_COLUMN_GUIDS
                   ) -> list[dict[str, Any]]:
    return [hive_column(table_qn, name, type_name, i, guid, table_guid)
            for i, ((name, type_name), guid) in enumerate(zip(ORDERS_COLUMNS, guids, strict=True))]


def create_table() -> dict[str, Any]:
    """``create external table orders(order_id bigint, amount decimal(10,2)) location '/data/raw/orders'``; the
    database, known to the hook, comes whole among the referred entities."""
    query = "create external table orders(order_id bigint, amount decimal(10,2)) location '/data/raw/orders'"
    table_guid = ORDERS_TABLE_GUID
    columns = orders_columns(ORDERS, table_guid)
    sd = hive_storagedesc(ORDERS, ORDERS_PATH, "-2002", table_guid)
    table = hive_table(ORDERS, table_guid, columns=columns, sd=sd, db_guid="-2005", external=True)
    path = hdfs_path(ORDERS_PATH, "-2006")
    process = hive_process(ORDERS_PROCESS, "-2007", query=query, operation="CREATETABLE", at=TABLE_HOOK_AT,
                           inputs=[ref("hdfs_path", f"{ORDERS_PATH}@{CLUSTER}", None, "-2006")],
                           outputs=[ref("hive_table", ORDERS, None, table_guid)])
    table_ddl = ddl("hive_table_ddl", ref("hive_table", ORDERS, None, table_guid), query, TABLE_DDL_AT, "-2008")
    return create_v2(ext_info([table, *process, table_ddl], referred=[sd, hive_db("sales", "-2005"), path, *columns]))


def rename_table() -> list[dict[str, Any]]:
    """``alter table orders rename to orders_v2`` as the hook sends it: each column, the storage descriptor and the
    table renamed by partial updates under their old names, the table again in full, then the DDL."""
    table_guid = "-3001"
    columns = orders_columns(ORDERS_V2, table_guid, ("-3003", "-3004"))
    sd = hive_storagedesc(ORDERS_V2, ORDERS_PATH, "-3002", table_guid)
    table = hive_table(ORDERS_V2, table_guid, columns=columns, sd=sd, external=True, aliases=["orders"])
    partials = [partial_update_v2("hive_column", f"sales.orders.{c['attributes']['name']}@{CLUSTER}", atlas_entity(
        "hive_column", f"-301{i}", {"qualifiedName": c["attributes"]["qualifiedName"]})) for i, c in enumerate(columns)]
    for type_name, old_qn, renamed in (("hive_storagedesc", f"{ORDERS}_storage", sd), ("hive_table", ORDERS, table)):
        without_relationships = {k: v for k, v in renamed.items() if k != "relationshipAttributes"}
        partials.append(partial_update_v2(type_name, old_qn, without_relationships))
    query = "alter table orders rename to orders_v2"
    return [*partials, {"type": "ENTITY_FULL_UPDATE_V2", "user": USER, "entities": ext_info([table], [sd, *columns])},
            create_v2(ext_info([ddl("hive_table_ddl", ref("hive_table", ORDERS_V2), query, RENAME_DDL_AT, "-3005")]))]


def drop_tables_and_db() -> list[dict[str, Any]]:
    """``drop database sales cascade`` after the rename: every table the hook knows of, then the database."""
    return [*(delete_v2("hive_table", f"sales.{t}@{CLUSTER}") for t in ("orders_v2", "orders_v2_daily", "returns")),
            delete_v2("hive_db", f"sales@{CLUSTER}")]


def hive_session() -> list[dict[str, Any]]:
    """The HiveServer2 hook's notifications for: create database sales; create external table orders; rename it."""
    return [create_db(), create_table(), *rename_table()]


def ctas() -> dict[str, Any]:
    """``create table orders_summary as select * from order_lines``: the hook names the input table and its column
    by unique attributes only, as it does for a table it did not create in this session."""
    query = "create table orders_summary as select * from order_lines"
    column = hive_column(CTAS_OUTPUT, "qty", "int", 0, "-4003", "-4001")
    sd = hive_storagedesc(CTAS_OUTPUT, f"{NAMENODE}/warehouse/external/sales.db/orders_summary", "-4002", "-4001")
    table = hive_table(CTAS_OUTPUT, "-4001", columns=[column], sd=sd, db_guid="-4004", created=CTAS_CREATED)
    table_ref = ref("hive_table", CTAS_OUTPUT, None, "-4001")
    process = hive_process(CTAS_PROCESS, "-4005", query=query, operation="CREATETABLE_AS_SELECT", at=CTAS_HOOK_AT,
                           inputs=[ref("hive_table", CTAS_INPUT)], outputs=[table_ref])
    lineage_qn = f"{CTAS_PROCESS}:qty"
    column_lineage = atlas_entity("hive_column_lineage", "-4006", {
        "expression": None, "qualifiedName": lineage_qn, "name": lineage_qn, "depenendencyType": "SIMPLE"}, {
        "outputs": [ref("hive_column", column["attributes"]["qualifiedName"], "process_dataset_outputs", "-4003")],
        "inputs": [ref("hive_column", f"sales.order_lines.qty@{CLUSTER}", "dataset_process_inputs")],
        "query": ref("hive_process", CTAS_PROCESS, "hive_process_column_lineage", "-4005")})
    return create_v2(ext_info([ddl("hive_table_ddl", table_ref, query, CTAS_DDL_AT, "-4007"), *process,
                               column_lineage], referred=[hive_db("sales", "-4004"), column, sd, table]))


def managed_table(db: str, name: str, columns: list[str]) -> dict[str, Any]:
    """``create table db.name(<columns> int)`` with no process; the database referenced by unique attributes, as the
    hook does for one it did not send."""
    qn = f"{db}.{name}@{CLUSTER}"
    cols = [hive_column(qn, c, "int", i, f"-{501 + i}", "-500") for i, c in enumerate(columns)]
    sd = hive_storagedesc(qn, f"{NAMENODE}/warehouse/external/{db}.db/{name}", "-499", "-500")
    return create_v2(ext_info([hive_table(qn, "-500", columns=cols, sd=sd)], referred=[*cols, sd]))


def db_notification(kind: str, *, name: str, cluster: str, ts: int, exec_time: int = 0) -> str:
    """A whole AtlasNotificationMessage text as NotificationRestIT posts it, for a database ``name@cluster``:
    ``create`` (a hook that writes no ``spooled``), ``create-ddl`` (the DDL of ``create``) or ``delete``."""
    qn = f"{name}@{cluster}"
    message: dict[str, Any]
    if kind == "create":
        db = atlas_entity("hive_db", "-9001", {
            "owner": "ops", "ownerType": "USER", "managedLocation": None, "qualifiedName": qn, "clusterName": cluster,
            "name": name, "location": f"/warehouse/{name}.db", "parameters": {}})
        message, fields = create_v2(ext_info([db], referred=[]), user="hive"), {"msgSourceIP": "192.0.2.41"}
    elif kind == "create-ddl":
        db_ddl = ddl("hive_db_ddl", ref("hive_db", qn), f"create database {name}", exec_time, "-9002")
        message, fields = create_v2(ext_info([db_ddl]), user="ops"), {"msgSourceIP": "192.0.2.42"}
    else:
        message, fields = {**delete_v2("hive_db", qn), "user": "hive"}, {"msgSourceIP": "192.0.2.43"}
    out = envelope(message, msgCreationTime=ts, **fields)
    if kind == "create":
        del out["spooled"]
    return json.dumps(out, separators=(",", ":"))


# ---------------------------------------------------------------------------------------------------------------
# the envelope
# ---------------------------------------------------------------------------------------------------------------
def envelope(message: Any, **fields: Any) -> dict[str, Any]:
    """An AtlasNotificationMessage as a hook serialises it (AtlasType.toV1Json)."""
    out = {"version": VERSION, "msgCompressionKind": "NONE", "msgSplitIdx": 1, "msgSplitCount": 1,
           "msgSourceIP": "192.0.2.7", "msgCreatedBy": "hive", "msgCreationTime": SENT_AT, "spooled": False,
           "message": message}
    out.update(fields)
    return out


def wire(message: Any, **fields: Any) -> str:
    return json.dumps(envelope(message, **fields))


def string_message(text: str, msg_id: str, kind: str, idx: int = 1, count: int = 1) -> str:
    """An AtlasNotificationStringMessage (a compressed message, or one part of a split one)."""
    return json.dumps({"version": VERSION, "msgId": msg_id, "msgCompressionKind": kind, "msgSplitIdx": idx,
                       "msgSplitCount": count, "message": text})


def notification_messages(message: Any, max_length: int, *, compress: bool = True, msg_id: str = "msg-1"
                          ) -> list[str]:
    """AbstractNotification.createNotificationMessages with ``max_length`` as MESSAGE_MAX_LENGTH_BYTES."""
    msg_json = wire(message)
    msg_bytes = msg_json.encode()
    if len(msg_bytes) <= max_length:
        return [msg_json]
    kind = "NONE"
    encoded = base64.b64encode(msg_bytes)
    if compress:
        kind = "GZIP"
        encoded = base64.b64encode(gzip.compress(msg_bytes))
        if len(encoded) <= max_length:
            return [string_message(encoded.decode(), msg_id, kind)]
    count = -(-len(encoded) // max_length)
    return [string_message(encoded[i * max_length:(i + 1) * max_length].decode(), msg_id, kind, i, count)
            for i in range(count)]


# ---------------------------------------------------------------------------------------------------------------
# reading back
# ---------------------------------------------------------------------------------------------------------------
Lookup = Callable[[str, str], dict[str, Any]]  # (typeName, qualifiedName) -> AtlasEntityWithExtInfo
Lineage = Callable[[str, str], dict[str, Any]]  # (guid, direction) -> AtlasLineageInfo


def related(entity: dict[str, Any], attr: str) -> set[str]:
    """The guids an entity's relationship attribute names (ACTIVE relationships)."""
    value = entity["relationshipAttributes"].get(attr)
    values = value if isinstance(value, list) else [value] if value else []
    return {v["guid"] for v in values if v.get("relationshipStatus", "ACTIVE") == "ACTIVE"}


def lineage_edges(info: dict[str, Any]) -> set[tuple[str, str]]:
    """The lineage relations as (from qualifiedName, to qualifiedName)."""
    names = {g: h["attributes"]["qualifiedName"] for g, h in info["guidEntityMap"].items()}
    return {(names[r["fromEntityId"]], names[r["toEntityId"]]) for r in info["relations"]}


def assert_renamed_hive_table(lookup: Lookup, lineage: Lineage) -> dict[str, Any]:
    """What Atlas holds after the hive_session(): the renamed table keeps its guid, columns, storage, database,
    DDL history and place in lineage. Returns the table."""
    table: dict[str, Any] = lookup("hive_table", ORDERS_V2)["entity"]
    assert table["status"] == "ACTIVE" and table["createdBy"] == USER
    attrs = table["attributes"]
    assert (attrs["name"], attrs["tableType"], attrs["aliases"]) == ("orders_v2", "EXTERNAL_TABLE", ["orders"])
    assert attrs["parameters"]["last_modified_by"] == USER and attrs["createTime"] == TABLE_CREATED
    db = lookup("hive_db", f"sales@{CLUSTER}")["entity"]
    columns = [lookup("hive_column", f"sales.orders_v2.{n}@{CLUSTER}")["entity"] for n, _ in ORDERS_COLUMNS]
    sd = lookup("hive_storagedesc", f"{ORDERS_V2}_storage")["entity"]
    process = lookup("hive_process", ORDERS_PROCESS)["entity"]
    path = lookup("hdfs_path", f"{ORDERS_PATH}@{CLUSTER}")["entity"]
    ddls = [lookup("hive_table_ddl", qn)["entity"] for qn in (f"{ORDERS}:{TABLE_DDL_AT}",
                                                              f"{ORDERS_V2}:{RENAME_DDL_AT}")]
    assert related(table, "db") == {db["guid"]} and table["guid"] in related(db, "tables")
    assert related(table, "columns") == {c["guid"] for c in columns}
    for column, (name, type_name) in zip(columns, ORDERS_COLUMNS, strict=True):
        assert related(column, "table") == {table["guid"]}
        assert (column["attributes"]["name"], column["attributes"]["type"]) == (name, type_name)
    assert related(table, "sd") == {sd["guid"]} and sd["attributes"]["location"] == ORDERS_PATH
    assert related(table, "ddlQueries") == {d["guid"] for d in ddls}
    assert related(table, "outputFromProcesses") == {process["guid"]}
    assert related(process, "inputs") == {path["guid"]} and related(process, "outputs") == {table["guid"]}
    assert process["attributes"]["name"] == process["attributes"]["qualifiedName"]
    assert lineage_edges(lineage(table["guid"], "INPUT")) == {
        (path["attributes"]["qualifiedName"], ORDERS_PROCESS), (ORDERS_PROCESS, ORDERS_V2)}
    return table
