#!/usr/bin/env python
"""Benchmark of model serving: POST /model on the platform (metrics on, auth on) vs a bare FastAPI endpoint and
``mlflow models serve``, for the same wine model, in one run.

    python benchmarks/bench_serving.py [--duration 10] [--warmup 3] [--conns 1,8,32] [--quick]
                                       [--no-profile] [--profile-duration 8] [--quiet-wait 3] [--keep]

Goals: platform req/s >= 0.9x the bare FastAPI endpoint (sync ``def``, uvicorn uvloop+httptools, 1 worker) and
>= 2x ``mlflow models serve`` as it starts by default (1 worker), with 1 replica. 2 replicas vs 2 workers is printed
for reference: on a 2-vCPU machine both saturate the cores and the ratio is their CPU per request ("bound" lines).
It prints figures and never asserts. Details: benchmarks/README.md.

Targets (each its own process tree, started and stopped by PID; the load generator is wrk, -t1):
  * ours: ``python -m mlcatalog up`` + the wine project deployed with ``mlcatalog deploy`` (1 replica, and a second
    deployment with 2 replicas), auth on (``Authorization: Bearer <mlcatalog api-keys create>``). Every call
    tracks 11 features + the prediction with cdsw.track_metric; the record is durable before the response.
  * bare: the same serving/examples/wine/model.py predict (its ``cdsw`` replaced by a no-op stub: no metrics)
    behind ``@app.post("/model")`` as a sync ``def`` and, for reference, as ``async def``.
  * mlflow: a mlflow.pyfunc.PythonModel wrapping the same sklearn model (parse the feature string, predict),
    ``mlflow models serve --env-manager local -w 1`` and ``-w 2``.
After our runs, the metric records read back through GET /api/v1/metrics (with the key) are compared with the
200 responses. If a goal is not met, the platform is profiled with py-spy (gateway and replica) under load.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
from procs import free_port, log_tail, terminate  # noqa: E402

from serving.examples.wine.train import MAX_DEPTH, TREES  # noqa: E402

WINE = REPO / "serving" / "examples" / "wine"
SHARED_CSV = REPO.parent / "shared" / "data" / "WineNewGBTDataSet.csv"
MODEL_NAME = "Predict w/ Monitoring & Lineage"
FEATURE = "7.4;0.7;0;1.9;0.076;11;34;0.9978;3.51;0.56;9.4"  # the demo's example request
GOAL_BARE = 0.9
GOAL_MLFLOW = 2.0
OPTS = {"quiet_wait": 3.0}  # --quiet-wait
NOISY = 0.25  # cores used by unrelated processes during a run above which the run is flagged
ATLAS_PASSWORD = "bench-pw"

# The bare endpoint: the same model.py, its `cdsw` a no-op stub (a bare endpoint tracks no metrics).
BARE_SCRIPT = r"""
import importlib.util, os, sys, types, uuid
from typing import Any

project, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
stub = types.ModuleType("cdsw")
stub.model_metrics = lambda fn: fn
stub.track_metric = lambda key, value: None
sys.modules["cdsw"] = stub
os.chdir(project)
spec = importlib.util.spec_from_file_location("wine_model", os.path.join(project, "model.py"))
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
predict = module.predict

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

class Req(BaseModel):
    accessKey: str
    request: dict[str, Any]

app = FastAPI()
if mode == "sync":
    @app.post("/model")
    def model(req: Req) -> dict[str, Any]:
        return {"success": True, "response": {"prediction": predict(req.request), "uuid": str(uuid.uuid4())}}
else:
    @app.post("/model")
    async def model(req: Req) -> dict[str, Any]:
        return {"success": True, "response": {"prediction": predict(req.request), "uuid": str(uuid.uuid4())}}

uvicorn.run(app, host="127.0.0.1", port=port, loop="uvloop", http="httptools", workers=1, log_level="warning",
            access_log=False)
"""

# predict() alone, in one process, no HTTP: the cost every target pays per request.
CALIBRATE_SCRIPT = BARE_SCRIPT.split("import uvicorn")[0] + r"""
import time
req = {"feature": sys.argv[4]}
for _ in range(100):
    predict(req)
n = 400
c0, t0 = time.process_time(), time.perf_counter()
for _ in range(n):
    predict(req)
print((time.process_time() - c0) / n * 1e6, (time.perf_counter() - t0) / n * 1e6)
"""

# The MLflow model: a PythonModel in a side-effect-free module (log/save re-imports it), same parse + predict.
PYFUNC_MODULE = r'''
"""The wine model as an MLflow pyfunc (same parsing and sklearn predict as serving/examples/wine/model.py)."""
import mlflow.pyfunc


class WinePyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        import joblib

        self.model = joblib.load(context.artifacts["model"])

    def predict(self, context, model_input, params=None):
        rows = [[float(v) for v in str(s).split(";")] for s in model_input["feature"]]
        for r in rows:
            if len(r) != 11:
                raise ValueError(f"expected 11 features, got {len(r)}")
        return [str(p) for p in self.model.predict(rows)]
'''

# --model rule: the anchors' trivial rule (perf-anchors.md: alcohol, the 11th feature, >= 10 -> "Excellent"), as a
# pickled object with predict(), so model.py, the bare endpoints and the mlflow pyfunc run it unchanged.
RULE_MODULE = r'''
"""The performance anchors' trivial model: Alcohol (the 11th feature) >= 10 -> Excellent, else Poor."""


class AlcoholRule:
    def predict(self, rows):
        return ["Excellent" if row[10] >= 10 else "Poor" for row in rows]
