"""HiveResolver without a Hive server: identifier gate (fake connection proves nothing is sent), error mapping,
connection reuse, and real sockets for "server down" (closed port, silent listener)."""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError
from pyhive import exc as pyhive_exc
from TCLIService import ttypes
from thrift.transport.TTransport import TTransportException

from catalog.resolve import (
    DatabaseNotFound,
    HiveConfig,
    HiveQueryFailed,
    HiveResolver,
    HiveUnavailable,
    InvalidIdentifier,
    MissingDependency,
    ResolveError,
    TableNotFound,
)
from catalog.resolve.identifiers import quote, split_table_name, validate_identifier
from tests.integration_servers import free_ports

from . import samples

INJECTIONS = [
    "x; DROP TABLE y",
    "x`; DROP TABLE y; --",
    "`x`",
    "x'",
    'x"',
    "x.y",
    "x y",
    "x--",
    "x/*",
    "x\n",
    "x\x00",
    "",
    "tåble",
    "x٣",  # a Unicode digit: \w would accept it
    "a" * 129,
]


class FakeCursor:
    def __init__(self, conn: FakeConnection) -> None:
        self.conn = conn
        self._rows: list[tuple[Any, ...]] = []

    def execute(self, operation: str) -> None:
        self.conn.executed.append(operation)
        outcome = self.conn.answers.get(operation.split(" `")[0] if "`" in operation else operation)
        if outcome is None:
            outcome = self.conn.answers.get("*", [])
        if isinstance(outcome, BaseException):
            raise outcome
        self._rows = list(outcome)

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._rows

    def close(self) -> None:
        pass


class FakeConnection:
    def __init__(self, answers: dict[str, Any] | None = None) -> None:
        self.executed: list[str] = []
        self.answers: dict[str, Any] = answers or {}
        self.closed = False

    def cursor(self) -> FakeCursor:
        return FakeCursor(self)

    def close(self) -> None:
        self.closed = True


class FakeConnect:
    """A ``connect`` function for HiveResolver that counts calls and hands out FakeConnections."""

    def __init__(self, answers: dict[str, Any] | None = None) -> None:
        self.answers = answers or {}
        self.connections: list[FakeConnection] = []

    def __call__(self, config: HiveConfig) -> FakeConnection:
        conn = FakeConnection(self.answers)
        self.connections.append(conn)
        return conn

    @property
    def executed(self) -> list[str]:
        return [s for c in self.connections for s in c.executed]


def _server_error(message: str) -> pyhive_exc.OperationalError:
    """What PyHive raises when HiveServer2 answers with an error status."""
    status = ttypes.TStatus(statusCode=ttypes.TStatusCode.ERROR_STATUS, errorMessage=message, sqlState="42000")
    return pyhive_exc.OperationalError(ttypes.TExecuteStatementResp(status=status))


CONFIG = HiveConfig(host="127.0.0.1", port=10000)


@pytest.mark.parametrize("bad", INJECTIONS)
def test_injection_in_table_or_db_sends_nothing(bad: str) -> None:
    fake = FakeConnect()
    with HiveResolver(CONFIG, connect=fake) as r:
        with pytest.raises(InvalidIdentifier) as ei:
            r.describe_table("default", bad)
        assert ei.value.code == "invalid_identifier"
        assert "\n" not in str(ei.value)
        with pytest.raises(InvalidIdentifier):
            r.describe_table(bad, "wineds_ext")
        with pytest.raises(InvalidIdentifier):
            r.list_tables(bad)
        with pytest.raises(InvalidIdentifier):
            r.database_exists(bad)
        with pytest.raises(InvalidIdentifier):
            r.table_exists("default", bad)
    assert fake.connections == []  # not even connected
    assert fake.executed == []


@pytest.mark.parametrize(
    "name",
    ["default.x; DROP TABLE y", "default.x`; DROP TABLE y", "default.x'--@primary", "default", "a.b.c",
     "default.`x`@cl1", "default.x@", "@primary"],
)
def test_injection_through_qualified_name_sends_nothing(name: str) -> None:
    fake = FakeConnect()
    with HiveResolver(CONFIG, connect=fake) as r, pytest.raises(InvalidIdentifier):
        r.describe_qualified_name(name)
    assert fake.executed == []


