#!/usr/bin/env python
"""Benchmark of the catalog sync (``Catalog.build``) into the embedded store, with a naive baseline in the same run.

    python benchmarks/bench_sync.py [--models 1000] [--tables-per-model 5] [--baseline-models 100]
                                    [--changed 10] [--quick] [--profile] [--keep]

Goal (issue 3): "1,000 models x 5 tables synced into the embedded store: < 10 s; re-sync of unchanged input:
0 writes, < 1 s". It prints figures and never asserts. What each figure means: benchmarks/README.md.

Phases (the store runs in its own process, as in bench_embedded.py, so client and server don't share a GIL):
  0. one git project, ONE committed lineage.yml: --models models x --tables-per-model distinct Hive tables each,
     plus metadata; declared-only (no HiveServer2, no S3). Typedefs applied once (reported, not in the goal).
  1. first sync: Catalog.build(project) of every model, into the empty store.
  2. re-sync of the unchanged commit (a fresh Catalog, as a new `mlcatalog build` would be).
  3. --changed models' metadata changed in a new commit: Catalog.build(project) (every model: each gets a build
     for the new commit), then, on one more commit, Catalog.build(project, <the changed models only>).
  4. baseline: the entities of --baseline-models models (the very specs phase 1 sent), written by a naive loop
     through the official apache-atlas client (one POST /entity per entity, no diffing) into a fresh store;
     extrapolated to the full entity count.
  4b. in-process: phases 1 and 2 again into a fresh store opened in this process and reached through the
     in-process transport (``atlas+embedded:``), as ``mlcatalog up`` does by default; compared with phases 1-2
     (the same build over HTTP to the store's own process).
  5. (--profile) phase 1 again into a fresh store under cProfile (client side) with py-spy sampling the server;
     hot spots as file:function.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import cProfile
import os
import platform
import pstats
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from apache_atlas.client.base_client import AtlasClient  # noqa: E402
from apache_atlas.model.instance import AtlasEntity, AtlasEntityWithExtInfo  # noqa: E402
from procs import ServerProcess, free_port  # noqa: E402

from catalog.atlas.client import AtlasCatalogClient  # noqa: E402
from catalog.atlas.models import EntitySpec, MutationResult  # noqa: E402
from catalog.crn import CrnScope  # noqa: E402
from catalog.registration import apply_typedefs  # noqa: E402
from catalog.sync.engine import Catalog, SyncResult  # noqa: E402
from mlcatalog.process import configure_process  # noqa: E402

USER = "admin"
NAMESPACE = "bench"
SCOPE = CrnScope("us-west-1", "bench-account", "bench-ws")
DATABASES = 20
GOAL_FIRST_SYNC_S = 10.0
GOAL_RESYNC_S = 1.0

# The store as `mlcatalog up` serves it, uvloop + httptools, no access log (as bench_embedded.py).
SERVER_SCRIPT = r"""
import sys
from pathlib import Path

import uvicorn

store_dir, port, password = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
from typedefs import load_bundled_typedefs
from catalog.embedded.app import standalone_app
from catalog.embedded.store import EmbeddedStore
from mlcatalog.process import configure_process

configure_process()
store = EmbeddedStore(store_dir, load_bundled_typedefs())
app = standalone_app(store, password=password)
try:
    uvicorn.run(app, host="127.0.0.1", port=port, loop="uvloop", http="httptools", log_level="warning",
                access_log=False)
finally:
    store.close()
