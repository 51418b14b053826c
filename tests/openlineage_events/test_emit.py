"""Sending events with the OpenLineage client (mlcatalog.openlineage): its own configuration, what a backend's
answer means for the outbox (retry or park), and the spool of ``mlcatalog build``. A real client with its real
transports, to a file and to a stand-in Marquez that is down, refuses or takes the events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from catalog.openlineage import Naming, deployment_event, to_dict
from mlcatalog.openlineage import LineageEmitter, open_emitter
from mlcatalog.settings import ConfigError, load_settings
from serving.platform.outbox import Permanent, Retryable
from tests.openlineage_events.support import Marquez, file_config, http_config, schema_errors
from tests.openlineage_events.test_events import WHEN, deployment
from tests.servers import free_port


def events() -> list[dict[str, Any]]:
    return [to_dict(e) for s in ("deploying", "deployed", "stopped")
            if (e := deployment_event(deployment(s), "wine", event_time=WHEN, naming=Naming())) is not None]


def emitter(tmp_path: Path, config: Path) -> LineageEmitter:
    settings = load_settings(environ={"MLCATALOG_OPENLINEAGE_CONFIG": str(config),
                                      "MLCATALOG_OPENLINEAGE_SPOOL": str(tmp_path / "spool.jsonl")}, cwd=tmp_path)
    made = open_emitter(settings)
    assert made is not None
    return made


def sent(marquez: Marquez) -> list[dict[str, Any]]:
    """What the stand-in received, less the run tag the client adds."""
    return [{**e, "run": {**e["run"], "facets": {k: v for k, v in e["run"]["facets"].items() if k != "tags"}}}
            for e in marquez.events]


@pytest.fixture
def marquez() -> Iterator[Marquez]:
    m = Marquez(free_port())
    yield m
    m.stop()


def test_off_unless_configured(tmp_path: Path) -> None:
    assert open_emitter(load_settings(environ={}, cwd=tmp_path)) is None
    assert open_emitter(load_settings(environ={"MLCATALOG_OPENLINEAGE": "true"}, cwd=tmp_path)) is not None


def test_a_config_file_that_cannot_be_used_stops_start_up(tmp_path: Path) -> None:
    for text, why in (("transport: [1, 2\n", "not YAML"), ("- a list\n", "expected a mapping")):
        (tmp_path / "ol.yml").write_text(text)
        with pytest.raises(ConfigError, match=why):
            emitter(tmp_path, tmp_path / "ol.yml")
    with pytest.raises(ConfigError, match="cannot read"):
        emitter(tmp_path, tmp_path / "missing.yml")


def test_file_transport_writes_the_events(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    e = emitter(tmp_path, file_config(tmp_path / "ol.yml", log))
    for event in events():
        e.emit(event)
    written = [json.loads(line) for line in log.read_text().splitlines()]
    # the client adds its version as a run tag, and nothing else (no sourceCodeLocation of this process's git)
    assert [w["run"]["facets"].pop("tags")["tags"][0]["key"] for w in written] == ["openlineage_client_version"] * 3
    assert written == events()
    assert all(schema_errors(w) == [] for w in [json.loads(line) for line in log.read_text().splitlines()])


def test_backend_down_is_retried_and_a_refusal_parked(tmp_path: Path, marquez: Marquez) -> None:
    e = emitter(tmp_path, http_config(tmp_path / "ol.yml", marquez.port))
    with pytest.raises(Retryable, match="ConnectionError"):
        e.emit(events()[0])
    marquez.status = 400
    marquez.start()
    with pytest.raises(Permanent, match="HTTP 400"):
        e.emit(events()[0])
    marquez.status = 503
    with pytest.raises(Retryable):
        e.emit(events()[0])
    with pytest.raises(Permanent, match="not an OpenLineage event"):
        e.emit({"eventType": "START"})
    marquez.status = 201
    e.emit(events()[0])
    assert sent(marquez) == [events()[0]]


def test_build_spools_what_it_cannot_send_and_sends_it_next_time(tmp_path: Path, marquez: Marquez) -> None:
    e = emitter(tmp_path, http_config(tmp_path / "ol.yml", marquez.port))
    first, second, third = events()
    warnings: list[str] = []
    assert e.send_or_spool([first, second], warnings.append) == 0
    assert "2 kept in" in warnings[-1]
    spool = tmp_path / "spool.jsonl"
    assert [json.loads(line) for line in spool.read_text().splitlines()] == [first, second]

    marquez.start()
    assert e.send_or_spool([third], warnings.append) == 3
    assert sent(marquez) == [first, second, third]  # in order, the spooled ones first
    assert not spool.exists()
    assert len(warnings) == 1


def test_an_event_refused_for_good_is_dropped_not_spooled(tmp_path: Path, marquez: Marquez) -> None:
    marquez.status = 422
    marquez.start()
    e = emitter(tmp_path, http_config(tmp_path / "ol.yml", marquez.port))
    warnings: list[str] = []
    assert e.send_or_spool(events()[:1], warnings.append) == 0
    assert "dropped" in warnings[0] and not (tmp_path / "spool.jsonl").exists()


def test_events_are_made_at_the_time_asked() -> None:
    when = datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC)
    made = LineageEmitter.__new__(LineageEmitter)
    made.naming = Naming()
    assert made.deployment_events(deployment("stopping"), "wine", when=when) == []
    assert made.deployment_events(deployment("deployed"), "wine", when=when)[0]["eventTime"] == (
        "2027-01-02T03:04:05.000+00:00")
