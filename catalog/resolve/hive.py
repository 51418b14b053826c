"""Resolve Hive tables against a live HiveServer2 (Apache Hive or Spark Thrift Server) through PyHive.

``HiveResolver`` keeps one connection, opened on first use and re-opened after a transport failure. Every
database/table name is validated as ``[A-Za-z0-9_]+`` *before* a connection is opened or a statement is sent
(:class:`InvalidIdentifier`), and is backtick-quoted in the SQL anyway. Errors are :mod:`catalog.resolve.errors`:
a missing table/database is told apart from an unreachable server (:class:`HiveUnavailable`, which also covers
timeouts: every Thrift call is bounded by ``HiveConfig.timeout_s``).

Needs ``pyhive`` + ``thrift`` (and ``thrift_sasl`` + ``pure-sasl`` for the SASL auth modes):
``pip install 'pyhive[hive-pure-sasl]'``.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Literal, Protocol, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from catalog.resolve.errors import (
    DatabaseNotFound,
    HiveQueryFailed,
    HiveUnavailable,
    InvalidIdentifier,
    MissingDependency,
    ResolveError,
    TableNotFound,
    one_line,
)
from catalog.resolve.hive_describe import parse_describe_formatted, rows_of
from catalog.resolve.identifiers import quote, split_table_name, validate_identifier
from catalog.resolve.models import HiveColumn, HiveTableInfo

__all__ = [
    "HiveAuth",
    "HiveColumn",
    "HiveConfig",
    "HiveConnection",
    "HiveCursor",
    "HiveResolver",
    "HiveTableInfo",
    "pyhive_connect",
]

#: ``hive.server2.authentication`` of the server (PyHive's names). KERBEROS is not supported here.
HiveAuth = Literal["NOSASL", "NONE", "LDAP", "CUSTOM"]


class HiveConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field(min_length=1)
    port: int = Field(default=10000, ge=1, le=65535)
    username: str = Field(default="mlcatalog", min_length=1)
    auth: HiveAuth = "NOSASL"
    #: Required for LDAP/CUSTOM, refused otherwise (as HiveServer2 and PyHive expect). Kept out of repr().
    password: str | None = Field(default=None, repr=False)
    #: Session database (``USE`` at connect); describe calls always qualify names anyway.
    database: str = "default"
    #: Bound on connecting and on each Thrift call.
    timeout_s: float = Field(default=30.0, gt=0, le=3600)

    @field_validator("database")
    @classmethod
    def _database_is_identifier(cls, v: str) -> str:
        try:
            return validate_identifier(v, "database name")
        except InvalidIdentifier as e:
            raise ValueError(str(e)) from None

    @model_validator(mode="after")
    def _password_matches_auth(self) -> Self:
        if (self.password is not None) != (self.auth in ("LDAP", "CUSTOM")):
            raise ValueError("password must be set for auth LDAP/CUSTOM and only then")
        return self

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


class HiveCursor(Protocol):
    def execute(self, operation: str) -> object: ...

    def fetchall(self) -> object: ...

    def close(self) -> object: ...


class HiveConnection(Protocol):
    def cursor(self) -> HiveCursor: ...

    def close(self) -> object: ...


ConnectFn = Callable[[HiveConfig], HiveConnection]
_INSTALL = "pip install 'pyhive[hive-pure-sasl]' (SASL auth modes need thrift_sasl and pure-sasl)"


def pyhive_connect(config: HiveConfig) -> HiveConnection:
    """Open a PyHive connection whose socket honours ``config.timeout_s`` (PyHive alone never times out)."""
    try:
        from pyhive import hive
        from thrift.transport import TSocket, TTransport
    except ImportError as e:
        raise MissingDependency(e.name or "pyhive", _INSTALL) from None

    sock = TSocket.TSocket(config.host, config.port)
    sock.setTimeout(config.timeout_s * 1000.0)
    transport: Any
    if config.auth == "NOSASL":
        transport = TTransport.TBufferedTransport(sock)
    else:
        try:
            import thrift_sasl
        except ImportError as e:
            raise MissingDependency(e.name or "thrift_sasl", _INSTALL) from None

        password = config.password if config.password is not None else "x"  # NONE: any non-empty value

        def sasl_factory() -> Any:
            return hive.get_installed_sasl(host=config.host, sasl_auth="PLAIN", username=config.username,
                                           password=password)

        transport = thrift_sasl.TSaslClientTransport(sasl_factory, "PLAIN", sock)
    conn: HiveConnection = hive.connect(thrift_transport=transport, username=config.username,
                                        database=config.database)
    return conn


# Spark 3/4 error classes and messages, Apache Hive 2/3 messages (SemanticException codes 10001 / 10072).
_TABLE_MISSING = re.compile(
    r"TABLE_OR_VIEW_NOT_FOUND|Table or view not found|Table not found|\[Error 10001\]|NoSuchTableException",
    re.IGNORECASE,
)
_DATABASE_MISSING = re.compile(
    r"SCHEMA_NOT_FOUND|DATABASE_NOT_FOUND|Database does not exist|Database '[^']*' not found|"
    r"NoSuchDatabaseException|NoSuchNamespaceException|\[Error 10072\]",
    re.IGNORECASE,
)


class _StatementError(Exception):
    """HiveServer2 answered a statement with an error status (internal; classified by the caller)."""

    def __init__(self, statement: str, message: str) -> None:
        super().__init__(message)
        self.statement = statement
        self.message = message


def _server_message(exc: BaseException) -> str:
    """The server's errorMessage from a PyHive OperationalError (its arg is the Thrift response)."""
    for arg in exc.args:
        status = getattr(arg, "status", None)
        message = getattr(status, "errorMessage", None)
        if message:
            return str(message)
    return str(exc) or type(exc).__name__


