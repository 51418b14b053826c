"""Which Atlas a client talks to, chosen by URL (as MLflow chooses its stores):

* ``http://host:port[/prefix]``, ``https://...``: an Atlas over the network (HTTP Basic auth), also one behind a
  gateway's path (Knox: ``https://gw/gateway/cdp-proxy-api/atlas``); its certificate checked unless told otherwise;
* ``atlas+embedded:`` with no path: the embedded store this process already has open (``store=``);
* ``atlas+embedded:///abs/dir`` (or ``atlas+embedded:relative/dir``): that store directory, opened here in-process
  and closed with the client. As in SQLite's URIs, ``?mode=rwc`` (the default) creates the store when there is
  none, ``?mode=rw`` opens an existing store only: what a command that reads or records into a (stopped)
  platform's store asks for, so that a mistyped directory is an error rather than a new, empty store.

Both embedded forms answer through :class:`~catalog.embedded.transport.EmbeddedTransport`: the same wire format
as HTTP, without a socket.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from pathlib import Path
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

from catalog.atlas.client import AtlasCatalogClient, Verify, check_http_url, shown, shown_url
from catalog.atlas.errors import InvalidAtlasUrl
from catalog.embedded.db import StoreVersionError
from catalog.embedded.store import EmbeddedStore

__all__ = ["EMBEDDED_BASE", "EMBEDDED_SCHEME", "InvalidAtlasUrl", "check_atlas_url", "embedded_dir",
           "existing_store_url", "is_embedded", "open_atlas"]

EMBEDDED_SCHEME = "atlas+embedded"
EMBEDDED_BASE = "http://embedded.atlas"  # the transport never resolves it; it only shapes request URLs
#: The file that makes a directory an embedded store (catalog.embedded.store.EmbeddedStore).
STORE_FILE = "atlas.db"
MODES = ("rw", "rwc")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
log = logging.getLogger(__name__)


def is_embedded(url: str) -> bool:
    return _scheme(url) == EMBEDDED_SCHEME


def embedded_dir(url: str) -> Path | None:
    """The store directory an ``atlas+embedded:`` URL names, or None for "this process's store"."""
    parts = _split(url)
    if parts.netloc:
        raise InvalidAtlasUrl(f"{shown(url)}: an embedded Atlas URL has no host (atlas+embedded:///abs/dir)")
    path = unquote(parts.path)
    if "\x00" in path:
        raise InvalidAtlasUrl(f"{shown(url)}: a store directory cannot contain a NUL character")
    return Path(path).expanduser() if path.strip("/") else None


def existing_store_url(url: str) -> str:
    """``url`` such that :func:`open_atlas` opens an existing embedded store only (``?mode=rw``); other URLs, and
    one that already says its mode, as they are."""
    if not is_embedded(url) or _split(url).query:
        return url
    return f"{url}?mode=rw"


def check_atlas_url(url: str) -> None:
    """Raise :class:`InvalidAtlasUrl` unless ``url`` is one :func:`open_atlas` can use, without opening anything:
    what a server checks before it creates its own store."""
    if is_embedded(url):
        _mode(url)
        embedded_dir(url)
    elif _scheme(url) in ("http", "https"):
        check_http_url(url)
    else:
        raise _unsupported(url)


def open_atlas(url: str, *, user: str = "admin", password: str | None = None, store: EmbeddedStore | None = None,
               timeout_s: float = 30.0, verify: Verify = True) -> AtlasCatalogClient:
    """A client for the Atlas ``url`` names. ``store``: the embedded store of this process, for ``atlas+embedded:``;
    ``verify``: how an https Atlas's certificate is checked (True: the default CAs; a path: that PEM CA bundle)."""
    from catalog.embedded.transport import EmbeddedTransport

    scheme = _scheme(url)
    if scheme == EMBEDDED_SCHEME:
        create = _mode(url) == "rwc"
        directory = embedded_dir(url)
        owned: EmbeddedStore | None = None
        if directory is None:
            if store is None:
                raise InvalidAtlasUrl(f"{shown(url)} means this process's embedded store, and none is open here: "
                                      "name a store directory (atlas+embedded:///path/to/store) or an Atlas URL")
        else:
            store = owned = _open_store(directory.resolve(), create=create)
        label = shown(url.partition("?")[0])
        return AtlasCatalogClient(EMBEDDED_BASE, user, "", transport=EmbeddedTransport(store, user),
                                  timeout_s=timeout_s, label=label, on_close=owned.close if owned else None)
    if scheme in ("http", "https"):
        if password is None:
            raise InvalidAtlasUrl(f"no password for the Atlas at {shown_url(url)}")
        client = AtlasCatalogClient(url, user, password, timeout_s=timeout_s, verify=verify)
        if verify is False and scheme == "https":
            # Said wherever a client is made (start-up, each command): the password goes to whoever answers.
            log.warning("TLS CERTIFICATE VERIFICATION IS OFF for the Atlas at %s (MLCATALOG_ATLAS_VERIFY_TLS=false): "
                        "anyone on the way can read its password and change its answers; name the CA that signed "
                        "its certificate with MLCATALOG_ATLAS_CA_BUNDLE instead", client.url)
        return client
    raise _unsupported(url)


def _split(url: str) -> SplitResult:
    try:
        return urlsplit(url)
    except ValueError as e:
        raise InvalidAtlasUrl(f"invalid Atlas URL {shown_url(url)}: {shown(str(e))}") from None


def _scheme(url: str) -> str:
    # Not urlsplit: it refuses a whole URL for its host (an unclosed "["), and the scheme decides who says why.
    match = _SCHEME.match(url)
    return match.group(1).lower() if match else ""


def _unsupported(url: str) -> InvalidAtlasUrl:
    return InvalidAtlasUrl(f"unsupported Atlas URL {shown_url(url)}: expected http(s)://host:port or "
                           "atlas+embedded:[///dir]")


def _mode(url: str) -> str:
    """``rwc`` (create the store if missing, the default) or ``rw`` (an existing store only)."""
    query = _split(url).query
    options = dict(parse_qsl(query, keep_blank_values=True))
    mode = options.pop("mode", "rwc")
    if options or mode not in MODES:
        raise InvalidAtlasUrl(f"{shown(url)}: an embedded Atlas URL takes only ?mode=rw (an existing store) or "
                              "?mode=rwc (created if missing)")
    return mode


def _open_store(directory: Path, *, create: bool) -> EmbeddedStore:
    from typedefs import load_bundled_typedefs

    if not create and not (directory / STORE_FILE).is_file():
        why = ("no such directory" if not directory.exists() else "not a directory" if not directory.is_dir()
               else f"no {STORE_FILE} in it")
        raise InvalidAtlasUrl(f"no embedded Atlas store in {shown(str(directory))} ({why}): mlcatalog up --store "
                              "DIR creates one")
    try:
        return EmbeddedStore(directory, load_bundled_typedefs())
    except (OSError, sqlite3.Error, StoreVersionError) as e:
        raise InvalidAtlasUrl(f"cannot open the embedded Atlas store in {shown(str(directory))}: "
                              f"{shown(str(e))}") from None
