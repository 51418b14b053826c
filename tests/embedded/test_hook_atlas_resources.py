"""Atlas's own Hive-hook messages replayed through its REST notification endpoint, checked against what Atlas makes of
them.

The messages are read at run time from an Apache Atlas source tree (``MLCATALOG_ATLAS_SOURCES``, default
``/work/.mirror/apache+atlas/repo``; a bare repository or a work tree) with ``git show``; nothing of Atlas's is kept
in this repository. They are:

* ``addons/hive-bridge/src/test/resources/json/hs2-<operation>.json``: what the HiveServer2 hook produced for a
  session (``ActiveEntityFilterTest``'s input), and ``hs2-<operation>-v2.json``: the same after the hook's
  ``ActiveEntityFilter`` (``atlas.hook.hive.hs2.ignore.ddl.operations``), i.e. what a hook so configured sends. A file
  is either a list of ``HookNotification``s or the ``AtlasEntitiesWithExtInfo`` the hook sends as one
  ``EntityCreateRequestV2`` (``CreateDatabase``, ``CreateTable``, ``CreateHiveProcess``); ``hs2-drop-db.json`` holds
  only object ids: ``DropDatabase``'s ``EntityDeleteRequestV2``.
* ``webapp/src/test/resources/json/notifications/*.json``: whole ``AtlasNotificationMessage``s with placeholders, as
  ``NotificationRestIT`` posts them.

Each message goes, in an envelope as the hook writes it, through ``POST /api/atlas/v2/notification/topic/ATLAS_HOOK``
and is checked against what Atlas's consumer (``SerialEntityProcessor`` with its defaults: shell entities for
references to unknown entities) does: the entities exist with their typeName, qualifiedName and given attributes;
references resolve to the entities they name; a reference to an entity nobody sent is a shell until a message brings
the entity, which then keeps the shell's guid; a partial update renames the entity its ``entityId`` names (or fails
with ATLAS-404-00-009 when there is none, and Atlas's consumer moves on); a delete soft-deletes the entity and its
composition children; and a message delivered twice leaves the store as once.

Not replayed: ``addons/impala-bridge`` resources are Impala lineage records the Impala hook turns into messages in
Java, not hook messages; ``notification/src/test/resources/spool`` holds spool index records and placeholder lines;
``repository/src/test/resources/json`` entities are entity-store fixtures read back from Atlas (assigned guids,
timestamps), not messages a hook sends.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from catalog.embedded.store import EmbeddedStore
from catalog.embedded.typesystem import TypeRegistry
from tests.embedded.conftest import embedded_store, in_process_api
from tests.embedded.hook_helpers import wire

SOURCES = Path(os.environ.get("MLCATALOG_ATLAS_SOURCES", "/work/.mirror/apache+atlas/repo"))
HS2_DIR = "addons/hive-bridge/src/test/resources/json"
NOTIFICATIONS_DIR = "webapp/src/test/resources/json/notifications"
HOOK_TOPIC = "/api/atlas/v2/notification/topic/ATLAS_HOOK"
HIVE_USER = "hive"  # the hs2 messages' user (HiveHook: the HiveServer2 session's user)
# The session's operations in the order HiveServer2 ran them (the files' execTime/startTime order): the rename and
# view alteration of cadb02's tables, a view in cadb202, a LOAD into default, then the drops.
HS2_OPERATIONS = ("create-db", "create-table", "table-rename", "create-process", "alter-view", "load-inpath",
                  "drop-table", "drop-db")
NOT_FOUND = "ATLAS-404-00-009"  # INSTANCE_BY_UNIQUE_ATTRIBUTE_NOT_FOUND: Atlas's consumer skips the message


def _git(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(SOURCES), *args], capture_output=True, timeout=60, check=False)


def _sources_missing() -> str | None:
    if shutil.which("git") is None:
        return "git is not installed"
    if not SOURCES.exists():
        return f"Apache Atlas sources not found at {SOURCES} (set MLCATALOG_ATLAS_SOURCES)"
    if _git("cat-file", "-e", f"HEAD:{HS2_DIR}/hs2-create-db.json").returncode != 0:
        return f"{SOURCES} is not an Apache Atlas git repository with {HS2_DIR}"
    return None


_missing = _sources_missing()
if _missing:
    pytest.skip(_missing, allow_module_level=True)


def resource_text(path: str) -> str:
    shown = _git("show", f"HEAD:{path}")
    assert shown.returncode == 0, shown.stderr.decode()
    return shown.stdout.decode()


def resource_names(directory: str) -> list[str]:
    listed = _git("ls-tree", "--name-only", f"HEAD:{directory}")
    assert listed.returncode == 0, listed.stderr.decode()
    return sorted(listed.stdout.decode().split())


def hs2_messages(operation: str) -> list[dict[str, Any]]:
    """The HookNotifications the HiveServer2 hook sends for one resource."""
    value = json.loads(resource_text(f"{HS2_DIR}/hs2-{operation}.json"))
    if isinstance(value, list):
        return value
    entities = value.get("entities") or []
    if entities and all("uniqueAttributes" in e and "attributes" not in e for e in entities):
        return [{"type": "ENTITY_DELETE_V2", "user": HIVE_USER, "entities": entities}]
    return [{"type": "ENTITY_CREATE_V2", "user": HIVE_USER, "entities": value}]


# ---------------------------------------------------------------------------------------------------------------
# what Atlas makes of a message
# ---------------------------------------------------------------------------------------------------------------
def _qn(value: dict[str, Any]) -> str | None:
    for key in ("attributes", "uniqueAttributes"):
        found = (value.get(key) or {}).get("qualifiedName")
        if isinstance(found, str):
            return found
    return None


def _is_object_id(value: Any) -> bool:
    return (isinstance(value, dict) and isinstance(value.get("typeName"), str) and "attributes" not in value
            and ("guid" in value or "uniqueAttributes" in value))


def _object_ids(value: Any) -> list[dict[str, Any]] | None:
    """The AtlasObjectIds an attribute value holds; None if it is not a reference."""
    if _is_object_id(value):
        return [value]
    if isinstance(value, list) and value and all(_is_object_id(v) for v in value):
        return list(value)
    return None


def _epoch_ms(value: Any) -> Any:
    """A date as Atlas stores it (AtlasBuiltInTypes.AtlasDateType: epoch ms, from a number or a date string)."""
    if isinstance(value, str) and not value.lstrip("-").isdigit():
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
    return int(value) if isinstance(value, str | float) else value


@dataclass
class Replay:
    """Posts messages one request each and checks the store against Atlas's consumer after every one."""

    client: TestClient
    store: EmbeddedStore
    shells: dict[tuple[str, str], str] = field(default_factory=dict)  # (type, qn) -> guid of shells made
    completed: set[str] = field(default_factory=set)  # guids of shells a later message filled in
    failures: list[str] = field(default_factory=list)  # Atlas errors of messages Atlas's consumer skips too

    @property
    def registry(self) -> TypeRegistry:
        return self.store.registry

    def lookup(self, type_name: str, qualified_name: str) -> dict[str, Any] | None:
        r = self.client.get(f"/api/atlas/v2/entity/uniqueAttribute/type/{type_name}",
                            params={"attr:qualifiedName": qualified_name})
        if r.status_code == 404:
            return None
        assert r.status_code == 200, r.text
        found: dict[str, Any] = r.json()["entity"]
        return found

    def post(self, text: str) -> tuple[int, dict[str, Any] | None]:
        r = self.client.post(HOOK_TOPIC, content=json.dumps([text]), headers={"Content-Type": "application/json"})
        return r.status_code, (r.json() if r.content else None)

    def tables(self) -> dict[str, list[tuple[Any, ...]]]:
        conn = self.store.db.reader()
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
                for t in ("entity", "relationship", "classification", "uattr", "entity_audit")}

    # -- one message ------------------------------------------------------------------------------------------
    def step(self, message: dict[str, Any], text: str | None = None) -> None:
        """Deliver ``message`` (in ``text``, its whole envelope, if given), check it, deliver it again."""
        text = text or wire(message)
        kind = message["type"]
        if kind == "ENTITY_DELETE_V2":
            check = self._delete(message["entities"])
        elif kind == "ENTITY_PARTIAL_UPDATE_V2":
            check = self._partial(message["entityId"], message["entity"]["entity"])
        else:
            body = message["entities"]
            check = self._write(body.get("entities") or [], body.get("referredEntities") or {})
        expected_error = check(None)
        status, error = self.post(text)
        if expected_error is None:
            assert status == 204, (kind, status, error)
        else:
            assert status == 404 and error is not None and error["errorCode"] == expected_error, (kind, error)
            self.failures.append(error["errorMessage"])
        check(expected_error or "applied")
        # redelivery (Kafka at-least-once, a client's retry): Atlas writes nothing for an unchanged entity
        before = self.tables()
        self.post(text)
        assert self.tables() == before, f"a second delivery of {kind} changed the store"

    def _write(self, entities: list[dict[str, Any]], referred: dict[str, Any]) -> Any:
        """ENTITY_CREATE_V2 / ENTITY_FULL_UPDATE_V2: AtlasEntityStoreV2.createOrUpdate, not partial."""
        sent = [*entities, *referred.values()]
        by_guid = {str(e["guid"]): e for e in sent if e.get("guid") is not None}
        sent_names = {(e["typeName"], _qn(e)) for e in sent}
        prior: dict[tuple[str, str], dict[str, Any] | None] = {}
        refs = [(e, attr, ids) for e in sent
                for attr, value in [*(e.get("attributes") or {}).items(), *(e.get("relationshipAttributes") or {}
                                                                                ).items()]
                if (ids := _object_ids(value)) is not None]

        def target(oid: dict[str, Any]) -> tuple[str, str] | None:
            named = by_guid.get(str(oid.get("guid")))
            qn = _qn(named) if named else _qn(oid)
            return ((named or oid)["typeName"], qn) if qn else None

        def check(phase: str | None) -> str | None:
            if phase is None:
                for e in sent:
                    prior[(e["typeName"], str(_qn(e)))] = self.lookup(e["typeName"], str(_qn(e)))
                for _, _, ids in refs:
                    for oid in ids:
                        key = target(oid)
                        if key and key not in sent_names:
                            prior[key] = self.lookup(*key)
                return None
            for e in sent:
                self._check_entity(e, prior[(e["typeName"], str(_qn(e)))])
            for e, attr, ids in refs:
                stored = self.lookup(e["typeName"], str(_qn(e)))
                assert stored is not None
                expected = set()
                for oid in ids:
                    key = target(oid)
                    assert key is not None, f"{e['typeName']}.{attr}: a reference by an unknown guid {oid}"
                    found = self.lookup(*key)
                    assert found is not None, f"{e['typeName']}.{attr} -> {key} was neither found nor made a shell"
                    if key not in sent_names and prior[key] is None:
                        # NOTIFICATION_CREATE_SHELL_ENTITY_FOR_NON_EXISTING_REF: only the unique attribute is known
                        assert found["isIncomplete"] is True and found["status"] == "ACTIVE", found
                        assert {k: v for k, v in found["attributes"].items() if v is not None} == {
                            "qualifiedName": key[1]}, found["attributes"]
                        self.shells[key] = found["guid"]
                    expected.add(found["guid"])
                held = stored["relationshipAttributes"].get(attr, stored["attributes"].get(attr))
                held_ids = held if isinstance(held, list) else [held] if held else []
                assert {h["guid"] for h in held_ids if h.get("relationshipStatus", "ACTIVE") == "ACTIVE"
                        } == expected, (e["typeName"], _qn(e), attr, held_ids, expected)
            return None
        return check

    def _check_entity(self, sent: dict[str, Any], before: dict[str, Any] | None) -> None:
        type_name, qn = sent["typeName"], str(_qn(sent))
        found = self.lookup(type_name, qn)
        assert found is not None, f"{type_name} {qn} was not written"
        assert found["typeName"] == type_name and found["status"] == "ACTIVE"
        assert found.get("isIncomplete") is not True, f"{type_name} {qn} is still a shell"
        if before is not None:  # found by unique attributes: updated in place, a shell filled in
            assert found["guid"] == before["guid"], (type_name, qn)
            if before.get("isIncomplete"):
                self.completed.add(found["guid"])
        defined = self.registry.entity_type(type_name).attributes
        for name, value in (sent.get("attributes") or {}).items():
            # an attribute the type does not define is dropped, as Atlas's EntityGraphMapper maps only the type's
            if name in defined and _object_ids(value) is None:
                assert self._normal(type_name, name, value) == self._normal(
                    type_name, name, found["attributes"].get(name)), (type_name, qn, name, found["attributes"])

    def _normal(self, type_name: str, attr: str, value: Any) -> Any:
        t = self.registry.get(type_name)
        a = t.attributes.get(attr) if t else None
        return self._by_type(a.type_name if a else None, value)

    def _by_type(self, type_name: str | None, value: Any) -> Any:
        if value is None or type_name is None:
            return value
        if type_name == "date":
            return _epoch_ms(value)
        if type_name.startswith("array<") and isinstance(value, list):
            return [self._by_type(type_name[6:-1], v) for v in value]
        t = self.registry.get(type_name)
        if t is not None and t.category == "STRUCT" and isinstance(value, dict):
            attrs = value.get("attributes", value)
            return {k: self._by_type(t.attributes[k].type_name if k in t.attributes else None, v)
                    for k, v in attrs.items() if v is not None}
        return value

    def _partial(self, entity_id: dict[str, Any], entity: dict[str, Any]) -> Any:
        """ENTITY_PARTIAL_UPDATE_V2: AtlasEntityStoreV2.updateEntity(entityId, entity, true)."""
        old_qn = str(_qn(entity_id))
        before: list[dict[str, Any] | None] = []

        def check(phase: str | None) -> str | None:
            if phase is None:
                before.append(self.lookup(entity_id["typeName"], old_qn))
                return NOT_FOUND if before[0] is None else None
            if before[0] is None:
                return None
            self._check_entity(entity, before[0])
            new_qn = str(_qn(entity))
            if new_qn != old_qn:  # a rename: the old name names nothing now (HiveHookIT.testRenameTable)
                assert self.lookup(entity_id["typeName"], old_qn) is None, old_qn
            return None
        return check

    def _delete(self, ids: list[dict[str, Any]]) -> Any:
        """ENTITY_DELETE_V2: deleteByUniqueAttributes for each, soft delete with composition children."""
        before: dict[str, tuple[dict[str, Any], set[str]] | None] = {}

        def check(phase: str | None) -> str | None:
            for oid in ids:
                qn = str(_qn(oid))
                if phase is None:
                    found = self.lookup(oid["typeName"], qn)
                    before[qn] = (found, self._children(found)) if found and found["status"] == "ACTIVE" else None
                    continue
                known = before[qn]
                if known is None:
                    continue  # never sent, or deleted already: Atlas deletes nothing and goes on
                deleted = self.client.get(f"/api/atlas/v2/entity/guid/{known[0]['guid']}").json()["entity"]
                assert deleted["status"] == "DELETED", (oid, deleted["status"])
                for child in known[1]:
                    r = self.client.get(f"/api/atlas/v2/entity/guid/{child}")
                    assert r.json()["entity"]["status"] == "DELETED", (qn, child)
            return None
        return check

    def _children(self, entity: dict[str, Any]) -> set[str]:
        """Guids of the entity's ACTIVE composition children (AtlasEntityStoreV2 deletes them with it)."""
        out = set()
        for attr, value in entity.get("relationshipAttributes", {}).items():
            for v in value if isinstance(value, list) else [value] if isinstance(value, dict) else []:
                rel = self.registry.relationship_def(str(v.get("relationshipType")))
                if not rel or rel.get("relationshipCategory") != "COMPOSITION":
                    continue
                container = next(e for e in (rel["endDef1"], rel["endDef2"]) if e.get("isContainer"))
                if container["name"] == attr and self.registry.entity_type(entity["typeName"]).is_a(
                        container["type"]) and v.get("relationshipStatus", "ACTIVE") == "ACTIVE":
                    out.add(v["guid"])
        return out


