#!/usr/bin/env python
"""Benchmark of one built-in monitor run (serving/monitoring) on a 1M-prediction window, both metrics store backends,
with Evidently's DataDriftPreset as the baseline.

    python benchmarks/bench_monitor.py [--predictions 1000000] [--reference 10000] [--quick]
                                       [--pg-admin-url postgresql://user@127.0.0.1:5432/postgres] [--skip-postgres]
                                       [--skip-evidently] [--evidently-venv DIR] [--profile] [--keep]

Goals: one monitor run end to end (read the window from the store, compute, write the results) over a window of
1,000,000 predictions - 11 numeric features and the prediction label each, the wine demo's model - against a
10,000-row reference, >= 5x faster than Evidently's DataDriftPreset report on DataFrames already in memory (the
issue measured about 16 s for Evidently on this machine kind, about 0.6 s for a plain numpy/scipy pass), and a peak
memory under 500 MB. It prints figures and ratios and never asserts.

Phases:
  1. data (not timed): the window's rows come from serving/examples/wine/data.generate() (50,000 per chunk, each
     chunk its own seed) with a mild shift - Alcohol +0.3, volatileAcidity x1.08, chlorides x1.03, clipped to the
     features' ranges - and the prediction is the model's rule (alcohol, volatile acidity and sulphates) applied to
     the shifted features, so a few columns and the prediction drift, the others do not. The records (11 floats +
     "prediction": "Excellent"/"Poor") are spread over a 1-hour window, plus --outside predictions in the hours
     before and after it (the read must filter them out), and loaded with write_predictions, 50,000 per call, into
     a SQLite store and a PostgreSQL database (created through --pg-admin-url). The reference is generate(
     --reference, seed) with the same model's predictions, summarised with numeric_reference /
     categorical_reference. The window and the reference are also written to Parquet for Evidently.
  2. the monitor run, per backend, in a child process of its own (this script with --child), so that its peak
     memory is its own: after the imports it loads the reference, opens the store and computes the previous hour's
     window once (a warm-up, as a monitor worker process has computed windows before: what numpy, scipy and
     pyarrow import lazily on first use is then loaded), reads VmRSS (the baseline), then times
     compute_window(store, crn, config, reference, start, end) followed by
     store.write_aggregate(crn, start, end, result.metrics()) - the figure compared with Evidently - and reads
     VmHWM. The peak is VmHWM - baseline (the run's own memory; the absolute VmHWM is printed too). The split:
     read = compute_window - result.seconds (the store's rows to arrays), compute = result.seconds (the
     statistics), write = write_aggregate. Then, for information, a second pass that only iterates
     store.iter_prediction_metrics (the database's share of the read, warm). PostgreSQL's server CPU during the
     run is the CPU time of the local postgres processes (/proc), for information.
  3. in memory, for information (the issue's "about 0.6 s" anchor): np.sort of each column plus
     serving.monitoring.stats' KS + PSI + Wasserstein per column and the chi-square of the prediction counts, on
     the arrays already in memory (median of 3).
  4. baseline: Evidently's Report([DataDriftPreset()]).run(current, reference) on pandas DataFrames already in
     memory (11 numeric columns + the prediction as categorical), only the report timed, after a warm-up report on
     10,000 rows. Evidently 0.7 does not import with the project's pandas 3, so it runs in a virtualenv of its
     own (--evidently-venv, default ~/.cache/mlcatalog-bench/evidently-venv: created with `python -m venv` +
     `pip install evidently "pandas<3" pyarrow` when absent, reused when present), reading the Parquet files before
     its timer starts.
  5. the drift result (status, drifted columns, every column's figures beside Evidently's), the agreement checks
     (the two backends' statistics equal to 1e-9, the in-memory pass too; the normalised Wasserstein distances
     beside Evidently's), and the summary table. --profile adds a cProfile of compute_window per backend (in a
     child process again).
Everything is written under one tempfile.mkdtemp() directory (removed unless --keep); the PostgreSQL database
bench_monitor_<pid>_window is created through --pg-admin-url and dropped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import importlib.metadata
import json
import math
import os
import platform
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from procs import PgDatabases, find_pg_admin_url, load_average, phase, print_summary, status  # noqa: E402

from serving.examples.wine.data import FEATURES, STATS, generate  # noqa: E402
from serving.metrics import MetricRecord, open_metrics_store, sqlite_url  # noqa: E402
from serving.monitoring.config import MonitorConfig  # noqa: E402
from serving.monitoring.evaluate import WindowResult  # noqa: E402
from serving.monitoring.reference import (  # noqa: E402
    ReferenceSource,
    ReferenceSummary,
    categorical_reference,
    numeric_reference,
)
from serving.monitoring.stats import chisquare_test, numeric_tests  # noqa: E402
from serving.monitoring.worker import compute_window  # noqa: E402

GOAL_VS_EVIDENTLY = 5.0
GOAL_PEAK_MB = 500.0
AGREE_TOL = 1e-9
HOUR_MS = 3_600_000
T_WINDOW = 1_767_225_600_000 + 10 * HOUR_MS  # 2026-01-01T10:00Z
CHUNK = 50_000
PREDICTION = "prediction"
LABELS = ("Excellent", "Poor")
CRN_PREFIX = "crn:cdp:ml:us-west-1:12a0079b-1591-4ca0-b721-a446bda74e67:workspace:ec3efe6f-c4f5-4593-857b-a80698e4857e/"
# feature -> (factor, offset) applied to the window's values (then clipped to the feature's range and rounded as
# generate() rounds): a mild, realistic drift of three columns, the others left as generated.
SHIFTS = {"Alcohol": (1.0, 0.3), "volatileAcidity": (1.08, 0.0), "chlorides": (1.03, 0.0)}
DEFAULT_VENV = Path.home() / ".cache" / "mlcatalog-bench" / "evidently-venv"
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


# ---------------------------------------------------------------------------------------------- data


@dataclass
class Columns:
    """Feature columns (float64, one array each) and the prediction (True = "Excellent") of n rows."""

    features: dict[str, FloatArray]
    excellent: BoolArray

    @property
    def n(self) -> int:
        return int(self.excellent.size)

    def labels(self) -> list[str]:
        return [LABELS[0] if e else LABELS[1] for e in self.excellent.tolist()]

    def counts(self) -> dict[str, int]:
        good = int(self.excellent.sum())
        return {LABELS[0]: good, LABELS[1]: self.n - good}


def model_predicts_excellent(x: FloatArray) -> BoolArray:
    """The model's rule: generate()'s quality score without its noise (alcohol, volatile acidity, sulphates)."""
    alcohol, volatile, sulphates = (x[:, FEATURES.index(f)] for f in ("Alcohol", "volatileAcidity", "sulphates"))
    score = 0.9 * (alcohol - 10.4) - 2.5 * (volatile - 0.53) + 2.0 * (sulphates - 0.66)
    return np.asarray(score > -0.1)


def generated(n: int, seed: int, shift: bool) -> FloatArray:
    x = np.array([row for row, _ in generate(n, seed)], dtype=np.float64)
    if shift:
        for name, (factor, offset) in SHIFTS.items():
            i = FEATURES.index(name)
            low, high = STATS[i][2], STATS[i][3]
            x[:, i] = np.round(np.clip(x[:, i] * factor + offset, low, high), 4)
    return x


@dataclass
class Crns:
    deployment: str
    build: str
    model: str

    @classmethod
    def fresh(cls) -> Crns:
        return cls(*(CRN_PREFIX + str(uuid.uuid4()) for _ in range(3)))


def make_records(crns: Crns, x: FloatArray, excellent: BoolArray, first: int, total: int,
                 start_ms: int) -> list[MetricRecord]:
    """Rows ``first..first+len(x)`` of ``total`` spread evenly over the hour from ``start_ms``."""
    out = []
    for k, (row, good) in enumerate(zip(x.tolist(), excellent.tolist(), strict=True)):
        t = start_ms + ((first + k) * HOUR_MS) // total
        metrics: dict[str, Any] = dict(zip(FEATURES, row, strict=True))
        metrics[PREDICTION] = LABELS[0] if good else LABELS[1]
        out.append(MetricRecord(model_deployment_crn=crns.deployment, model_build_crn=crns.build,
                                model_crn=crns.model, prediction_uuid=str(uuid.uuid4()), start_ms=t,
                                end_ms=t + 2 + (first + k) % 39, metrics=metrics))
    return out


def load_stores(urls: dict[str, str], crns: Crns, predictions: int, outside: int,
                seed: int) -> tuple[Columns, dict[str, float]]:
    """Generate and write the window (and the predictions around it) into every store, chunk by chunk; return the
    window's columns and the seconds each store spent in write_predictions."""
    segments = [(outside // 2, T_WINDOW - HOUR_MS, False), (predictions, T_WINDOW, True),
                (outside - outside // 2, T_WINDOW + HOUR_MS, False)]
    spent = dict.fromkeys(urls, 0.0)
    parts: list[FloatArray] = []
    chunk_no = 0
    stores = {name: open_metrics_store(url) for name, url in urls.items()}
    try:
        for total, start_ms, in_window in segments:
            for first in range(0, total, CHUNK):
                chunk_no += 1
                x = generated(min(CHUNK, total - first), seed + chunk_no, shift=in_window)
                records = make_records(crns, x, model_predicts_excellent(x), first, total, start_ms)
                for name, store in stores.items():
                    began = time.perf_counter()
                    store.write_predictions(records)
                    spent[name] += time.perf_counter() - began
                if in_window:
                    parts.append(x)
                    done = first + len(records)
                    if done % 250_000 == 0 or done == total:
                        print(f"  loaded {done:>9,} / {total:,} predictions of the window", flush=True)
    finally:
        for store in stores.values():
            store.close()
    x_all = np.concatenate(parts)
    window = Columns({f: np.ascontiguousarray(x_all[:, i]) for i, f in enumerate(FEATURES)},
                     model_predicts_excellent(x_all))
    return window, spent


def build_reference(n: int, seed: int, parquet: Path) -> tuple[Columns, ReferenceSummary]:
    x = generated(n, seed, shift=False)
    ref = Columns({f: np.ascontiguousarray(x[:, i]) for i, f in enumerate(FEATURES)}, model_predicts_excellent(x))
    write_parquet(parquet, ref)
    digest = hashlib.sha256(parquet.read_bytes()).hexdigest()
    source = ReferenceSource(kind="file", path=str(parquet), sha256=digest, format="parquet", sample_rows=n,
                             total_rows=n)
    summary = ReferenceSummary(
        source=source, created_ms=int(time.time() * 1000),
        numeric={f: numeric_reference(f, ref.features[f].tolist(), max_rows=max(n, 1)) for f in FEATURES},
        categorical={PREDICTION: categorical_reference(PREDICTION, ref.labels())})
    return ref, summary


def write_parquet(path: Path, cols: Columns) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = {f: pa.array(v) for f, v in cols.features.items()}
    arrays[PREDICTION] = pa.array(np.where(cols.excellent, LABELS[0], LABELS[1]).astype(object))
    pq.write_table(pa.table(arrays), path)


# ---------------------------------------------------------------------------------------------- the monitor run


def status_kb(key: str) -> int:
    """A ``kB`` line of /proc/self/status (VmRSS, VmHWM); 0 where there is none."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_self_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def preload(url: str) -> None:
    """Import what the run imports lazily, so that the baseline holds the code and the peak only the data."""
    for module in ("pyarrow", "pyarrow.json", "pyarrow.compute", "scipy.stats", "serving.monitoring.window"):
        with contextlib.suppress(ImportError):
            __import__(module)
    if url.startswith("postgres"):
        for module in ("psycopg", "psycopg_pool", "serving.metrics.postgres_store"):
            with contextlib.suppress(ImportError):
                __import__(module)
    else:
        with contextlib.suppress(ImportError):
            __import__("serving.metrics.sqlite_store")


def child_run(spec: dict[str, Any]) -> dict[str, Any]:
    """The timed monitor run (in a fresh process): its figures as JSON-ready values."""
    url, crn, start, end = spec["url"], spec["crn"], int(spec["start_ms"]), int(spec["end_ms"])
    on_postgres = url.startswith("postgres")
    preload(url)
    reference = ReferenceSummary.model_validate_json(Path(spec["reference"]).read_text())
    config = MonitorConfig.model_validate_json(spec["config"])
    out: dict[str, Any] = {}
    began = time.perf_counter()
    store = open_metrics_store(url)
    out["open_s"] = time.perf_counter() - began
    # Warm-up: the previous hour's window (a few thousand predictions), as a monitor worker process has computed
    # windows before: the modules that numpy/scipy/pyarrow import lazily on first use are then loaded.
    began = time.perf_counter()
    out["warmup_predictions"] = compute_window(store, crn, config, reference, start - HOUR_MS, start).predictions
    out["warmup_s"] = time.perf_counter() - began
    gc.collect()
    out["base_rss_kb"], out["base_hwm_kb"], cpu0 = status_kb("VmRSS"), status_kb("VmHWM"), cpu_self_s()
    server0 = postgres_cpu_s() if on_postgres else 0.0
    t0 = time.perf_counter()
    result = compute_window(store, crn, config, reference, start, end)
    t1 = time.perf_counter()
    store.write_aggregate(crn, start, end, result.metrics())
    t2 = time.perf_counter()
    out["cpu_s"], out["hwm_kb"] = cpu_self_s() - cpu0, status_kb("VmHWM")
    out["server_cpu_s"] = postgres_cpu_s() - server0 if on_postgres else None
    out.update(run_s=t1 - t0, compute_s=result.seconds, write_s=t2 - t1, predictions=result.predictions)
    Path(spec["result_out"]).write_text(result.model_dump_json())
    # For information, after the peak was read: the database's share of the read, warm (a second pass).
    server0 = postgres_cpu_s() if on_postgres else 0.0
    began = time.perf_counter()
    lines = size = chunks = 0
    for chunk in store.iter_prediction_metrics(crn, start, end):
        chunks += 1
        size += len(chunk)
        lines += chunk.count(b"\n") + 1
    out["fetch"] = {"seconds": time.perf_counter() - began, "lines": lines, "bytes": size, "chunks": chunks,
                    "server_cpu_s": postgres_cpu_s() - server0 if on_postgres else None}
    store.close()
    return out


def child_profile(spec: dict[str, Any]) -> str:
    import cProfile
    import io
    import pstats

    url = spec["url"]
    preload(url)
    reference = ReferenceSummary.model_validate_json(Path(spec["reference"]).read_text())
    config = MonitorConfig.model_validate_json(spec["config"])
    with open_metrics_store(url) as store:
        start = int(spec["start_ms"])
        compute_window(store, spec["crn"], config, reference, start - HOUR_MS, start)  # warm-up, as child_run
        prof = cProfile.Profile()
        prof.enable()
        compute_window(store, spec["crn"], config, reference, int(spec["start_ms"]), int(spec["end_ms"]))
        prof.disable()
    text = io.StringIO()
    st = pstats.Stats(prof, stream=text).strip_dirs()
    st.sort_stats("tottime").print_stats(18)
    st.sort_stats("cumulative").print_stats(18)
    return text.getvalue()


def child_main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    if spec.get("profile"):
        print(json.dumps({"profile": child_profile(spec)}))
    else:
        print(json.dumps(child_run(spec)))


@dataclass
class RunFigures:
    backend: str
    open_s: float = math.nan
    warmup_s: float = math.nan
    warmup_predictions: int = 0
    run_s: float = math.nan
    compute_s: float = math.nan
    write_s: float = math.nan
    cpu_s: float = math.nan
    base_rss_mb: float = math.nan
    hwm_mb: float = math.nan
    server_cpu_s: float | None = None
    fetch: dict[str, Any] = field(default_factory=dict)
    result: WindowResult | None = None
    error: str | None = None

    @property
    def end_to_end_s(self) -> float:
        return self.run_s + self.write_s

    @property
    def read_s(self) -> float:
        return self.run_s - self.compute_s

    @property
    def peak_mb(self) -> float:
        return self.hwm_mb - self.base_rss_mb


def postgres_cpu_s() -> float:
    """CPU seconds of the local ``postgres`` processes (/proc): utime+stime of each, plus cutime+cstime - where the
    postmaster accumulates the backends it has reaped, so a backend that exited between two calls still counts."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            fields = (entry / "stat").read_bytes().rsplit(b")", 1)[1].split()
            total += sum(int(fields[i]) for i in (11, 12, 13, 14)) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            continue
    return total


def run_child(spec: dict[str, Any], workdir: Path, name: str) -> tuple[dict[str, Any] | None, str]:
    """(the child's JSON, "") or (None, the reason)."""
    spec_path = workdir / f"spec-{name}.json"
    spec_path.write_text(json.dumps(spec))
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", str(spec_path)],
                          capture_output=True, text=True, cwd=str(REPO), timeout=1800)
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1]), ""
    except (IndexError, ValueError):
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-6:]
        return None, f"child exited with {proc.returncode}: " + " | ".join(tail)