'''

SAVE_SCRIPT = r"""
import os, sys
import joblib, mlflow, sklearn
code_dir, joblib_path, out = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, code_dir)
from wine_pyfunc import WinePyfunc
mlflow.pyfunc.save_model(out, python_model=WinePyfunc(), artifacts={"model": joblib_path},
                         code_paths=[os.path.join(code_dir, f) for f in sorted(os.listdir(code_dir))
                                     if f.endswith(".py")],
                         pip_requirements=[f"mlflow=={mlflow.__version__}", f"scikit-learn=={sklearn.__version__}",
                                           f"joblib=={joblib.__version__}"])
"""


# --------------------------------------------------------------------------------------------------------------
# processes
# --------------------------------------------------------------------------------------------------------------
def _stat(pid: int) -> tuple[int, float] | None:
    """(ppid, utime+stime seconds) from /proc/PID/stat; None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree(root: int) -> list[int]:
    """root and all its descendants (replicas run in their own sessions, so a process group is not enough)."""
    children: dict[int, list[int]] = collections.defaultdict(list)
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _stat(int(name))
            if st is not None:
                children[st[0]].append(int(name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def cpu_of(pids: list[int]) -> dict[int, float]:
    out = {}
    for pid in pids:
        st = _stat(pid)
        if st is not None:
            out[pid] = st[1]
    return out


THREAD_NAMES: dict[int, str] = {}  # native thread id -> Python thread name (from py-spy dump)


def learn_thread_names(pid: int) -> None:
    """Python 3.11 does not name OS threads, so ask py-spy for the Python names of a process's threads."""
    pyspy = shutil.which("py-spy")
    if pyspy is None:
        return
    with contextlib.suppress(subprocess.SubprocessError, OSError):
        out = subprocess.run([pyspy, "dump", "--pid", str(pid), "--nonblocking"], capture_output=True, text=True,
                             timeout=30).stdout
        for m in re.finditer(r'^Thread (\d+) \([^)]*\): "([^"]+)"', out, re.M):
            THREAD_NAMES[int(m.group(1))] = m.group(2)


def thread_cpu(pids: list[int]) -> dict[tuple[int, int], tuple[str, float]]:
    """(pid, tid) -> (thread name, utime+stime seconds) for every thread of the given processes."""
    out = {}
    tck = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        with contextlib.suppress(OSError):
            for tid in os.listdir(f"/proc/{pid}/task"):
                with contextlib.suppress(OSError, IndexError, ValueError):
                    with open(f"/proc/{pid}/task/{tid}/stat", "rb") as f:
                        fields = f.read().rsplit(b")", 1)[1].split()
                    with open(f"/proc/{pid}/task/{tid}/comm") as f:
                        name = f.read().strip()
                    name = THREAD_NAMES.get(int(tid), name)
                    name = "main thread" if tid == str(pid) else re.sub(r"[_-]?\d+$", "", name)
                    out[(pid, int(tid))] = (name, (int(fields[11]) + int(fields[12])) / tck)
    return out


def thread_delta(before: dict[tuple[int, int], tuple[str, float]], after: dict[tuple[int, int], tuple[str, float]]
                 ) -> dict[str, float]:
    """CPU seconds per thread name between two thread_cpu() snapshots."""
    out: dict[str, float] = collections.defaultdict(float)
    for key, (name, cpu) in after.items():
        out[name] += cpu - before.get(key, (name, 0.0))[1]
    return dict(out)


def machine_cpu() -> tuple[float, float]:
    """(busy, steal) CPU seconds of the whole machine since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        vals = [int(v) for v in f.readline().split()[1:]]
    tck = os.sysconf("SC_CLK_TCK")
    user, nice, system, _idle, _iowait, irq, softirq, steal = vals[:8]
    return (user + nice + system + irq + softirq + steal) / tck, steal / tck


class Server:
    """A server process tree on a loopback port: started in its own session, stopped by PID (the root first,
    then any descendant still alive, SIGTERM then SIGKILL). Servers start concurrently: see wait_ready()."""

    def __init__(self, name: str, argv: list[str], log_path: Path, ready: Callable[[], bool], *,
                 env: dict[str, str] | None = None, cwd: Path = REPO, timeout: float = 120.0) -> None:
        self.name = name
        self.log_path = log_path
        self.ready = ready
        self.timeout = timeout
        self.startup_s = float("nan")
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self._t0 = time.perf_counter()
        self.proc = subprocess.Popen(argv, cwd=str(cwd), env=env or dict(os.environ), stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.proc.pid

    def poll_ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
        with contextlib.suppress(httpx.TransportError):
            if self.ready():
                self.startup_s = time.perf_counter() - self._t0
                return True
        if time.perf_counter() - self._t0 > self.timeout:
            raise RuntimeError(f"{self.name} not ready after {self.timeout:.0f} s:\n{self.log_tail()}")
        return False


    def log_tail(self, n: int = 3000) -> str:
        return log_tail(self.log_path, n)

    def stop(self, timeout: float = 30.0) -> None:
        pids = tree(self.pid) if self.proc.poll() is None else []
        terminate(self.proc, timeout, kill_wait=5)
        deadline = time.monotonic() + 10
        for sig in (signal.SIGTERM, signal.SIGKILL):
            left = [p for p in pids[1:] if _stat(p) is not None]
            for p in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p, sig)
            while left and time.monotonic() < deadline:
                time.sleep(0.1)
                left = [p for p in left if _stat(p) is not None]
            if not left:
                break
        self._log.close()


def wait_ready(servers: list[Server]) -> None:
    pending = list(servers)
    while pending:
        pending = [s for s in pending if not s.poll_ready()]
        if pending:
            time.sleep(0.1)


def http_ready(url: str, **kw: Any) -> Callable[[], bool]:
    def ready() -> bool:
        return httpx.get(url, timeout=2.0, **kw).status_code == 200
    return ready


def http_post_ready(url: str, body: bytes) -> Callable[[], bool]:
    def ready() -> bool:
        return httpx.post(url, content=body, headers={"Content-Type": "application/json"}, timeout=5.0
                          ).status_code == 200
    return ready


# --------------------------------------------------------------------------------------------------------------
# wrk
# --------------------------------------------------------------------------------------------------------------
LUA = """
wrk.method = "POST"
wrk.body = [==[{body}]==]
wrk.headers["Content-Type"] = "application/json"
{auth}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %d %d %d %d %d %d %d %d %d\\n", summary.requests, summary.duration, e.connect,
    e.read, e.write, e.status, e.timeout, latency:percentile(50), latency:percentile(99)))
end
"""


def write_lua(path: Path, body: bytes, key: str | None) -> Path:
    auth = f'wrk.headers["Authorization"] = "Bearer {key}"' if key else ""
    path.write_text(LUA.format(body=body.decode(), auth=auth))
    return path


@dataclass
class Run:
    target: str
    conns: int
    requests: int
    seconds: float
    errors: dict[str, int]
    p50_ms: float
    p99_ms: float
    cores: float
    parts: dict[str, float] = field(default_factory=dict)
    threads: dict[str, dict[str, float]] = field(default_factory=dict)  # group -> thread name -> cores
    wrk_cores: float = 0.0
    machine_cores: float = 0.0
    steal_cores: float = 0.0
    slices: list[Run] = field(default_factory=list)  # the interleaved slices this run merges, in order

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def ok(self) -> int:  # 2xx responses (wrk counts non-2xx/3xx as status errors)
        return self.requests - self.errors["status"]

    @property
    def valid(self) -> bool:
        return not any(self.errors.values())

    @property
    def others(self) -> float:
        """Cores used by processes that are neither the server nor wrk (other work on a shared machine)."""
        return max(0.0, self.machine_cores - self.cores - self.wrk_cores)


def merge(slices: list[Run]) -> Run:
    """One run from its slices: requests and time summed, rates weighted by time, p50 the median, p99 the worst."""
    secs = sum(r.seconds for r in slices) or 1.0

    def avg(get: Callable[[Run], float]) -> float:
        return sum(get(r) * r.seconds for r in slices) / secs

    def avg_dict(dicts: list[dict[str, float]]) -> dict[str, float]:
        keys = {k for d in dicts for k in d}
        return {k: sum(d.get(k, 0.0) * r.seconds for d, r in zip(dicts, slices, strict=True)) / secs for k in keys}

    first = slices[0]
    groups = {g for r in slices for g in r.threads}
    return Run(first.target, first.conns, sum(r.requests for r in slices), sum(r.seconds for r in slices),
               {k: sum(r.errors[k] for r in slices) for k in first.errors},
               statistics.median(r.p50_ms for r in slices), max(r.p99_ms for r in slices), avg(lambda r: r.cores),
               avg_dict([r.parts for r in slices]) if first.parts else {},
               {g: avg_dict([r.threads.get(g, {}) for r in slices]) for g in groups},
               avg(lambda r: r.wrk_cores), avg(lambda r: r.machine_cores), avg(lambda r: r.steal_cores),
               list(slices))


def wrk(url: str, lua: Path, conns: int, seconds: float) -> tuple[int, float, dict[str, int], float, float]:
    out = subprocess.run(["wrk", "-t1", f"-c{conns}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
                          "-s", str(lua), url], capture_output=True, text=True, timeout=seconds + 60)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stdout[-800:]} {out.stderr[-800:]}")
    req, dur, conn, rd, wr, status, tmo, p50, p99 = (int(v) for v in line.split()[1:])
    errors = {"connect": conn, "read": rd, "write": wr, "status": status, "timeout": tmo}
    return req, dur / 1e6, errors, p50 / 1000, p99 / 1000


def wait_quiet(max_s: float) -> None:
    """Wait (up to max_s) for a second in which the machine's other processes use under NOISY cores."""
    if max_s <= 0:
        return
    t0 = time.monotonic()
    while True:
        m0 = machine_cpu()[0]
        time.sleep(1.0)
        busy = machine_cpu()[0] - m0
        if busy < NOISY or time.monotonic() - t0 >= max_s:
            break
    waited = time.monotonic() - t0
    if waited > 1.5:
        print(f"  (waited {waited:.0f} s for other work on the machine to calm down; last second: {busy:.2f} cores "
              "busy)")


@dataclass
class Target:
    name: str
    url: str
    lua: Path
    roots: Callable[[], dict[str, list[int]]]
    sent: list[int] | None = None  # 2xx responses received (ours: compared with the metric records)


def warm(t: Target, seconds: float) -> None:
    req, _, errors, _, _ = wrk(t.url, t.lua, 8, seconds)
    if t.sent is not None:
        t.sent.append(req - errors["status"])


def measure(t: Target, c: int, seconds: float) -> Run:
    """One wrk run; the server's CPU from /proc, wrk's from rusage, the machine's from /proc/stat."""
    groups = t.roots()
    split_threads = len(groups) > 1
    before = {g: cpu_of(p) for g, p in groups.items()}
    tbefore = {g: thread_cpu(p) for g, p in groups.items()} if split_threads else {}
    ru0, m0 = resource.getrusage(resource.RUSAGE_CHILDREN), machine_cpu()
    req, dur, errors, p50, p99 = wrk(t.url, t.lua, c, seconds)
    ru1, m1 = resource.getrusage(resource.RUSAGE_CHILDREN), machine_cpu()
    parts = {}
    threads = {}
    for g, pids in groups.items():
        after = cpu_of(pids)
        parts[g] = sum(after[p] - before[g].get(p, 0.0) for p in after) / dur
        if split_threads:
            threads[g] = {n: v / dur for n, v in thread_delta(tbefore[g], thread_cpu(pids)).items()}
    run = Run(t.name, c, req, dur, errors, p50, p99, sum(parts.values()), parts if len(parts) > 1 else {},
              threads=threads,
              wrk_cores=(ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) / dur,
              machine_cores=(m1[0] - m0[0]) / dur, steal_cores=(m1[1] - m0[1]) / dur)
    if t.sent is not None:
        t.sent.append(run.ok)
    bad = "" if run.valid else "  INVALID: " + ", ".join(f"{k} {v}" for k, v in errors.items() if v)
    split = (" (" + ", ".join(f"{g} {v:.2f}" for g, v in parts.items()) + ")") if run.parts else ""
    print(f"  {t.name:<26} c={c:<3} {run.rps:6,.0f} req/s  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  "
          f"srv {run.cores:.2f} cores{split}, wrk {run.wrk_cores:.2f}, others {run.others:.2f}; "
          f"{req:,} req, non-2xx {errors['status']}{bad}"
          f"{'  ONE WORKER (all connections on one of 2)' if _one_worker_only(t.name, run) else ''}", flush=True)
    return run


# --------------------------------------------------------------------------------------------------------------
# the platform
# --------------------------------------------------------------------------------------------------------------
def calibrate(project: Path, joblib_path: Path, when: str) -> float:
    """CPU microseconds of one model.py predict() call alone (cdsw stubbed, no HTTP), in a fresh process."""
    p = subprocess.run([sys.executable, "-c", CALIBRATE_SCRIPT, str(project), "0", "-", FEATURE],
                       capture_output=True, text=True, timeout=120,
                       env={**os.environ, "WINE_MODEL_PATH": str(joblib_path)})
    if p.returncode != 0:
        raise RuntimeError(f"calibration failed: {p.stderr[-1500:]}")
    cpu_us, wall_us = (float(v) for v in p.stdout.split()[-2:])
    print(f"  model.py predict() alone, {when} (cdsw stubbed, one process, 400 calls): {cpu_us:,.0f} us CPU, "
          f"{wall_us:,.0f} us wall per call -> at most {1e6 / cpu_us:,.0f} predictions/s per core")
    return cpu_us


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def make_wine_project(dest: Path, trees: int, max_depth: int | None, rule: bool) -> Path:
    """As tests/serving/conftest.py: lineage.yml, model.py (committed) and a trained sklearn model (or, with
    ``rule``, the anchors' rule object in its own module)."""
    from serving.examples.wine.train import train

    dest.mkdir(parents=True)
    files = ["lineage.yml", "model.py"]
    for name in files:
        shutil.copy(WINE / name, dest / name)
    if rule:
        (dest / "wine_rule.py").write_text(textwrap.dedent(RULE_MODULE).lstrip())
        files.append("wine_rule.py")
        subprocess.run([sys.executable, "-c", "import joblib, sys, wine_rule; "
                        "joblib.dump(wine_rule.AlcoholRule(), sys.argv[1])", str(dest / "wine_model.joblib")],
                       check=True, cwd=dest)
        what = "the anchors' rule (Alcohol >= 10 -> Excellent), no sklearn"
    else:
        acc = train(dest / "wine_model.joblib", SHARED_CSV if SHARED_CSV.exists() else None, trees=trees,
                    max_depth=max_depth)
        what = (f"RandomForest ({trees} trees, max depth {max_depth}), test accuracy {acc:.3f}, "
                f"data {'the demo CSV' if SHARED_CSV.exists() else 'synthetic'}")
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", *files)
    git(dest, "-c", "user.name=ds", "-c", "user.email=ds@example.com", "commit", "-q", "-m", "wine model")
    print(f"  wine project: {what}")
    return dest


class PlatformUnderTest:
    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.store = tmp / "store"
        self.store.mkdir()
        self.env = {**os.environ, "MLCATALOG_ATLAS_PASSWORD": ATLAS_PASSWORD, "MLCATALOG_STORE": str(self.store),
                    "MLCATALOG_URL": self.url, "MLCATALOG_CRN_REGION": "us-west-1",
                    "MLCATALOG_CRN_ACCOUNT": "bench", "MLCATALOG_CRN_WORKSPACE": "bench",
                    "MLCATALOG_ADMIN_KEY": secrets.token_urlsafe(24),
                    "MLCATALOG_PROJECTS_ROOT": str(tmp)}  # the wine projects are made beside the store
        self.env.pop("MLCATALOG_API_KEY", None)
        self.env["PYTHONPATH"] = str(REPO) + (os.pathsep + self.env["PYTHONPATH"] if self.env.get("PYTHONPATH")
                                              else "")
        self.server = Server("mlcatalog up", [sys.executable, "-m", "mlcatalog", "up", "--port", str(self.port)],
                             tmp / "up.log", http_ready(self.url + "/api/atlas/admin/status",
                                                        auth=("admin", ATLAS_PASSWORD)), env=self.env)
        self.key = ""

    def cli(self, *args: str, env: dict[str, str] | None = None) -> str:
        p = subprocess.run([sys.executable, "-m", "mlcatalog", *args], capture_output=True, text=True,
                           env={**self.env, **(env or {})}, cwd=str(REPO), timeout=300)
        if p.returncode != 0:
            raise RuntimeError(f"mlcatalog {' '.join(args)} failed ({p.returncode}): {p.stderr}")
        return p.stdout

    def deploy(self, project: Path, replicas: int) -> dict[str, Any]:
        out = self.cli("deploy", "--project-dir", str(project), "--model", MODEL_NAME, "--file", "model.py",
                       "--function", "predict", "--replicas", str(replicas), "--json",
                       env={"MLCATALOG_API_KEY": self.key})
        return dict(json.loads(out))

    def get(self, path: str, **params: Any) -> Any:
        r = httpx.get(self.url + path, params=params, headers={"Authorization": f"Bearer {self.key}"},
                      timeout=120.0)
        r.raise_for_status()
        return r.json()

    def replica_pids(self, crn: str) -> list[int]:
        info = self.get(f"/api/v1/serving/deployments/{crn}")
        return [int(r["pid"]) for r in info["replica_status"] if r.get("pid")]

    def gateway_200s(self, crn: str) -> int:
        text = httpx.get(self.url + "/metrics", timeout=10.0).text
        total = 0.0
        for line in text.splitlines():
            if line.startswith("mlcatalog_model_requests_total{") and f'deployment="{crn}"' in line \
                    and 'code="200"' in line:
                total += float(line.rsplit(" ", 1)[1])
        return int(total)


# --------------------------------------------------------------------------------------------------------------
# profiling
# --------------------------------------------------------------------------------------------------------------
_FRAME = re.compile(r"^(?P<fn>.*?) \((?P<file>[^:()]*)(?::\d+)?\)$")
_IDLE = ("threading.py:wait", "_base.py:result", "selectors.py:select", "queue.py:get", "thread.py:_worker",
         "base_events.py:_run_once", "threading.py:_wait_for_tstate_lock")


def _short(path: str) -> str:
    for marker in ("/site-packages/", "/lib/python3.11/", "/lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1]
    with contextlib.suppress(ValueError):
        return str(Path(path).resolve().relative_to(REPO))
    return Path(path).name if "/tmp" in path else path


def _stacks(raw: Path) -> list[tuple[str, list[str], int]]:
    """(thread label, frames as file:function root first, samples) from py-spy --format raw --threads."""
    out = []
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        parts = stack.split(";")
        thread = ""
        frames = []
        for fr in parts:
            fr = fr.strip()
            if fr.startswith(("thread (", "process ")):
                if fr.startswith("thread ("):
                    thread = fr
                continue
            m = _FRAME.match(fr)
            frames.append(f"{_short(m['file'])}:{m['fn']}" if m else fr)
        out.append((thread, frames, int(n)))
    return out


Category = tuple[str, Callable[[list[str]], bool]]


def _has(*needles: str) -> Callable[[list[str]], bool]:
    return lambda frames: any(n in f for f in frames for n in needles)


def _leaf(*needles: str) -> Callable[[list[str]], bool]:
    return lambda frames: bool(frames) and any(n in frames[-1] for n in needles)


# Exclusive categories (first match wins), per thread of interest. Frames are "file:function", root first.
REPLICA_PREDICT: list[Category] = [
    # Future.result blocking in Condition.wait: only the hand-off path waits (the inline path's result() returns).
    ("commit wait: store.write handed the record to the busy writer",
     lambda frames: any("_base.py:Future.result" in f for f in frames)
     and any("threading.py:Condition.wait" in f for f in frames)),
    ("metrics write: GroupCommitStore.write (encode, INSERT + COMMIT inline)", _has("GroupCommitStore.write")),
    ("sklearn RandomForest predict (model.py -> MODEL.predict)", _has("sklearn/", "joblib/")),
    ("cdsw.track_metric x12 (+ _check_json)", _has("serving/sdk.py:track_metric")),
    ("MetricRecord build (sdk._record, pydantic)", _has("serving/sdk.py:_record")),
    ("rest of @model_metrics wrapper (uuid4, contextvar, clock)", _has("model_metrics.<locals>.wrapper")),
    ("rest of model.py predict (parse the feature string)", _has("model.py:predict")),
    ("replica framing: orjson loads + answer frame", _has("serving/replica.py:Replica.predict")),
    ("IDLE: waiting for the next request (AdaptivePoll: polls, then sleeps; polling shows as CPU in /proc)",
     _has("serving/poll.py:AdaptivePoll.wait")),
    ("IDLE: waiting for the rest of a request (recv)", _has("serving/replica.py:_recv_exact")),
    ("socket send of the answer, lock, start-by check", _has("serving/replica.py:Replica._serve")),
]
REPLICA_LOOP: list[Category] = [
    ("IDLE: epoll wait", _leaf("selectors.py:EpollSelector.select")),
]
REPLICA_WRITER: list[Category] = [
    ("IDLE: waiting for records", _has("GroupCommitter._take")),
    ("writing: insert + COMMIT", _has("GroupCommitter._write")),
]
GATEWAY: list[Category] = [
    ("uvloop internals (epoll, socket I/O, callbacks; no Python frame above Runner.run)",
     _leaf("asyncio/runners.py:Runner.run")),
    ("pool.call / ReplicaHandle.call (free-queue get, timeout, socket write, answer frame)",
     _has("serving/platform/pool.py:")),
    ("prometheus_client counters / histogram", _has("prometheus_client/")),
    ("auth: Auth.valid / ApiKeys.verify", _has("gateway.py:Auth.valid")),
    ("rest of the gateway middleware (body, orjson, route by access key, response)",
     _has("serving/platform/gateway.py:")),
    ("uvicorn httptools protocol (parse, send)", _leaf("uvicorn/")),
    ("FastAPI/Starlette routing + middlewares around the handler",
     _has("fastapi/", "starlette/", "catalog/embedded/")),
]


def breakdown(stacks: list[tuple[str, list[str], int]], thread: str, cats: list[Category], title: str) -> None:
    rows = [(t, f, n) for t, f, n in stacks if t.split(": ", 1)[-1] == thread]
    total = sum(n for _, _, n in rows)
    if not total:
        print(f"    {title}: no samples")
        return
    counts: collections.Counter[str] = collections.Counter()
    for _, frames, n in rows:
        counts[next((label for label, pred in cats if pred(frames)), "other")] += n
    busy = sum(n for label, n in counts.items() if not label.startswith("IDLE")) or 1
    print(f"    {title} ({total:,} samples; % of all samples | % of the non-idle ones):")
    for label, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        of_busy = "" if label.startswith("IDLE") else f"{100 * n / busy:5.1f}%"
        print(f"      {100 * n / total:5.1f}% | {of_busy:>6}  {label}")


def self_top(stacks: list[tuple[str, list[str], int]], thread: str, top: int) -> None:
    own: collections.Counter[str] = collections.Counter()
    for t, frames, n in stacks:
        if thread in t and frames:
            own[frames[-1]] += n
    total = sum(own.values()) or 1
    print(f"    self time, top {top}:")
    for name, n in own.most_common(top):
        print(f"      {100 * n / total:5.1f}%  {name}")


def profile(pu: PlatformUnderTest, crn: str, lua: Path, conns: int, seconds: float, tmp: Path) -> None:
    pyspy = shutil.which("py-spy")
    if pyspy is None:
        print("  py-spy not on PATH (pip install py-spy): profile skipped")
        return
    gateway = pu.server.pid
    replicas = pu.replica_pids(crn)
    print(f"  wrk c={conns} {seconds:.0f} s on the 1-replica deployment; py-spy record --rate 100 --nonblocking "
          f"--threads on the gateway (pid {gateway}, on-CPU samples) and on the replica (pid {replicas[0]}, --idle: "
          "wall time of each thread, waiting included); one py-spy dump of each at mid-run")
    spies: list[tuple[str, subprocess.Popen[bytes], Path]] = []
    try:
        for label, pid, idle in (("gateway", gateway, False), ("replica", replicas[0], True)):
            out = tmp / f"py-spy-{label}.txt"
            argv = [pyspy, "record", "--pid", str(pid), "--rate", "100", "--format", "raw", "--output", str(out),
                    "--nonblocking", "--threads", "--duration", str(int(seconds) + 2)]
            if idle:
                argv.append("--idle")
            spies.append((label, subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE), out))
        time.sleep(1.0)
        cpu0 = cpu_of([gateway, replicas[0]])
        th0 = thread_cpu([replicas[0]])
        t0 = time.perf_counter()
        wrk_proc = subprocess.Popen(["wrk", "-t1", f"-c{conns}", f"-d{int(seconds)}s", "--timeout", "10s", "-s",
                                     str(lua), pu.url + "/model"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True)
        time.sleep(seconds / 2)
        dumps = {}
        for label, pid in (("gateway", gateway), ("replica", replicas[0])):
            d = subprocess.run([pyspy, "dump", "--pid", str(pid), "--nonblocking"], capture_output=True, text=True,
                               timeout=30)
            dumps[label] = d.stdout or d.stderr
        wout, _ = wrk_proc.communicate(timeout=seconds + 60)
        cpu1 = cpu_of([gateway, replicas[0]])
        th = thread_delta(th0, thread_cpu([replicas[0]]))
        wall = time.perf_counter() - t0
        line = next((ln for ln in wout.splitlines() if ln.startswith("BENCH ")), "")
        if line:
            req, dur = (int(v) for v in line.split()[1:3])
            print(f"  under py-spy: {req / (dur / 1e6):,.0f} req/s (sampling costs CPU on this 2-core machine)")
        _reap_spies(spies)
        _print_dumps(dumps)
        g, r = tmp / "py-spy-gateway.txt", tmp / "py-spy-replica.txt"
        if g.is_file():
            st = _stacks(g)
            print("  gateway = mlcatalog up (on-CPU samples; everything runs on the event-loop thread):")
            by: collections.Counter[str] = collections.Counter()
            for t, _, n in st:
                by[t] += n
            print("    by thread: " + ", ".join(f"{t} {n:,}" for t, n in by.most_common(4)))
            active = sum(by.values()) / 100
            used = cpu1.get(gateway, 0.0) - cpu0.get(gateway, 0.0)
            print(f"    'active' samples = {active:.1f} s of {wall:.1f} s; /proc says the gateway used {used:.1f} s of "
                  "CPU (the difference: runnable but waiting for a core)")
            breakdown(st, "MainThread", GATEWAY, "event-loop thread, exclusive categories")
            self_top(st, "MainThread", 12)
        if r.is_file():
            st = _stacks(r)
            used = cpu1.get(replicas[0], 0.0) - cpu0.get(replicas[0], 0.0)
            print(f"  replica (wall time per thread, --idle; it used {used:.1f} s of CPU in {wall:.1f} s):")
            print("    per-thread CPU from /proc (exact, unlike sampling, which under-samples busy moments on a "
                  "saturated 2-core machine): " + ", ".join(f"{n} {v / wall:.2f} cores" for n, v in
                                                          sorted(th.items(), key=lambda kv: -kv[1]) if v > 0.01))
            breakdown(st, "rpc", REPLICA_PREDICT, "rpc thread (recv, predict, send; one prediction at a time)")
            breakdown(st, "MainThread", REPLICA_LOOP, "event-loop thread")
            breakdown(st, "metrics-writer", REPLICA_WRITER, "group-commit writer thread")
    finally:
        for _, spy, _ in spies:
            if spy.poll() is None:
                spy.kill()
                spy.wait()


def _reap_spies(spies: list[tuple[str, subprocess.Popen[bytes], Path]]) -> None:
    for label, spy, out in spies:
        try:
            _, err = spy.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            spy.kill()
            _, err = spy.communicate()
        if not out.is_file():
            print(f"  py-spy {label} wrote nothing: {err.decode(errors='replace').strip()[-400:]}")


def _print_dumps(dumps: dict[str, str]) -> None:
    for label, text in dumps.items():
        print(f"  py-spy dump, {label} (mid-run; idle threads left out):")
        for block in re.split(r"\n(?=Thread )", text):
            if block.startswith("Thread ") and "(idle)" in block.splitlines()[0]:
                continue
            for ln in block.splitlines()[:16]:
                if ln.strip():
                    print("    | " + _short_line(ln))


def _short_line(line: str) -> str:
    return re.sub(r"\(([^():]+\.py):", lambda m: "(" + _short(m.group(1)) + ":", line)


# --------------------------------------------------------------------------------------------------------------
def _one_worker_only(target: str, run: Run) -> bool:
    """A 2-worker baseline under load that used about one core: its workers share one listening socket and the
    kernel handed every connection wrk opened to the same worker, so it ran as 1 worker. Seen with mlflow -w 2."""
    return target.endswith("-w 2") and run.conns >= 2 and run.cores < 1.25


def main(argv: list[str] | None = None) -> int:  # noqa: C901 - one linear script
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=12.0, help="seconds of load per target and c (default 12)")
    ap.add_argument("--rounds", type=int, default=4,
                    help="split each run into this many interleaved slices of duration/rounds s (default 4)")
    ap.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds per target, c=8 (default 3)")
    ap.add_argument("--conns", default="1,8,32", help="connection counts (default 1,8,32)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 3 s runs, 1 s warm-up")
    ap.add_argument("--no-profile", action="store_true", help="never profile (default: profile if a goal is missed)")
    ap.add_argument("--profile-duration", type=float, default=8.0, help="seconds of load while profiling")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (project, logs, py-spy output)")
    ap.add_argument("--trees", type=int, default=TREES,
                    help=f"trees in the wine RandomForest (default {TREES}, the seed's numTrees)")
    ap.add_argument("--max-depth", type=int, default=MAX_DEPTH,
                    help=f"its max depth (default {MAX_DEPTH}, the seed's maxDepth; 0 = unlimited)")
    ap.add_argument("--model", choices=("forest", "rule"), default="forest",
                    help="forest (default): the sklearn RandomForest; rule: the performance anchors' trivial rule")
    ap.add_argument("--quiet-wait", type=float, default=OPTS["quiet_wait"],
                    help="before each run, wait up to this many seconds for an idle machine (default 3)")
    a = ap.parse_args(argv)
    OPTS["quiet_wait"] = a.quiet_wait
    seconds = 3.0 if a.quick else a.duration
    rounds = 1 if a.quick else max(1, a.rounds)
    if seconds / rounds < 1:
        print("--duration / --rounds must leave at least 1 s per slice", file=sys.stderr)
        return 2
    warmup = 1.0 if a.quick else a.warmup
    conns = [int(c) for c in a.conns.split(",") if c.strip()]
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install -y wrk)", file=sys.stderr)
        return 2

    import fastapi
    import uvicorn
    vers = {"fastapi": fastapi.__version__, "uvicorn": uvicorn.__version__}
    with contextlib.suppress(Exception):
        from importlib.metadata import version
        vers.update({n: version(n) for n in ("mlflow", "scikit-learn", "uvloop", "httptools")})
    wrk_v = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split(" [")[0]
    t_start = time.perf_counter()
    print("mlcatalog serving benchmark: POST /model (platform, metrics + auth) vs bare FastAPI vs mlflow models serve")
    print(f"  host: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
          + ", ".join(f"{k} {v}" for k, v in vers.items()) + f", {wrk_v}")
    print(f"  wrk -t1, c in {conns}, {seconds:g} s per target and c in {rounds} interleaved slice(s) of "
          f"{seconds / rounds:g} s, after a {warmup:g} s warm-up (c=8) per target; "
          "server CPU = utime+stime of the server's process tree / run time")

    tmp = Path(tempfile.mkdtemp(prefix="bench_serving_"))
    servers: list[Server] = []
    pu: PlatformUnderTest | None = None
    runs: list[Run] = []
    body_bare = json.dumps({"accessKey": "bare", "request": {"feature": FEATURE}}, separators=(",", ":")).encode()
    try:
        project = make_wine_project(tmp / "wine-project", a.trees, a.max_depth or None, a.model == "rule")
        joblib_path = project / "wine_model.joblib"

        predict_cpu_us = calibrate(project, joblib_path, "before the runs")

        def one(server: Server) -> Callable[[], dict[str, list[int]]]:
            return lambda: {"server": tree(server.pid)}

        # ---- the MLflow model ------------------------------------------------------------------------------------
        code_dir = tmp / "mlflow-code"
        code_dir.mkdir()
        (code_dir / "wine_pyfunc.py").write_text(textwrap.dedent(PYFUNC_MODULE))
        if a.model == "rule":
            shutil.copy(project / "wine_rule.py", code_dir / "wine_rule.py")  # unpickling the model imports it
        model_dir = tmp / "mlflow-model"
        t0 = time.perf_counter()
        p = subprocess.run([sys.executable, "-c", SAVE_SCRIPT, str(code_dir), str(joblib_path), str(model_dir)],
                           capture_output=True, text=True, timeout=300, cwd=str(tmp))
        if p.returncode != 0:
            raise RuntimeError(f"mlflow save_model failed: {p.stderr[-2000:]}")
        print(f"  mlflow.pyfunc.save_model (pip_requirements given, PythonModel in its own module): "
              f"{time.perf_counter() - t0:.1f} s")

        # ---- start every server at once (idle ones cost ~0 CPU), then interleave the runs -------------------------
        print("\n[1] servers (started together, each its own process tree)")
        targets: list[Target] = []
        lua_bare = write_lua(tmp / "bare.lua", body_bare, "bench-unused-key")
        bare: dict[str, tuple[Server, str]] = {}
        for mode in ("sync", "async"):
            port = free_port()
            url = f"http://127.0.0.1:{port}/model"
            srv = Server(f"bare FastAPI {'def' if mode == 'sync' else 'async def'}",
                         [sys.executable, "-c", BARE_SCRIPT, str(project), str(port), mode], tmp / f"bare-{mode}.log",
                         http_post_ready(url, body_bare), env={**os.environ, "WINE_MODEL_PATH": str(joblib_path)})
            servers.append(srv)
            bare[mode] = (srv, url)
        body_mlflow = json.dumps({"dataframe_split": {"columns": ["feature"], "data": [[FEATURE]]}}).encode()
        lua_mlflow = write_lua(tmp / "mlflow.lua", body_mlflow, None)
        mlflow_bin = shutil.which("mlflow", path=os.path.dirname(sys.executable)) or "mlflow"
        env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
        mlf: dict[int, tuple[Server, str]] = {}
        for workers in (1, 2):
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            srv = Server(f"mlflow models serve -w {workers}",
                         [mlflow_bin, "models", "serve", "-m", str(model_dir), "--env-manager", "local", "-h",
                          "127.0.0.1", "-p", str(port), "-w", str(workers)],
                         tmp / f"mlflow-{workers}w.log", http_ready(base + "/ping"), env=env, cwd=tmp)
            servers.append(srv)
            mlf[workers] = (srv, base + "/invocations")
        pu = PlatformUnderTest(tmp)
        wait_ready([*servers, pu.server])
        for srv, url in [*bare.values(), *mlf.values()]:
            body = body_bare if "/model" in url else body_mlflow
            r = httpx.post(url, content=body, headers={"Content-Type": "application/json"})
            print(f"  {srv.name}: pid {srv.pid}, ready in {srv.startup_s:.1f} s; response {r.status_code} {r.text}")
            targets.append(Target(srv.name, url, lua_bare if "/model" in url else lua_mlflow, one(srv)))
        print(f"  mlcatalog up: pid {pu.server.pid}, ready in {pu.server.startup_s:.1f} s; metrics store "
              f"sqlite:///{pu.store / 'metrics.db'} (the default)")
        pu.key = pu.cli("api-keys", "create", "bench", "--role", "deployer", "--project", "*").strip()
        deployments: dict[int, dict[str, Any]] = {}
        ours: dict[int, Target] = {}
        for n in (1, 2):
            t0 = time.perf_counter()
            d = pu.deploy(project, n)
            deployments[n] = d
            body = json.dumps({"accessKey": d["accessKey"], "request": {"feature": FEATURE}},
                              separators=(",", ":")).encode()
            r = httpx.post(pu.url + "/model", content=body, headers={"Authorization": f"Bearer {pu.key}",
                                                                      "Content-Type": "application/json"})
            gw, reps = pu.server.pid, pu.replica_pids(d["crn"])
            for pid in (gw, *reps):
                learn_thread_names(pid)
            print(f"  mlcatalog deploy --replicas {n}: {time.perf_counter() - t0:.1f} s, replica pids {reps}; "
                  f"response {r.status_code} {r.text[:150]}...")

            def roots(gw: int = gw, reps: list[int] = reps) -> dict[str, list[int]]:
                rest = [p for p in tree(gw) if p != gw and p not in reps]
                return {"gateway": [gw], "replicas": reps, **({"other": rest} if rest else {})}

            ours[n] = Target(f"ours, {n} replica{'s' if n > 1 else ''}", pu.url + "/model",
                             write_lua(tmp / f"ours-{n}.lua", body, pu.key), roots,
                             [1 if r.status_code == 200 else 0])
            targets.append(ours[n])

        print(f"\n[2] load: warm-up {warmup:g} s (c=8) per target, then for each c every target in turn "
              "(order reversed on every other c)")
        for t in targets:
            warm(t, warmup)
        # Each run is split into slices taken in turn with the other targets' (order reversed every other round):
        # this machine's speed drifts by up to 2x within seconds, and interleaving spreads that over all targets.
        slices: dict[tuple[str, int], list[Run]] = {}
        for i, c in enumerate(conns):
            for rnd in range(rounds):
                for t in (targets if (i * rounds + rnd) % 2 == 0 else targets[::-1]):
                    wait_quiet(OPTS["quiet_wait"])
                    slices.setdefault((t.name, c), []).append(measure(t, c, seconds / rounds))
        runs.extend(merge(parts) for parts in slices.values())
        print("\n  our server CPU per request (gateway = mlcatalog up; replicas = the model processes):")
        for run in runs:
            if run.parts and run.rps:
                print(f"    {run.target:<17} c={run.conns:<3} " + ", ".join(
                    f"{g} {1e6 * v / run.rps:,.0f} us" for g, v in run.parts.items()))
                for g, th in run.threads.items():
                    shown = sorted(((n, v) for n, v in th.items() if v * 1e6 / run.rps >= 5), key=lambda kv: -kv[1])
                    if shown:
                        print(f"      {g + ' threads:':<19}" + ", ".join(
                            f"{n} {1e6 * v / run.rps:,.0f} us ({v:.2f} cores)" for n, v in shown))

        print("\n  metrics check (read_metrics via GET /api/v1/metrics with the API key, after the runs):")
        time.sleep(0.5)
        for n, d in deployments.items():
            t0 = time.perf_counter()
            recs = pu.get("/api/v1/metrics", model_deployment_crn=d["crn"])["metrics"]
            read_s = time.perf_counter() - t0
            preds = [m for m in recs if m.get("predictionUuid")]
            keys = collections.Counter(len(m.get("metrics") or {}) for m in preds)
            uuids = len({m["predictionUuid"] for m in preds})
            gw200 = pu.gateway_200s(d["crn"])
            client200 = sum(ours[n].sent or [])
            inflight = 8 + rounds * sum(conns)  # wrk abandons at most c requests in flight at the end of each run
            print(f"    {n} replica{'s' if n > 1 else ''}: {len(preds):,} metric records ({uuids:,} distinct "
                  f"prediction UUIDs; metric keys per record {dict(keys)}) read in {read_s:.2f} s | gateway 200 "
                  f"responses {gw200:,} -> {'EQUAL' if gw200 == len(preds) else 'DIFFERENT'} | 200s received by "
                  f"wrk/httpx {client200:,} (records - received = {len(preds) - client200:,}, allowed 0..{inflight} "
                  f"abandoned in flight at the end of each wrk run) -> "
                  f"{'OK' if 0 <= len(preds) - client200 <= inflight else 'MISMATCH'}")

        calibrate(project, joblib_path, "after the runs (drift check)")

        # ---- summary -----------------------------------------------------------------------------------------------
        by = {(r.target, r.conns): r for r in runs}
        bare_def, bare_async = "bare FastAPI def", "bare FastAPI async def"
        rows: list[tuple[str, str, str, str, str, str]] = []
        missed = False
        for c in conns:
            for ours_t, base_t, goal, label in (
                    ("ours, 1 replica", bare_def, GOAL_BARE, "bare def 1w"),
                    ("ours, 2 replicas", bare_def, GOAL_BARE, "bare def 1w"),
                    ("ours, 1 replica", bare_async, None, "bare async 1w (ref)"),
                    ("ours, 2 replicas", bare_async, None, "bare async 1w (ref)"),
                    ("ours, 1 replica", "mlflow models serve -w 1", GOAL_MLFLOW, "mlflow 1w"),
                    ("ours, 2 replicas", "mlflow models serve -w 2", None, "mlflow 2w (ref)")):
                o, b = by.get((ours_t, c)), by.get((base_t, c))
                if o is None or b is None:
                    continue
                dropped = 0
                if len(o.slices) > 1 and len(o.slices) == len(b.slices):
                    # Slices in which a 2-worker baseline ran on one worker compare nothing: leave out both sides.
                    keep = [k for k, bs in enumerate(b.slices) if not _one_worker_only(base_t, bs)]
                    if keep and len(keep) < len(b.slices):
                        dropped = len(b.slices) - len(keep)
                        o, b = merge([o.slices[k] for k in keep]), merge([b.slices[k] for k in keep])
                ratio = o.rps / b.rps if b.rps else float("nan")
                valid = o.valid and b.valid
                if goal is None:
                    verdict, goal_s = "(reference)", "-"
                    if _one_worker_only(base_t, b):
                        verdict += " (the baseline ran on 1 of its 2 workers in every slice)"
                elif _one_worker_only(base_t, b):
                    verdict = "NO VERDICT: the baseline ran on 1 of its 2 workers in every slice"
                    goal_s = f">= {goal:g}x"
                else:
                    ok = ratio >= goal
                    missed |= not ok
                    verdict = ("MET" if ok else "NOT MET") + ("" if valid else " (INVALID run: errors)") + (
                        " (noisy run)" if max(o.others, b.others) > NOISY else "")
                    goal_s = f">= {goal:g}x"
                if len(o.slices) > 1 and len(o.slices) == len(b.slices):
                    spread = sorted(x.rps / y.rps for x, y in zip(o.slices, b.slices, strict=True) if y.rps)
                    verdict += f" (slices {spread[0]:.2f}-{spread[-1]:.2f}x)"
                if dropped:
                    verdict += f" ({dropped} slice(s) with the baseline on 1 worker left out)"
                rows.append((f"req/s c={c}: {ours_t.removeprefix('ours, ')} vs {label}", f"{o.rps:,.0f}",
                             f"{b.rps:,.0f}", f"{ratio:.2f}x", goal_s, verdict))
        # CPU per request is much less sensitive than req/s to other work on a shared machine.
        def per_req(run: Run) -> float:
            return 1e6 * run.cores / run.rps if run.rps else float("nan")

        cpu_c = 8 if 8 in conns else conns[-1]
        for c in [cpu_c]:
            for ours_t, base_t, label in (("ours, 1 replica", bare_def, "bare def 1w"),
                                          ("ours, 1 replica", bare_async, "bare async 1w"),
                                          ("ours, 1 replica", "mlflow models serve -w 1", "mlflow 1w"),
                                          ("ours, 2 replicas", "mlflow models serve -w 2", "mlflow 2w")):
                o, b = by.get((ours_t, c)), by.get((base_t, c))
                if o is None or b is None:
                    continue
                rows.append((f"server CPU us/req c={c}: {ours_t.removeprefix('ours, ')} vs {label}",
                             f"{per_req(o):,.0f}", f"{per_req(b):,.0f}", f"{per_req(o) / per_req(b):.2f}x", "-",
                             "(info: lower is better)"))
        head = ("metric", "ours", "baseline", "ratio", "goal", "MET/NOT MET")
        print("\nper run (req/s, latency, server cores)")
        print("  (CPU/req = server CPU per request; 'beyond predict' = CPU/req minus predict() alone "
              f"({predict_cpu_us:,.0f} us, measured first); wrk/others/steal in cores: the load generator, every other "
              f"process on the machine, hypervisor steal; NOISY: others > {NOISY} cores)")
        print(f"  {'target':<26} {'c':>3} {'req/s':>6} {'p50 ms':>7} {'p99 ms':>7} {'srv cores':>9} {'CPU/req us':>10} "
              f"{'beyond predict':>14} {'wrk':>5} {'others':>6} {'steal':>5} {'errors':>6}")
        for run in runs:
            per = 1e6 * run.cores / run.rps if run.rps else float("nan")
            print(f"  {run.target:<26} {run.conns:>3} {run.rps:6,.0f} {run.p50_ms:7.2f} {run.p99_ms:7.2f} "
                  f"{run.cores:9.2f} {per:10,.0f} {per - predict_cpu_us:14,.0f} {run.wrk_cores:5.2f} "
                  f"{run.others:6.2f} {run.steal_cores:5.2f} {sum(run.errors.values()):>6}"
                  f"{'  NOISY' if run.others > NOISY else ''}"
                  f"{'  ONE WORKER (all connections on one of 2)' if _one_worker_only(run.target, run) else ''}")
        print("\nsummary (ratio = ours / baseline, req/s)")
        widths = [max(len(row[i]) for row in [head, *rows]) for i in range(6)]
        for row in [head, *rows]:
            print("  " + " | ".join(col.ljust(w) if i in (0, 4, 5) else col.rjust(w)
                                    for i, (col, w) in enumerate(zip(row, widths, strict=True))))
        print(f"\n  bound: predict() alone costs {predict_cpu_us:,.0f} us CPU, so even a platform with zero overhead "
              "could beat a baseline's throughput per core by at most its CPU/req divided by that:")
        for base_t in (bare_def, bare_async, "mlflow models serve -w 1", "mlflow models serve -w 2"):
            b_runs = [r for r in runs if r.target == base_t and r.rps]
            if b_runs:
                best = min(per_req(r) for r in b_runs)
                print(f"    {base_t:<26} lowest CPU/req {best:6,.0f} us -> at most {best / predict_cpu_us:.2f}x")
        print(f"\n  benchmark wall time so far: {time.perf_counter() - t_start:.0f} s")

        # ---- profile ------------------------------------------------------------------------------------------------
        if missed and not a.no_profile:
            print("\n[4] profile (a goal was not met)")
            for srv in servers:
                srv.stop()
            servers.clear()
            profile(pu, deployments[1]["crn"], ours[1].lua, 8, a.profile_duration, tmp)
    finally:
        for s in servers:
            s.stop()
        if pu is not None:
            pu.server.stop()
        if a.keep:
            print(f"\nkept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"\ntotal wall time: {time.perf_counter() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
