#!/usr/bin/env python
"""Benchmark of ``GET /api/v1/lineage`` (the lineage page's one call) on a 100k-entity embedded store, with the raw
Atlas lineage call on the same store and server as the baseline, side by side.

    python benchmarks/bench_lineage.py [--entities 100000] [--samples 100] [--depth 3] [--rebuild] [--keep]

It prints figures and never asserts; what they mean is below (benchmarks/README.md has the other benchmarks').

Store (built once, then cached in ``~/.cache/mlcatalog-bench/lineage-<entities>-v<N>/``; ``--rebuild`` builds it
again): teams, each with an S3 bucket of dataset directories and files, a Hive database of external tables on those
directories (hive_process CREATE TABLE from the directory, as Atlas's Hive hook records it) and of derived tables
(hive_process INSERT ... SELECT from one to three tables, sometimes another team's, and from a hub table every team
reads), every table with its columns, two ML projects whose builds train on two to four tables (plus the project)
and whose deployments serve the builds (Process entities in between, as the catalog records them). PII on some
tables, some builds deleted (with their deployments, as Atlas cascades). Written in-process through the store's bulk
API, one team per transaction.

Timed: ``mlcatalog up`` on a copy of the store, in its own process, as users run it. After warm-up, for --samples
random active deployments, one keep-alive client alternates ``GET /api/v1/lineage?crn=<deployment>&depth=N`` and
the baseline ``GET /api/atlas/v2/lineage/{guid}?direction=BOTH&depth=N`` (the raw answer, no layers, no details, no
tags reaching from beyond the depth). Then the same for tables (a derived table, and the hub table read by every
team) and an S3 directory given without its namespace, which the page may also centre on.

Figures: per case, client-observed latency p50/p95/p99/max in ms of each call and the median size of its answer
(nodes drawn; entities in Atlas's guidEntityMap), then the ratio of the medians. The summary's goal: the call's p95
for a deployment under 250 ms, a quarter of the page's 1 s. Ours does more than the baseline by design, in a few
Atlas calls, not one per node: it finds the entity (a basic search by qualifiedName or CRN), reads the
whole upstream (one lineage call: what is drawn and whether more lies beyond the depth) and the downstream one hop
further than drawn (one call), then the drawn entities' details: one basic search per type drawn that has any of the
detail attributes, asking for those only, the qualifiedNames OR-combined 250 to a request. Classifications, own and
propagated, come with the lineage headers (Atlas computes the propagations); only a node whose header names them
without carrying them costs one more call (never on the embedded store). The hub table's figure is the size of its
answer: 1,803 nodes to read, lay out and send.

Reference run (2-vCPU dev VM, 2026-12-03, load average 6-9 from other work, 100,130 entities): deployment p50
16.3 ms (raw Atlas call 3.4 ms, 4.8x), 14 nodes; derived table 10.9 ms (2.8); S3 directory 8.6 ms (1.8); hub table
with 1,803 nodes at depth 3: 714 ms (raw 105 ms). The p95s of that run are the load's (deployment 144 ms, raw 60 ms).

For a browser-render benchmark: ``lineage_bench_store(dest)`` returns (a store directory ready for
``mlcatalog up --store``, an active deployment's CRN).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from procs import REPO, ServerProcess, free_port

sys.path.insert(0, str(REPO))

CACHE = Path.home() / ".cache" / "mlcatalog-bench"
LAYOUT_VERSION = 1  # bump when the store's shape changes: a new cache directory is built
NAMESPACE = "prod"
USER = "bench"
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
GOAL_P95_MS = 250.0  # the call's share of the page's 1 s: a quarter, the rest is for drawing

# Per team. An external table has EXT_COLUMNS columns on one dataset directory (with FILES_PER_DIR files); a
# derived table DERIVED_COLUMNS columns.
TABLES = 20
EXT_COLUMNS = 12
DERIVED_COLUMNS = 10
FILES_PER_DIR = 3
PROJECTS = 2
BUILDS = 10
PII_EVERY = 17  # one external table in 17 carries PII
DELETED_EVERY = 9  # one build in 9 is deleted (its deployments with it)
TEAM_ENTITIES = (1 + 2 + TABLES * (1 + FILES_PER_DIR) + 1 + TABLES * (1 + EXT_COLUMNS + 1)
                 + TABLES * (1 + DERIVED_COLUMNS + 1) + PROJECTS + BUILDS * 4)

SERVER_SCRIPT = "from mlcatalog.cli import app; app(prog_name='mlcatalog')"


@dataclass
class BenchStore:
    directory: Path
    deployments: list[dict[str, str]]  # {"crn", "guid"} of active deployments
    tables: dict[str, str]  # role -> qualifiedName ("hub", "derived")
    s3_dir: str  # a dataset directory, without its @namespace
    counts: dict[str, int] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------------------
# the store
# --------------------------------------------------------------------------------------------------------------
def _crn(kind: str, team: int, i: int) -> str:
    return f"crn:cdp:ml:us-west-1:bench:workspace:bench/{kind}-{team:04d}-{i:03d}"


def _process(type_name: str, qn: str, inputs: list[dict[str, Any]], outputs: list[dict[str, Any]],
             **attrs: Any) -> dict[str, Any]:
    return {"typeName": type_name, "attributes": {"qualifiedName": qn, "name": qn, "userName": "etl", **attrs,
                                                 "inputs": inputs, "outputs": outputs}}


def _hive_process(qn: str, op: str, inputs: list[dict[str, Any]], outputs: list[dict[str, Any]]) -> dict[str, Any]:
    return _process("hive_process", qn, inputs, outputs, startTime=T0, endTime=T0 + 5000, operationType=op,
                    queryText=f"{op} ...", queryPlan="Not Supported", queryId=qn, clusterName=NAMESPACE)


class _Team:
    """One team's entities, as placeholders (negative guids) for one bulk request."""

    def __init__(self, team: int, teams: int, rng: random.Random) -> None:
        self.team, self.teams, self.rng = team, teams, rng
        self.entities: list[dict[str, Any]] = []
        self.pii: list[str] = []  # qualifiedNames of hive_tables to tag
        self.deleted_builds: list[str] = []
        self.deployments: list[str] = []

    def add(self, e: dict[str, Any]) -> dict[str, Any]:
        e["guid"] = f"-{len(self.entities) + 1}"
        self.entities.append(e)
        return {"guid": e["guid"]}

    def build(self) -> list[dict[str, Any]]:
        t, bucket = self.team, f"team{self.team:04d}-data"
        b = self.add({"typeName": "aws_s3_v2_bucket", "attributes": {"qualifiedName": f"s3a://{bucket}@{NAMESPACE}",
                                                                    "name": bucket, "region": "us-west-1"}})
        raw = self.add({"typeName": "aws_s3_v2_directory", "attributes": {
            "qualifiedName": f"s3a://{bucket}/raw/@{NAMESPACE}", "name": "raw", "objectPrefix": "/raw/"},
            "relationshipAttributes": {"container": b}})
        self.add({"typeName": "aws_s3_v2_directory", "attributes": {
            "qualifiedName": f"s3a://{bucket}/tmp/@{NAMESPACE}", "name": "tmp", "objectPrefix": "/tmp/"},
            "relationshipAttributes": {"container": b}})
        db = self.add({"typeName": "hive_db", "attributes": {"qualifiedName": f"team{t:04d}@{NAMESPACE}",
                                                             "name": f"team{t:04d}", "clusterName": NAMESPACE}})
        ext = [self._external(i, bucket, raw, db) for i in range(TABLES)]
        derived: list[dict[str, Any]] = []
        for i in range(TABLES):
            sources = self.rng.sample(ext + derived, k=min(len(ext + derived), self.rng.randint(1, 3)))
            if i == 0:
                sources.append(_table_ref(_hub(self.teams)))  # every team reads the hub
            elif self.rng.random() < 0.2:  # another team's table
                other = self.rng.randrange(self.teams)
                if other < t:
                    sources.append(_table_ref(f"team{other:04d}.ext_{self.rng.randrange(TABLES):02d}@{NAMESPACE}"))
            derived.append(self._derived(i, db, sources))
        self._ml(ext + derived)
        return self.entities

    def _table(self, name: str, db: dict[str, Any], columns: int, **attrs: Any) -> dict[str, Any]:
        qn = f"team{self.team:04d}.{name}@{NAMESPACE}"
        ref = self.add({"typeName": "hive_table", "attributes": {
            "qualifiedName": qn, "name": name, "owner": f"team{self.team}", "createTime": T0, **attrs},
            "relationshipAttributes": {"db": db}})
        for c in range(columns):
            self.add({"typeName": "hive_column", "attributes": {
                "qualifiedName": f"team{self.team:04d}.{name}.c{c:02d}@{NAMESPACE}", "name": f"c{c:02d}",
                "type": "double" if c else "string", "position": c},
                "relationshipAttributes": {"table": {**ref, "relationshipType": "hive_table_columns"}}})
        return ref

    def _external(self, i: int, bucket: str, raw: dict[str, Any], db: dict[str, Any]) -> dict[str, Any]:
        path = f"s3a://{bucket}/raw/ds{i:02d}/"
        d = self.add({"typeName": "aws_s3_v2_directory", "attributes": {
            "qualifiedName": f"{path}@{NAMESPACE}", "name": f"ds{i:02d}", "objectPrefix": f"/raw/ds{i:02d}/"},
            "relationshipAttributes": {"container": raw}})
        for f in range(FILES_PER_DIR):
            self.add({"typeName": "aws_s3_v2_object", "attributes": {
                "qualifiedName": f"{path}part-{f:05d}.parquet@{NAMESPACE}", "name": f"part-{f:05d}.parquet",
                "size": 1 << 20, "dataType": "parquet"}, "relationshipAttributes": {"container": d}})
        name = f"ext_{i:02d}"
        table = self._table(name, db, EXT_COLUMNS, tableType="EXTERNAL_TABLE")
        self.add(_hive_process(f"team{self.team:04d}.{name}@{NAMESPACE}:{T0}", "CREATETABLE", [d], [table]))
        if i % PII_EVERY == self.team % PII_EVERY:
            self.pii.append(f"team{self.team:04d}.{name}@{NAMESPACE}")
        return table

    def _derived(self, i: int, db: dict[str, Any], sources: list[dict[str, Any]]) -> dict[str, Any]:
        name = f"feat_{i:02d}"
        table = self._table(name, db, DERIVED_COLUMNS, tableType="MANAGED_TABLE")
        self.add(_hive_process(f"QUERY:team{self.team:04d}.{name}@{NAMESPACE}:{i}", "QUERY", sources, [table]))
        return table

    def _ml(self, tables: list[dict[str, Any]]) -> None:
        projects = [self.add({"typeName": "ml_project", "attributes": {
            "qualifiedName": _crn("project", self.team, p), "crn": _crn("project", self.team, p),
            "name": f"project {self.team}-{p}", "gitUrl": f"git@git.example:team{self.team}/p{p}.git",
            "createTime": T0}}) for p in range(PROJECTS)]
        for i in range(BUILDS):
            project, crn = projects[i % PROJECTS], _crn("build", self.team, i)
            build = self.add({"typeName": "ml_model_build", "attributes": {
                "qualifiedName": crn, "crn": crn, "name": f"model {i} v1", "version": 1, "createTime": T0,
                "gitCommit": secrets.token_hex(20), "modelName": f"model {i}", "lineageFile": "lineage.yml",
                "modelCrn": _crn("model", self.team, i)}, "relationshipAttributes": {"project": project}})
            inputs = self.rng.sample(tables, k=self.rng.randint(2, 4))
            self.add(_process("ml_model_train_build_process", f"{crn}:train", [*inputs, project], [build]))
            dep = _crn("deployment", self.team, i)
            deployment = self.add({"typeName": "ml_model_deployment", "attributes": {
                "qualifiedName": dep, "crn": dep, "name": f"model-{i}", "status": "deployed", "replicas": 2,
                "cpuMillicores": 1000, "memoryMb": 2048, "createTime": T0, "deployedTime": T0,
                "modelEndpointURL": f"https://models.example/team{self.team}/model-{i}"},
                "relationshipAttributes": {"build": build}})
            self.add(_process("ml_model_deploy_process", f"{dep}:deploy", [build], [deployment]))
            if i % DELETED_EVERY == DELETED_EVERY - 1:
                self.deleted_builds.append(crn)
            else:
                self.deployments.append(dep)


