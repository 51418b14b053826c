"""Atlas's notification envelope: ``AtlasNotificationMessage`` with its compressed and split forms.

A hook writes each ``HookNotification`` as ``AbstractNotification.createNotificationMessages`` does: wrapped in an
``AtlasNotificationMessage`` (``version``, ``msgCompressionKind``, ``msgSplitIdx``/``msgSplitCount``, ``msgSourceIP``,
``msgCreatedBy``, ``msgCreationTime``, ``spooled``, ``message``); one longer than
``atlas.notification.message.max.length.bytes`` gzip-compressed and base64-encoded into an
``AtlasNotificationStringMessage`` (``msgCompressionKind: GZIP``, the text in ``message``); one still too long cut
into parts (``msgId``, ``msgSplitIdx`` 0..``msgSplitCount``-1, each a slice of the base64 text). :func:`unwrap`
undoes all of it as ``AtlasNotificationMessageDeserializer`` does, keeping the parts of a split message in a
:class:`SplitBuffer` until the last one arrives. A message without ``version`` is an older, unwrapped
``HookNotification`` (the deserializer reads those too).

Everything a sender controls is bounded: the JSON depth, the number of parts, the bytes a message decodes or
decompresses to (a gzip bomb stops at the bound), the parts held while waiting. Atlas's own deserializer has no such
bounds (it allocates ``msgSplitCount`` slots on the first part); these are ours, far above what a hook sends.
"""

from __future__ import annotations

import base64
import binascii
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.limits import MAX_BODY_BYTES, MAX_BODY_DEPTH, depth_exceeds, shown

CURRENT_VERSION = (1,)  # MessageVersion.CURRENT_VERSION, "1.0.0" (trailing zeros do not count)
COMPRESSION_KINDS = ("NONE", "GZIP")  # AtlasNotificationBaseMessage.CompressionKind
# One decoded message (a split message reassembled, a compressed one inflated): twice our request body limit.
MAX_MESSAGE_BYTES = 2 * MAX_BODY_BYTES
# Parts of one split message. A hook cuts at atlas.notification.message.max.length.bytes (1 MB by default), so a
# message of MAX_MESSAGE_BYTES takes ~45 parts; 1000 leaves room for a hook configured with small parts.
MAX_SPLIT_COUNT = 1000
SPLIT_WAIT_MS = 15 * 60 * 1000  # atlas.notification.split.message.segments.wait.time.seconds
MAX_PENDING_MESSAGES = 100  # split messages waiting for parts at once
MAX_PENDING_BYTES = 2 * MAX_MESSAGE_BYTES  # base64 text held for them


def bad(reason: str) -> AtlasError:
    return AtlasError(ErrorCode.BAD_REQUEST, f"invalid notification message: {reason}")


def parse_json(raw: bytes | str, what: str = "message") -> Any:
    """JSON text as a value, refused if malformed or nested deeper than a request body may be."""
    if not raw.strip():
        raise bad(f"the {what} is empty")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise bad(f"the {what} is not JSON: {shown(str(e), 200)}") from e
    if depth_exceeds(value, MAX_BODY_DEPTH):
        raise bad(f"the {what} nests more than {MAX_BODY_DEPTH} levels")
    return value


@dataclass(frozen=True)
class Envelope:
    """An AtlasNotificationMessage's header (what ``AtlasKafkaMessage`` carries beside the notification)."""

    version: str
    msg_id: str | None = None
    compression: str = "NONE"
    split_idx: int = 1
    split_count: int = 1
    source_ip: str | None = None
    created_by: str | None = None
    creation_time: int = 0
    spooled: bool = False
    source: str | None = None


def _int(obj: dict[str, Any], key: str, default: int) -> int:
    value = obj.get(key)
    if value is None:
        return default
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)  # Jackson coerces a numeric string into an int field
    if not isinstance(value, int) or isinstance(value, bool) or abs(value) >= 2**63:
        raise bad(f"{key} must be an integer, not {shown(value, 60)}")
    return value


