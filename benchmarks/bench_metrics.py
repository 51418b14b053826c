#!/usr/bin/env python
"""Benchmark of the metrics store (serving/metrics), both backends side by side, with MLflow as the baseline.

    python benchmarks/bench_metrics.py [--predictions 20000] [--threads 32] [--store-size 1000000] [--quick]
                                       [--pg-admin-url postgresql://user@127.0.0.1:5432/postgres] [--skip-postgres]
                                       [--skip-mlflow] [--keep]

Goals: >= 100k metric values/s into the embedded SQLite store with group commit (every prediction durable on
its own, as replicas write them); >= 30x MLflow's log_batch, batch API against batch API (write_predictions, 1,000
predictions per call, against log_batch's 1,000 values per call); a 1-hour window of a 1M-prediction store read
in < 300 ms.

It prints figures and never asserts. Each prediction carries 11 metric values (the wine demo's 11 features), so
values/s = predictions/s x 11. Records are built (and validated) before each timer starts, like MLflow's Metric
objects; encoding the metrics to JSON is inside the timer.

Phases:
  1. ingestion of --predictions predictions into empty stores, per backend:
     - group commit: --threads threads, each submit(record).result() in a loop - every caller waits for its own
       COMMIT, as an HTTP handler does before it responds; and the same with 256 asyncio tasks (one loop thread);
     - bulk: write_predictions() with 1,000 predictions per call;
     SQLite with synchronous=NORMAL (the default) and, for the group-commit paths, FULL.
  2. baseline: MLflow's MlflowClient.log_batch into its own SQLite store (sqlite:///<tmp>/mlflow.db, same disk),
     the same number of values, 1,000 per call (MLflow's limit), 11 keys cycled, step = i // 11, in a child
     process. Creating the DB, the experiment and the run is not timed. MLflow is pip-installed if missing.
  3. reads: a store of --store-size predictions spread evenly over 7 days, all of one deployment, loaded with
     write_predictions (50,000 per call); then the store is reopened and read(model_deployment_crn=...) of a
     1-hour window in the middle is timed: the first call on the reopened store (OS page cache not dropped), then
     the p50 of 20 more calls.
Everything is written under one tempfile.mkdtemp() directory (removed unless --keep); PostgreSQL databases
bench_metrics_<pid>_* are created through --pg-admin-url and dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from procs import find_pg_admin_url, load_average, phase, print_summary, status  # noqa: E402

from serving.metrics import MetricRecord, MetricsStore, open_metrics_store, sqlite_url  # noqa: E402

GOAL_SQLITE_VALUES_S = 100_000
GOAL_VS_MLFLOW = 30.0
GOAL_READ_MS = 300.0
VALUES_PER_PREDICTION = 11
DAY_MS = 86_400_000
T_BASE = 1_767_225_600_000  # 2026-01-01T00:00Z
WINE = (("fixedAcidity", 4.6, 15.9, 1), ("volatileAcidity", 0.12, 1.58, 3), ("citricAcid", 0.0, 1.0, 2),
        ("residualSugar", 0.9, 15.5, 1), ("chlorides", 0.012, 0.611, 3), ("freeSulfurDioxide", 1.0, 72.0, 0),
        ("totalSulfurDioxide", 6.0, 289.0, 0), ("density", 0.990, 1.004, 4), ("pH", 2.74, 4.01, 2),
        ("sulphates", 0.33, 2.0, 2), ("Alcohol", 8.4, 14.9, 1))
CRN_PREFIX = "crn:cdp:ml:us-west-1:12a0079b-1591-4ca0-b721-a446bda74e67:workspace:ec3efe6f-c4f5-4593-857b-a80698e4857e/"


@dataclass
class Crns:
    deployment: str
    build: str
    model: str

    @classmethod
    def fresh(cls) -> Crns:
        return cls(*(CRN_PREFIX + str(uuid.uuid4()) for _ in range(3)))


def wine_metrics(rng: random.Random) -> dict[str, Any]:
    """11 values shaped like the wine demo's features (their ranges and decimals), as its model.py tracks them."""
    values: dict[str, Any] = {}
    for name, low, high, decimals in WINE:
        v = round(rng.uniform(low, high), decimals)
        values[name] = int(v) if decimals == 0 else v
    return values


