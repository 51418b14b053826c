#!/usr/bin/env python
"""Benchmark of the embedded Atlas-v2-compatible store over HTTP, with baselines in the same run.

    python benchmarks/bench_embedded.py [--entities 10000] [--store-size 100000] [--batch 500] [--quick]
                                        [--lineage-samples 200] [--profile]

It prints figures and never asserts timings. What each figure means: benchmarks/README.md.

Phases (each server runs in its own process, so client and server don't share a GIL):
  1. bare FastAPI app (HTTP + JSON ceiling): the same bulk bodies, 1 and 2 client threads; GET round-trip floor.
  2. raw sqlite3 inserts (storage ceiling): one row per entity, one transaction per batch.
  3. the embedded store: bulk-create --entities with 1 thread, --entities more with 2 threads, then grow the
     store to --store-size; then lineage (INPUT and BOTH, depth 4) of random leaf tables and GET entity/guid.
  4. (--profile) cProfile of EmbeddedStore.create_or_update / lineage in this process, top functions.
"""

from __future__ import annotations

import argparse
import cProfile
import math
import os
import pstats
import random
import secrets
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from procs import ServerProcess, free_port, proc_cpu_s

REPO = Path(__file__).resolve().parent.parent
USER = "admin"
GOAL_RATE = 2000.0  # entities/s sustained
GOAL_LINEAGE_P50_MS = 20.0  # at --store-size entities

# Workload shape: one hive_db per request, chains of CHAIN_TABLES tables linked by CHAIN_TABLES-1 hive_process
# entities (t0 -> p0 -> t1 -> ... -> t5), COLUMNS hive_columns per table, the rest of the batch filled with
# standalone tables (with up to COLUMNS columns each) so that every request carries exactly --batch entities.
CHAIN_TABLES = 6
COLUMNS = 8
CHAIN_ENTITIES = CHAIN_TABLES * (1 + COLUMNS) + (CHAIN_TABLES - 1)
COLUMN_TYPES = ("string", "bigint", "int", "double", "timestamp", "decimal(18,2)", "boolean", "date")

SERVER_SCRIPT = r"""
import sys
from pathlib import Path

import uvicorn

store_dir, port, password = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
from typedefs import load_bundled_typedefs
from catalog.embedded.app import standalone_app
from catalog.embedded.store import EmbeddedStore

store = EmbeddedStore(store_dir, load_bundled_typedefs())
app = standalone_app(store, password=password)
uvicorn.run(app, host="127.0.0.1", port=port, loop="uvloop", http="httptools", log_level="warning",
            access_log=False)
"""

BARE_SCRIPT = r"""
import sys

import orjson
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response

port = int(sys.argv[1])
app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)


@app.post("/bulk")
async def bulk(request: Request) -> Response:
    body = orjson.loads(await request.body())
    return Response(orjson.dumps({"received": len(body["entities"])}), media_type="application/json")


@app.get("/ping")
async def ping() -> Response:
    return Response(b'{"Status":"ACTIVE"}', media_type="application/json")


uvicorn.run(app, host="127.0.0.1", port=port, loop="uvloop", http="httptools", log_level="warning",
            access_log=False)
"""


# --------------------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------------------
def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of unsorted values; nan when empty."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, math.ceil(p / 100.0 * len(s)) - 1))
    return s[k]


def proc_mem_mb(pid: int, key: str = "VmHWM") -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def self_cpu_s() -> float:
    return time.process_time()


def fmt_rate(x: float) -> str:
    return "-" if x != x else f"{x:,.0f}"


def fmt_ms(x: float) -> str:
    return "-" if x != x else f"{x:.1f}"


# --------------------------------------------------------------------------------------------------------------
# workload
# --------------------------------------------------------------------------------------------------------------
@dataclass
class Batch:
    entities: list[dict[str, Any]]
    leaves: list[str]  # placeholder guids of the last table of each chain

    def body(self) -> bytes:
        return orjson.dumps({"entities": self.entities})


