"""Atlas's REST notification endpoint: ``POST /api/atlas/v2/notification/topic/{topicName}`` (``NotificationREST``).

What a hook configured with ``atlas.hook.rest.notification.address`` (``RestNotification`` →
``AtlasClientV2.postNotificationToTopic``) sends: a JSON array of messages, each the text of one
``AtlasNotificationMessage`` (the client's ``List<String>``), or the message objects themselves; a body that is not
an array is one message (``NotificationREST.getMessagesToNotify``). Atlas puts them on the Kafka topic for its hook
consumer; here the store's :class:`~catalog.embedded.hook_consumer.HookConsumer` applies them at once, in order, each
in its own transaction. The answer is Atlas's 204 when every message was applied (or, a part of a split message,
kept for the parts still to come). When some failed, the others are still applied, as Atlas's consumer goes on
past a message it can not apply, and the answer is the first failure's Atlas error (its status and code), its
message naming every failed message.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import orjson

from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.hook_consumer import Message, Outcome, consumer_for
from catalog.embedded.limits import shown
from catalog.embedded.store import EmbeddedStore

if TYPE_CHECKING:
    from catalog.embedded.routes import AtlasRequest

log = logging.getLogger(__name__)
# atlas.notification.hook.consumer.topic.names' default. Atlas also takes its outbound entity-change topic
# (ATLAS_ENTITIES), only to forward to Kafka; with no Kafka behind the store there is nobody to forward to.
HOOK_TOPICS = ("ATLAS_HOOK",)
# Messages in one request. RestNotification cuts its batches at atlas.notification.rest.body.max.length.bytes
# (1 MiB); no hook message is smaller than ~100 bytes.
MAX_MESSAGES = 10_000
MAX_LISTED_FAILURES = 5


class NotificationsFailed(AtlasError):
    """The first failed message's Atlas error, with a message naming every failure of the batch."""

    def __init__(self, first: AtlasError, summary: str) -> None:
        super().__init__(first.code, *first.params)
        self.message = summary


def messages_of(body: bytes) -> list[Message]:
    """The messages of one request body, as ``NotificationREST.getMessagesToNotify`` reads them."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return [body]  # not JSON (or nested past the parser): one message, which the consumer refuses
    if not isinstance(value, list):
        return [body]
    if len(value) > MAX_MESSAGES:
        raise AtlasError(ErrorCode.BAD_REQUEST, f"{len(value)} notification messages exceed {MAX_MESSAGES}")
    return [m if isinstance(m, str | dict) else orjson.dumps(m) for m in value]


def _describe(index: int, count: int, outcome: Outcome) -> str:
    assert outcome.error is not None
    what = f"message {index + 1} of {count}" + (f" ({outcome.type})" if outcome.type else "")
    return f"{what}: {outcome.error.code.code}: {shown(outcome.error.message, 300)}"


def post_notifications(store: EmbeddedStore, req: AtlasRequest) -> Any:
    topic = req.param("topicName")
    if topic not in HOOK_TOPICS:
        raise AtlasError(ErrorCode.INVALID_TOPIC_NAME, shown(topic, 100))
    messages = messages_of(req.body)
    outcomes = consumer_for(store).consume_all(messages)
    failed = [(i, o) for i, o in enumerate(outcomes) if o.error is not None]
    if not failed:
        return None
    listed = "; ".join(_describe(i, len(outcomes), o) for i, o in failed[:MAX_LISTED_FAILURES])
    more = f"; and {len(failed) - MAX_LISTED_FAILURES} more" if len(failed) > MAX_LISTED_FAILURES else ""
    accepted = len(outcomes) - len(failed)  # applied, or a part of a split message kept for the rest
    summary = (f"{len(failed)} of {len(outcomes)} hook notification messages failed "
               f"(the other {accepted} were accepted): {listed}{more}")
    log.warning("%s", summary.replace("\n", " "))
    first = failed[0][1].error
    assert first is not None
    raise NotificationsFailed(first, summary)


ROUTES = [("POST", "/v2/notification/topic/{topicName}", post_notifications, 204)]