def test_identifier_helpers() -> None:
    assert validate_identifier("Wine_DS_2") == "wine_ds_2"
    assert quote("Wine") == "`wine`"
    assert split_table_name("Default.WineDS_Ext@primary") == ("default", "wineds_ext")
    assert split_table_name("default.t") == ("default", "t")
    with pytest.raises(InvalidIdentifier):
        quote("x`y")
    with pytest.raises(InvalidIdentifier):
        validate_identifier(None)


def test_config_validation() -> None:
    with pytest.raises(ValidationError):
        HiveConfig(host="h", database="x; drop")
    with pytest.raises(ValidationError):
        HiveConfig(host="h", auth="LDAP")  # password required
    with pytest.raises(ValidationError):
        HiveConfig(host="h", auth="NOSASL", password="p")
    with pytest.raises(ValidationError):
        HiveConfig(host="h", auth="KERBEROS")  # type: ignore[arg-type]
    ldap = HiveConfig(host="h", auth="LDAP", password="s3cret")
    assert ldap.password == "s3cret" and "s3cret" not in repr(ldap)
    assert HiveConfig(host="h").model_dump()["port"] == 10000


def test_describe_sends_one_quoted_statement_and_parses() -> None:
    fake = FakeConnect({"DESCRIBE FORMATTED": samples.SPARK_WINEDS_EXT})
    with HiveResolver(CONFIG, connect=fake) as r:
        info = r.describe_table("Default", "WINEDS_EXT")
        assert fake.executed == ["DESCRIBE FORMATTED `default`.`wineds_ext`"]
        assert (info.db, info.table, len(info.columns)) == ("default", "wineds_ext", 12)
        r.describe_qualified_name("default.wineds_ext@primary")
        r.describe_table("default", "wineds_ext")
    assert len(fake.connections) == 1  # one connection, reused
    assert fake.connections[0].closed


def test_missing_table_vs_missing_database_spark_wording() -> None:
    spark_missing = _server_error(
        "Error running query: [TABLE_OR_VIEW_NOT_FOUND] org.apache.spark.sql.AnalysisException: "
        "[TABLE_OR_VIEW_NOT_FOUND] The table or view `default`.`nope` cannot be found.\nSearch path: ..."
    )
    fake = FakeConnect({"DESCRIBE FORMATTED": spark_missing, "SHOW DATABASES LIKE 'default'": [("default",)],
                        "SHOW DATABASES LIKE 'nodb'": []})
    with HiveResolver(CONFIG, connect=fake) as r:
        with pytest.raises(TableNotFound) as t:
            r.describe_table("default", "nope")
        assert (t.value.code, t.value.db, t.value.table) == ("hive.table_not_found", "default", "nope")
        with pytest.raises(DatabaseNotFound) as d:
            r.describe_table("nodb", "nope")
        assert (d.value.code, d.value.db) == ("hive.database_not_found", "nodb")


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Error while compiling statement: FAILED: SemanticException [Error 10001]: Table not found default.nope",
         TableNotFound),
        ("Error while compiling statement: FAILED: SemanticException [Error 10072]: Database does not exist: nodb",
         DatabaseNotFound),
        ("[SCHEMA_NOT_FOUND] The schema `spark_catalog`.`nodb` cannot be found.", DatabaseNotFound),
        ("Error running query: java.lang.OutOfMemoryError: Java heap space", HiveQueryFailed),
    ],
)
def test_hive_wordings(message: str, expected: type[ResolveError]) -> None:
    fake = FakeConnect({"DESCRIBE FORMATTED": _server_error(message), "*": [("default",)]})
    with HiveResolver(CONFIG, connect=fake) as r, pytest.raises(expected) as ei:
        r.describe_table("default", "nope")
    assert "\n" not in str(ei.value)


def test_list_tables_spark_and_hive_shapes() -> None:
    spark = FakeConnect({"SHOW TABLES IN": [("default", "b", False), ("default", "a", False), ("", "tmp", True)]})
    with HiveResolver(CONFIG, connect=spark) as r:
        assert r.list_tables("default") == ["a", "b"]
        assert r.table_exists("default", "A")
        assert not r.table_exists("default", "tmp")
    hive = FakeConnect({"SHOW TABLES IN": [("t2",), ("t1",)]})
    with HiveResolver(CONFIG, connect=hive) as r:
        assert r.list_tables("default") == ["t1", "t2"]
    missing = FakeConnect({"SHOW TABLES IN": _server_error("[SCHEMA_NOT_FOUND] The schema `nodb` cannot be found.")})
    with HiveResolver(CONFIG, connect=missing) as r:
        with pytest.raises(DatabaseNotFound):
            r.list_tables("nodb")
        assert not r.table_exists("nodb", "t")