def monitor_run(backend: str, spec: dict[str, Any], workdir: Path) -> RunFigures:
    spec = {**spec, "result_out": str(workdir / f"result-{backend}.json")}
    out, error = run_child(spec, workdir, backend)
    figures = RunFigures(backend)
    if out is None:
        figures.error = error
        return figures
    for key in ("open_s", "warmup_s", "run_s", "compute_s", "write_s", "cpu_s"):
        setattr(figures, key, float(out[key]))
    figures.warmup_predictions, figures.server_cpu_s = int(out["warmup_predictions"]), out["server_cpu_s"]
    figures.base_rss_mb, figures.hwm_mb = out["base_rss_kb"] / 1024, out["hwm_kb"] / 1024
    figures.fetch = out["fetch"]
    figures.result = WindowResult.model_validate_json(Path(spec["result_out"]).read_text())
    return figures


def print_run(f: RunFigures) -> None:
    if f.error or f.result is None:
        print(f"  {f.backend:<11} FAILED: {f.error}", flush=True)
        return
    server = f"; PostgreSQL server CPU {f.server_cpu_s:.2f} s" if f.server_cpu_s is not None else ""
    print(f"  {f.backend:<11} end to end {f.end_to_end_s:6.3f} s = read {f.read_s:6.3f} s + compute "
          f"{f.compute_s:6.3f} s + write {f.write_s:6.3f} s; {f.result.predictions:,} predictions; "
          f"CPU {f.cpu_s:.2f} s{server}")
    print(f"  {f.backend:<11} peak RSS +{f.peak_mb:,.0f} MB over the baseline (VmHWM {f.hwm_mb:,.0f} MB, baseline "
          f"{f.base_rss_mb:,.0f} MB); before the timer: open {f.open_s:.3f} s, warm-up on the previous hour "
          f"({f.warmup_predictions:,} predictions) {f.warmup_s:.3f} s")
    fe = f.fetch
    server = f"; PostgreSQL server CPU {fe['server_cpu_s']:.2f} s" if fe.get("server_cpu_s") is not None else ""
    print(f"  {f.backend:<11} fetch only, afterwards (iterate iter_prediction_metrics): {fe['seconds']:6.3f} s for "
          f"{fe['lines']:,} lines, {fe['bytes'] / 2**20:,.0f} MiB of JSON in {fe['chunks']} chunks{server}", flush=True)