def _hub(teams: int) -> str:
    return f"team{0:04d}.ext_00@{NAMESPACE}"


def _table_ref(qn: str) -> dict[str, Any]:
    return {"typeName": "hive_table", "uniqueAttributes": {"qualifiedName": qn}}


def _cache_dir(entities: int) -> Path:
    return CACHE / f"lineage-{entities}-v{LAYOUT_VERSION}"


def bench_store(entities: int = 100_000, *, rebuild: bool = False, say: Callable[[str], None] = print
                ) -> BenchStore:
    """The cached store of about ``entities`` entities, built first if missing (or ``rebuild``)."""
    final = _cache_dir(entities)
    manifest = final / "manifest.json"
    if manifest.is_file() and not rebuild:
        return _load_manifest(final)
    if final.exists():
        shutil.rmtree(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=final.name + ".", dir=final.parent))
    try:
        _build(work, entities, say)
        os.replace(work, final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return _load_manifest(final)


def _build(directory: Path, entities: int, say: Callable[[str], None]) -> None:
    from catalog.atlas.connect import open_atlas
    from catalog.atlas.models import TypeDef
    from catalog.embedded.store import EmbeddedStore
    from catalog.registration import apply_typedefs
    from typedefs import load_bundled_typedefs

    teams = max(1, round(entities / TEAM_ENTITIES))
    rng = random.Random(42)
    say(f"building the store: {teams} teams x ~{TEAM_ENTITIES} entities in {directory} (once; cached)")
    t0 = time.perf_counter()
    store = EmbeddedStore(directory, load_bundled_typedefs())
    try:
        with open_atlas("atlas+embedded:", store=store) as client:
            apply_typedefs(client)  # the catalog's crn/gitCommit/... attributes, as on its first write
            client.create_typedefs([TypeDef.from_atlas("CLASSIFICATION", {"name": "PII", "superTypes": []})])
        deployments: list[str] = []
        deleted: list[str] = []
        pii: list[str] = []
        total = 0
        for t in range(teams):
            team = _Team(t, teams, rng)
            batch = team.build()
            store.create_or_update(batch, None, USER)
            total += len(batch)
            deployments += team.deployments
            deleted += team.deleted_builds
            pii += team.pii
            if (t + 1) % 20 == 0 or t + 1 == teams:
                rate = total / (time.perf_counter() - t0)
                say(f"  {t + 1}/{teams} teams, {total} entities ({rate:,.0f}/s)")
        for qn in pii:
            guid = store.guid_by_unique("hive_table", {"qualifiedName": qn})
            store.add_classifications(guid, [{"typeName": "PII"}], USER)
        guids = [store.guid_by_unique("ml_model_build", {"qualifiedName": crn}) for crn in deleted]
        store.delete(guids, USER)
        active = [{"crn": crn, "guid": store.guid_by_unique("ml_model_deployment", {"qualifiedName": crn})}
                  for crn in deployments]
        counts = dict(store.db.reader().execute("SELECT type_name, COUNT(*) FROM entity GROUP BY type_name"))
    finally:
        store.close()
    (directory / "manifest.json").write_text(json.dumps({
        "deployments": active, "s3_dir": f"s3a://team{teams // 2:04d}-data/raw/ds03/",
        "tables": {"hub": _hub(teams), "derived": f"team{teams // 2:04d}.feat_05@{NAMESPACE}"},
        "counts": counts, "build_s": round(time.perf_counter() - t0, 1)}, indent=1))
    say(f"built: {sum(counts.values())} entities in {time.perf_counter() - t0:.0f} s")


def _load_manifest(directory: Path) -> BenchStore:
    m = json.loads((directory / "manifest.json").read_text())
    return BenchStore(directory, m["deployments"], m["tables"], m["s3_dir"], m["counts"])


def lineage_bench_store(dest: Path | None = None, entities: int = 100_000) -> tuple[Path, str]:
    """(a store directory for ``mlcatalog up --store``, an active deployment's CRN), for other benchmarks (the lineage
    page rendered in a browser). With ``dest``, the store is copied to ``dest`` (a server writes its own state into
    its store directory; the cache stays as built); without, the cache directory itself is returned."""
    s = bench_store(entities)
    crn = s.deployments[len(s.deployments) // 2]["crn"]
    if dest is None:
        return s.directory, crn
    return _copy_store(s.directory, dest), crn


def _copy_store(src: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        if f.name.startswith("atlas.db"):
            shutil.copy2(f, dest / f.name)
    return dest


# --------------------------------------------------------------------------------------------------------------
# timing
# --------------------------------------------------------------------------------------------------------------
def _pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))]