def make_records(crns: Crns, n: int, start_ms: int, step_ms: float, rng: random.Random) -> list[MetricRecord]:
    out = []
    for i in range(n):
        t = start_ms + int(i * step_ms)
        out.append(MetricRecord(model_deployment_crn=crns.deployment, model_build_crn=crns.build,
                                model_crn=crns.model, prediction_uuid=str(uuid.uuid4()), start_ms=t,
                                end_ms=t + rng.randint(2, 40), metrics=wine_metrics(rng)))
    return out


# ---------------------------------------------------------------------------------------------- ingestion paths


@dataclass
class Rate:
    predictions: int
    seconds: float
    commits: int | None = None

    @property
    def values_s(self) -> float:
        return self.predictions * VALUES_PER_PREDICTION / self.seconds

    def line(self) -> str:
        batch = f", {self.predictions / self.commits:6.1f} predictions/COMMIT" if self.commits else ""
        per_s = self.predictions / self.seconds
        return (f"{self.predictions:>9,} predictions in {self.seconds:6.2f} s = {per_s:>9,.0f} predictions/s = "
                f"{self.values_s:>10,.0f} values/s{batch}")


def commits_of(store: MetricsStore) -> int:
    stats = getattr(store, "stats", None)
    return int(stats().transactions) if callable(stats) else 0


def group_commit_threads(store: MetricsStore, records: list[MetricRecord], threads: int) -> Rate:
    slices = [records[i::threads] for i in range(threads)]
    barrier = threading.Barrier(threads + 1)

    def submitter(mine: list[MetricRecord]) -> None:
        barrier.wait()
        for rec in mine:
            store.submit(rec).result()

    workers = [threading.Thread(target=submitter, args=(s,)) for s in slices]
    for w in workers:
        w.start()
    before = commits_of(store)
    barrier.wait()
    started = time.perf_counter()
    for w in workers:
        w.join()
    return Rate(len(records), time.perf_counter() - started, commits_of(store) - before)


def group_commit_asyncio(store: MetricsStore, records: list[MetricRecord], tasks: int = 256) -> Rate:
    async def handler(mine: list[MetricRecord]) -> None:
        for rec in mine:
            await asyncio.wrap_future(store.submit(rec))

    async def main() -> None:
        await asyncio.gather(*(handler(records[i::tasks]) for i in range(tasks)))

    before = commits_of(store)
    started = time.perf_counter()
    asyncio.run(main())
    return Rate(len(records), time.perf_counter() - started, commits_of(store) - before)


def bulk(store: MetricsStore, records: list[MetricRecord], per_call: int = 1000) -> Rate:
    before = commits_of(store)
    started = time.perf_counter()
    for i in range(0, len(records), per_call):
        store.write_predictions(records[i:i + per_call])
    return Rate(len(records), time.perf_counter() - started, commits_of(store) - before)


# ---------------------------------------------------------------------------------------------- MLflow baseline

MLFLOW_CHILD = r"""
import json, sys, time
try:
    import mlflow
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient
except Exception as e:
    print(json.dumps({"import_error": repr(e)})); sys.exit(3)
db, values, keys = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
client = MlflowClient(tracking_uri="sqlite:///" + db)
exp = client.create_experiment("bench")
run = client.create_run(exp).info.run_id
ts = int(time.time() * 1000)
metrics = [Metric(keys[i % 11], float(i % 97) / 7.0, ts + i // 11, i // 11) for i in range(values)]
start = time.perf_counter()
for i in range(0, values, 1000):
    client.log_batch(run, metrics=metrics[i:i + 1000])
secs = time.perf_counter() - start
client.set_terminated(run)
print(json.dumps({"values": values, "seconds": secs, "version": mlflow.__version__}))
"""


def mlflow_baseline(workdir: Path, values: int) -> tuple[float | None, str]:
    """(values/s or None, a line to print)."""

    def run_child() -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        env["GIT_PYTHON_REFRESH"] = "quiet"
        keys = json.dumps([w[0] for w in WINE])
        return subprocess.run([sys.executable, "-c", MLFLOW_CHILD, str(workdir / "mlflow.db"), str(values), keys],
                              capture_output=True, text=True, env=env, timeout=900)

    proc = run_child()
    if proc.returncode == 3:
        print("  mlflow is not installed: pip install mlflow ...", flush=True)
        pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                              "mlflow"], capture_output=True, text=True, timeout=900)
        if pip.returncode != 0:
            tail = (pip.stderr or pip.stdout).strip().splitlines()[-3:]
            return None, "MLflow could not be installed (pip install mlflow failed): " + " | ".join(tail)
        proc = run_child()
    try:
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        rate = result["values"] / result["seconds"]
    except (IndexError, KeyError, ValueError):
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return None, "MLflow baseline failed: " + " | ".join(tail)
    return rate, (f"MLflow {result['version']} log_batch: {result['values']:>9,} values in "
                  f"{result['seconds']:6.2f} s = {rate:>10,.0f} values/s")