# ---------------------------------------------------------------------------------------------- in-memory pass


def numpy_pass(window: Columns, reference: ReferenceSummary, config: MonitorConfig) -> tuple[float, list[Any]]:
    """Median seconds of 3 passes of the statistics on arrays in memory, and the tests of the last one."""
    th = config.thresholds
    times: list[float] = []
    tests: list[Any] = []
    for _ in range(3):
        began = time.perf_counter()
        tests = []
        ref = reference.categorical[PREDICTION]
        tests.append(chisquare_test(PREDICTION, window.counts(), ref.frequencies, reference_n=ref.n,
                                    threshold=th.chisquare, min_n=config.min_n))
        for name in sorted(reference.numeric):
            nref = reference.numeric[name]
            res = numeric_tests(name, np.sort(window.features[name]), nref.values(), np.asarray(nref.edges),
                                np.asarray(nref.fractions), ks_threshold=th.ks, psi_threshold=th.psi,
                                wasserstein_threshold=th.wasserstein, min_n=config.min_n)
            tests.extend([res.ks, res.psi, res.wasserstein])
        times.append(time.perf_counter() - began)
    return statistics.median(times), tests


# ---------------------------------------------------------------------------------------------- Evidently

EVIDENTLY_CHILD = r"""
import json, sys, time
def status_kb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0
try:
    import pandas as pd
    import evidently
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset
except Exception as e:
    print(json.dumps({"import_error": repr(e)})); sys.exit(3)
current_path, reference_path, features = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
current, reference = pd.read_parquet(current_path), pd.read_parquet(reference_path)
definition = DataDefinition(numerical_columns=features, categorical_columns=["prediction"])
# warm-up on 10,000 rows, as our monitor run gets one: what Evidently and its dependencies load on first use
began = time.perf_counter()
Report([DataDriftPreset()]).run(Dataset.from_pandas(current.head(10_000), data_definition=definition),
                                Dataset.from_pandas(reference, data_definition=definition))
warmup = time.perf_counter() - began
base, base_hwm = status_kb("VmRSS"), status_kb("VmHWM")
began = time.perf_counter()
snapshot = Report([DataDriftPreset()]).run(Dataset.from_pandas(current, data_definition=definition),
                                           Dataset.from_pandas(reference, data_definition=definition))
seconds = time.perf_counter() - began
hwm = status_kb("VmHWM")
columns, drifted = {}, None
for m in snapshot.dict()["metrics"]:
    config = m.get("config", {})
    if "column" in config:
        columns[config["column"]] = {"method": config.get("method"), "value": m["value"],
                                     "threshold": config.get("threshold")}
    elif "DriftedColumnsCount" in str(config.get("type")):
        drifted = m["value"]
print(json.dumps({"seconds": seconds, "warmup_s": warmup, "version": evidently.__version__, "pandas": pd.__version__,
                  "rows": len(current), "base_rss_kb": base, "base_hwm_kb": base_hwm, "hwm_kb": hwm, "columns": columns,
                  "drifted": drifted}))
"""


