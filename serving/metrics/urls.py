"""Metrics store URLs: parsing, building, and printing them without secrets (stdlib only: no driver needed)."""

from __future__ import annotations

import shlex
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from serving.metrics.errors import UnsupportedStoreUrl

PG_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
SQLITE_SYNCHRONOUS = ("normal", "full")


def scheme_of(url: str) -> str:
    return urlsplit(url).scheme.lower() if isinstance(url, str) else ""


def sqlite_url(path: str | Path) -> str:
    """The store URL for a file path (made absolute)."""
    return "sqlite://" + quote(str(Path(path).resolve()))


def parse_sqlite_url(url: str, *, what: str = "metrics store") -> tuple[Path, str]:
    """(absolute file path, synchronous setting) of ``sqlite:///abs/path.db[?synchronous=normal|full]``."""
    parts = urlsplit(url)
    if parts.netloc or parts.fragment:
        raise UnsupportedStoreUrl(f"SQLite {what} URL must look like sqlite:///abs/path.db (no host)")
    path = unquote(parts.path)
    if not path.startswith("/") or path.endswith("/") or path.strip("/") == ":memory:":
        raise UnsupportedStoreUrl(f"SQLite {what} URL needs an absolute file path: sqlite:///abs/path.db "
                                  f"(got path {path!r})")
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    synchronous = options.pop("synchronous", "normal").lower()
    if options or synchronous not in SQLITE_SYNCHRONOUS:
        raise UnsupportedStoreUrl(f"SQLite {what} URL: only ?synchronous=normal|full is accepted "
                                  f"(got {parts.query!r})")
    return Path("/" + path.lstrip("/")), synchronous


def _pg_split(url: str) -> tuple[str, str, str, str]:
    parts = urlsplit(url)
    if parts.scheme.lower() not in PG_SCHEMES or parts.fragment:
        raise UnsupportedStoreUrl("PostgreSQL metrics store URL must look like postgresql://user@host:port/db")
    return parts.scheme.lower(), parts.netloc, parts.path, parts.query


def libpq_url(url: str) -> str:
    """The URL for psycopg/libpq (which knows no ``+driver`` suffix)."""
    _, netloc, path, query = _pg_split(url)
    return urlunsplit(("postgresql", netloc, path, query, ""))


def sqlalchemy_url(url: str) -> str:
    _, netloc, path, query = _pg_split(url)
    return urlunsplit(("postgresql+psycopg", netloc, path, query, ""))


def redact_url(url: str) -> str:
    """``url`` without a password (in the user info or as a ``password=`` parameter): safe to print or log."""
    parts = urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    params = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in params if k.lower() != "password"]
    if ":" not in userinfo and len(kept) == len(params):
        return url  # nothing to hide; also keeps sqlite:///path intact (urlunsplit would drop the empty host)
    netloc = f"{userinfo.partition(':')[0]}@{hostport}" if at else hostport
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(kept), parts.fragment))


def upgrade_command(url: str) -> str:
    """The shell command an operator runs to migrate the metrics database at ``url`` to this code's schema."""
    return f"mlcatalog metrics-db upgrade {shlex.quote(redact_url(url))}"