def _is_statement_error(exc: BaseException) -> bool:
    """A PyHive DB-API error carrying a Thrift status (the server answered), as opposed to a transport error."""
    try:
        from pyhive import exc as pyhive_exc
    except ImportError:  # pragma: no cover - pyhive is required for real connections
        return False
    return isinstance(exc, pyhive_exc.Error) and not _is_transport_error(exc)


def _is_transport_error(exc: BaseException) -> bool:
    if isinstance(exc, OSError | EOFError):
        return True
    try:
        from thrift.Thrift import TException
        from thrift.transport.TTransport import TTransportException
    except ImportError:  # pragma: no cover
        return False
    if isinstance(exc, TTransportException):
        return True
    # Other Thrift-level failures (protocol garbage from a non-HS2 port...) also mean "no usable server".
    return isinstance(exc, TException) and not _has_status(exc)


def _has_status(exc: BaseException) -> bool:
    return any(getattr(a, "status", None) is not None for a in exc.args)


def _unavailable_reason(exc: BaseException, timeout_s: float) -> str:
    text = one_line(getattr(exc, "message", None) or str(exc) or type(exc).__name__)
    inner = getattr(exc, "inner", None)
    if inner is not None:
        text = f"{text} ({one_line(inner)})"
    if "read 0 bytes" in text:
        text += " -- the server closed the connection: check that auth matches hive.server2.authentication"
    if isinstance(exc, TimeoutError) or isinstance(inner, TimeoutError) or "timed out" in text.lower():
        text = f"no answer within {timeout_s:g}s, timed out ({text})"
    return text