@dataclass
class EvidentlyFigures:
    seconds: float
    version: str
    peak_mb: float
    hwm_mb: float
    base_hwm_mb: float
    columns: dict[str, dict[str, Any]]
    drifted: dict[str, Any] | None

    def is_drifted(self, column: str) -> bool | None:
        c = self.columns.get(column)
        if c is None or not isinstance(c.get("value"), int | float) or c.get("threshold") is None:
            return None
        method = str(c.get("method") or "").lower()
        # distances and PSI drift at or above the threshold; p-value tests (K-S, chi-square, Z) under it
        if "distance" in method or "psi" in method or "divergence" in method:
            return bool(c["value"] >= c["threshold"])
        return bool(c["value"] < c["threshold"])


def ensure_evidently_venv(venv: Path) -> tuple[Path | None, str]:
    """The venv's python, creating the venv (evidently, pandas<3, pyarrow) when it is absent or broken."""
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import evidently, pandas, pyarrow"]
    if python.exists() and subprocess.run(probe, capture_output=True, timeout=300).returncode == 0:
        return python, f"reused {venv}"
    try:
        pin = "==" + importlib.metadata.version("evidently")  # the version the project's environment names
    except importlib.metadata.PackageNotFoundError:
        pin = ""
    print(f"  creating {venv} (python -m venv; pip install evidently{pin} 'pandas<3' pyarrow) ...", flush=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    steps = [[sys.executable, "-m", "venv", str(venv)],
             [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", f"evidently{pin}",
              "pandas<3", "pyarrow"]]
    for cmd in steps:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            return None, f"{' '.join(cmd[:4])} failed: " + " | ".join(tail)
    if subprocess.run(probe, capture_output=True, timeout=300).returncode != 0:
        return None, f"evidently does not import in {venv}"
    return python, f"created {venv}"


def evidently_baseline(venv: Path, current: Path, reference: Path) -> tuple[EvidentlyFigures | None, str]:
    python, note = ensure_evidently_venv(venv)
    if python is None:
        return None, "Evidently baseline unavailable: " + note
    proc = subprocess.run([str(python), "-c", EVIDENTLY_CHILD, str(current), str(reference), json.dumps(FEATURES)],
                          capture_output=True, text=True, timeout=3600)
    try:
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        figures = EvidentlyFigures(float(out["seconds"]), str(out["version"]),
                                   (out["hwm_kb"] - out["base_rss_kb"]) / 1024, out["hwm_kb"] / 1024,
                                   out["base_hwm_kb"] / 1024, out["columns"], out["drifted"])
    except (IndexError, KeyError, TypeError, ValueError):
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-4:]
        return None, "Evidently baseline failed: " + " | ".join(tail)
    return figures, (f"Evidently {figures.version} (pandas {out['pandas']}, {note}): Report([DataDriftPreset()])"
                     f".run on {out['rows']:,} + {reference_rows(reference):,} rows in memory: "
                     f"{figures.seconds:6.2f} s (warm-up on 10,000 rows before: {out['warmup_s']:.2f} s); peak RSS "
                     f"+{figures.peak_mb:,.0f} MB over the DataFrames in memory "
                     f"(VmHWM {figures.hwm_mb:,.0f} MB; {figures.base_hwm_mb:,.0f} MB before the report)")


