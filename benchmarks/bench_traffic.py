#!/usr/bin/env python
"""Benchmark of the per-deployment traffic series (serving/platform/traffic.py) against numpy.percentile.

    python benchmarks/bench_traffic.py [--days 7] [--per-bucket 20] [--repeat 15] [--quick] [--keep]

Goal (issue 13's dashboard, "fast"): a week of 10-second buckets of one deployment (60,480 rows) answered in well
under 1 s. It prints figures and never asserts.

Phases:
  1. data (not timed): --days of traffic for two deployments, --per-bucket requests in every 10 s bucket, latencies
     log-normal around a median that follows the time of day (8-40 ms), 2 % errors of which a third are slow
     (busy/timeout-like, 0.5-30 s).
  2. recording: every request through TrafficRecorder.record() (ns per call, next to the gateway's Prometheus
     count+observe of the same request, the request path's existing cost), and flush() once per simulated hour
     into the platform state (a StateDb, synchronous=FULL like the platform).
  3. queries, on a StateDb reopened as a fresh process would: series(...).model_dump_json() for the week at the
     default step (1 h, 168 points), at 10 min (1,008), at 70 s (8,640) and the last hour at 10 s (360): the first
     call and the median of --repeat more.
  4. baseline: the same points from the raw latencies held in memory as numpy arrays (time-sorted): per step,
     np.percentile(latencies, [50, 95, 99]) plus counts; median of --repeat runs. ratio = ours / baseline.
  5. accuracy: our p50/p95/p99 against the baseline's, per point (the documented worst case is 15 %).
Everything is written under one tempfile.mkdtemp() directory, removed unless --keep.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from procs import load_average, phase, print_summary  # noqa: E402

from serving.platform.gateway import GatewayMetrics  # noqa: E402
from serving.platform.state import StateDb  # noqa: E402
from serving.platform.traffic import BUCKET_MS, MAX_RELATIVE_ERROR, TrafficRecorder, TrafficSeries  # noqa: E402

GOAL_WEEK_MS = 1000.0
T_BASE = 1_767_225_600_000  # 2026-01-01T00:00Z
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
CRN = "crn:cdp:ml:us-west-1:acct:workspace:ws/11111111-2222-4333-8444-555555555555"
NEIGHBOUR = "crn:cdp:ml:us-west-1:acct:workspace:ws/99999999-2222-4333-8444-555555555555"


@dataclass
class Traffic:
    at_ms: np.ndarray[Any, Any]  # int64, sorted
    seconds: np.ndarray[Any, Any]
    error: np.ndarray[Any, Any]  # bool


def make_traffic(days: int, per_bucket: int, seed: int) -> Traffic:
    rng = np.random.default_rng(seed)
    buckets = days * DAY_MS // BUCKET_MS
    at = T_BASE + np.repeat(np.arange(buckets, dtype=np.int64) * BUCKET_MS, per_bucket)
    at += rng.integers(0, BUCKET_MS, len(at))
    at.sort()
    hour = (at - T_BASE) % DAY_MS / HOUR_MS
    median = 0.008 + 0.032 * (0.5 - 0.5 * np.cos(2 * np.pi * hour / 24))
    seconds = rng.lognormal(np.log(median), 0.6)
    error = rng.random(len(at)) < 0.02
    slow = error & (rng.random(len(at)) < 1 / 3)
    seconds[slow] = rng.uniform(0.5, 30.0, int(slow.sum()))
    return Traffic(at, seconds, error)


def record_all(rec: TrafficRecorder, crn: str, t: Traffic) -> tuple[float, float, int]:
    """(seconds in record(), seconds in flush(), flushes): one flush per simulated hour, as the thread would have
    written by then."""
    at, seconds, error = t.at_ms.tolist(), t.seconds.tolist(), t.error.tolist()
    hour_ends = np.searchsorted(t.at_ms, np.arange(T_BASE + HOUR_MS, int(t.at_ms[-1]) + HOUR_MS + 1, HOUR_MS))
    in_record = in_flush = 0.0
    flushes, i = 0, 0
    for end in hour_ends.tolist():
        started = time.perf_counter()
        for j in range(i, end):
            rec.record(crn, "timeout" if error[j] else None, seconds[j], at_ms=at[j])
        in_record += time.perf_counter() - started
        started = time.perf_counter()
        rec.flush()
        in_flush += time.perf_counter() - started
        flushes += 1
        i = end
    return in_record, in_flush, flushes


def prometheus_cost(t: Traffic, n: int) -> float:
    """Seconds per request of the gateway's existing per-request accounting (count + observe)."""
    gm = GatewayMetrics()
    seconds = t.seconds[:n].tolist()
    started = time.perf_counter()
    for s in seconds:
        gm.count(CRN, "200")
        gm.observe(CRN, s)
    return (time.perf_counter() - started) / n