def _ms(values: list[float]) -> str:
    return (f"p50 {_pct(values, 50):7.1f}  p95 {_pct(values, 95):7.1f}  p99 {_pct(values, 99):7.1f}  "
            f"max {max(values):7.1f} ms")


def _timed(get: Callable[[], httpx.Response]) -> tuple[float, httpx.Response]:
    t = time.perf_counter()
    r = get()
    ms = (time.perf_counter() - t) * 1000
    if r.status_code != 200:
        raise RuntimeError(f"{r.request.method} {r.request.url}: HTTP {r.status_code}: {r.text[:300]}")
    return ms, r


@dataclass
class Pair:
    name: str
    ours: list[float] = field(default_factory=list)
    base: list[float] = field(default_factory=list)
    nodes: list[int] = field(default_factory=list)
    raw_nodes: list[int] = field(default_factory=list)

    def line(self) -> str:
        ratio = statistics.median(self.ours) / statistics.median(self.base)
        return (f"{self.name}\n    GET /api/v1/lineage        {_ms(self.ours)}   ({statistics.median(self.nodes):.0f} "
                f"nodes)\n    GET /api/atlas/v2/lineage  {_ms(self.base)}   ({statistics.median(self.raw_nodes):.0f}"
                f" entities)\n    ratio of p50s {ratio:.1f}x")