@pytest.fixture
def replay(tmp_path: Path) -> Iterator[Replay]:
    for store in embedded_store(tmp_path):
        for client in in_process_api(store):
            yield Replay(client, store)


# ---------------------------------------------------------------------------------------------------------------
# the HiveServer2 hook's session
# ---------------------------------------------------------------------------------------------------------------
def test_every_hs2_resource_is_replayed() -> None:
    """A resource Atlas adds to the hive-bridge tests must be placed in the session, not silently left out."""
    names = {n.removesuffix(".json") for n in resource_names(HS2_DIR) if n.startswith("hs2-")}
    assert names == {f"hs2-{op}{suffix}" for op in HS2_OPERATIONS for suffix in ("", "-v2")}


def test_the_hooks_session_replays_as_in_atlas(replay: Replay) -> None:
    table_guids: dict[str, str] = {}
    for operation in HS2_OPERATIONS:
        for message in hs2_messages(operation):
            replay.step(message)
        if operation in ("create-table", "table-rename"):
            tables = [e for m in hs2_messages(operation) if m["type"] != "ENTITY_PARTIAL_UPDATE_V2"
                      for e in m["entities"]["entities"] if e["typeName"] == "hive_table_ddl"]
            for ddl in tables:
                target = replay.lookup("hive_table", ddl["relationshipAttributes"]["table"]["uniqueAttributes"][
                    "qualifiedName"])
                assert target is not None
                table_guids[operation] = target["guid"]
    # HiveHookIT.testRenameTable: the renamed table is the same entity, under its new name
    assert table_guids["create-table"] == table_guids["table-rename"]
    # alter-view renames cadb02.hh6_renamed_view, which the captured session never created: each of its partial
    # updates fails as in Atlas (ATLAS-404-00-009, skipped); its full update then creates the renamed view
    missing = [str(_qn(m["entityId"])) for m in hs2_messages("alter-view") if m["type"] == "ENTITY_PARTIAL_UPDATE_V2"]
    assert len(replay.failures) == len(missing) and all(
        NOT_FOUND in f and qn in f for f, qn in zip(replay.failures, missing, strict=True)), replay.failures


