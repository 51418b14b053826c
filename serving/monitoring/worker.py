"""Where a window is computed: in this process (tests, benchmarks, ``monitor run`` offline) or in a worker process.

``mlcatalog up`` computes in a spawned, lower-priority worker process: a window of a million predictions takes
seconds of CPU and hundreds of MB, and none of it may run on the gateway's event loop or compete with it for the
GIL. The worker only reads (its own metrics store connection) and returns the small result; the parent writes it.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Protocol

from serving.metrics import MetricsStore, open_metrics_store
from serving.monitoring.config import MonitorConfig
from serving.monitoring.evaluate import WindowResult, evaluate, read_for
from serving.monitoring.reference import ReferenceSummary


class Computer(Protocol):
    def compute(self, crn: str, config: MonitorConfig, reference: ReferenceSummary, start_ms: int,
                end_ms: int) -> WindowResult: ...

    def close(self) -> None: ...


def compute_window(store: MetricsStore, crn: str, config: MonitorConfig, reference: ReferenceSummary,
                   start_ms: int, end_ms: int) -> WindowResult:
    data = read_for(store, crn, config, reference, start_ms, end_ms)
    return evaluate(crn, config, reference, data, start_ms, end_ms)


class InProcessComputer:
    def __init__(self, store: MetricsStore) -> None:
        self._store = store

    def compute(self, crn: str, config: MonitorConfig, reference: ReferenceSummary, start_ms: int,
                end_ms: int) -> WindowResult:
        return compute_window(self._store, crn, config, reference, start_ms, end_ms)

    def close(self) -> None:
        pass


_worker_store: MetricsStore | None = None


def _init_worker(metrics_url: str, niceness: int) -> None:
    global _worker_store
    if niceness:
        os.nice(niceness)
    _worker_store = open_metrics_store(metrics_url)


def _compute_in_worker(crn: str, config_json: str, reference_json: str, start_ms: int, end_ms: int) -> str:
    assert _worker_store is not None, "worker not initialised"
    result = compute_window(_worker_store, crn, MonitorConfig.model_validate_json(config_json),
                            ReferenceSummary.model_validate_json(reference_json), start_ms, end_ms)
    return result.model_dump_json()


class ProcessComputer:
    """One worker process (spawned on first use, kept), reading the metrics store at ``metrics_url``."""

    def __init__(self, metrics_url: str, *, niceness: int = 10) -> None:
        self._url = metrics_url
        self._niceness = niceness
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn, not fork: the parent runs an event loop and threads that a forked child would copy mid-flight
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_init_worker, initargs=(self._url, self._niceness))
        return self._pool

    def compute(self, crn: str, config: MonitorConfig, reference: ReferenceSummary, start_ms: int,
                end_ms: int) -> WindowResult:
        args = (crn, config.model_dump_json(), reference.model_dump_json(), start_ms, end_ms)
        try:
            text = self._executor().submit(_compute_in_worker, *args).result()
        except BrokenProcessPool:
            # the worker died (killed, out of memory): a new one for the next window, this one fails
            self.close()
            raise RuntimeError("the monitoring worker process died while computing the window") from None
        return WindowResult.model_validate_json(text)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