def _measure(server: str, auth: tuple[str, str], s: BenchStore, samples: int, depth: int) -> list[Pair]:
    rng = random.Random(7)
    with httpx.Client(base_url=server, timeout=60) as c:
        def ours(**params: Any) -> tuple[float, dict[str, Any]]:
            ms, r = _timed(lambda: c.get("/api/v1/lineage", params={**params, "depth": depth}))
            return ms, r.json()

        def raw(guid: str) -> tuple[float, dict[str, Any]]:
            ms, r = _timed(lambda: c.get(f"/api/atlas/v2/lineage/{guid}", params={"direction": "BOTH",
                                                                                  "depth": depth}, auth=auth))
            return ms, r.json()

        def pair(p: Pair, params: dict[str, Any], guid: str | None) -> None:
            ms, g = ours(**params)
            guid = guid or g["base_guid"]
            ms_raw, lin = raw(guid)
            p.ours.append(ms)
            p.nodes.append(len(g["nodes"]))
            p.base.append(ms_raw)
            p.raw_nodes.append(len(lin.get("guidEntityMap") or {}))

        for d in rng.sample(s.deployments, 10):  # warm-up: imports, typedef cache, SQLite pages
            pair(Pair("warm-up"), {"crn": d["crn"]}, d["guid"])
        deployments = Pair(f"deployment by CRN, {samples} random active deployments, depth {depth}")
        for d in rng.sample(s.deployments, min(samples, len(s.deployments))):
            pair(deployments, {"crn": d["crn"]}, d["guid"])
        out = [deployments]
        for name, params in (("derived table (qualifiedName)", {"qualifiedName": s.tables["derived"]}),
                             ("hub table read by every team (qualifiedName)", {"qualifiedName": s.tables["hub"]}),
                             ("S3 directory without @namespace", {"qualifiedName": s.s3_dir})):
            p = Pair(f"{name}, depth {depth}, 10 calls")
            for _ in range(10):
                pair(p, params, None)
            out.append(p)
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--entities", type=int, default=100_000)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--rebuild", action="store_true", help="build the cached store again")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (store copy, server log)")
    args = ap.parse_args()
    s = bench_store(args.entities, rebuild=args.rebuild)
    shape = ", ".join(f"{k} {v:,}" for k, v in sorted(s.counts.items()))
    print(f"store: {sum(s.counts.values()):,} entities ({shape})")
    tmp = Path(tempfile.mkdtemp(prefix="bench-lineage-"))
    password = secrets.token_urlsafe(16)
    os.environ.update({"MLCATALOG_ATLAS_PASSWORD": password, "MLCATALOG_ADMIN_KEY": secrets.token_urlsafe(24),
                       "MLCATALOG_MONITORING": "false"})
    for name in ("MLCATALOG_API_READ_AUTH", "MLCATALOG_ATLAS_URL", "MLCATALOG_CONFIG"):
        os.environ.pop(name, None)
    server: ServerProcess | None = None
    try:
        t = time.perf_counter()
        store = _copy_store(s.directory, tmp / "store")
        print(f"copied the store for the server in {time.perf_counter() - t:.1f} s")
        port = free_port()
        server = ServerProcess("mlcatalog up", SERVER_SCRIPT, ["up", "--store", str(store), "--port", str(port)],
                               port, tmp / "server.log", "/api/v1/openapi.json", None)
        print(f"mlcatalog up ready in {server.startup_s:.1f} s (pid {server.pid})\n")
        cpu0 = server.cpu_s()
        pairs = _measure(server.url, ("admin", password), s, args.samples, args.depth)
        print("\n".join(p.line() for p in pairs))
        print(f"\nserver CPU over the timed calls: {server.cpu_s() - cpu0:.1f} s")
        dep = pairs[0]
        p95 = _pct(dep.ours, 95)
        print("\n| metric | ours | baseline | ratio | goal |\n|---|---|---|---|---|")
        print(f"| deployment lineage p50, ms | {_pct(dep.ours, 50):.1f} | {_pct(dep.base, 50):.1f} | "
              f"{_pct(dep.ours, 50) / _pct(dep.base, 50):.1f}x | |")
        verdict = "MET" if p95 < GOAL_P95_MS else "NOT MET"
        print(f"| deployment lineage p95, ms | {p95:.1f} | {_pct(dep.base, 95):.1f} | "
              f"{p95 / _pct(dep.base, 95):.1f}x | < {GOAL_P95_MS:.0f} ms: {verdict} |")
    finally:
        if server is not None:
            server.stop()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
