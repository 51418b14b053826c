"""The parts of a ``multipart/form-data`` body (RFC 7578), as Jersey's ``@FormDataParam`` reads them for Atlas.

A handler sees a request's body, not its headers, so the boundary is read from the body's first line, where every
client puts it (RFC 2046 allows a preamble before it; no browser or HTTP library sends one). A body cut short before
its closing delimiter is refused rather than read in part.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import default as email_policy

from catalog.embedded.errors import AtlasError, ErrorCode

MAX_BOUNDARY = 70  # RFC 2046


@dataclass(frozen=True)
class FormPart:
    file_name: str | None  # the Content-Disposition's filename (None: not a file)
    data: bytes


def _bad(why: str) -> AtlasError:
    return AtlasError(ErrorCode.BAD_REQUEST, f"expected a multipart/form-data body: {why}")


def _headers(raw: bytes) -> EmailMessage:
    headers = BytesHeaderParser(policy=email_policy).parsebytes(raw + b"\r\n\r\n")
    assert isinstance(headers, EmailMessage)  # what the default policy makes
    return headers


def form_parts(body: bytes) -> dict[str, FormPart]:
    """The body's parts by field name (the first of a name repeated)."""
    line_end = body.find(b"\r\n")
    delimiter = body[:line_end].rstrip(b" \t") if line_end > 0 else b""
    if not delimiter.startswith(b"--") or not 2 < len(delimiter) <= MAX_BOUNDARY + 2:
        raise _bad("the body does not start with a multipart boundary")
    segments = (b"\r\n" + body).split(b"\r\n" + delimiter)[1:]
    parts: dict[str, FormPart] = {}
    for i, segment in enumerate(segments):
        if segment.startswith(b"--"):
            return parts  # the closing delimiter: every part is read
        if i == len(segments) - 1:
            break  # a part no delimiter ends: the body was cut short
        head, sep, content = segment.partition(b"\r\n\r\n")
        if not sep:
            raise _bad("a part has no header section")
        headers = _headers(head.lstrip(b" \t").removeprefix(b"\r\n"))
        name = headers.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise _bad("a part has no form field name")
        parts.setdefault(name, FormPart(headers.get_filename(), content))
    raise _bad("the body ends before its closing boundary")