def _str(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # Jackson coerces a scalar into a String field
    raise bad(f"{key} must be a string, not {shown(value, 60)}")


def _version(value: Any) -> str:
    text = value.get("version") if isinstance(value, dict) else value  # MessageVersion is {"version": "1.0.0"}
    if not isinstance(text, str) or not all(p.isdigit() for p in text.split(".")):
        raise bad(f"invalid version {shown(value, 60)}")
    return text


def _newer_than_current(version: str) -> bool:
    parts = [int(p) for p in version.split(".")]
    while parts and parts[-1] == 0:
        parts.pop()
    return tuple(parts) > CURRENT_VERSION


def envelope(obj: dict[str, Any]) -> Envelope:
    compression = obj.get("msgCompressionKind")
    if compression is None:
        compression = "NONE"
    if compression not in COMPRESSION_KINDS:
        raise bad(f"msgCompressionKind must be one of {', '.join(COMPRESSION_KINDS)}, not {shown(compression, 60)}")
    source = obj.get("source")
    spooled = obj.get("spooled")
    if spooled is not None and not isinstance(spooled, bool):
        raise bad("spooled must be a boolean")
    version = _version(obj.get("version"))
    if _newer_than_current(version):
        # AtlasNotificationMessageDeserializer.checkVersion: an IncompatibleVersionException
        raise bad(f"Notification message version mismatch. Expected 1.0.0 but received {shown(version, 40)}")
    return Envelope(
        version=version, msg_id=_str(obj, "msgId"), compression=compression,
        split_idx=_int(obj, "msgSplitIdx", 1), split_count=_int(obj, "msgSplitCount", 1),
        source_ip=_str(obj, "msgSourceIP"), created_by=_str(obj, "msgCreatedBy"),
        creation_time=_int(obj, "msgCreationTime", 0), spooled=bool(spooled),
        source=_str(source, "source") if isinstance(source, dict) else None)


def decode_base64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise bad("an encoded message must be a string")
    if len(text) > MAX_MESSAGE_BYTES * 4 // 3 + 4:
        raise bad(f"the encoded message exceeds {MAX_MESSAGE_BYTES} bytes")
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as e:
        raise bad(f"the message is not base64: {e}") from e


def gunzip(data: bytes, limit: int = MAX_MESSAGE_BYTES) -> bytes:
    """The gzip members in ``data`` inflated, refused as soon as they pass ``limit`` bytes."""
    out = bytearray()
    while data:
        inflater = zlib.decompressobj(wbits=31)
        try:
            out += inflater.decompress(data, limit - len(out) + 1)
        except zlib.error as e:
            raise bad(f"the message is not gzip: {e}") from e
        if len(out) > limit:
            raise bad(f"the message inflates to more than {limit} bytes")
        if not inflater.eof:
            raise bad("the gzip stream is truncated")
        data = inflater.unused_data
    if not out:
        raise bad("the gzip stream is empty")
    return bytes(out)


def decode(text: Any, compression: str) -> Any:
    """The JSON an encoded message holds: base64 of gzip (GZIP) or of the UTF-8 text itself (a split NONE)."""
    data = decode_base64(text)
    if compression == "GZIP":
        data = gunzip(data)
    elif len(data) > MAX_MESSAGE_BYTES:
        raise bad(f"the message exceeds {MAX_MESSAGE_BYTES} bytes")
    return parse_json(data, "decoded message")


@dataclass
class _Parts:
    msg_id: str
    count: int
    first_ms: int
    parts: dict[int, str] = field(default_factory=dict)
    size: int = 0


class SplitBuffer:
    """The parts of split messages received so far (``AtlasNotificationMessageDeserializer.splitMsgBuffer``).

    As Atlas: part 0 opens a message (again, if it was open), a later part needs its first one, the last part
    (index ``count``-1) closes it and every part must be there by then, and a message still open after
    ``wait_ms`` is dropped. Unlike Atlas, a part that can not be used is an error for its sender rather than a log
    line, and the parts held are bounded (the oldest open message is dropped first)."""

    def __init__(self, *, wait_ms: int = SPLIT_WAIT_MS, max_messages: int = MAX_PENDING_MESSAGES,
                 max_bytes: int = MAX_PENDING_BYTES, clock: Callable[[], int] | None = None) -> None:
        self.wait_ms = wait_ms
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self._clock = clock or (lambda: int(time.time() * 1000))
        self._open: dict[str, _Parts] = {}

    @property
    def pending(self) -> dict[str, int]:
        """msgId -> parts received, of the messages still waiting for parts."""
        return {k: len(v.parts) for k, v in self._open.items()}

    def add(self, env: Envelope, text: Any) -> str | None:
        """Keep one part; the whole (still encoded) text once ``env`` is the last part, else None."""
        now = self._clock()
        self._open = {k: v for k, v in self._open.items() if now - v.first_ms < self.wait_ms}
        if not env.msg_id:
            raise bad("a part of a split message has no msgId")
        if env.split_count > MAX_SPLIT_COUNT:
            raise bad(f"msgSplitCount {env.split_count} exceeds {MAX_SPLIT_COUNT}")
        if not isinstance(text, str):
            raise bad("a part of a split message must carry a string")
        where = f"msgId={shown(env.msg_id, 80)}: part {env.split_idx + 1} of {env.split_count}"
        if env.split_idx == 0:
            self._open.pop(env.msg_id, None)
            self._open[env.msg_id] = _Parts(env.msg_id, env.split_count, now)
        msg = self._open.get(env.msg_id)
        if msg is None:
            raise bad(f"{where}, but its first part did not arrive")
        if not 0 <= env.split_idx < msg.count:
            raise bad(f"{where} is out of bounds")
        msg.size += len(text) - len(msg.parts.get(env.split_idx, ""))
        msg.parts[env.split_idx] = text
        if msg.size > MAX_MESSAGE_BYTES * 4 // 3 + 4:
            del self._open[env.msg_id]
            raise bad(f"{where}: the parts exceed {MAX_MESSAGE_BYTES} bytes")
        self._bound(keep=env.msg_id)
        if env.split_idx != msg.count - 1:
            return None
        del self._open[env.msg_id]
        missing = [i + 1 for i in range(msg.count) if i not in msg.parts]
        if missing:
            raise bad(f"msgId={shown(env.msg_id, 80)}: part {missing[0]} of {msg.count} is missing")
        return "".join(msg.parts[i] for i in range(msg.count))

    def _bound(self, keep: str) -> None:
        while len(self._open) > self.max_messages or sum(m.size for m in self._open.values()) > self.max_bytes:
            oldest = next((k for k in self._open if k != keep), None)
            if oldest is None:
                return
            del self._open[oldest]


def unwrap(value: Any, splits: SplitBuffer) -> tuple[Envelope | None, Any] | None:
    """The notification in one delivered message with its envelope (None for an unwrapped one); None while the
    message is a part of a split message that has more parts to come."""
    if not isinstance(value, dict):
        raise bad("a notification message must be a JSON object")
    if value.get("version") is None:
        return None, value  # older style: a HookNotification not wrapped in an AtlasNotificationMessage
    env = envelope(value)
    if env.split_count > 1:
        text = splits.add(env, value.get("message"))
        if text is None:
            return None
        value = _whole(decode(text, env.compression))
        env = envelope(value)
    elif env.compression == "GZIP":
        value = _whole(decode(value.get("message"), "GZIP"))
        env = envelope(value)
    return env, value.get("message")


def _whole(value: Any) -> dict[str, Any]:
    """A reassembled or inflated message: the original AtlasNotificationMessage, itself neither split nor
    compressed."""
    if not isinstance(value, dict) or value.get("version") is None:
        raise bad("a decoded message must be an AtlasNotificationMessage")
    inner = envelope(value)
    if inner.split_count > 1 or inner.compression != "NONE":
        raise bad("a decoded message is itself split or compressed")
    return value
