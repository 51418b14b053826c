"""No shared request state: builds and outbox replays running at once in one process each end as they would alone.

The catalog keeps no per-build state on shared objects (what a build learns travels with it), and nothing toggles
process-wide state such as the garbage collector from a request thread.
"""

from __future__ import annotations

import gc
import json
import threading
import time
from pathlib import Path
from typing import Any

from catalog.backend import BuildRequest, BuildResult
from catalog.crn import CrnScope
from catalog.service import LocalCatalog
from mlcatalog.assemble import atlas_client
from mlcatalog.settings import load_settings
from serving.platform import outbox
from serving.platform.outbox import Replayer, catalog_sender
from serving.platform.state import StateDb
from tests.api.support import make_project
from tests.servers import wait_until

SCOPE = CrnScope("local", "mlcatalog", "default")


def lineage(prefix: str, models: int) -> str:
    return json.dumps({f"{prefix}-model-{i}": {"hive_table_qualified_names": [f"{prefix}.t{i}@cm", f"{prefix}.u{i}@cm"],
                                               "metadata": {"i": str(i)}} for i in range(models)})


def catalog_in(directory: Path) -> LocalCatalog:
    settings = load_settings(environ={}, cwd=directory)
    return LocalCatalog(atlas_client(settings, f"atlas+embedded://{directory / 'store'}"), SCOPE, "cm")


def summary(r: BuildResult) -> dict[str, Any]:
    return {"project": r.project_crn, "creates": r.creates, "updates": r.updates, "notes": r.notes,
            "builds": sorted((b.model_name, b.build_crn, b.version, b.new) for b in r.builds)}


def entities(catalog: LocalCatalog) -> set[tuple[str, str, str]]:
    return {(h.type_name, str(h.qualified_name), h.status)
            for type_name in ("ml_project", "ml_model_build", "ml_model_deployment", "hive_table", "hive_db",
                              "ml_model_train_build_process", "ml_model_deploy_process")
            for h in catalog.client.search_all(type_name=type_name, exclude_deleted=False)}


def deployments(state: StateDb, build_crn: str, model_crn: str, n: int) -> None:
    with state.tx() as c:
        for i in range(n):
            for status in ("deploying", "deployed"):
                outbox.enqueue(c, "deployment", {
                    "crn": SCOPE.crn(f"dep-{i}"), "build_crn": build_crn, "model_crn": model_crn,
                    "model_name": "replayed-model-0", "name": f"dep-{i}", "status": status, "create_time_ms": 1,
                    "deployed_time_ms": 2, "cpu_millicores": 100, "replicas": 1})


def test_two_builds_and_an_outbox_replay_at_once_end_as_each_alone(tmp_path: Path) -> None:
    projects = {name: make_project(tmp_path / "work" / name, lineage(name, models), name=name)
                for name, models in (("alpha", 30), ("beta", 20), ("replayed", 1))}
    requests = {name: BuildRequest(project_dir=str(p)) for name, p in projects.items()}

    # Alone: one after the other, in a store of their own.
    alone = catalog_in(tmp_path / "alone")
    expected = {name: summary(alone.record_build(requests[name])) for name in ("alpha", "beta")}
    (replayed_build,) = alone.record_build(requests["replayed"]).builds
    alone_state = StateDb(tmp_path / "alone" / "platform.db")
    deployments(alone_state, replayed_build.build_crn, replayed_build.model_crn, 10)
    for e in outbox.entries(alone_state):
        catalog_sender(alone)(e.kind, e.payload)
    expected_entities = entities(alone)
    alone.close()
    alone_state.close()

    # Together: the replayed build first (its deployments need it), then both builds and the replay at once.
    catalog = catalog_in(tmp_path / "together")
    catalog.record_build(requests["replayed"])
    state = StateDb(tmp_path / "together" / "platform.db")
    deployments(state, replayed_build.build_crn, replayed_build.model_crn, 10)
    replayer = Replayer(state, catalog_sender(catalog))
    results: dict[str, dict[str, Any]] = {}
    errors: list[BaseException] = []
    gc_states: list[bool] = []
    start = threading.Barrier(3)

    def build(name: str) -> None:
        try:
            start.wait()
            results[name] = summary(catalog.record_build(requests[name]))
        except BaseException as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=build, args=(name,)) for name in ("alpha", "beta")]
    for t in threads:
        t.start()
    start.wait()
    replayer.start()
    while any(t.is_alive() for t in threads):
        gc_states.append(gc.isenabled())
        time.sleep(0.005)
    for t in threads:
        t.join()
    try:
        wait_until(lambda: not outbox.entries(state), 30, what="the outbox to drain")
    finally:
        replayer.stop()
    assert errors == []
    assert results == expected
    assert [e.status for e in outbox.entries(state, include_done=True)] == ["done"] * 20
    assert entities(catalog) == expected_entities
    assert gc_states and all(gc_states), "a build switched the garbage collector off for the whole process"
    catalog.close()
    state.close()