class HiveResolver:
    """Describe tables through one lazily opened, reused HiveServer2 connection. Use as a context manager.

    Safe to share between threads: statements on the one connection are serialized (a PyHive connection is not
    thread-safe). ``connect`` replaces :func:`pyhive_connect` (tests inject fakes through it).
    """

    def __init__(self, config: HiveConfig, *, connect: ConnectFn | None = None) -> None:
        self.config = config
        self._connect_fn: ConnectFn = connect or pyhive_connect
        self._conn: HiveConnection | None = None
        self._lock = threading.RLock()

    # -- lifecycle ------------------------------------------------------------------------------------------
    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # closing a dead connection may fail; nothing to do about it
                conn.close()

    @property
    def connected(self) -> bool:
        return self._conn is not None

    # -- public API -----------------------------------------------------------------------------------------
    def describe_table(self, db: str, table: str) -> HiveTableInfo:
        """Columns, partition keys, type, location, formats and properties of ``db.table`` (or a view)."""
        db = validate_identifier(db, "database name")
        table = validate_identifier(table, "table name")
        rows = self._table_query(f"DESCRIBE FORMATTED {quote(db)}.{quote(table)}", db, table)
        return parse_describe_formatted(rows, db, table)

    def describe_qualified_name(self, name: str) -> HiveTableInfo:
        """:meth:`describe_table` for ``db.table`` or an Atlas qualifiedName ``db.table@namespace``."""
        db, table = split_table_name(name)
        return self.describe_table(db, table)

    def database_exists(self, db: str) -> bool:
        db = validate_identifier(db, "database name")
        rows = self._checked(f"SHOW DATABASES LIKE '{db}'")
        # LIKE patterns differ (Hive: * and |; some versions: _ and %): compare exactly.
        return any(r and str(r[0]).strip().lower() == db for r in rows)

    def list_tables(self, db: str) -> list[str]:
        """Names (lower-cased, sorted) of the tables and views in ``db``; temporary views are left out."""
        db = validate_identifier(db, "database name")
        try:
            rows = self._query(f"SHOW TABLES IN {quote(db)}")
        except _StatementError as e:
            if _DATABASE_MISSING.search(e.message):
                raise DatabaseNotFound(db) from None
            raise HiveQueryFailed(f"SHOW TABLES IN {db}", e.message) from None
        names: list[str] = []
        for r in rows:
            if len(r) >= 3:  # Spark: (namespace, tableName, isTemporary)
                if r[2] is True or str(r[2]).lower() == "true":
                    continue
                names.append(str(r[1]).strip().lower())
            elif r:  # Hive: (tab_name,)
                names.append(str(r[-1]).strip().lower())
        return sorted(names)

    def table_exists(self, db: str, table: str) -> bool:
        table = validate_identifier(table, "table name")
        try:
            return table in self.list_tables(db)
        except DatabaseNotFound:
            return False

    # -- plumbing -------------------------------------------------------------------------------------------
    def _connection(self) -> HiveConnection:
        if self._conn is None:
            try:
                self._conn = self._connect_fn(self.config)
            except ResolveError:
                raise
            except Exception as e:  # classified below; anything else is a bug and re-raised
                if _is_statement_error(e):
                    # The session opened but ``USE database`` failed.
                    message = _server_message(e)
                    if _DATABASE_MISSING.search(message):
                        raise DatabaseNotFound(self.config.database) from None
                    raise HiveUnavailable(self.config.host, self.config.port, message) from None
                if _is_transport_error(e):
                    raise self._unavailable(e) from None
                raise
        return self._conn

    def _table_query(self, sql: str, db: str, table: str) -> list[tuple[Any, ...]]:
        """Run a statement about ``db.table`` (validated names): a missing database or table is raised as
        DatabaseNotFound/TableNotFound, any other refusal as HiveQueryFailed."""
        try:
            return self._query(sql)
        except _StatementError as e:
            if _DATABASE_MISSING.search(e.message):
                raise DatabaseNotFound(db) from None
            if _TABLE_MISSING.search(e.message):
                # Spark says TABLE_OR_VIEW_NOT_FOUND for a missing database too: ask.
                if not self.database_exists(db):
                    raise DatabaseNotFound(db) from None
                raise TableNotFound(db, table) from None
            raise HiveQueryFailed(sql, e.message) from None

    def _query(self, sql: str) -> list[tuple[Any, ...]]:
        """Run one statement and fetch all rows. Raises _StatementError or HiveUnavailable."""
        with self._lock:
            return self._query_locked(sql)

    def _query_locked(self, sql: str) -> list[tuple[Any, ...]]:
        conn = self._connection()
        try:
            cursor = conn.cursor()
            try:
                cursor.execute(sql)
                return rows_of(cursor.fetchall())
            finally:
                with contextlib.suppress(Exception):  # the connection may just have died: reported below
                    cursor.close()
        except Exception as e:  # classified below; anything else is a bug and re-raised
            if _is_statement_error(e):
                raise _StatementError(sql, _server_message(e)) from None
            if _is_transport_error(e):
                self.close()  # the next call reconnects
                raise self._unavailable(e) from None
            raise

    def _unavailable(self, exc: BaseException) -> HiveUnavailable:
        return HiveUnavailable(self.config.host, self.config.port, _unavailable_reason(exc, self.config.timeout_s))

    def _checked(self, sql: str) -> Sequence[tuple[Any, ...]]:
        try:
            return self._query(sql)
        except _StatementError as e:
            raise HiveQueryFailed(sql, e.message) from None