class HiveWorkload:
    """Deterministic Hive-shaped AtlasEntitiesWithExtInfo batches with unique qualifiedNames per ``tag``."""

    def __init__(self, tag: str, seed: int = 1) -> None:
        self.tag = tag
        self.next_db = 0
        self.rng = random.Random(seed)
        self.now_ms = 1_780_000_000_000

    def batch(self, size: int) -> Batch:
        db_no = self.next_db
        self.next_db += 1
        cluster = f"bench_{self.tag}"
        db_name = f"db{db_no:06d}"
        counter = [0]

        def ph() -> str:
            counter[0] += 1
            return f"-{counter[0]}"

        ents: list[dict[str, Any]] = []
        db_guid = ph()
        ents.append({
            "typeName": "hive_db", "guid": db_guid,
            "attributes": {"qualifiedName": f"{db_name}@{cluster}", "name": db_name, "clusterName": cluster,
                           "owner": "etl", "location": f"hdfs://nn/warehouse/{db_name}.db",
                           "parameters": {"created_by": "bench"}},
        })
        db_ref = {"guid": db_guid, "typeName": "hive_db"}
        remaining = size - 1
        leaves: list[str] = []
        tno = 0
        names: dict[str, str] = {}

        def table(n_cols: int) -> dict[str, Any]:
            nonlocal tno
            t_name = f"t{tno:04d}"
            tno += 1
            t_qn = f"{db_name}.{t_name}@{cluster}"
            t_guid = ph()
            ents.append({
                "typeName": "hive_table", "guid": t_guid,
                "attributes": {"qualifiedName": t_qn, "name": t_name, "owner": "etl", "tableType": "MANAGED_TABLE",
                               "createTime": self.now_ms, "temporary": False, "retention": 0,
                               "comment": f"benchmark table {t_name}", "parameters": {"transient_lastDdlTime": "1"}},
                "relationshipAttributes": {"db": db_ref},
            })
            t_ref = {"guid": t_guid, "typeName": "hive_table"}
            names[t_guid] = f"{db_name}.{t_name}"
            for c in range(n_cols):
                c_name = f"c{c:02d}"
                ents.append({
                    "typeName": "hive_column", "guid": ph(),
                    "attributes": {"qualifiedName": f"{db_name}.{t_name}.{c_name}@{cluster}", "name": c_name,
                                   "type": COLUMN_TYPES[c % len(COLUMN_TYPES)], "position": c, "owner": "etl",
                                   "comment": None},
                    "relationshipAttributes": {"table": t_ref},
                })
            return t_ref

        chains = 0
        while remaining >= CHAIN_ENTITIES:
            tables = [table(COLUMNS) for _ in range(CHAIN_TABLES)]
            for i in range(CHAIN_TABLES - 1):
                src, dst = tables[i], tables[i + 1]
                p_name = f"{db_name}.p{chains:03d}_{i}"
                ents.append({
                    "typeName": "hive_process", "guid": ph(),
                    "attributes": {
                        "qualifiedName": f"{p_name}@{cluster}:{self.now_ms}", "name": p_name,
                        "startTime": self.now_ms, "endTime": self.now_ms + 1000, "userName": "etl",
                        "operationType": "CREATETABLE_AS_SELECT", "clusterName": cluster,
                        "queryText": f"create table {names[dst['guid']]} as select * from {names[src['guid']]}",
                        "queryPlan": "Not Supported", "queryId": f"hive_{uuid.UUID(int=self.rng.getrandbits(128))}",
                        "recentQueries": ["select 1"],
                    },
                    "relationshipAttributes": {"inputs": [src], "outputs": [dst]},
                })
            leaves.append(tables[-1]["guid"])
            remaining -= CHAIN_ENTITIES
            chains += 1
        while remaining > 0:  # fill: standalone tables
            n = min(COLUMNS, remaining - 1)
            table(n)
            remaining -= n + 1
        assert len(ents) == size, (len(ents), size)
        return Batch(ents, leaves)

    def batches(self, total: int, batch_size: int) -> Iterator[Batch]:
        done = 0
        while done < total:
            n = min(batch_size, total - done)
            yield self.batch(n)
            done += n