def test_transport_failure_drops_connection_and_reconnects() -> None:
    fake = FakeConnect({"DESCRIBE FORMATTED": TTransportException(message="TSocket read 0 bytes")})
    with HiveResolver(CONFIG, connect=fake) as r:
        with pytest.raises(HiveUnavailable) as ei:
            r.describe_table("default", "t")
        assert ei.value.code == "hive.unavailable"
        assert "127.0.0.1:10000" in str(ei.value) and "hive.server2.authentication" in str(ei.value)
        assert not r.connected
        fake.answers["DESCRIBE FORMATTED"] = samples.SPARK_WINE_DS
        assert r.describe_table("default", "wine_ds").provider == "parquet"
    assert len(fake.connections) == 2


def test_connect_failure_is_unavailable() -> None:
    def refuse(config: HiveConfig) -> Any:
        raise TTransportException(type=TTransportException.NOT_OPEN, message="Could not connect to any of [...]",
                                  inner=ConnectionRefusedError(111, "Connection refused"))

    with HiveResolver(CONFIG, connect=refuse) as r, pytest.raises(HiveUnavailable) as ei:
        r.describe_table("default", "t")
    assert "Connection refused" in str(ei.value)


def test_unexpected_client_bug_is_not_swallowed() -> None:
    def broken(config: HiveConfig) -> Any:
        raise KeyError("bug")

    with HiveResolver(CONFIG, connect=broken) as r, pytest.raises(KeyError):
        r.describe_table("default", "t")


# -- real sockets, no server ---------------------------------------------------------------------------------


def test_closed_port_is_unavailable_quickly() -> None:
    (port,) = free_ports(1)  # free a moment ago: nothing listens there
    t0 = time.monotonic()
    with HiveResolver(HiveConfig(host="127.0.0.1", port=port, timeout_s=5)) as r, pytest.raises(HiveUnavailable) as ei:
        r.describe_table("default", "wineds_ext")
    assert time.monotonic() - t0 < 2
    assert f"127.0.0.1:{port}" in str(ei.value)
    assert "\n" not in str(ei.value)


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A port that accepts TCP connections (backlog) but never answers a byte."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield int(s.getsockname()[1])


def test_silent_server_times_out_as_unavailable(silent_listener: int) -> None:
    t0 = time.monotonic()
    config = HiveConfig(host="127.0.0.1", port=silent_listener, timeout_s=1)
    with HiveResolver(config) as r, pytest.raises(HiveUnavailable) as ei:
        r.describe_table("default", "wineds_ext")
    elapsed = time.monotonic() - t0
    assert 0.9 <= elapsed < 4
    assert "timed out" in str(ei.value)


def test_statements_are_serialized_across_threads() -> None:
    import threading

    active = 0
    overlaps = 0

    class SlowCursor(FakeCursor):
        def execute(self, operation: str) -> None:
            nonlocal active, overlaps
            active += 1
            overlaps += active > 1
            time.sleep(0.005)
            super().execute(operation)
            active -= 1

    class SlowConnect(FakeConnect):
        def __call__(self, config: HiveConfig) -> FakeConnection:
            conn = super().__call__(config)
            conn.cursor = lambda: SlowCursor(conn)  # type: ignore[method-assign]
            return conn

    fake = SlowConnect({"DESCRIBE FORMATTED": samples.SPARK_WINE_DS})
    with HiveResolver(CONFIG, connect=fake) as r:
        threads = [threading.Thread(target=r.describe_table, args=("default", "wine_ds")) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert overlaps == 0
    assert len(fake.connections) == 1 and len(fake.executed) == 8


def test_missing_client_library_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyhive", None)  # makes `import pyhive` fail
    with HiveResolver(CONFIG) as r, pytest.raises(MissingDependency) as ei:
        r.describe_table("default", "t")
    assert ei.value.code == "resolve.missing_dependency"
    assert "pip install 'pyhive[hive-pure-sasl]'" in str(ei.value)
