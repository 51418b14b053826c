"""Passwords never shown: in URLs, in free text quoting URLs, in the Atlas client's messages and the outbox."""

from __future__ import annotations

import pytest

from catalog.atlas.client import AtlasCatalogClient
from catalog.atlas.errors import AtlasUnavailable
from catalog.redact import redact_text, redact_url
from tests.servers import free_port


@pytest.mark.parametrize(("url", "shown"), [
    ("http://admin:s3cret@atlas.example:21000/atlas", "http://admin:***@atlas.example:21000/atlas"),
    ("https://atlas.example", "https://atlas.example"),
    ("http://user@atlas.example/", "http://user@atlas.example/"),
    ("postgresql://u:s3cret@db:5432/m?sslmode=require", "postgresql://u:***@db:5432/m?sslmode=require"),
    ("postgresql://db/m?user=u&password=s3cret", "postgresql://db/m?user=u&password=***"),
    ("sqlite:////var/lib/x.db", "sqlite:////var/lib/x.db"),
])
def test_urls_lose_their_password(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize("text", [
    "Atlas at http://admin:s3cret@127.0.0.1:1/ is not reachable: ConnectError",
    "two: http://a:s3cret@h1/x and postgresql://b:s3cret@h2:5432/db?sslmode=disable",
    "a password with an at sign: http://admin:s3c@ret@host:21000/",
    "connection string host=db password=s3cret user=me",
    "postgresql://db/m?password=s3cret&user=u",
])
def test_text_quoting_urls_loses_every_password(text: str) -> None:
    shown = redact_text(text)
    assert "s3cret" not in shown and "ret@host" not in shown and "***" in shown


def test_text_without_credentials_is_unchanged() -> None:
    for text in ("user:pass@host is not a URL", "mail me at a@b.example", "http://host:21000/api/atlas"):
        assert redact_text(text) == text


def test_an_unreachable_atlas_is_named_without_its_password() -> None:
    url = f"http://admin:s3cret@127.0.0.1:{free_port()}"
    with AtlasCatalogClient(url, "admin", "s3cret", timeout_s=2) as client, pytest.raises(AtlasUnavailable) as e:
        client.ping()
    assert "s3cret" not in str(e.value) and "admin:***@127.0.0.1" in str(e.value)
