"""The parts of a multipart/form-data body (``catalog.embedded.form_data``), as browsers and HTTP libraries send them,
and the bodies that are not one (Atlas's error shape, BAD_REQUEST)."""

from __future__ import annotations

import httpx
import pytest

from catalog.embedded.errors import AtlasError
from catalog.embedded.form_data import FormPart, form_parts


def multipart(files: dict[str, tuple[str, bytes, str]], data: dict[str, str] | None = None) -> bytes:
    return httpx.Request("POST", "http://atlas/", files=files, data=data).read()


def test_every_part_by_field_name() -> None:
    content = b"a,b\r\n--not-the-boundary\r\n\r\n\x00\xff"
    body = multipart({"data": ("export.zip", content, "application/zip")}, {"request": '{"options": {}}'})
    assert form_parts(body) == {"request": FormPart(None, b'{"options": {}}'),
                                "data": FormPart("export.zip", content)}


def test_a_non_ascii_file_name_as_browsers_send_it() -> None:
    body = (b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="t\xc3\xa9rms.csv"\r\n'
            b"Content-Type: text/csv\r\n\r\na,b\r\n--b0undary--\r\n")
    assert form_parts(body) == {"file": FormPart("térms.csv", b"a,b")}


def test_padding_after_a_boundary_and_a_repeated_name() -> None:
    body = (b'--b  \r\nContent-Disposition: form-data; name="x"\r\n\r\none\r\n--b\r\n'
            b'Content-Disposition: form-data; name="x"\r\n\r\ntwo\r\n--b--')
    assert form_parts(body) == {"x": FormPart(None, b"one")}


@pytest.mark.parametrize(("body", "why"), [
    (b'{"entities": []}', "the body does not start with a multipart boundary"),
    (b"", "the body does not start with a multipart boundary"),
    (b"--\r\n", "the body does not start with a multipart boundary"),
    (b"--" + b"b" * 71 + b"\r\n", "the body does not start with a multipart boundary"),
    (b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.csv"\r\n\r\na,b', "ends before its closing"),
    (b'--b\r\nContent-Disposition: form-data; name="file"\r\n--b--\r\n', "a part has no header section"),
    (b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--\r\n", "a part has no form field name"),
])
def test_bodies_that_are_not_multipart(body: bytes, why: str) -> None:
    with pytest.raises(AtlasError) as e:
        form_parts(body)
    assert (e.value.http_status, e.value.body()["errorCode"]) == (400, "ATLAS-400-00-029")
    assert e.value.message.startswith("expected a multipart/form-data body: ") and why in e.value.message