# --------------------------------------------------------------------------------------------------------------
# load driver
# --------------------------------------------------------------------------------------------------------------
@dataclass
class LoadResult:
    label: str
    entities: int = 0
    requests: int = 0
    wall_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    server_cpu_s: float = float("nan")
    client_cpu_s: float = float("nan")
    errors: list[str] = field(default_factory=list)
    leaves: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.entities / self.wall_s if self.wall_s > 0 else float("nan")

    def line(self) -> str:
        lat = self.latencies_ms
        cores = self.server_cpu_s / self.wall_s if self.wall_s else float("nan")
        ccores = self.client_cpu_s / self.wall_s if self.wall_s else float("nan")
        return (f"  {self.label:<44} {self.entities:>7,} ent {self.requests:>4} req {self.wall_s:7.2f} s "
                f"{fmt_rate(self.rate):>7} ent/s  req p50 {fmt_ms(pct(lat, 50)):>6} p95 {fmt_ms(pct(lat, 95)):>6} "
                f"max {fmt_ms(max(lat) if lat else float('nan')):>6} ms  cores srv {cores:4.2f} cli {ccores:4.2f}"
                + (f"  ERRORS {len(self.errors)}" if self.errors else ""))


def run_load(label: str, url: str, auth: tuple[str, str] | None, batches: Iterator[Batch], threads: int,
             server_pid: int | None, want_leaves: bool) -> LoadResult:
    res = LoadResult(label)
    lock = threading.Lock()
    stop = threading.Event()

    def worker() -> None:
        with httpx.Client(auth=auth, timeout=httpx.Timeout(300.0), headers={"Content-Type": "application/json"}
                          ) as client:
            while not stop.is_set():
                with lock:
                    b = next(batches, None)
                if b is None:
                    return
                body = b.body()
                n = len(b.entities)
                leaves = b.leaves
                del b
                t0 = time.perf_counter()
                try:
                    r = client.post(url, content=body)
                except httpx.HTTPError as e:
                    with lock:
                        res.errors.append(repr(e))
                    stop.set()
                    return
                dt = (time.perf_counter() - t0) * 1000
                if r.status_code != 200:
                    with lock:
                        res.errors.append(f"HTTP {r.status_code}: {r.text[:500]}")
                    stop.set()
                    return
                got: list[str] = []
                if want_leaves and leaves:
                    assigned = orjson.loads(r.content).get("guidAssignments") or {}
                    got = [assigned[p] for p in leaves if p in assigned]
                with lock:
                    res.latencies_ms.append(dt)
                    res.entities += n
                    res.requests += 1
                    res.leaves.extend(got)

    cpu0 = proc_cpu_s(server_pid) if server_pid else float("nan")
    ccpu0 = self_cpu_s()
    t0 = time.perf_counter()
    ts = [threading.Thread(target=worker, name=f"load-{i}") for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    res.wall_s = time.perf_counter() - t0
    res.client_cpu_s = self_cpu_s() - ccpu0
    if server_pid:
        res.server_cpu_s = proc_cpu_s(server_pid) - cpu0
    return res


def time_gets(client: httpx.Client, urls: list[str], warmup: int = 10) -> tuple[list[float], int]:
    for u in urls[:warmup]:
        client.get(u)
    out: list[float] = []
    bad = 0
    for u in urls:
        t0 = time.perf_counter()
        r = client.get(u)
        out.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200:
            bad += 1
    return out, bad


# --------------------------------------------------------------------------------------------------------------
# raw sqlite ceiling
# --------------------------------------------------------------------------------------------------------------
def sqlite_ceiling(path: Path, total: int, batch_size: int, tag: str) -> tuple[float, float]:
    """(rows/s, seconds) for ``total`` rows, one row per entity, one transaction per batch. Same pragmas as the
    store (WAL, synchronous=NORMAL); the timed part is uuid + orjson body + BEGIN/executemany/COMMIT."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE IF NOT EXISTS entity (guid TEXT PRIMARY KEY, type_name TEXT NOT NULL, "
                 "qualified_name TEXT, name TEXT, body TEXT NOT NULL)")
    conn.execute("CREATE INDEX IF NOT EXISTS entity_qn ON entity(qualified_name)")
    elapsed = 0.0
    for b in HiveWorkload(tag).batches(total, batch_size):
        t0 = time.perf_counter()
        rows = [(str(uuid.uuid4()), e["typeName"], e["attributes"]["qualifiedName"], e["attributes"].get("name"),
                 orjson.dumps(e).decode()) for e in b.entities]
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO entity VALUES (?, ?, ?, ?, ?)", rows)
        conn.execute("COMMIT")
        elapsed += time.perf_counter() - t0
    conn.close()
    return total / elapsed, elapsed


# --------------------------------------------------------------------------------------------------------------
# in-process profile (--profile)
# --------------------------------------------------------------------------------------------------------------
def profile_store(tmp: Path, n: int, store_size: int, batch_size: int, samples: int) -> None:
    """cProfile of EmbeddedStore in this process: the first ``n`` entities into an empty store, the last ``n``
    of a load to ``store_size`` (to see what grows with the store), then ``samples`` lineage calls."""
    sys.path.insert(0, str(REPO))
    from catalog.embedded.store import EmbeddedStore
    from typedefs import load_bundled_typedefs

    store = EmbeddedStore(tmp / "profile-store", load_bundled_typedefs())
    wl = HiveWorkload("profile")
    leaves: list[str] = []
    first, last = cProfile.Profile(), cProfile.Profile()
    t_first = t_last = 0.0
    done = 0
    try:
        for b in wl.batches(store_size, batch_size):
            ents = orjson.loads(b.body())["entities"]  # what the route hands over, parsed outside the timing
            size = len(ents)
            prof = first if done < n else last if done >= store_size - n else None
            t0 = time.perf_counter()
            if prof is not None:
                prof.enable()
            out = store.create_or_update(ents, None, USER)
            if prof is not None:
                prof.disable()
            dt = time.perf_counter() - t0
            if prof is first:
                t_first += dt
            elif prof is last:
                t_last += dt
            done += size
            ga = out.get("guidAssignments") or {}
            leaves.extend(ga[p] for p in b.leaves if p in ga)
        for title, prof, t in ((f"first {n:,} entities (store 0)", first, t_first),
                               (f"last {n:,} entities (store {store_size - n:,})", last, t_last)):
            print(f"\n== cProfile: EmbeddedStore.create_or_update, {title}: {n / t:,.0f} ent/s in-process "
                  f"(with profiler overhead) ==")
            pstats.Stats(prof).sort_stats("tottime").print_stats(16)
            pstats.Stats(prof).sort_stats("cumulative").print_stats(16)
        rng = random.Random(7)
        picks = [rng.choice(leaves) for _ in range(samples)] if leaves else []
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        for g in picks:
            store.lineage(g, "INPUT", 4)
        prof.disable()
        wall = time.perf_counter() - t0
        print(f"\n== cProfile: EmbeddedStore.lineage INPUT depth 4 at {store_size:,} entities, {len(picks)} calls "
              f"({wall / max(1, len(picks)) * 1000:.2f} ms/call with profiler overhead) ==")
        pstats.Stats(prof).sort_stats("tottime").print_stats(12)
    finally:
        store.close()


# --------------------------------------------------------------------------------------------------------------
# phases
# --------------------------------------------------------------------------------------------------------------
@dataclass
class Baselines:
    bare_1: LoadResult  # bare FastAPI, 1 client thread
    bare_2: LoadResult  # bare FastAPI, 2 client threads
    ping_ms: list[float]  # bare GET round trips
    sqlite_rate: float  # raw sqlite3 rows/s, --entities rows
    sqlite_big_rate: float  # raw sqlite3 rows/s, --store-size rows


@dataclass
class EmbeddedRun:
    load_1: LoadResult  # load A, 1 thread
    load_2: LoadResult  # load B, 2 threads
    whole: LoadResult  # A+B+C
    lineage_input_ms: list[float]
    lineage_both_ms: list[float]
    get_entity_ms: list[float]


def bench_bare(tmp: Path, servers: list[ServerProcess], n: int, store_size: int, bs: int, samples: int
               ) -> tuple[LoadResult, LoadResult, list[float]]:
    """Phase 1: (1-thread load, 2-thread load, GET round trips) against the bare FastAPI app."""
    print("\n[1/4] bare FastAPI app (separate process, uvloop+httptools): HTTP+JSON ceiling")
    bare = ServerProcess("bare", BARE_SCRIPT, [str(port := free_port())], port, tmp / "bare.log", "/ping",
                         None)
    servers.append(bare)
    wl = HiveWorkload("bare")
    # the same bodies as our load; more of them than --entities (the bare app is ~10x faster, and a run of a
    # few requests is all noise)
    nb = max(n, store_size)
    run_load("warm-up", bare.url + "/bulk", None, wl.batches(2 * bs, bs), 1, None, False)
    b1 = run_load(f"bare POST {nb:,}, 1 thread", bare.url + "/bulk", None, wl.batches(nb, bs), 1, bare.pid,
                  False)
    print(b1.line())
    b2 = run_load(f"bare POST {nb:,}, 2 threads", bare.url + "/bulk", None, wl.batches(nb, bs), 2, bare.pid,
                  False)
    print(b2.line())
    with httpx.Client() as c:
        ping, _ = time_gets(c, [bare.url + "/ping"] * samples)
    print(f"  bare GET round trip: p50 {fmt_ms(pct(ping, 50))} ms, p95 {fmt_ms(pct(ping, 95))} ms")
    bare.stop()
    servers.remove(bare)
    return b1, b2, ping


def bench_sqlite(tmp: Path, n: int, store_size: int, bs: int) -> tuple[float, float]:
    """Phase 2: rows/s of raw sqlite3 for ``n`` and for ``store_size`` rows."""
    print("\n[2/4] raw sqlite3 (WAL, synchronous=NORMAL, 1 row per entity, 1 transaction per batch)")
    sq_rate, sq_s = sqlite_ceiling(tmp / "raw_small.db", n, bs, "sq1")
    print(f"  {n:,} rows into an empty table: {sq_rate:,.0f} rows/s ({sq_s:.2f} s)")
    sq_big_rate, sq_big_s = sqlite_ceiling(tmp / "raw_big.db", store_size, bs, "sq2")
    print(f"  {store_size:,} rows into an empty table: {sq_big_rate:,.0f} rows/s ({sq_big_s:.2f} s)")
    for f in tmp.glob("raw_*.db*"):
        f.unlink()
    return sq_rate, sq_big_rate


def load_embedded(ours: ServerProcess, label: str, url: str, auth: tuple[str, str], batches: Iterator[Batch],
                  threads: int, leaves: list[str]) -> LoadResult:
    """One bulk-load run against the embedded store; adds the chains' leaf guids to ``leaves``; fails on errors."""
    res = run_load(label, url, auth, batches, threads, ours.pid, True)
    print(res.line())
    leaves += res.leaves
    if res.errors:
        raise RuntimeError(f"bulk load failed: {res.errors[0]}\n{ours.log_tail()}")
    return res


def total_load(label: str, runs: tuple[LoadResult, ...]) -> LoadResult:
    """The runs as one (CPU times that are nan count as 0)."""
    whole = LoadResult(label)
    for r in runs:
        whole.entities += r.entities
        whole.requests += r.requests
        whole.wall_s += r.wall_s
        whole.latencies_ms += r.latencies_ms
        whole.client_cpu_s = (0.0 if whole.client_cpu_s != whole.client_cpu_s else whole.client_cpu_s) + (
            r.client_cpu_s if r.client_cpu_s == r.client_cpu_s else 0.0)
        whole.server_cpu_s = (0.0 if whole.server_cpu_s != whole.server_cpu_s else whole.server_cpu_s) + (
            r.server_cpu_s if r.server_cpu_s == r.server_cpu_s else 0.0)
    return whole


def read_embedded(ours: ServerProcess, auth: tuple[str, str], whole: LoadResult, leaves: list[str], samples: int
                  ) -> tuple[list[float], list[float], list[float]]:
    """Latencies (ms) of lineage INPUT, lineage BOTH and GET entity/guid for ``samples`` random leaf tables."""
    rng = random.Random(42)
    with httpx.Client(auth=auth, timeout=60.0) as c:
        count = c.post(ours.url + "/api/atlas/v2/search/basic",
                       content=orjson.dumps({"typeName": "hive_table", "limit": 1}),
                       headers={"Content-Type": "application/json"})
        approx = orjson.loads(count.content).get("approximateCount") if count.status_code == 200 else None
        picks = [rng.choice(leaves) for _ in range(samples)] if leaves else []
        # sanity: shape of one lineage answer (depth 4 from a leaf = 5 tables + 4 processes)
        shape = ""
        if picks:
            resp = c.get(f"{ours.url}/api/atlas/v2/lineage/{picks[0]}", params={"direction": "INPUT", "depth": 4})
            if resp.status_code == 200:
                li = orjson.loads(resp.content)
                shape = f"{len(li['guidEntityMap'])} entities, {len(li['relations'])} relations"
            else:
                shape = f"HTTP {resp.status_code} {resp.text[:200]}"
        print(f"\n  reads at {whole.entities:,} entities ({len(leaves):,} chains; hive_table approximateCount "
              f"{approx}); {len(picks)} random leaf tables; one INPUT depth-4 answer: {shape}")
        lin_in, bad1 = time_gets(c, [f"{ours.url}/api/atlas/v2/lineage/{g}?direction=INPUT&depth=4" for g in picks])
        lin_both, bad2 = time_gets(c, [f"{ours.url}/api/atlas/v2/lineage/{g}?direction=BOTH&depth=4"
                                       for g in picks])
        get_ent, bad3 = time_gets(c, [f"{ours.url}/api/atlas/v2/entity/guid/{g}" for g in picks])
    for name, lat, bad in (("GET lineage INPUT depth=4", lin_in, bad1), ("GET lineage BOTH depth=4", lin_both,
                                                                        bad2),
                           ("GET entity/guid (leaf table)", get_ent, bad3)):
        print(f"  {name:<32} p50 {fmt_ms(pct(lat, 50)):>6}  p95 {fmt_ms(pct(lat, 95)):>6}  "
              f"p99 {fmt_ms(pct(lat, 99)):>6}  max {fmt_ms(max(lat) if lat else float('nan')):>6} ms"
              + (f"  NON-200: {bad}" if bad else ""))
    return lin_in, lin_both, get_ent


def bench_embedded(tmp: Path, servers: list[ServerProcess], n: int, store_size: int, bs: int, samples: int
                   ) -> EmbeddedRun:
    """Phase 3: bulk loads into the embedded store up to ``store_size``, then reads."""
    print("\n[3/4] embedded store (separate process, uvloop+httptools), POST /api/atlas/v2/entity/bulk/")
    password = secrets.token_urlsafe(16)
    auth = (USER, password)
    port = free_port()
    ours = ServerProcess("embedded", SERVER_SCRIPT, [str(tmp / "store"), str(port), password], port,
                         tmp / "embedded.log", "/api/atlas/admin/status", auth)
    servers.append(ours)
    print(f"  server pid {ours.pid}, ready in {ours.startup_s:.1f} s (store + bundled typedefs)")
    bulk_url = ours.url + "/api/atlas/v2/entity/bulk/"
    wl = HiveWorkload("ours")
    leaves: list[str] = []
    o1 = load_embedded(ours, f"load A: {n:,} (store 0), 1 thread", bulk_url, auth, wl.batches(n, bs), 1, leaves)
    o2 = load_embedded(ours, f"load B: {n:,} (store {n:,}), 2 threads", bulk_url, auth, wl.batches(n, bs), 2,
                       leaves)
    rest = store_size - 2 * n
    o3 = LoadResult(f"load C: {rest:,} (store {2 * n:,}), 1 thread")
    if rest > 0:
        o3 = load_embedded(ours, o3.label, bulk_url, auth, wl.batches(rest, bs), 1, leaves)
    whole = total_load(f"whole load 0 -> {store_size:,} (A+B+C)", (o1, o2, o3))
    print(whole.line())
    cpu_per_ent = whole.server_cpu_s / whole.entities * 1e6 if whole.entities else float("nan")
    client_cpu = whole.client_cpu_s
    db_files = sorted((tmp / "store").glob("atlas.db*"))
    db_mb = sum(f.stat().st_size for f in db_files) / 2**20
    print(f"  server CPU {cpu_per_ent:,.0f} us/entity; client CPU {client_cpu:.1f} s total; store files "
          f"{db_mb:,.0f} MiB; server RSS peak {proc_mem_mb(ours.pid):,.0f} MiB")
    lin_in, lin_both, get_ent = read_embedded(ours, auth, whole, leaves, samples)
    print(f"  server RSS peak {proc_mem_mb(ours.pid):,.0f} MiB")
    ours.stop()
    servers.remove(ours)
    return EmbeddedRun(o1, o2, whole, lin_in, lin_both, get_ent)


def print_summary(n: int, base: Baselines, ours: EmbeddedRun) -> None:
    """Phase 4: ours against the baselines, and against the goals."""
    print("\n[4/4] summary (ratio = ours / baseline; rates: higher is better, latencies: lower is better)")
    rows: list[tuple[str, str, str, str, str, str]] = []

    def rate_row(metric: str, ours_v: float, base_v: float, base_name: str, goal: bool) -> None:
        ratio = ours_v / base_v if base_v else float("nan")
        verdict = ("MET" if ours_v >= GOAL_RATE else "NOT MET") if goal else ""
        rows.append((metric, f"{fmt_rate(ours_v)} ent/s", f"{fmt_rate(base_v)} ent/s ({base_name})",
                     f"{ratio:.2f}", f">= {GOAL_RATE:,.0f} ent/s" if goal else "", verdict))

    def lat_row(metric: str, ours_v: float, base_v: float, base_name: str, goal: float | None) -> None:
        ratio = ours_v / base_v if base_v else float("nan")
        verdict = ("MET" if ours_v < goal else "NOT MET") if goal is not None else ""
        rows.append((metric, f"{fmt_ms(ours_v)} ms", f"{fmt_ms(base_v)} ms ({base_name})" if base_v == base_v
                     else "-", f"{ratio:.1f}" if ratio == ratio else "-",
                     f"< {goal:.0f} ms" if goal is not None else "", verdict))

    o1, o2, whole, b1, b2, ping = ours.load_1, ours.load_2, ours.whole, base.bare_1, base.bare_2, base.ping_ms
    lin_in, lin_both, get_ent = ours.lineage_input_ms, ours.lineage_both_ms, ours.get_entity_ms
    rate_row(f"bulk create {n:,}, 1 thread", o1.rate, b1.rate, "bare FastAPI", True)
    rate_row(f"bulk create {n:,}, 2 threads", o2.rate, b2.rate, "bare FastAPI", True)
    rate_row(f"bulk create whole load to {whole.entities:,}", whole.rate, base.sqlite_big_rate, "raw sqlite3", True)
    rate_row(f"bulk create {n:,}, 1 thread vs storage", o1.rate, base.sqlite_rate, "raw sqlite3", False)
    lat_row("bulk request p50 (1 thread)", pct(o1.latencies_ms, 50), pct(b1.latencies_ms, 50), "bare", None)
    lat_row(f"lineage INPUT d4 p50 @ {whole.entities // 1000}k", pct(lin_in, 50), pct(ping, 50), "bare GET",
            GOAL_LINEAGE_P50_MS)
    lat_row("lineage INPUT d4 p95", pct(lin_in, 95), pct(ping, 95), "bare GET", None)
    lat_row("lineage INPUT d4 p99", pct(lin_in, 99), pct(ping, 99), "bare GET", None)
    lat_row("lineage BOTH d4 p50", pct(lin_both, 50), pct(ping, 50), "bare GET", None)
    lat_row("GET entity/guid p50", pct(get_ent, 50), pct(ping, 50), "bare GET", None)
    head = ("metric", "ours", "baseline", "ratio", "goal", "")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(6)]
    fmt = " | ".join(f"{{:<{w}}}" for w in widths)
    print(fmt.format(*head).rstrip())
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(fmt.format(*row).rstrip())


