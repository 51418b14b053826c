"""A monitor whose reference is the training table of the build's lineage, sampled from the real HiveServer2
(Spark Thrift Server) these tests start, through the same sampler ``mlcatalog up`` uses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog import DatasetRef, InvalidInput, UpstreamUnavailable
from mlcatalog.assemble import table_sampler
from mlcatalog.settings import load_settings
from serving.examples.wine.data import FEATURES, generate
from serving.metrics import open_metrics_store, sqlite_url
from serving.monitoring.ledger import Ledger
from serving.monitoring.service import MonitorAdd, MonitorService
from serving.monitoring.sources import ReferenceRequest, TableSampler
from serving.monitoring.worker import InProcessComputer
from tests.integration_servers import HiveServer
from tests.monitoring.test_service import BUILD, CRN, MODEL, T0, M, state_with_deployment, wine_rows, write

pytestmark = pytest.mark.slow
TABLE = "monitor_it.wine_train@cm"
ROWS = 1200


@pytest.fixture(scope="module")
def training_table(hive_server: HiveServer) -> str:
    """The wine training data as a Hive table with HiveServer2's lower-case column names and the label."""
    values = ", ".join("(" + ", ".join(f"{v!r}" for v in x) + f", '{label}')" for x, label in generate(ROWS, 7))
    conn = hive_server.connect()
    try:
        cursor = conn.cursor()
        for sql in ("CREATE DATABASE IF NOT EXISTS monitor_it",
                    "CREATE TABLE IF NOT EXISTS monitor_it.wine_train ("
                    + ", ".join(f"{f.lower()} double" for f in FEATURES) + ", quality string) STORED AS PARQUET",
                    f"INSERT OVERWRITE TABLE monitor_it.wine_train VALUES {values}"):
            cursor.execute(sql)
        cursor.close()
    finally:
        conn.close()
    return TABLE


def sampler_for(host: str, port: int) -> TableSampler:
    settings = load_settings({"hive.host": host, "hive.port": port, "hive.auth": "NOSASL"}, environ={},
                             cwd=Path("/"))
    sampler = table_sampler(settings)
    assert sampler is not None
    return sampler


@pytest.fixture
def service(tmp_path: Path, hive_server: HiveServer, training_table: str) -> Iterator[MonitorService]:
    state = state_with_deployment(tmp_path / "platform.db")
    store = open_metrics_store(sqlite_url(tmp_path / "metrics.db"))
    from serving.monitoring.service import DeploymentFacts

    def lineage(build_crn: str) -> list[DatasetRef]:
        assert build_crn == BUILD
        # as the catalog lists the build's inputs: the unlabelled table first (no 'quality'), then the training one
        return [DatasetRef(type_name="hive_table", qualified_name="default.wineds_ext_nolabel@cm",
                           columns=["other"]),
                DatasetRef(type_name="hive_table", qualified_name=training_table, columns=[])]

    s = MonitorService(Ledger(state), store, InProcessComputer(store),
                       deployment=lambda crn: DeploymentFacts(status="deployed", build_crn=BUILD, model_crn=MODEL),
                       lineage=lineage, sampler=sampler_for(hive_server.host, hive_server.port), lag_ms=0)
    yield s
    store.close()
    state.close()


def test_the_reference_is_the_first_lineage_table_with_the_tracked_columns(service: MonitorService) -> None:
    write(service.store, wine_rows(100, 3), T0 - 60 * M, T0 - 30 * M, "early")
    info = service.add(MonitorAdd(deployment_crn=CRN, every_ms=30 * M,
                                  reference=ReferenceRequest(column_map={"prediction": "quality"}, sample_rows=1000)))
    src = info.reference.source
    assert (src.kind, src.qualified_name, src.sample_rows) == ("table", TABLE, 1000)
    assert info.reference.numeric == {f: f.lower() for f in FEATURES}
    assert info.reference.categorical == {"prediction": "quality"} and info.reference.rows["Alcohol"] == 1000
    with service.ledger.state.tx() as c:
        c.execute("UPDATE monitor SET created_ms = ?", (T0,))
    write(service.store, wine_rows(600, 11), T0, T0 + 30 * M, "w")
    [result] = service.catch_up(CRN, now_ms=T0 + 30 * M + 1)
    assert result.predictions == 600 and result.status != "drifting"
    assert {t.column for t in result.tests} == {*FEATURES, "prediction"}


def test_a_named_table_and_errors(service: MonitorService, hive_server: HiveServer) -> None:
    write(service.store, wine_rows(50, 3), T0 - 60 * M, T0 - 30 * M, "early")
    with pytest.raises(InvalidInput, match="not a table of the build's lineage"):
        service.add(MonitorAdd(deployment_crn=CRN, every_ms=30 * M,
                               reference=ReferenceRequest(table="default.wine_elsewhere@cm")))
    assert service.ledger.get(CRN) is None
    info = service.add(MonitorAdd(deployment_crn=CRN, every_ms=30 * M,
                                  reference=ReferenceRequest(table=TABLE, sample_rows=200)))
    assert info.reference.source.sample_rows == 200 and "prediction" not in info.reference.categorical


def test_an_unreachable_hiveserver2_is_one_line_and_stores_nothing(service: MonitorService) -> None:
    from tests.servers import free_port

    write(service.store, wine_rows(50, 3), T0 - 60 * M, T0 - 30 * M, "early")
    down = MonitorService(service.ledger, service.store, service.computer, deployment=service._deployment,
                          lineage=service._lineage, sampler=sampler_for("127.0.0.1", free_port()))
    with pytest.raises(UpstreamUnavailable) as e:
        down.add(MonitorAdd(deployment_crn=CRN, every_ms=30 * M, reference=ReferenceRequest(table=TABLE)))
    assert "\n" not in str(e.value) and TABLE in str(e.value)
    assert service.ledger.get(CRN) is None