def test_the_filtered_session_leaves_shells_and_replays_to_the_same_store(replay: Replay) -> None:
    """With ActiveEntityFilter on, the hook sends only DDL and process entities: the databases and tables they name
    are shells (the drops are filtered away entirely); replaying the whole session again changes nothing."""
    messages = [m for op in HS2_OPERATIONS for m in hs2_messages(f"{op}-v2")]
    for message in messages:
        replay.step(message)
    assert replay.shells and not replay.completed and not replay.failures
    for (type_name, qn), guid in replay.shells.items():
        shell = replay.lookup(type_name, qn)
        assert shell is not None and shell["guid"] == guid and shell["isIncomplete"] is True
    before = replay.tables()
    for message in messages:
        assert replay.post(wire(message))[0] == 204
    assert replay.tables() == before


def test_shells_are_filled_in_by_the_unfiltered_messages(replay: Replay) -> None:
    """The filtered messages first (shells for the database, the tables), then the hook's full ones: each shell whose
    entity a message brings becomes that entity, keeping its guid; the others (cadb202.hh202, the view's source,
    which no message describes) stay shells."""
    supplied = set()
    for operation in ("create-db", "create-table", "create-process"):
        for suffix in ("-v2", ""):
            for message in hs2_messages(operation + suffix):
                replay.step(message)
                body = message["entities"]
                supplied |= {(e["typeName"], _qn(e)) for e in [*body["entities"],
                                                               *(body.get("referredEntities") or {}).values()]}
    filled = {guid for key, guid in replay.shells.items() if key in supplied}
    assert filled and filled == replay.completed
    for (type_name, qn), guid in replay.shells.items():
        found = replay.lookup(type_name, qn)
        assert found is not None and found["guid"] == guid
        assert found["isIncomplete"] is (guid not in filled), (type_name, qn)