# ---------------------------------------------------------------------------------------------- PostgreSQL




# ---------------------------------------------------------------------------------------------- reads


@dataclass
class ReadResult:
    load: Rate
    rows: int
    first_ms: float
    p50_ms: float
    p95_ms: float
    size: str


def build_read_stores(urls: dict[str, str], size: int, rng: random.Random) -> dict[str, Rate]:
    """Load ``size`` predictions over 7 days into every store at once (records generated once, chunk by chunk)."""
    crns = READ_CRNS
    step = 7 * DAY_MS / size
    chunk = 50_000
    spent = dict.fromkeys(urls, 0.0)
    stores = {name: open_metrics_store(url) for name, url in urls.items()}
    try:
        for first in range(0, size, chunk):
            n = min(chunk, size - first)
            records = make_records(crns, n, T_BASE + int(first * step), step, rng)
            for name, store in stores.items():
                started = time.perf_counter()
                store.write_predictions(records)
                spent[name] += time.perf_counter() - started
            if (first + n) % 250_000 == 0 or first + n == size:
                print(f"  loaded {first + n:>9,} / {size:,}", flush=True)
    finally:
        for store in stores.values():
            store.close()
    return {name: Rate(size, spent[name]) for name in urls}


READ_CRNS = Crns.fresh()


def time_reads(url: str) -> tuple[int, float, float, float]:
    start = T_BASE + int(3.5 * DAY_MS)
    end = start + 3_600_000
    with open_metrics_store(url) as store:
        began = time.perf_counter()
        rows = len(store.read(model_deployment_crn=READ_CRNS.deployment, start_ms=start, end_ms=end))
        first = (time.perf_counter() - began) * 1000
        warm = []
        for _ in range(20):
            began = time.perf_counter()
            store.read(model_deployment_crn=READ_CRNS.deployment, start_ms=start, end_ms=end)
            warm.append((time.perf_counter() - began) * 1000)
    warm.sort()
    return rows, first, statistics.median(warm), warm[int(0.95 * (len(warm) - 1))]


def sqlite_size(path: Path) -> str:
    total = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    return f"{total / 2**20:,.0f} MiB"