@dataclass
class Query:
    label: str
    start_ms: int
    end_ms: int
    step_ms: int | None


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """(first call ms, median of ``repeat`` more ms, the first call's value)."""
    started = time.perf_counter()
    value = fn()
    first = (time.perf_counter() - started) * 1000
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - started) * 1000)
    return first, statistics.median(runs), value


def as_json(series: Callable[[], TrafficSeries]) -> str:
    """What the API sends: the series as JSON."""
    return series().model_dump_json()


Points = list[tuple[int, int, int, np.ndarray[Any, Any]]]


def baseline_points(t: Traffic, start_ms: int, end_ms: int, step_ms: int) -> Points:
    """(t_ms, requests, errors, [p50, p95, p99] ms) per step with requests, from the raw latencies."""
    first = start_ms - start_ms % step_ms
    stop = -(-end_ms // step_ms) * step_ms
    edges = np.arange(first, stop + 1, step_ms)
    cuts = np.searchsorted(t.at_ms, edges)
    out = []
    for k in range(len(edges) - 1):
        lo, hi = int(cuts[k]), int(cuts[k + 1])
        if hi > lo:
            out.append((int(edges[k]), hi - lo, int(t.error[lo:hi].sum()),
                        np.percentile(t.seconds[lo:hi], [50, 95, 99]) * 1000))
    return out


def accuracy(ours: TrafficSeries, theirs: Points) -> tuple[float, float]:
    """(worst, mean) relative error of our p50/p95/p99; the counts must be equal."""
    assert [(p.t_ms, p.requests, p.errors) for p in ours.points] == [(t, n, e) for t, n, e, _ in theirs], \
        "the series' counts differ from the raw data's"
    got = np.array([[p.p50_ms, p.p95_ms, p.p99_ms] for p in ours.points])
    true = np.array([q for _, _, _, q in theirs])
    err = np.abs(got - true) / true
    return float(err.max()), float(err.mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--per-bucket", type=int, default=20, help="requests per 10 s bucket and deployment")
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--quick", action="store_true", help="smoke run: 1 day, 5 requests per bucket")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    if args.quick:
        args.days, args.per_bucket, args.repeat = 1, 5, 5
    began = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="bench-traffic-"))
    print(f"bench_traffic: {platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"SQLite {sqlite3.sqlite_version}, numpy {np.__version__}; load average {load_average()}")
    print(f"workdir {workdir} ({'kept' if args.keep else 'removed at the end'}); {args.days} days x "
          f"{args.per_bucket} requests per 10 s bucket, 2 deployments")
    rows: list[tuple[str, str, str, str, str, str]] = []
    try:
        with phase("1. data"):
            mine, neighbour = make_traffic(args.days, args.per_bucket, 1), make_traffic(args.days, args.per_bucket, 2)
            print(f"  {len(mine.at_ms):,} requests per deployment, {int(mine.error.sum()):,} errors")

        with phase("2. recording and flushing"):
            state = StateDb(workdir / "platform.db")
            rec = TrafficRecorder(state)
            in_record, in_flush, flushes = record_all(rec, CRN, mine)
            record_all(rec, NEIGHBOUR, neighbour)
            state.close()
            n = len(mine.at_ms)
            prom = prometheus_cost(mine, min(n, 200_000))
            size = sum(p.stat().st_size for p in workdir.glob("platform.db*"))
            stored = args.days * DAY_MS // BUCKET_MS
            print(f"  record(): {in_record / n * 1e9:,.0f} ns per request (Prometheus count+observe: "
                  f"{prom * 1e9:,.0f} ns)")
            print(f"  flush(): {flushes} flushes of {stored // flushes} rows, {in_flush / flushes * 1000:.1f} ms each "
                  f"({in_flush / stored * 1e6:.0f} us per row)")
            print(f"  platform.db: {size / 2**20:.1f} MiB for {2 * stored:,} rows ({size / (2 * stored):.0f} B/row)")
            rows.append(("record() per request", f"{in_record / n * 1e9:,.0f} ns", f"{prom * 1e9:,.0f} ns",
                         f"{in_record / n / prom:.2f}x", "(info: baseline = Prometheus count+observe)", "-"))

        end = T_BASE + args.days * DAY_MS
        queries = [Query(f"{args.days} d, default step", T_BASE, end, None),
                   Query(f"{args.days} d, 10 min", T_BASE, end, 600_000),
                   Query(f"{args.days} d, 70 s", T_BASE, end, 70_000),
                   Query("last 1 h, 10 s", end - HOUR_MS, end, 10_000)]
        with phase("3-5. queries (reopened state) against numpy.percentile on the raw latencies"):
            state = StateDb(workdir / "platform.db")
            rec = TrafficRecorder(state, clock=lambda: end / 1000)
            for q in queries:
                ours = partial(rec.series, CRN, q.start_ms, q.end_ms, q.step_ms)
                first, warm, series = timed(ours, args.repeat)
                json_first, json_warm, body = timed(partial(as_json, ours), args.repeat)
                _, base, theirs = timed(partial(baseline_points, mine, q.start_ms, q.end_ms, series.step_ms),
                                        args.repeat)
                worst, mean = accuracy(series, theirs)
                buckets = (q.end_ms - q.start_ms) // BUCKET_MS
                print(f"  {q.label:<20} step {series.step_ms // 1000:>5} s, {len(series.points):>5} points from "
                      f"{buckets:,} buckets: first {first:6.1f} ms, warm {warm:6.1f} ms (+JSON {json_warm:6.1f} ms, "
                      f"{len(body) / 1024:,.0f} KiB); numpy.percentile {base:6.1f} ms; p50/95/99 error worst "
                      f"{worst:.1%}, mean {mean:.2%}", flush=True)
                is_week = q.step_ms is None
                rows.append((f"series {q.label} ({buckets:,} rows), warm + JSON", f"{json_warm:.1f} ms",
                             f"{base:.1f} ms", f"{json_warm / base:.2f}x",
                             f"< {GOAL_WEEK_MS:.0f} ms" if is_week else "(info)",
                             ("MET" if json_first < GOAL_WEEK_MS and json_warm < GOAL_WEEK_MS else "NOT MET")
                             if is_week else "-"))
                if is_week:
                    rows.append((f"series {q.label}, first call (reopened)", f"{first:.1f} ms", "-", "-",
                                 f"< {GOAL_WEEK_MS:.0f} ms", "MET" if first < GOAL_WEEK_MS else "NOT MET"))
                rows.append((f"p50/p95/p99 worst relative error, {q.label}", f"{worst:.1%}", "0 (exact)", "-",
                             f"<= {MAX_RELATIVE_ERROR:.0%}", "MET" if worst <= MAX_RELATIVE_ERROR else "NOT MET"))
            state.close()
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    headers = ("metric", "ours", "baseline (numpy.percentile, in memory)", "ratio", "goal", "MET/NOT MET")
    print_summary(headers, rows)
    print(f"\ntotal {time.perf_counter() - began:.0f} s; load average at the end {load_average()} (2 cores shared with "
          "anything else running: figures are noisy when it is above ~1)")


if __name__ == "__main__":
    main()
