"""An httpx transport that answers Atlas REST calls from an embedded store in the calling thread.

A client built on httpx talks to the embedded store through it exactly as to an Atlas over HTTP: the same
paths, query strings, JSON bodies, statuses and error bodies (both go through :class:`AtlasApi`), minus the
socket, the HTTP parsing and the event loop. The caller is trusted: it runs in the process that owns the store.
"""

from __future__ import annotations

import httpx

from catalog.embedded.app import ATLAS_PREFIX
from catalog.embedded.errors import ErrorCode
from catalog.embedded.raw_content import RawContent
from catalog.embedded.routes import AtlasApi, error_reply
from catalog.embedded.store import EmbeddedStore


class EmbeddedTransport(httpx.BaseTransport):
    def __init__(self, store: EmbeddedStore, user: str = "admin") -> None:
        self.api = AtlasApi(store)
        self.user = user

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == ATLAS_PREFIX or path.startswith(ATLAS_PREFIX + "/"):
            reply = self.api.dispatch(request.method, path[len(ATLAS_PREFIX):] or "/", request.url.query,
                                      request.read(), self.user)
        else:
            reply = error_reply(ErrorCode.EMPTY_RESULTS, f"{request.method} {path}")
        if isinstance(reply.content, RawContent):
            headers = {"content-type": reply.content.media_type, **dict(reply.content.headers)}
        else:
            headers = {"content-type": "application/json"} if reply.content is not None else {}
        return httpx.Response(reply.status, headers=headers, content=reply.body(), request=request)