# ---------------------------------------------------------------------------------------------------------------
# NotificationRestIT's messages: whole AtlasNotificationMessages
# ---------------------------------------------------------------------------------------------------------------
def notification(name: str, db: str, cluster: str, ts: int) -> str:
    """NotificationRestIT's substitution of the resource's placeholders (and of ``--execTime--``, which it leaves)."""
    text = resource_text(f"{NOTIFICATIONS_DIR}/{name}.json")
    text = text.replace("--name--", db).replace("--clName--", cluster).replace('"--ts--"', str(ts))
    return text.replace('"--execTime--"', str(ts + 1)).replace("--execTime--", str(ts + 1))


def test_every_notification_resource_is_replayed() -> None:
    assert resource_names(NOTIFICATIONS_DIR) == ["create-db-ddl.json", "create-db.json", "delete-db.json"]


@pytest.mark.parametrize("order", [("create-db", "create-db-ddl", "delete-db"),
                                   ("create-db-ddl", "create-db", "delete-db")], ids=["db-first", "ddl-first"])
def test_notification_rest_it_messages(replay: Replay, order: tuple[str, ...]) -> None:
    db, cluster = f"db_{uuid.uuid4().hex[:10]}", f"cl{uuid.uuid4().hex[:10]}"
    ts = 1717600000000
    for name in order:
        text = notification(name, db, cluster, ts)
        replay.step(json.loads(text)["message"], text)
        if name == "create-db":
            # NotificationRestIT.postNotificationBasicTest: the DSL search finds the one database
            r = replay.client.get("/api/atlas/v2/search/dsl",
                                  params={"query": f"hive_db where qualifiedName='{db}@{cluster}'"})
            assert r.status_code == 200 and len(r.json()["entities"]) == 1, r.text
    if order[0] == "create-db-ddl":
        assert set(replay.shells.values()) == replay.completed and len(replay.completed) == 1
