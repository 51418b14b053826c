"""A handler's content that is not JSON: Atlas answers a few endpoints with text or a file (``admin/stack`` as
``text/plain``, the import templates as ``application/octet-stream``, the health checks as bare text).

A handler returns :class:`RawContent` where it would return a JSON value; the reply sends ``data`` as it is, with
``media_type`` as its Content-Type and ``headers`` added (a download's Content-Disposition).
"""

from __future__ import annotations

from dataclasses import dataclass

TEXT = "text/plain; charset=UTF-8"
OCTET_STREAM = "application/octet-stream"


@dataclass(frozen=True)
class RawContent:
    data: bytes
    media_type: str = OCTET_STREAM
    headers: tuple[tuple[str, str], ...] = ()

    @staticmethod
    def text(text: str, media_type: str = TEXT, headers: tuple[tuple[str, str], ...] = ()) -> RawContent:
        return RawContent(text.encode("utf-8"), media_type, headers)