def reference_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


# ---------------------------------------------------------------------------------------------- comparisons

Figures = dict[tuple[str, str], tuple[float | None, float | None, bool | None]]


def figures_of(tests: Sequence[Any]) -> Figures:
    return {(t.test, t.column): (t.statistic, t.p_value, t.drifted) for t in tests}


def compare(a: Sequence[Any], b: Sequence[Any]) -> tuple[bool, str]:
    """Whether two lists of drift tests agree (same tests, decisions, statistics and p-values to 1e-9)."""
    fa, fb = figures_of(a), figures_of(b)
    if fa.keys() != fb.keys():
        return False, f"different tests: {sorted(fa.keys() ^ fb.keys())}"
    worst, where, differ = 0.0, "", []
    for key, (sa, pa, da) in fa.items():
        sb, pb, db = fb[key]
        if da != db:
            differ.append(f"{key[0]}.{key[1]} drifted {da} vs {db}")
        for x, y in ((sa, sb), (pa, pb)):
            if (x is None) != (y is None):
                differ.append(f"{key[0]}.{key[1]}: {x} vs {y}")
            elif x is not None and y is not None:
                d = abs(x - y) / max(1.0, abs(x), abs(y))
                if d > worst:
                    worst, where = d, f"{key[0]}.{key[1]}"
    ok = not differ and worst <= AGREE_TOL
    text = f"{len(fa)} tests, max relative diff {worst:.1e}{' (' + where + ')' if where else ''}"
    return ok, text + ("" if not differ else "; " + "; ".join(differ[:4]))