"""


# --------------------------------------------------------------------------------------------------------------
# the store process
# --------------------------------------------------------------------------------------------------------------
class StoreProcess(ServerProcess):
    """The embedded store (``SERVER_SCRIPT``) on a free loopback port, with its own random admin password."""

    def __init__(self, store_dir: Path, log_path: Path) -> None:
        self.password = secrets.token_urlsafe(16)
        port = free_port()
        super().__init__("store", SERVER_SCRIPT, [str(store_dir), str(port), self.password], port, log_path,
                         "/api/atlas/admin/status", (USER, self.password))


# --------------------------------------------------------------------------------------------------------------
# a client that counts and times its requests
# --------------------------------------------------------------------------------------------------------------
def _kind(method: str, path: str, body: Any) -> str:
    path = re.sub(r"/[0-9a-f-]{36}", "/{guid}", path)
    path = re.sub(r"^types/typedef/name/.*", "types/typedef/name/{name}", path)
    if path.startswith("search/") and isinstance(body, dict):
        # which type, and which attributes were asked for (relationship attributes cost the store most)
        path += f" {body.get('typeName')} [{','.join(body.get('attributes') or [])}]"
    return f"{method} {path}"


class CountingClient(AtlasCatalogClient):
    """The real client; every v2 request is counted and timed (client-observed), reads apart from writes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.count: collections.Counter[str] = collections.Counter()
        self.seconds: collections.defaultdict[str, float] = collections.defaultdict(float)
        self.specs: list[EntitySpec] = []

    @staticmethod
    def is_read(kind: str) -> bool:
        return kind.startswith(("GET ", "POST search/"))

    def call(self, path: str, method: str, **kwargs: Any) -> Any:
        kind = _kind(method, path, kwargs.get("body"))
        t0 = time.perf_counter()
        try:
            return super().call(path, method, **kwargs)
        finally:
            self.count[kind] += 1
            self.seconds[kind] += time.perf_counter() - t0

    def upsert(self, specs: list[EntitySpec]) -> MutationResult:
        self.specs.extend(specs)
        return super().upsert(specs)

    @property
    def reads(self) -> int:
        return sum(n for k, n in self.count.items() if self.is_read(k))

    @property
    def writes(self) -> int:
        return sum(n for k, n in self.count.items() if not self.is_read(k))


# --------------------------------------------------------------------------------------------------------------
# the project
# --------------------------------------------------------------------------------------------------------------
def model_name(i: int) -> str:
    return f"churn model {i:04d}"


def tables_of(i: int, per_model: int) -> list[str]:
    return [f"db{(i * per_model + j) % DATABASES:02d}.m{i:04d}_features_{j}@{NAMESPACE}" for j in range(per_model)]


