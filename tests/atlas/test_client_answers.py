"""The typed Atlas client against answers that are not Atlas's (fault injection with ``httpx.MockTransport``): a
2xx that is not JSON, JSON of the wrong type or shape, error messages full of terminal escapes or megabytes long.

Each is an :class:`AtlasBadAnswer` (an ``UpstreamUnavailable``) or the status's error, with a short printable
message naming the Atlas: never a parsing error (JSONDecodeError, AttributeError, KeyError) of the caller's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from catalog.atlas.client import AtlasCatalogClient
from catalog.atlas.errors import AtlasBadAnswer, AtlasBadRequest
from catalog.atlas.models import EntitySpec
from catalog.errors import UpstreamUnavailable

URL = "http://atlas.test:21000"
MB = 1024 * 1024

CALLS: dict[str, Callable[[AtlasCatalogClient], Any]] = {
    "ping": lambda c: c.ping(),
    "get_typedefs": lambda c: c.get_typedefs(),
    "get_typedefs-by-name": lambda c: c.get_typedefs(["ml_model_build"]),
    "upsert": lambda c: c.upsert([EntitySpec(type_name="hive_db", qualified_name="d@cm")]),
    "partial_update": lambda c: c.partial_update("hive_db", "d@cm", {"description": "x"}),
    "get_entity": lambda c: c.get_entity("g-1"),
    "find_entity": lambda c: c.find_entity("hive_db", "d@cm"),
    "delete": lambda c: c.delete("g-1"),
    "classifications": lambda c: c.classifications("g-1"),
    "lineage": lambda c: c.lineage("g-1"),
    "search": lambda c: c.search(type_name="hive_db"),
}

#: answer -> calls that may take it (an empty answer is Atlas's for some writes).
GARBAGE: dict[str, tuple[bytes, set[str]]] = {
    "text": (b"hello, this is not JSON", set()),
    "html": (b"<html><body>Knox login</body></html>", set()),
    "truncated": (b'{"entity": {"guid": "g-1", ', set()),
    "huge-text": (b"x" * (8 * MB), set()),
    "list": (b"[1, 2, 3]", set()),
    "string": (b'"ok"', set()),
    "number": (b"42", set()),
    "null": (b"null", {"upsert", "partial_update", "delete", "classifications", "search"}),
    "wrong-object": (b'{"entity": 5, "entities": 7, "list": "x", "mutatedEntities": [1], "baseEntityGuid": null}',
                     {"ping", "get_typedefs"}),
}


def mocked(body: bytes, status: int = 200) -> AtlasCatalogClient:
    return AtlasCatalogClient(URL, "admin", "pw", transport=httpx.MockTransport(
        lambda r: httpx.Response(status, content=body, headers={"Content-Type": "application/json"})))


@pytest.mark.parametrize("answer", list(GARBAGE))
@pytest.mark.parametrize("call", list(CALLS))
def test_a_2xx_that_is_not_atlas_json_is_a_bad_answer(call: str, answer: str) -> None:
    body, accepted = GARBAGE[answer]
    with mocked(body) as client:
        if call in accepted:
            CALLS[call](client)
            return
        with pytest.raises(AtlasBadAnswer) as e:
            CALLS[call](client)
    message = str(e.value)
    assert isinstance(e.value, UpstreamUnavailable) and e.value.status == 200
    assert message.startswith(f"the Atlas at {URL} answered ") and "not Atlas's JSON" in message
    assert message.isprintable() and len(message) < 1000


@pytest.mark.parametrize("body", [
    b'{"errorCode": "ATLAS-400-00-001", "errorMessage": "\\u001b]0;owned\\u0007\\u001b[2J cleared\\nall good"}',
    b'{"errorCode": "ATLAS-400-00-001", "errorMessage": "' + b"m" * (5 * MB) + b'"}',
    b"\x1b[2J" + b"m" * MB,
])
def test_an_error_message_is_printable_and_short(body: bytes) -> None:
    with mocked(body, 400) as client, pytest.raises(AtlasBadRequest) as e:
        client.get_entity("g-1")
    assert str(e.value).isprintable() and len(str(e.value)) < 1000