# ---------------------------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--predictions", type=int, default=20_000, help="per ingestion run (x11 values)")
    ap.add_argument("--threads", type=int, default=32, help="submitter threads of the group-commit run")
    ap.add_argument("--store-size", type=int, default=1_000_000, help="predictions in the read benchmark store")
    ap.add_argument("--pg-admin-url", help="where to CREATE/DROP the benchmark databases")
    ap.add_argument("--skip-postgres", action="store_true")
    ap.add_argument("--skip-mlflow", action="store_true")
    ap.add_argument("--quick", action="store_true", help="smoke run: 5,000 predictions, 100,000 in the read store")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    if args.quick:
        args.predictions, args.store_size = 5_000, 100_000
    began = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="bench-metrics-"))
    rng = random.Random(42)
    dbs, pg_note = (None, "skipped (--skip-postgres)") if args.skip_postgres else find_pg_admin_url(
        args.pg_admin_url, "bench_metrics")

    print(f"bench_metrics: {platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"SQLite {sqlite3.sqlite_version}, PostgreSQL {dbs.version if dbs else pg_note}")
    print(f"load average at the start {load_average()}")
    print(f"workdir {workdir} ({'kept' if args.keep else 'removed at the end'}); {args.predictions:,} predictions "
          f"x {VALUES_PER_PREDICTION} values per ingestion run; read store {args.store_size:,} predictions")
    rates: dict[str, Rate] = {}
    try:
        with phase("1. ingestion (empty stores)"):
            crns = Crns.fresh()
            sets = {k: make_records(crns, args.predictions, T_BASE, 60.0, rng) for k in ("gc", "aio", "bulk")}
            backends: list[tuple[str, Callable[[str], str]]] = [
                ("sqlite", lambda s: sqlite_url(workdir / f"{s}.db")),
                ("sqlite/FULL", lambda s: sqlite_url(workdir / f"{s}-full.db") + "?synchronous=full"),
            ]
            if dbs:
                backends.append(("postgresql", dbs.create))
            for name, url_for in backends:
                runs: list[tuple[str, Callable[[MetricsStore], Rate]]] = [
                    (f"group commit, {args.threads} threads", lambda s: group_commit_threads(s, sets["gc"],
                                                                                              args.threads)),
                    ("group commit, 256 asyncio tasks", lambda s: group_commit_asyncio(s, sets["aio"])),
                ]
                if name != "sqlite/FULL":
                    runs.append(("bulk write_predictions x1000", lambda s: bulk(s, sets["bulk"])))
                for i, (label, run) in enumerate(runs):
                    with open_metrics_store(url_for(f"ingest{i}")) as store:
                        rate = run(store)
                    rates[f"{name}: {label}"] = rate
                    print(f"  {name:<14} {label:<32} {rate.line()}", flush=True)
            if not dbs:
                print(f"  postgresql: {pg_note}")

        mlflow_rate: float | None = None
        with phase("2. baseline: MLflow log_batch into its own SQLite store (same disk)"):
            if args.skip_mlflow:
                print("  skipped (--skip-mlflow)")
            else:
                mlflow_rate, line = mlflow_baseline(workdir, args.predictions * VALUES_PER_PREDICTION)
                print("  " + line, flush=True)

        reads: dict[str, ReadResult] = {}
        with phase(f"3. read a 1-hour window of one deployment in a store of {args.store_size:,} predictions"):
            urls = {"sqlite": sqlite_url(workdir / "read.db")}
            if dbs:
                urls["postgresql"] = dbs.create("read")
            loads = build_read_stores(urls, args.store_size, rng)
            for name, url in urls.items():
                rows, first, p50, p95 = time_reads(url)
                size = sqlite_size(workdir / "read.db") if name == "sqlite" else dbs.size(url) if dbs else "?"
                reads[name] = ReadResult(loads[name], rows, first, p50, p95, size)
                print(f"  {name:<11} load: {loads[name].line()}; store {size}")
                print(f"  {name:<11} read: {rows:,} records, first {first:7.1f} ms, warm p50 {p50:7.1f} ms, "
                      f"p95 {p95:7.1f} ms", flush=True)
    finally:
        if dbs:
            dbs.drop_all()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    print_table(rates, mlflow_rate, reads, args.threads)
    print(f"\ntotal {time.perf_counter() - began:.0f} s; load average at the end {load_average()} (2 cores shared with "
          "anything else running: figures are noisy when it is above ~1)")


def print_table(rates: dict[str, Rate], mlflow_rate: float | None, reads: dict[str, ReadResult],
                threads: int) -> None:
    rows: list[tuple[str, str, str, str, str, str]] = []
    base = f"{mlflow_rate:,.0f}" if mlflow_rate else "n/a"
    for key, rate in rates.items():
        ratio = rate.values_s / mlflow_rate if mlflow_rate else None
        # log_batch is MLflow's batch API (1,000 values per call), so the 30x goal compares it with ours, batch for
        # batch. Group commit makes every prediction durable on its own (what a replica does before it answers):
        # its ratio to log_batch is printed for information.
        if key.startswith("sqlite:") and "bulk" in key:
            goal = f">= {GOAL_SQLITE_VALUES_S / 1000:.0f}k values/s and >= {GOAL_VS_MLFLOW:.0f}x MLflow, batch vs batch"
            ok: bool | None = rate.values_s >= GOAL_SQLITE_VALUES_S and (ratio is None or ratio >= GOAL_VS_MLFLOW)
        elif key.startswith("sqlite:"):
            goal = f">= {GOAL_SQLITE_VALUES_S / 1000:.0f}k values/s (ratio: info)"
            ok = rate.values_s >= GOAL_SQLITE_VALUES_S
        else:
            goal, ok = "(info)", None
        rows.append((f"ingest values/s, {key}", f"{rate.values_s:,.0f}", base,
                     f"{ratio:.1f}x" if ratio else "n/a", goal, status(ok) if ok is not None else "-"))
    for name, r in reads.items():
        for label, value in (("first", r.first_ms), ("warm p50", r.p50_ms)):
            rows.append((f"read 1 h ({r.rows:,} records) of {r.load.predictions:,}, {name}, {label}",
                         f"{value:.1f} ms", "-", "-", f"< {GOAL_READ_MS:.0f} ms", status(value < GOAL_READ_MS)))
    headers = ("metric", "ours", "baseline (MLflow log_batch)", "ratio", "goal", "MET/NOT MET")
    print_summary(headers, rows)


if __name__ == "__main__":
    main()