def print_drift(result: WindowResult, evidently: EvidentlyFigures | None) -> None:
    share = f"{result.drifted_share:.3f}" if result.drifted_share is not None else "n/a"
    print(f"  status {result.status}; drifted columns: {', '.join(result.drifted_columns) or 'none'} "
          f"(share {share} of {len(result.deciding_test)}); {result.predictions:,} predictions")
    if evidently and evidently.drifted:
        ev_drifted = sorted(c for c in evidently.columns if evidently.is_drifted(c))
        print(f"  Evidently: drifted columns {', '.join(ev_drifted) or 'none'} (its DriftedColumnsCount: "
              f"{fmt(evidently.drifted.get('count'), '.0f')}, share {fmt(evidently.drifted.get('share'), '.3f')})")
    by = figures_of(result.tests)
    print(f"  {'column':<19} {'W normed':>9} {'KS D':>8} {'KS p':>9} {'PSI':>8} {'chi2 p':>9} "
          f"{'decided by':<11} drift | Evidently")
    for column in sorted(result.deciding_test):
        w, ks, psi, chi = (by.get((t, column), (None, None, None)) for t in ("wasserstein", "ks", "psi", "chisquare"))
        deciding = result.deciding_test[column]
        decided = {"ks": ks, "psi": psi, "wasserstein": w, "chisquare": chi}.get(deciding, (None, None, None))[2]
        ev = ""
        if evidently and column in evidently.columns:
            c = evidently.columns[column]
            ev = f"{c['method']} {fmt(c['value'], '.4f')} -> {'drift' if evidently.is_drifted(column) else 'no'}"
        print(f"  {column:<19} {fmt(w[0], '.4f'):>9} {fmt(ks[0], '.4f'):>8} {fmt(ks[1], '.2e'):>9} "
              f"{fmt(psi[0], '.4f'):>8} {fmt(chi[1], '.2e'):>9} {deciding:<11} {'DRIFT' if decided else 'no':<5} "
              f"| {ev}")