# --------------------------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entities", type=int, default=None, help="entities per bulk-load phase (default 10000)")
    ap.add_argument("--store-size", type=int, default=None, help="final store size for reads (default 100000)")
    ap.add_argument("--batch", type=int, default=500, help="entities per POST entity/bulk (default 500)")
    ap.add_argument("--lineage-samples", type=int, default=200, help="random leaf tables to query (default 200)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 2,000 entities / 10,000 store size")
    ap.add_argument("--profile", action="store_true",
                    help="also cProfile EmbeddedStore.create_or_update/lineage in-process and print hot spots")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (store + server logs)")
    a = ap.parse_args(argv)
    n = a.entities if a.entities is not None else (2000 if a.quick else 10000)
    store_size = a.store_size if a.store_size is not None else (10000 if a.quick else 100000)
    store_size = max(store_size, 2 * n)
    bs = a.batch
    if bs < CHAIN_ENTITIES + 1:
        ap.error(f"--batch must be >= {CHAIN_ENTITIES + 1} (one hive_db + one {CHAIN_TABLES}-table chain)")

    import platform

    import fastapi
    import uvicorn

    print("mlcatalog embedded store benchmark")
    print(f"  host: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"SQLite {sqlite3.sqlite_version}, fastapi {fastapi.__version__}, uvicorn {uvicorn.__version__}, "
          f"httpx {httpx.__version__}")
    print(f"  workload: --entities {n:,} per load phase, --store-size {store_size:,}, --batch {bs} entities/request; "
          f"per request 1 hive_db + {(bs - 1) // CHAIN_ENTITIES} chains of {CHAIN_TABLES} hive_tables "
          f"({COLUMNS} hive_columns each) linked by {CHAIN_TABLES - 1} hive_process, rest standalone tables")
    sample = HiveWorkload("probe").batch(bs)
    print(f"  request body: {len(sample.body()) / 1024:,.0f} KiB for {bs} entities")
    del sample

    tmp = Path(tempfile.mkdtemp(prefix="bench_embedded_"))
    servers: list[ServerProcess] = []
    t_start = time.perf_counter()
    try:
        b1, b2, ping = bench_bare(tmp, servers, n, store_size, bs, a.lineage_samples)
        sq_rate, sq_big_rate = bench_sqlite(tmp, n, store_size, bs)
        ours = bench_embedded(tmp, servers, n, store_size, bs, a.lineage_samples)
        print_summary(n, Baselines(b1, b2, ping, sq_rate, sq_big_rate), ours)
        import resource

        print(f"\ntotal benchmark wall time {time.perf_counter() - t_start:.0f} s; client RSS peak "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")

        if a.profile:
            profile_store(tmp, n, store_size, bs, a.lineage_samples)
        return 0
    finally:
        for s in servers:
            s.stop()
        if a.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
