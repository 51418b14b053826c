"""Which Atlas a client talks to, chosen by URL (as MLflow chooses its stores):

* ``http://host:port[/prefix]``, ``https://...``: an Atlas over the network (HTTP Basic auth);
* ``atlas+embedded:`` with no path: the embedded store this process already has open (``store=``);
* ``atlas+embedded:///abs/dir`` (or ``atlas+embedded:relative/dir``): that store directory, opened here in-process
  and closed with the client.

Both embedded forms answer through :class:`~catalog.embedded.transport.EmbeddedTransport`: the same wire format
as HTTP, without a socket.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from catalog.atlas.client import AtlasCatalogClient
from catalog.embedded.store import EmbeddedStore
from catalog.errors import InvalidInput

EMBEDDED_SCHEME = "atlas+embedded"
EMBEDDED_BASE = "http://embedded.atlas"  # the transport never resolves it; it only shapes request URLs


class InvalidAtlasUrl(InvalidInput):
    pass


def is_embedded(url: str) -> bool:
    return urlsplit(url).scheme.lower() == EMBEDDED_SCHEME


def embedded_dir(url: str) -> Path | None:
    """The store directory an ``atlas+embedded:`` URL names, or None for "this process's store"."""
    parts = urlsplit(url)
    if parts.netloc:
        raise InvalidAtlasUrl(f"{url}: an embedded Atlas URL has no host (atlas+embedded:///abs/dir)")
    path = unquote(parts.path)
    return Path(path).expanduser() if path.strip("/") else None


def open_atlas(url: str, *, user: str = "admin", password: str | None = None, store: EmbeddedStore | None = None,
               timeout_s: float = 30.0, verify: bool | str = True) -> AtlasCatalogClient:
    """A client for the Atlas ``url`` names. ``store``: the embedded store of this process, for ``atlas+embedded:``."""
    from catalog.embedded.transport import EmbeddedTransport

    scheme = urlsplit(url).scheme.lower()
    if scheme == EMBEDDED_SCHEME:
        directory = embedded_dir(url)
        owned: EmbeddedStore | None = None
        if directory is None:
            if store is None:
                raise InvalidAtlasUrl(f"{url} means this process's embedded store, and none is open here: "
                                      "name a store directory (atlas+embedded:///path/to/store) or an Atlas URL")
        else:
            from typedefs import load_bundled_typedefs

            store = owned = EmbeddedStore(directory.resolve(), load_bundled_typedefs())
        return AtlasCatalogClient(EMBEDDED_BASE, user, "", transport=EmbeddedTransport(store, user),
                                  timeout_s=timeout_s, label=url, on_close=owned.close if owned else None)
    if scheme in ("http", "https"):
        if password is None:
            raise InvalidAtlasUrl(f"no password for the Atlas at {url}")
        return AtlasCatalogClient(url, user, password, timeout_s=timeout_s, verify=verify)
    raise InvalidAtlasUrl(f"unsupported Atlas URL {url!r}: expected http(s)://host:port or atlas+embedded:[///dir]")
