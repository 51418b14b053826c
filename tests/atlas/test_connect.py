"""Which Atlas a URL names (catalog/atlas/connect.py): URLs that are no URLs, and embedded stores opened only when
they exist (``?mode=rw``) or created when missing (the default, ``?mode=rwc``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog.atlas.client import AtlasCatalogClient
from catalog.atlas.connect import InvalidAtlasUrl, check_atlas_url, existing_store_url, open_atlas
from catalog.embedded.store import EmbeddedStore
from catalog.errors import InvalidInput
from typedefs import load_bundled_typedefs

BAD_HTTP_URLS = [
    pytest.param("http://[::1", "Invalid IPv6 URL", id="unclosed-ipv6"),
    pytest.param("http://at\x00las", "non-printable", id="NUL-in-host"),
    pytest.param("http://256.256.256.256:1", "Invalid IPv4", id="ipv4-out-of-range"),
    pytest.param("https://" + "a" * 5000, "cannot be resolved", id="label-5000-chars"),
    pytest.param("http://atlas:99999", "out of range", id="port-out-of-range"),
    pytest.param("http://atlas:http", "cast to integer", id="port-not-a-number"),
    pytest.param("http://", "no host", id="no-host"),
]


@pytest.mark.parametrize(("url", "why"), BAD_HTTP_URLS)
def test_an_http_url_that_cannot_be_called_is_refused_up_front(url: str, why: str) -> None:
    for attempt in (lambda: check_atlas_url(url), lambda: open_atlas(url, password="pw"),
                    lambda: AtlasCatalogClient(url, "admin", "pw")):
        with pytest.raises(InvalidAtlasUrl, match="invalid Atlas URL") as e:
            attempt()
        assert isinstance(e.value, InvalidInput) and why in e.value.message
        assert e.value.message.isprintable() and len(e.value.message) < 500


@pytest.mark.parametrize("url", ["http://atlas.example:21000", "https://atlas.example/gateway/cdp-proxy/atlas",
                                 "http://[::1]:21000", "http://127.0.0.1:1", "http://bücher.example",
                                 "atlas+embedded:", "atlas+embedded://{dir}/store", "atlas+embedded://{dir}/s?mode=rw"])
def test_usable_urls_pass_the_check_without_opening_anything(tmp_path: Path, url: str) -> None:
    check_atlas_url(url.format(dir=tmp_path))
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(("url", "text"), [
    ("ftp://atlas", "unsupported Atlas URL"), ("", "unsupported Atlas URL"), ("atlas.example:21000", "unsupported"),
    ("atlas+embedded://host/dir", "no host"), ("atlas+embedded:///a%00b", "NUL"),
    ("atlas+embedded:///s?mode=ro", "?mode=rw"), ("atlas+embedded:///s?mode=rw&x=1", "?mode=rw"),
])
def test_other_urls_are_refused_by_the_check(url: str, text: str) -> None:
    with pytest.raises(InvalidAtlasUrl, match=text.replace("?", r"\?")):
        check_atlas_url(url)


def test_mode_rw_opens_an_existing_store_only(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("not a store\n")
    (tmp_path / "empty").mkdir()
    for where, why in (("missing", "no such directory"), ("afile", "not a directory"), ("empty", "no atlas.db")):
        with pytest.raises(InvalidAtlasUrl, match=f"no embedded Atlas store in .*{where} \\({why}"):
            open_atlas(f"atlas+embedded://{tmp_path / where}?mode=rw")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "empty"]
    assert not any((tmp_path / "empty").iterdir())

    EmbeddedStore(tmp_path / "store", load_bundled_typedefs()).close()
    with open_atlas(f"atlas+embedded://{tmp_path / 'store'}?mode=rw") as client:
        client.ping()
        assert client.url == f"atlas+embedded://{tmp_path / 'store'}"  # messages name the store, not the mode


def test_the_default_mode_creates_the_store_and_a_file_in_the_way_is_one_error(tmp_path: Path) -> None:
    for url in (f"atlas+embedded://{tmp_path / 'new'}", f"atlas+embedded://{tmp_path / 'newer'}?mode=rwc"):
        with open_atlas(url) as client:
            client.ping()
    assert (tmp_path / "new" / "atlas.db").is_file() and (tmp_path / "newer" / "atlas.db").is_file()
    (tmp_path / "afile").write_text("not a store\n")
    with pytest.raises(InvalidAtlasUrl, match="cannot open the embedded Atlas store in"):
        open_atlas(f"atlas+embedded://{tmp_path / 'afile'}")


def test_existing_store_url_asks_for_mode_rw_of_embedded_urls_only() -> None:
    assert existing_store_url("atlas+embedded:///srv/store") == "atlas+embedded:///srv/store?mode=rw"
    assert existing_store_url("atlas+embedded:///srv/store?mode=rwc") == "atlas+embedded:///srv/store?mode=rwc"
    assert existing_store_url("http://atlas:21000") == "http://atlas:21000"
    assert existing_store_url("http://[::1") == "http://[::1"  # the client says what is wrong with it