def lineage_yml(models: int, per_model: int, revision: dict[int, int]) -> str:
    """YAML as data scientists write it; ``revision[i]`` changes model i's metadata."""
    out: list[str] = ["# generated by benchmarks/bench_sync.py"]
    for i in range(models):
        out.append(f'"{model_name(i)}":')
        out.append("  hive_table_qualified_names:")
        out += [f'    - "{t}"' for t in tables_of(i, per_model)]
        out.append("  metadata:")
        out.append(f'    training_file: "models/m{i:04d}/train.py"')
        out.append(f'    query: "select * from {tables_of(i, per_model)[0].split("@")[0]} where split = \'train\'"')
        out.append(f"    epochs: {10 + i % 7}")
        out.append(f'    revision: "{revision.get(i, 1)}"')
    return "\n".join(out) + "\n"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def commit(repo: Path, content: str, message: str) -> str:
    (repo / "lineage.yml").write_text(content)
    git(repo, "add", "lineage.yml")
    git(repo, "-c", "user.name=Bench", "-c", "user.email=bench@example.com", "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


# --------------------------------------------------------------------------------------------------------------
# phases
# --------------------------------------------------------------------------------------------------------------
@dataclass
class Phase:
    label: str
    wall_s: float
    result: SyncResult
    client: CountingClient
    server_cpu_s: float
    client_cpu_s: float
    notes: list[str] = field(default_factory=list)

    def print(self) -> None:
        r, c = self.result, self.client
        print(f"  {self.label}")
        print(f"    wall {self.wall_s:6.2f} s   entities created {r.creates:,}, updated {r.updates:,} "
              f"(Atlas reported {r.written:,} written); builds {len(r.builds):,} "
              f"({sum(b.new for b in r.builds):,} new)")
        print(f"    requests {c.reads + c.writes:,}: {c.writes:,} writes, {c.reads:,} reads; "
              f"time in requests {sum(c.seconds.values()):.2f} s; CPU server {self.server_cpu_s:.2f} s, "
              f"client {self.client_cpu_s:.2f} s")
        for kind, n in sorted(c.count.items(), key=lambda kv: -c.seconds[kv[0]]):
            print(f"      {n:>5} x {kind:<72} {c.seconds[kind]:6.2f} s")


def run_phase(label: str, store: StoreProcess, repo: Path, models: list[str] | None = None,
              profiler: cProfile.Profile | None = None) -> Phase:
    client = CountingClient(store.url, USER, store.password, timeout_s=300)
    catalog = Catalog(client, SCOPE, NAMESPACE)  # a fresh one: typedefs re-checked, as a new CLI run does
    srv0, cli0 = store.cpu_s(), time.process_time()
    t0 = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    try:
        result = catalog.build(repo, models)
    finally:
        if profiler is not None:
            profiler.disable()
    wall = time.perf_counter() - t0
    return Phase(label, wall, result, client, store.cpu_s() - srv0, time.process_time() - cli0)


def run_inprocess_phase(label: str, store_dir: Path, repo: Path) -> Phase:
    """A build into the embedded store opened in this process, through the in-process transport (one process:
    its CPU is reported as the client's)."""
    from catalog.atlas.connect import EMBEDDED_BASE
    from catalog.embedded.store import EmbeddedStore
    from catalog.embedded.transport import EmbeddedTransport
    from typedefs import load_bundled_typedefs

    store = EmbeddedStore(store_dir, load_bundled_typedefs())
    try:
        client = CountingClient(EMBEDDED_BASE, USER, "", transport=EmbeddedTransport(store, USER))
        catalog = Catalog(client, SCOPE, NAMESPACE)
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        result = catalog.build(repo)
        wall = time.perf_counter() - t0
        client.close()
        return Phase(label, wall, result, client, 0.0, time.process_time() - cpu0)
    finally:
        store.close()


def subset_specs(phase: Phase, models: set[str], per_model: int, n_models: int) -> list[EntitySpec]:
    """The specs phase 1 sent that belong to ``models`` (project, their dbs, tables, builds, train processes)."""
    tables = {t for i in range(n_models) if model_name(i) in models for t in tables_of(i, per_model)}
    dbs = {f"{t.split('.')[0]}@{NAMESPACE}" for t in tables}
    builds = {b.build_crn for b in phase.result.builds if b.model_name in models}
    keep = tables | dbs | builds | {f"{b}:train" for b in builds} | {phase.result.project_crn}
    return [s for s in phase.client.specs if s.qualified_name in keep]


def naive_baseline(store: StoreProcess, specs: list[EntitySpec]) -> tuple[float, int, float]:
    """One POST /entity per entity through the official client, in the order phase 1 wrote them (dependencies
    first). Returns (wall s, requests, server CPU s)."""
    client = AtlasClient(store.url, (USER, store.password))
    srv0 = store.cpu_s()
    t0 = time.perf_counter()
    for s in specs:
        client.entity.create_entity(AtlasEntityWithExtInfo({"entity": AtlasEntity(s.to_atlas())}))
    return time.perf_counter() - t0, len(specs), store.cpu_s() - srv0


# --------------------------------------------------------------------------------------------------------------
# profiling
# --------------------------------------------------------------------------------------------------------------
_FRAME = re.compile(r"^(?P<fn>.*?) \((?P<file>[^:()]*)(?::\d+)?\)$")


def _short(path: str) -> str:
    for marker in ("/site-packages/", "/lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1]
    with contextlib.suppress(ValueError):
        return str(Path(path).resolve().relative_to(REPO))
    return path


def pyspy_hotspots(raw: Path, top: int = 15) -> None:
    """Self and inclusive sample counts per file:function from py-spy's collapsed stacks."""
    own: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        names = []
        for frame in stack.split(";"):
            m = _FRAME.match(frame.strip())
            names.append(f"{_short(m['file'])}:{m['fn']}" if m else frame.strip())
        if names:
            own[names[-1]] += count
        for name in set(names):
            incl[name] += count
    if not total:
        print("    (py-spy recorded no samples)")
        return
    print(f"    {total:,} samples; self time (top {top}):")
    for name, n in own.most_common(top):
        print(f"      {100 * n / total:5.1f}%  {name}")
    print(f"    inclusive, mlcatalog code only (top {top}):")
    ours = [(k, v) for k, v in incl.items() if k.startswith(("catalog/", "typedefs/"))]
    for name, n in sorted(ours, key=lambda kv: -kv[1])[:top]:
        print(f"      {100 * n / total:5.1f}%  {name}")


def cprofile_hotspots(prof: cProfile.Profile, top: int = 18) -> None:
    stats = pstats.Stats(prof)
    rows = []
    for (file, _line, fn), (_cc, nc, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append((tt, ct, nc, f"{_short(file)}:{fn}"))
    total = sum(r[0] for r in rows) or 1.0
    print(f"    self time (top {top}, {total:.2f} s profiled):")
    for tt, _ct, nc, name in sorted(rows, reverse=True)[:top]:
        print(f"      {tt:6.2f} s {100 * tt / total:5.1f}%  {nc:>9,} calls  {name}")
    print(f"    cumulative, mlcatalog code (top {top}):")
    ours = [r for r in rows if r[3].startswith(("catalog/", "typedefs/"))]
    for _tt, ct, nc, name in sorted(ours, key=lambda r: -r[1])[:top]:
        print(f"      {ct:6.2f} s  {nc:>9,} calls  {name}")


def _profiled(label: str, store: StoreProcess, repo: Path, tmp: Path, tag: str) -> None:
    """One Catalog.build under cProfile (client) while py-spy samples the store process."""
    spy_out = tmp / f"py-spy-{tag}.txt"
    spy: subprocess.Popen[bytes] | None = None
    pyspy = shutil.which("py-spy")
    try:
        if pyspy:
            spy = subprocess.Popen([pyspy, "record", "--pid", str(store.pid), "--rate", "250", "--format", "raw",
                                    "--output", str(spy_out), "--nonblocking"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(1.0)  # let it attach
        prof = cProfile.Profile()
        phase = run_phase(label, store, repo, profiler=prof)
        print(f"\n  {label}: wall {phase.wall_s:.2f} s (profiler overhead included), "
              f"{phase.result.written:,} entities written, {phase.client.reads + phase.client.writes} requests")
        print("  client side (cProfile of Catalog.build in this process):")
        cprofile_hotspots(prof)
        print("  server side (py-spy record --rate 250 --nonblocking on the store process):")
        if spy is None:
            print("    py-spy not installed (pip install py-spy): skipped")
            return
        spy.send_signal(signal.SIGINT)
        try:
            _, err = spy.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            spy.kill()
            _, err = spy.communicate()
        if spy_out.is_file():
            pyspy_hotspots(spy_out)
        else:
            print(f"    py-spy wrote nothing: {err.decode(errors='replace').strip()[-400:]}")
    finally:
        if spy is not None and spy.poll() is None:
            spy.kill()
            spy.wait()


def profile_syncs(tmp: Path, repo: Path) -> None:
    """The first sync and the unchanged re-sync again, into a fresh store, profiled."""
    store = StoreProcess(tmp / "store-profile", tmp / "store-profile.log")
    try:
        apply_typedefs(CountingClient(store.url, USER, store.password))
        _profiled("first sync", store, repo, tmp, "first")
        _profiled("re-sync, unchanged", store, repo, tmp, "resync")
    finally:
        store.stop()


# --------------------------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    configure_process()  # what every mlcatalog process (the CLI, `mlcatalog up`) sets at start-up
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=int, default=None, help="models in lineage.yml (default 1000)")
    ap.add_argument("--tables-per-model", type=int, default=5, help="distinct Hive tables per model (default 5)")
    ap.add_argument("--baseline-models", type=int, default=None, help="models written naively (default 100)")
    ap.add_argument("--changed", type=int, default=10, help="models whose metadata changes in phase 3 (default 10)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 100 models, baseline 20")
    ap.add_argument("--profile", action="store_true", help="also profile the first sync (cProfile + py-spy)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (project, stores, logs)")
    a = ap.parse_args(argv)
    n_models = a.models if a.models is not None else (100 if a.quick else 1000)
    per_model = a.tables_per_model
    n_base = min(n_models, a.baseline_models if a.baseline_models is not None else (20 if a.quick else 100))
    n_changed = min(a.changed, n_models)

    print("mlcatalog catalog sync benchmark (Catalog.build -> embedded store over HTTP)")
    print(f"  host: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    tmp = Path(tempfile.mkdtemp(prefix="bench_sync_"))
    stores: list[StoreProcess] = []
    rows: list[tuple[str, str, str, str, str]] = []
    try:
        # ---- 0. the project ------------------------------------------------------------------------------
        repo = tmp / "project"
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main")
        content = lineage_yml(n_models, per_model, {})
        commit(repo, content, "initial lineage")
        print(f"  project: one lineage.yml, {len(content.encode()) / 1024:,.0f} KiB, {n_models:,} models x "
              f"{per_model} distinct tables = {n_models * per_model:,} tables in {DATABASES} databases, "
              f"4 metadata keys per model; declared-only (no HiveServer2 / S3)")

        store = StoreProcess(tmp / "store", tmp / "store.log")
        stores.append(store)
        print(f"  store: pid {store.pid}, ready in {store.startup_s:.1f} s")
        setup = CountingClient(store.url, USER, store.password)
        t0 = time.perf_counter()
        plan = apply_typedefs(setup)
        print(f"  typedefs apply (one-time setup, not in the goal): {time.perf_counter() - t0:.2f} s, "
              f"{setup.reads} reads + {setup.writes} writes, {len(plan.summary())} changes")

        # ---- 1. first sync ---------------------------------------------------------------------------------
        print("\n[1] first sync of every model into the empty store")
        first = run_phase(f"Catalog.build: {n_models:,} models", store, repo)
        first.print()

        # ---- 2. re-sync, unchanged ----------------------------------------------------------------------------
        print("\n[2] re-sync of the unchanged commit (fresh Catalog)")
        again = run_phase("Catalog.build again, same commit", store, repo)
        again.print()

        # ---- 3. a commit changing some models' metadata ----------------------------------------------------------
        print(f"\n[3] new commit: metadata of {n_changed} models changed")
        changed = {i: 2 for i in range(0, n_models, max(1, n_models // max(1, n_changed)))[:n_changed]}
        commit(repo, lineage_yml(n_models, per_model, changed), f"change {n_changed} models")
        all_models = run_phase("Catalog.build(project): every model (a build per model for the new commit)",
                               store, repo)
        all_models.print()
        changed2 = {i: 3 for i in changed}
        commit(repo, lineage_yml(n_models, per_model, {**changed, **changed2}), f"change {n_changed} models again")
        only = run_phase(f"Catalog.build(project, models=<the {n_changed} changed>) on one more commit", store,
                         repo, [model_name(i) for i in changed2])
        only.print()

        # ---- 4. naive baseline ---------------------------------------------------------------------------------
        print(f"\n[4] baseline: naive loop, official apache-atlas client, one POST /entity per entity, "
              f"{n_base} models, fresh store")
        base_store = StoreProcess(tmp / "store-baseline", tmp / "store-baseline.log")
        stores.append(base_store)
        apply_typedefs(CountingClient(base_store.url, USER, base_store.password))
        specs = subset_specs(first, {model_name(i) for i in range(n_base)}, per_model, n_models)
        base_wall, base_req, base_srv = naive_baseline(base_store, specs)
        full_entities = len(first.client.specs)
        scale = full_entities / max(1, len(specs))
        base_full = base_wall * scale
        print(f"  {len(specs):,} entities, {base_req:,} requests: wall {base_wall:.2f} s "
              f"({len(specs) / base_wall:,.0f} ent/s, {1000 * base_wall / base_req:.1f} ms/request), "
              f"server CPU {base_srv:.2f} s")
        print(f"  extrapolated to phase 1's {full_entities:,} entities (x{scale:.2f}): {base_full:.1f} s; "
              f"a naive re-sync writes them all again ({full_entities:,} writes, ~{base_full:.1f} s)")
        base_store.stop()
        stores.remove(base_store)

        # ---- 4b. the same build in-process -------------------------------------------------------------------
        print("\n[4b] in-process: the embedded store opened here, reached through the in-process transport "
              "(atlas+embedded:)")
        inproc = run_inprocess_phase(f"Catalog.build in-process: {n_models:,} models", tmp / "store-inproc", repo)
        inproc.print()
        inproc_again = run_inprocess_phase("Catalog.build in-process again, same commit", tmp / "store-inproc",
                                           repo)
        inproc_again.print()

        # ---- summary ---------------------------------------------------------------------------------------
        def met(ok: bool) -> str:
            return "MET" if ok else "NOT MET"

        rows = [
            (f"first sync, {n_models:,} x {per_model} tables (s)", f"{first.wall_s:.2f}", f"{base_full:.1f}",
             f"{first.wall_s / base_full:.3f}", f"< {GOAL_FIRST_SYNC_S:g} s: {met(first.wall_s < GOAL_FIRST_SYNC_S)}"),
            ("  entities written / requests", f"{first.result.written:,} / {first.client.reads + first.client.writes}",
             f"{full_entities:,} / {full_entities:,}", "-", "-"),
            ("re-sync unchanged: write requests", f"{again.client.writes}", f"{full_entities:,}", "-",
             f"0: {met(again.client.writes == 0)}"),
            ("re-sync unchanged: wall (s)", f"{again.wall_s:.2f}", f"{base_full:.1f}",
             f"{again.wall_s / base_full:.3f}", f"< {GOAL_RESYNC_S:g} s: {met(again.wall_s < GOAL_RESYNC_S)}"),
            (f"new commit, {n_changed} changed, all models (s)", f"{all_models.wall_s:.2f}", "-", "-", "-"),
            ("  entities written", f"{all_models.result.written:,}", "-", "-", "-"),
            (f"new commit, only the {n_changed} changed (s)", f"{only.wall_s:.2f}", "-", "-", "-"),
            ("  entities written", f"{only.result.written:,}", "-", "-", "-"),
            # here "baseline" is the same build over HTTP (phases 1 and 2): the in-process transport's gain
            ("first sync in-process (s) vs over HTTP", f"{inproc.wall_s:.2f}", f"{first.wall_s:.2f}",
             f"{inproc.wall_s / first.wall_s:.3f}", "-"),
            ("re-sync in-process (s) vs over HTTP", f"{inproc_again.wall_s:.2f}", f"{again.wall_s:.2f}",
             f"{inproc_again.wall_s / again.wall_s:.3f}", "-"),
        ]
        print("\nsummary (baseline = naive official-client loop, extrapolated; ratio = ours / baseline)")
        widths = [max(len(r[i]) for r in [("metric", "ours", "baseline", "ratio", "goal"), *rows]) for i in range(5)]
        for r in [("metric", "ours", "baseline", "ratio", "goal"), *rows]:
            print("  " + " | ".join(c.ljust(w) if i == 0 or i == 4 else c.rjust(w)
                                    for i, (c, w) in enumerate(zip(r, widths, strict=True))))

        # ---- 5. profile ------------------------------------------------------------------------------------
        if a.profile:
            print("\n[5] profile: first sync and unchanged re-sync of HEAD (same size as phase 1), fresh store")
            profile_syncs(tmp, repo)
    finally:
        for s in stores:
            s.stop()
        if a.keep:
            print(f"\nkept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