def fmt(x: Any, spec: str) -> str:
    return "-" if not isinstance(x, int | float) else format(x, spec)


def wasserstein_vs_evidently(result: WindowResult, evidently: EvidentlyFigures) -> str:
    worst, n = 0.0, 0
    for t in result.tests:
        c = evidently.columns.get(t.column)
        if t.test != "wasserstein" or c is None or t.statistic is None or "wasserstein" not in str(c["method"]).lower():
            continue
        n += 1
        worst = max(worst, abs(t.statistic - c["value"]) / max(abs(c["value"]), 1e-12))
    return f"normalised Wasserstein, ours vs Evidently: {n} columns, max relative diff {worst:.1e}"


# ---------------------------------------------------------------------------------------------- PostgreSQL




# ---------------------------------------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--predictions", type=int, default=1_000_000, help="predictions in the monitored window")
    ap.add_argument("--reference", type=int, default=10_000, help="reference rows")
    ap.add_argument("--outside", type=int, default=20_000,
                    help="predictions of the same deployment in the hours before and after the window")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--pg-admin-url", help="where to CREATE/DROP the benchmark database")
    ap.add_argument("--skip-postgres", action="store_true")
    ap.add_argument("--skip-evidently", action="store_true")
    ap.add_argument("--evidently-venv", type=Path, default=DEFAULT_VENV,
                    help="virtualenv for Evidently (created when absent, reused when present)")
    ap.add_argument("--profile", action="store_true", help="also cProfile compute_window per backend")
    ap.add_argument("--quick", action="store_true", help="smoke run: 100,000 predictions")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.quick:
        args.predictions = 100_000
    return args


@dataclass
class Setup:
    workdir: Path
    crns: Crns
    window: Columns
    reference: ReferenceSummary
    config: MonitorConfig
    urls: dict[str, str]


def prepare(args: argparse.Namespace, workdir: Path, dbs: PgDatabases | None) -> Setup:
    crns = Crns.fresh()
    urls = {"sqlite": sqlite_url(workdir / "metrics.db")}
    if dbs:
        urls["postgresql"] = dbs.create("window")
    _, reference = build_reference(args.reference, args.seed, workdir / "reference.parquet")
    (workdir / "reference.json").write_text(reference.model_dump_json())
    window, spent = load_stores(urls, crns, args.predictions, args.outside, args.seed * 1000)
    write_parquet(workdir / "current.parquet", window)
    total = args.predictions + args.outside
    for name in urls:
        size = (f"{sum(p.stat().st_size for p in workdir.glob('metrics.db*')) / 2**20:,.0f} MiB"
                if name == "sqlite" else dbs.size(urls[name]) if dbs else "?")
        print(f"  {name:<11} write_predictions x{CHUNK:,}: {total:,} predictions in {spent[name]:6.1f} s "
              f"({total / spent[name]:,.0f}/s); store {size}")
    print(f"  reference: {args.reference:,} rows (generate(seed={args.seed})), "
          f"{len(reference.model_dump_json()) / 1024:,.0f} KiB as JSON; window shares "
          f"{window.counts()[LABELS[0]] / window.n:.3f} Excellent (reference "
          f"{reference.categorical[PREDICTION].frequencies.get(LABELS[0], 0.0):.3f})", flush=True)
    config = MonitorConfig(every_ms=HOUR_MS, window_ms=HOUR_MS)
    return Setup(workdir, crns, window, reference, config, urls)


