#!/usr/bin/env python
"""Benchmark of the pages as a person sees them: time to a drawn page in headless Chromium (Debian's
/usr/bin/chromium via Playwright), for the lineage page of a deployment in a 100k-entity catalog and for a
deployment's dashboard over 1M predictions, each beside a baseline run on the same server.

    python benchmarks/bench_pages.py [--runs 5] [--predictions 1000000] [--entities 100000] [--skip-lineage]
                                     [--skip-dashboard] [--rebuild]

Goal (issue 13): each page drawn in under 1 s. It prints figures and ratios and never asserts.

Measured per page: Chromium is already running with the page's key in sessionStorage (a person who signed in);
the figure is from navigation start to the moment the page marks its content drawn (``main[aria-busy=false]``,
set after the last chart or the lineage graph is in the DOM), read as ``performance.now()`` in the page, median of
--runs loads after one warm-up load. A load includes the HTML, our scripts and styles, every API call the page makes
and drawing.

Baselines, side by side:
* lineage: the raw Atlas lineage answer ``GET /api/atlas/v2/lineage/{guid}?direction=BOTH&depth=3`` for the same
  deployment opened in the same Chromium (shown as text, timed to its load event): what the page costs over
  showing Atlas's data unprocessed. The API calls alone (ours and the raw one) are timed from Python too;
* dashboard: what the charts replace, a CML user's ``read_metrics`` of the same range
  (``GET /api/v1/metrics?model_deployment_crn=...``: every prediction record as JSON).

Stores (built once, cached under ~/.cache/mlcatalog-bench/, --rebuild builds them again):
* lineage: benchmarks/bench_lineage.py's 100k-entity store;
* dashboard: ``mlcatalog up --demo --once`` (a real 2-replica deployment with a monitor), then --predictions wine
  predictions spread over 6 hours (half with delayed ground truth) written to its metrics store, as many requests
  in the gateway's traffic rollups over the same hours, and the monitor replaced by one every 30 minutes whose
  twelve windows over those hours are computed through the API. The page is opened on that 6-hour range.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from procs import free_port

CACHE = Path.home() / ".cache" / "mlcatalog-bench"
KEY = "bench-pages-admin-key-0123456789"
ATLAS_PASSWORD = "bench-pages-password"
HOUR_MS = 3_600_000
SPAN_MS = 6 * HOUR_MS
T0 = 1_790_000_000_000 - 1_790_000_000_000 % HOUR_MS  # a fixed range, so a cached store keeps its meaning
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("MLCATALOG_")}
    out.update({"MLCATALOG_ADMIN_KEY": KEY, "MLCATALOG_ATLAS_PASSWORD": ATLAS_PASSWORD})
    return out


@contextmanager
def serving(store: Path) -> Iterator[str]:
    """``mlcatalog up`` on ``store`` in its own process, as users run it; its base URL."""
    port = free_port()
    log = (store.parent / f"{store.name}-server.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "mlcatalog", "up", "--store", str(store), "--port", str(port)],
                            env=env(), stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/api/v1/projects", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mlcatalog up did not start; see {log.name}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


# -- the dashboard's store -----------------------------------------------------------------------------------


def dashboard_store(predictions: int, rebuild: bool) -> tuple[Path, str]:
    directory = CACHE / f"pages-dashboard-{predictions}-v1"
    marker = directory / "crn"
    if rebuild and directory.exists():
        shutil.rmtree(directory)
    if not marker.is_file():
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
        crn = _build_dashboard_store(directory / "store", predictions)
        marker.write_text(crn)
    return directory / "store", marker.read_text()


def _build_dashboard_store(store: Path, predictions: int) -> str:
    print(f"building the dashboard's store in {store} (demo, then {predictions:,} predictions)", flush=True)
    r = subprocess.run([sys.executable, "-m", "mlcatalog", "up", "--store", str(store), "--port", str(free_port()),
                        "--demo", "--once"], env=env(), capture_output=True, text=True, timeout=900)
    if r.returncode:
        raise RuntimeError(f"the demo failed: {r.stdout[-2000:]}{r.stderr[-2000:]}")
    with serving(store) as url, httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"},
                                             timeout=600) as http:
        [d] = [d for d in http.get("/api/v1/serving/deployments").json() if d["name"] == "wine-demo"]
        crn, build, model = d["crn"], d["build_crn"], d["model_crn"]
    _load_predictions(store, crn, build, model, predictions)
    with serving(store) as url, httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"},
                                             timeout=600) as http:
        _recompute_windows(http, crn, store)
    return str(crn)


def _load_predictions(store: Path, crn: str, build: str, model: str, n: int) -> None:
    from serving.examples.wine.data import FEATURES, generate
    from serving.metrics import MetricRecord, open_metrics_store, sqlite_url
    from serving.platform.state import StateDb
    from serving.platform.traffic import TrafficRecorder

    metrics = open_metrics_store(sqlite_url(store / "metrics.db"))
    state = StateDb(store / "platform.db")
    traffic = TrafficRecorder(state)
    rng = np.random.default_rng(7)
    chunk = 50_000
    try:
        for first in range(0, n, chunk):
            rows = generate(min(chunk, n - first), 1000 + first // chunk)
            records = []
            for k, (x, label) in enumerate(rows):
                t = T0 + ((first + k) * SPAN_MS) // n
                latency_ms = float(rng.lognormal(1.2, 0.5))
                m: dict[str, Any] = dict(zip(FEATURES, x, strict=True))
                m["prediction"] = label if rng.random() < 0.8 else ("Poor" if label == "Excellent" else "Excellent")
                if k % 2 == 0:
                    m["actual_result"] = label
                records.append(MetricRecord(model_deployment_crn=crn, model_build_crn=build, model_crn=model,
                                            prediction_uuid=str(uuid.uuid4()), start_ms=t,
                                            end_ms=t + int(latency_ms), metrics=m))
                traffic.record(crn, "model_error" if rng.random() < 0.002 else None, latency_ms / 1000, at_ms=t)
            metrics.write_predictions(records)
            traffic.flush()
            print(f"  {first + len(rows):>9,} / {n:,} predictions", flush=True)
    finally:
        metrics.close()
        state.close()


def _recompute_windows(http: httpx.Client, crn: str, store: Path) -> None:
    training = store / "demo" / "training.csv"
    http.delete(f"/api/v1/serving/monitors/{crn}").raise_for_status()
    r = http.post("/api/v1/serving/monitors", json={
        "deployment_crn": crn, "every_ms": 30 * 60_000,
        "reference": {"file": str(training), "column_map": {"prediction": "quality"}}})
    r.raise_for_status()
    for k in range(SPAN_MS // (30 * 60_000)):
        start = T0 + k * 30 * 60_000
        began = time.perf_counter()
        r = http.post(f"/api/v1/serving/monitors/{crn}/run", json={"start_ms": start, "end_ms": start + 30 * 60_000})
        r.raise_for_status()
        print(f"  window {k + 1:>2}: {r.json()[0]['predictions']:,} predictions in "
              f"{time.perf_counter() - began:.2f} s", flush=True)


# -- timing ----------------------------------------------------------------------------------------------------


def page_times(url: str, path: str, runs: int, *, raw: tuple[str, str] | None = None) -> list[float]:
    """Milliseconds from navigation start to the page marking its content drawn, per load (after a warm-up).
    ``raw``: Basic credentials, and the path is an API answer Chromium shows as text (timed to its load event)."""
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000}, http_credentials=(
                {"username": raw[0], "password": raw[1]} if raw else None))
            context.add_init_script(f"sessionStorage.setItem('mlcatalog.key', {KEY!r})")
            page = context.new_page()
            for i in range(runs + 1):
                page.goto(url + path, wait_until="load")
                if raw is None:
                    page.wait_for_selector("main[aria-busy=false]", timeout=60_000)
                    if page.locator(".error").count():
                        raise RuntimeError(f"{path}: {page.locator('.error').first.inner_text()}")
                drawn = float(page.evaluate("performance.now()"))
                if i:
                    times.append(drawn)
        finally:
            browser.close()
    return times


def api_times(url: str, path: str, runs: int, *, auth: Any = None, headers: dict[str, str] | None = None
              ) -> tuple[list[float], int]:
    out = []
    size = 0
    with httpx.Client(base_url=url, auth=auth, headers=headers, timeout=600) as http:
        for i in range(runs + 1):
            began = time.perf_counter()
            r = http.get(path)
            r.raise_for_status()
            size = len(r.content)
            if i:
                out.append((time.perf_counter() - began) * 1000)
    return out, size


def line(label: str, ms: list[float], extra: str = "") -> None:
    print(f"  {label:<58} median {statistics.median(ms):8.1f} ms  (min {min(ms):.1f}, max {max(ms):.1f}){extra}",
          flush=True)


def bench_lineage(args: argparse.Namespace) -> tuple[float, float] | None:
    from bench_lineage import lineage_bench_store

    from mlcatalog.settings import ATLAS_USER

    work = CACHE / "pages-lineage"
    if work.exists():
        shutil.rmtree(work)
    store, crn = lineage_bench_store(work / "store", args.entities)
    print(f"\nlineage page, a deployment in a {args.entities:,}-entity catalog ({crn})", flush=True)
    with serving(store) as url:
        dep = httpx.get(f"{url}/api/v1/deployments/{crn}").json()
        page = page_times(url, f"/lineage?crn={crn}", args.runs)
        raw_path = f"/api/atlas/v2/lineage/{dep['guid']}?direction=BOTH&depth=3"
        shown = page_times(url, raw_path, args.runs, raw=(ATLAS_USER, ATLAS_PASSWORD))
        raw, size = api_times(url, raw_path, args.runs, auth=(ATLAS_USER, ATLAS_PASSWORD))
        ours, osize = api_times(url, f"/api/v1/lineage?crn={crn}&depth=3", args.runs)
    line("page drawn (Chromium)", page)
    line("baseline: the raw Atlas lineage JSON opened in Chromium", shown)
    line("its API call GET /api/v1/lineage (Python client)", ours, f"  {osize:,} B")
    line("the raw Atlas lineage call (Python client)", raw, f"  {size:,} B")
    shutil.rmtree(work, ignore_errors=True)
    return statistics.median(page), statistics.median(shown)


def bench_dashboard(args: argparse.Namespace) -> tuple[float, float] | None:
    store, crn = dashboard_store(args.predictions, args.rebuild)
    print(f"\ndashboard over {args.predictions:,} predictions in 6 hours ({crn})", flush=True)
    with serving(store) as url:
        page = page_times(url, f"/dashboard?crn={crn}&from={T0}&to={T0 + SPAN_MS}&refresh=off", args.runs)
        raw, size = api_times(url, f"/api/v1/metrics?model_deployment_crn={crn}&start_timestamp_ms={T0}"
                              f"&end_timestamp_ms={T0 + SPAN_MS}", max(1, args.runs // 2),
                              headers={"Authorization": f"Bearer {KEY}"})
    line("page drawn (Chromium)", page)
    line("baseline: read_metrics of the range (GET /api/v1/metrics)", raw, f"  {size / 1e6:,.0f} MB")
    return statistics.median(page), statistics.median(raw)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--predictions", type=int, default=1_000_000)
    p.add_argument("--entities", type=int, default=100_000)
    p.add_argument("--skip-lineage", action="store_true")
    p.add_argument("--skip-dashboard", action="store_true")
    p.add_argument("--rebuild", action="store_true")
    args = p.parse_args()
    if not Path(CHROMIUM).is_file():
        sys.exit(f"{CHROMIUM} is missing: apt-get install chromium")
    results = {}
    if not args.skip_lineage:
        results["lineage page"] = bench_lineage(args)
    if not args.skip_dashboard:
        results["dashboard"] = bench_dashboard(args)
    print(f"\n{'page':<16}{'drawn':>12}{'baseline':>12}{'ratio':>9}   goal < 1000 ms   (load {os.getloadavg()[0]:.2f})")
    for name, r in results.items():
        if r is not None:
            page_ms, base_ms = r
            print(f"{name:<16}{page_ms:>10.0f} ms{base_ms:>10.0f} ms{page_ms / base_ms:>8.2f}x   "
                  f"{'met' if page_ms < 1000 else 'MISSED'}")


if __name__ == "__main__":
    main()
