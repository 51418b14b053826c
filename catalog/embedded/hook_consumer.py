"""Atlas's hook consumer over the embedded store: ``NotificationHookConsumer`` / ``SerialEntityProcessor``.

:meth:`HookConsumer.consume` takes one message as a hook sends it (the bytes of one Kafka record, one element of a
REST notification batch) and applies it, the way Atlas's consumer handles each ``HookNotification``:

- ``ENTITY_CREATE_V2`` / ``ENTITY_FULL_UPDATE_V2`` (and V1's create/full update): the default preprocessing
  (:mod:`hook_preprocess`), then ``createOrUpdate`` of the entities and referred entities, not partial;
- ``ENTITY_PARTIAL_UPDATE_V2`` (and V1's): the entity found by ``entityId`` (a guid, or type and unique attributes:
  else ATLAS-404-00-009) is updated partially (``AtlasEntityStoreV2.updateEntity(objectId, entity, true)``);
- ``ENTITY_DELETE_V2`` (and V1's): each entity found by type and unique attributes is deleted; one not found is
  already gone (``deleteByUniqueAttributes``);
- a reference to an entity neither the message nor the store has becomes a shell (:mod:`hook_shells`), completed
  when its full entity arrives.

One message is one transaction and written as the message's user; a classification it adds without ``propagate``
does not propagate (Atlas's ``isInNotificationProcessing``). A message that fails (an envelope or shape Atlas
would not read, an entity Atlas would refuse) changes nothing and comes back as a failed :class:`Outcome` carrying
the Atlas error; the next message is applied as if it had not been sent, as Atlas's consumer goes on to the next
offset. The same message applied twice leaves the store as once (create-or-update by unique attributes, unchanged
entities not written), so a source may redeliver. The consumer knows nothing of where messages come from: a source
(the REST endpoint here, a Kafka topic later) hands it messages in order and keeps its own offsets; only the parts
of split messages are held between calls (:class:`~catalog.embedded.hook_envelope.SplitBuffer`).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from catalog.embedded.entity_delete import delete_entities
from catalog.embedded.entity_read import find_by_unique
from catalog.embedded.entity_write import EntityWriter, MutationResult, is_assigned_guid, now_ms
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.hook_envelope import Envelope, SplitBuffer, parse_json, unwrap
from catalog.embedded.hook_messages import DeleteRequest, EntitiesRequest, HookRequest, PartialUpdateRequest, request
from catalog.embedded.hook_preprocess import preprocess
from catalog.embedded.hook_shells import complete_shells, create_shells
from catalog.embedded.limits import MAX_BODY_DEPTH, depth_exceeds
from catalog.embedded.propagation import notification_processing
from catalog.embedded.request_context import acting_as
from catalog.embedded.store import EmbeddedStore

log = logging.getLogger(__name__)
APPLIED, PENDING, SKIPPED, FAILED = "APPLIED", "PENDING", "SKIPPED", "FAILED"
Message = bytes | str | Mapping[str, Any]


@dataclass(frozen=True)
class Outcome:
    """What one message did. ``status``: APPLIED; PENDING (a part of a split message, kept until its last part);
    SKIPPED (nothing to write, as Atlas's ``isEmptyMessage``); FAILED (``error`` says why; nothing written)."""

    status: str
    type: str | None = None
    user: str | None = None
    envelope: Envelope | None = None
    created: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    partially_updated: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    shells: tuple[str, ...] = ()  # shell entities made for references nothing resolved
    completed: tuple[str, ...] = ()  # shells this message filled in
    guid_assignments: Mapping[str, str] = field(default_factory=dict)
    error: AtlasError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class HookConsumer:
    """Applies hook notifications to one store, one message at a time (``consume`` may be called from any thread:
    messages are applied in the order the calls take the consumer's lock)."""

    def __init__(self, store: EmbeddedStore, *, splits: SplitBuffer | None = None, preprocessing: bool = True
                 ) -> None:
        self.store = store
        self.splits = splits or SplitBuffer()
        self.preprocessing = preprocessing
        self._lock = threading.Lock()

    def consume_all(self, messages: Iterable[Message]) -> list[Outcome]:
        return [self.consume(m) for m in messages]

    def consume(self, message: Message) -> Outcome:
        """Apply one message (JSON text, or its parsed object, which the consumer then owns and may change)."""
        with self._lock:
            decoded = None
            try:
                decoded = self._decode(message)
                if decoded is None:
                    return Outcome(PENDING)
                # RequestContext.setUser(messageUser): entities' and audit's user; setInNotificationProcessing:
                # a classification added without ``propagate`` does not propagate
                with acting_as(decoded[1].user), notification_processing():
                    outcome = self._apply(decoded[1])
            except AtlasError as e:
                outcome = Outcome(FAILED, error=e)
            except Exception:  # a bug: logged, and this message fails while the next ones still run
                error_id = secrets.token_hex(8)
                log.exception("hook notification failed: internal error %s", error_id)
                outcome = Outcome(FAILED, error=AtlasError(ErrorCode.INTERNAL_ERROR, f"(ID {error_id})"))
            if decoded is None:
                return outcome
            env, req = decoded
            return replace(outcome, type=req.type, user=req.user, envelope=env)

    def _decode(self, message: Message) -> tuple[Envelope | None, HookRequest] | None:
        if isinstance(message, Mapping):
            value: Any = message
            if depth_exceeds(value, MAX_BODY_DEPTH):
                raise AtlasError(ErrorCode.BAD_REQUEST,
                                 f"invalid notification message: the message nests more than {MAX_BODY_DEPTH} levels")
        else:
            value = parse_json(message)
        unwrapped = unwrap(value, self.splits)
        if unwrapped is None:
            return None
        env, notification = unwrapped
        return env, request(notification)

    # -- applying one request ---------------------------------------------------------------------------------
    def _apply(self, req: HookRequest) -> Outcome:
        with self.store.db.write() as conn:
            if isinstance(req, EntitiesRequest):
                return self._write(conn, req.user, req.entities, req.referred, partial=False)
            if isinstance(req, PartialUpdateRequest):
                entity = dict(req.entity)
                entity["guid"] = self._guid_of(conn, req.entity_id)
                return self._write(conn, req.user, [entity], req.referred, partial=True)
            return self._delete(conn, req)

    def _write(self, conn: Any, user: str, entities: list[Any], referred: dict[str, Any], *, partial: bool
               ) -> Outcome:
        if not partial and self.preprocessing:
            entities, referred = preprocess(entities, referred, int(time.time() * 1000))
        if not entities:
            return Outcome(SKIPPED)
        registry = self.store.registry
        shells = create_shells(conn, registry, [*entities, *referred.values()], user)
        w = EntityWriter(conn, registry, user)
        w.create_or_update(entities, referred or None, partial)
        completed = [] if partial else complete_shells(conn, [p.guid for p in w.pending if p.existing is not None])
        r = w.result
        return Outcome(APPLIED, created=tuple(r.created), updated=tuple(r.updated), partially_updated=tuple(r.partial),
                       deleted=tuple(r.deleted), shells=tuple(shells), completed=tuple(completed),
                       guid_assignments=dict(r.guid_assignments))

    def _guid_of(self, conn: Any, entity_id: dict[str, Any]) -> str:
        """``AtlasEntityStoreV2.updateEntity``'s lookup of the entity a partial update names."""
        guid = entity_id.get("guid")
        if is_assigned_guid(guid):
            return str(guid)
        type_name = entity_id.get("typeName")
        t = self.store.registry.get(type_name) if isinstance(type_name, str) else None
        if t is None or t.category != "ENTITY":
            raise AtlasError(ErrorCode.UNKNOWN_TYPENAME, type_name)
        uniq = entity_id.get("uniqueAttributes")
        e = find_by_unique(conn, self.store.registry, t.name, uniq) if isinstance(uniq, dict) and uniq else None
        if e is None:
            raise AtlasError(ErrorCode.INSTANCE_BY_UNIQUE_ATTRIBUTE_NOT_FOUND, type_name, uniq)
        return e.guid

    def _delete(self, conn: Any, req: DeleteRequest) -> Outcome:
        registry = self.store.registry
        result = MutationResult()
        for oid in req.ids:
            type_name, uniq = oid.get("typeName"), oid.get("uniqueAttributes")
            t = registry.get(type_name) if isinstance(type_name, str) else None
            if t is None:
                raise AtlasError(ErrorCode.TYPE_NAME_NOT_FOUND, type_name)
            if t.category != "ENTITY":
                continue  # Atlas's consumer logs the ClassCastException and goes on
            if not isinstance(uniq, dict) or not uniq:
                raise AtlasError(ErrorCode.INSTANCE_BY_UNIQUE_ATTRIBUTE_NOT_FOUND, type_name, uniq)
            e = find_by_unique(conn, registry, t.name, uniq)
            if e is not None:  # else already gone: not an error
                delete_entities(conn, registry, [e.guid], req.user, now_ms(), result, strict=False)
        return Outcome(APPLIED, deleted=tuple(result.deleted))


_consumers: weakref.WeakKeyDictionary[EmbeddedStore, HookConsumer] = weakref.WeakKeyDictionary()
_consumers_lock = threading.Lock()


def consumer_for(store: EmbeddedStore) -> HookConsumer:
    """The one consumer of ``store`` (so every source feeding the store shares its split-message buffer and order)."""
    with _consumers_lock:
        consumer = _consumers.get(store)
        if consumer is None:
            consumer = _consumers[store] = HookConsumer(store)
        return consumer