def main() -> None:
    args = parse_args()
    if args.child:
        child_main(args.child)
        return
    began = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="bench-monitor-"))
    dbs, pg_note = (None, "skipped (--skip-postgres)") if args.skip_postgres else find_pg_admin_url(
        args.pg_admin_url, "bench_monitor")
    print(f"bench_monitor: {platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"numpy {np.__version__}, SQLite {sqlite3.sqlite_version}, PostgreSQL {dbs.version if dbs else pg_note}")
    print(f"load average at the start {load_average()}")
    print(f"workdir {workdir} ({'kept' if args.keep else 'removed at the end'}); window of {args.predictions:,} "
          f"predictions x ({len(FEATURES)} features + {PREDICTION}), {args.outside:,} more around it; reference "
          f"{args.reference:,} rows")
    runs: dict[str, RunFigures] = {}
    evidently: EvidentlyFigures | None = None
    try:
        with phase("1. data: generate, load the stores, summarise the reference (not timed)"):
            setup = prepare(args, workdir, dbs)
        spec = {"crn": setup.crns.deployment, "start_ms": T_WINDOW, "end_ms": T_WINDOW + HOUR_MS,
                "reference": str(workdir / "reference.json"), "config": setup.config.model_dump_json()}
        with phase("2. the monitor run, end to end (compute_window + write_aggregate), each in a fresh process"):
            for name, url in setup.urls.items():
                runs[name] = monitor_run(name, {**spec, "url": url}, workdir)
                print_run(runs[name])
            if not dbs:
                print(f"  postgresql: {pg_note}")
        with phase("3. in memory, for information: np.sort + serving.monitoring.stats on the arrays"):
            numpy_s, numpy_tests = numpy_pass(setup.window, setup.reference, setup.config)
            print(f"  KS + PSI + Wasserstein x {len(FEATURES)} columns + chi-square: {numpy_s:6.3f} s (median of 3)")
        with phase("4. baseline: Evidently DataDriftPreset on DataFrames in memory (own virtualenv)"):
            if args.skip_evidently:
                print("  skipped (--skip-evidently)")
            else:
                evidently, line = evidently_baseline(args.evidently_venv, workdir / "current.parquet",
                                                     workdir / "reference.parquet")
                print("  " + line, flush=True)
        with phase("5. the drift result and agreement"):
            report_results(runs, numpy_tests, evidently)
            if args.profile:
                for name, url in setup.urls.items():
                    profile_backend(name, {**spec, "url": url, "profile": True}, workdir)
    finally:
        if dbs:
            dbs.drop_all()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print_table(runs, numpy_s, evidently, args.predictions)
    print(f"\ntotal {time.perf_counter() - began:.0f} s; load average at the end {load_average()} (2 cores shared with "
          "anything else running: figures are noisy when it is above ~1)")


def report_results(runs: dict[str, RunFigures], numpy_tests: list[Any], evidently: EvidentlyFigures | None) -> None:
    done = [(name, r.result) for name, r in runs.items() if r.result is not None]
    if not done:
        print("  no monitor run finished")
        return
    first_name, first = done[0]
    print_drift(first, evidently)
    for name, other in done[1:]:
        ok, text = compare(first.tests, other.tests)
        same = (first.status, first.drifted_columns) == (other.status, other.drifted_columns)
        print(f"  {first_name} vs {name}: {text}: {'agree' if ok and same else 'DISAGREE'} (<= {AGREE_TOL:g})")
    ok, text = compare(first.tests, numpy_tests)
    print(f"  {first_name} vs the in-memory pass: {text}: {'agree' if ok else 'DISAGREE'} (<= {AGREE_TOL:g})")
    if evidently:
        print("  " + wasserstein_vs_evidently(first, evidently))


def profile_backend(name: str, spec: dict[str, Any], workdir: Path) -> None:
    out, error = run_child(spec, workdir, f"profile-{name}")
    print(f"\n  -- cProfile of compute_window, {name} (profiler overhead included)")
    print(out["profile"] if out else f"  FAILED: {error}")


def print_table(runs: dict[str, RunFigures], numpy_s: float, evidently: EvidentlyFigures | None,
                predictions: int) -> None:
    base = evidently.seconds if evidently else None
    base_text = f"{base:.2f} s" if base else "n/a"
    rows: list[tuple[str, str, str, str, str, str]] = []
    for name, r in runs.items():
        if r.error:
            rows.append((f"monitor run, {name}", "FAILED", base_text, "-", "-", "-"))
            continue
        ratio = base / r.end_to_end_s if base else None
        rows.append((f"monitor run end to end ({predictions:,} predictions), {name}", f"{r.end_to_end_s:.2f} s",
                     base_text, f"{ratio:.1f}x" if ratio else "n/a", f">= {GOAL_VS_EVIDENTLY:.0f}x faster",
                     status(ratio >= GOAL_VS_EVIDENTLY if ratio else None)))
        ev_mem = f"+{evidently.peak_mb:,.0f} MB" if evidently else "n/a"
        rows.append((f"peak RSS of the run over its baseline, {name}", f"+{r.peak_mb:,.0f} MB", ev_mem, "-",
                     f"< {GOAL_PEAK_MB:.0f} MB", status(r.peak_mb < GOAL_PEAK_MB)))
        rows.append((f"VmHWM of the monitor process, imports included, {name}", f"{r.hwm_mb:,.0f} MB",
                     f"{evidently.hwm_mb:,.0f} MB" if evidently else "n/a", "-", "(info)", "-"))
    ratio = base / numpy_s if base else None
    rows.append(("in-memory numpy/scipy pass (info)", f"{numpy_s:.2f} s", base_text,
                 f"{ratio:.1f}x" if ratio else "n/a", "(info)", "-"))
    headers = ("metric", "ours", "baseline (Evidently DataDriftPreset, in memory)", "ratio (baseline / ours)", "goal",
               "MET/NOT MET")
    print_summary(headers, rows)


if __name__ == "__main__":
    main()
