"""Monitors of deployments: add (summarising the reference once), list, remove, run a window, catch up.

Results of a window go to three places: the metrics store (one aggregate record over exactly the window, what
``cdsw.read_metrics`` returns), the platform's state (the monitor's current status, for the API, ``mlcatalog
deployments`` and Prometheus) and, when the status or the drifted columns change, the catalog (through the
outbox, so an Atlas outage delays the ``DRIFTING`` classification but never loses it). A change of status is
also POSTed to the monitor's webhook, if it has one.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl, ValidationError

from catalog import Conflict, DatasetRef, DriftRecord, InvalidInput, NotFound, no_control
from serving.metrics import MetricsStore
from serving.monitoring import alerts
from serving.monitoring.config import MonitorConfig, NumericTest, Thresholds, format_duration
from serving.monitoring.evaluate import MONITOR_KIND, WindowResult
from serving.monitoring.ledger import Ledger, MonitorRow, due_windows
from serving.monitoring.reference import ReferenceError, ReferenceSource
from serving.monitoring.sources import ReferenceRequest, TableSampler, build_reference, tracked_metrics
from serving.monitoring.worker import Computer

log = logging.getLogger(__name__)
LAG_MS = 2000  # a window is computed this long after it ends: predictions in flight at its end get written
#: A metric's name, as the metrics API accepts one (the keys are matched against tracked metrics).
MetricKey = Annotated[str, Field(min_length=1, max_length=256), AfterValidator(no_control)]


class MonitorAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt optional field would silently become its default

    deployment_crn: str = Field(min_length=1)
    every_ms: int
    window_ms: int | None = Field(default=None, description="default: every_ms (back-to-back windows)")
    reference: ReferenceRequest = Field(default_factory=ReferenceRequest)
    numeric_test: NumericTest = "auto"
    thresholds: Thresholds = Field(default_factory=Thresholds)
    # bounded here, not in MonitorConfig, so that monitors already stored still load
    min_n: int = Field(default=30, ge=1, le=1_000_000_000)
    prediction_key: MetricKey = "prediction"
    actual_key: MetricKey = "actual_result"
    min_accuracy: float | None = None
    webhook_url: HttpUrl | None = None
    max_catch_up: int = 48

    def config(self) -> MonitorConfig:
        try:
            return MonitorConfig(every_ms=self.every_ms, window_ms=self.window_ms or self.every_ms,
                                 numeric_test=self.numeric_test, thresholds=self.thresholds, min_n=self.min_n,
                                 prediction_key=self.prediction_key, actual_key=self.actual_key,
                                 min_accuracy=self.min_accuracy, webhook_url=self.webhook_url,
                                 max_catch_up=self.max_catch_up)
        except ValidationError as e:
            raise InvalidInput("; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())
                               ) from None


class ReferenceInfo(BaseModel):
    source: ReferenceSource
    description: str
    numeric: dict[str, str] = Field(description="metric -> reference column")
    categorical: dict[str, str]
    rows: dict[str, int | None] = Field(description="metric -> values in the reference")


class MonitorInfo(BaseModel):
    deployment_crn: str
    status: str
    stopped_reason: str | None
    every: str
    window: str
    created_ms: int
    last_window_end_ms: int | None
    next_window_end_ms: int | None
    drift_status: str | None
    drift_columns: list[str]
    config: MonitorConfig
    reference: ReferenceInfo
    last_result: dict[str, Any] | None


class DeploymentFacts(BaseModel):
    status: str
    build_crn: str
    model_crn: str


TURN_WAIT_S = 300.0  # an asked-for window waits this long for the deployment's window being computed


class MonitorService:
    def __init__(self, ledger: Ledger, store: MetricsStore, computer: Computer, *,
                 deployment: Callable[[str], DeploymentFacts | None],
                 lineage: Callable[[str], list[DatasetRef]], sampler: TableSampler | None = None,
                 wake_outbox: Callable[[], None] = lambda: None, webhook_secret: str | None = None,
                 lag_ms: int = LAG_MS) -> None:
        self.ledger = ledger
        self.store = store
        self.computer = computer
        self._deployment = deployment
        self._lineage = lineage
        self._sampler = sampler
        self._wake_outbox = wake_outbox
        self._secret = webhook_secret
        self.lag_ms = lag_ms
        #: called with (crn, every_ms) when a monitor starts and (crn, None) when it ends (the scheduler's jobs)
        self.on_schedule: Callable[[str, int | None], None] = lambda crn, every: None

    # -- managing monitors ------------------------------------------------------------------------------
    def add(self, req: MonitorAdd) -> MonitorInfo:
        config = req.config()
        crn = req.deployment_crn
        d = self._deployment(crn)
        if d is None:
            raise NotFound(f"no deployment {crn}")
        if d.status == "stopped":
            raise InvalidInput(f"deployment {crn} is stopped")
        existing = self.ledger.get(crn)
        if existing is not None and existing.status == "active":
            raise Conflict(f"deployment {crn} already has a monitor (remove it first: mlcatalog monitor remove)")
        try:
            reference = build_reference(req.reference, crn=crn, config=config, store=self.store,
                                        lineage=lambda: self._lineage(d.build_crn), sampler=self._sampler)
        except ReferenceError as e:
            raise InvalidInput(str(e)) from None
        reference = reference.model_copy(update={"created_ms": int(time.time() * 1000)})
        if not self.ledger.insert(crn, config, reference):
            raise Conflict(f"deployment {crn} already has a monitor")
        self.on_schedule(crn, config.every_ms)
        return self.get(crn)

    def follow(self, previous: list[str], crn: str) -> bool:
        """A new build of a model takes (a share of) its traffic: it is monitored like the build it joins (the
        first of ``previous`` with an active monitor: same configuration, same reference), so its drift and
        accuracy compare with the live build's over the same windows. True when a monitor was added."""
        if (existing := self.ledger.get(crn)) is not None and existing.status == "active":
            return False
        for old in previous:
            m = self.ledger.get(old)
            if m is not None and m.status == "active" and self.ledger.insert(crn, m.config, m.reference):
                self.on_schedule(crn, m.config.every_ms)
                return True
        return False

    def get(self, crn: str) -> MonitorInfo:
        m = self.ledger.get(crn)
        if m is None:
            raise NotFound(f"deployment {crn} has no monitor")
        return self._info(m)

    def monitors(self) -> list[MonitorInfo]:
        return [self._info(m) for m in self.ledger.all()]

    def remove(self, crn: str) -> MonitorInfo:
        info = self.get(crn)
        self.ledger.delete(crn)
        self.on_schedule(crn, None)
        return info

    def active(self) -> list[MonitorRow]:
        return self.ledger.all(active_only=True)

    # -- computing windows ------------------------------------------------------------------------------
    def catch_up(self, crn: str, now_ms: int | None = None) -> list[WindowResult]:
        """Compute every scheduled window of ``crn`` that has ended and is not done (at most max_catch_up)."""
        m = self.ledger.get(crn)
        if m is None or m.status != "active":
            return []
        if self._stopped(m):
            return []
        now = int(time.time() * 1000) if now_ms is None else now_ms
        windows, skipped = due_windows(m.config, m.created_ms, m.last_end_ms, now, self.lag_ms)
        if skipped:
            log.warning("monitor of %s: %d missed windows are beyond the catch-up bound (%d) and are skipped",
                        crn, skipped, m.config.max_catch_up)
            self.ledger.skip_to(crn, windows[0][1] - m.config.every_ms)
        out = []
        for start, end in windows:
            result = self._window(m, start, end, scheduled=True)
            if result is not None:
                out.append(result)
        return out

    def run(self, crn: str, window: tuple[int, int] | None = None) -> list[WindowResult]:
        """``monitor run``: the given window, or else the scheduled windows due now (catch-up) and, when none is
        due, the window that ends now."""
        m = self.ledger.get(crn)
        if m is None:
            raise NotFound(f"deployment {crn} has no monitor")
        if window is not None:
            result = self._window(m, window[0], window[1], scheduled=False)
            if result is None:
                raise Conflict(f"window {window[0]}..{window[1]} of {crn} is being computed or already done")
            return [result]
        results = self.catch_up(crn) if m.status == "active" else []
        if not results:
            end = int(time.time() * 1000)
            result = self._window(m, end - m.config.window_ms, end, scheduled=False)
            results = [result] if result is not None else []
        return results

    def _stopped(self, m: MonitorRow) -> bool:
        status = self.ledger.deployment_status(m.deployment_crn)
        if status in (None, "stopped"):
            self.ledger.stop(m.deployment_crn, "deployment stopped" if status else "deployment removed")
            self.on_schedule(m.deployment_crn, None)
            return True
        return False

    def _window(self, m: MonitorRow, start: int, end: int, *, scheduled: bool) -> WindowResult | None:
        """Compute one window unless it is done; a deployment's windows are computed one at a time (across
        instances): a scheduled run leaves a deployment whose windows another runner is computing to it (the next
        tick catches up), an asked-for run waits its turn (up to :data:`TURN_WAIT_S`)."""
        deadline = time.monotonic() + (0.0 if scheduled else TURN_WAIT_S)
        while True:
            with self.ledger.hold(m.deployment_crn) as held:
                # held: a "running" row is a dead runner's (a live one would hold the lock), reclaimed at once
                if held:
                    if not self.ledger.claim(m.deployment_crn, start, end, stale_after_ms=0):
                        return None
                    return self._compute(m, start, end, scheduled=scheduled)
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)

    def _compute(self, m: MonitorRow, start: int, end: int, *, scheduled: bool) -> WindowResult:
        crn = m.deployment_crn
        m = self._named(m)
        try:
            result = self.computer.compute(crn, m.config, m.reference, start, end)
            if not self._already_written(crn, start, end):
                d = self._deployment(crn)
                self.store.write_aggregate(crn, start, end, result.metrics(),
                                           model_build_crn=d.build_crn if d else None,
                                           model_crn=d.model_crn if d else None)
        except Exception as e:
            self.ledger.fail(crn, start, end, f"{type(e).__name__}: {e}")
            raise
        previous = self.ledger.get(crn)
        self.ledger.finish(crn, start, end, summary(result), scheduled=scheduled, status=result.status,
                           columns=result.drifted_columns)
        current = self.ledger.get(crn)
        if current is not None and current.last_result is not None and current.last_result.get("end_ms") == end:
            self._publish(current, result, previous.drift_status if previous else None)
        return result

    def _named(self, m: MonitorRow) -> MonitorRow:
        """A provisional reference takes the metric names of the deployment's first predictions."""
        if not m.reference.provisional:
            return m
        tracked = tracked_metrics(self.store, m.deployment_crn)
        if tracked is None:
            return m
        reference = m.reference.rekeyed(list(tracked))
        self.ledger.set_reference(m.deployment_crn, reference)
        return replace(m, reference=reference)

    def _already_written(self, crn: str, start: int, end: int) -> bool:
        return any(r.is_aggregate and r.metrics.get("monitor.kind") == MONITOR_KIND
                   and r.metrics.get("monitor.window_end_ms") == end and r.end_ms == end
                   for r in self.store.read(model_deployment_crn=crn, start_ms=start, end_ms=start + 1))

    def _publish(self, m: MonitorRow, result: WindowResult, previous: str | None) -> None:
        key = json.dumps([result.status, result.drifted_columns])
        record = DriftRecord(crn=m.deployment_crn, status=result.status, columns=result.drifted_columns,
                             checked_time_ms=result.computed_ms, window_start_ms=result.start_ms,
                             window_end_ms=result.end_ms)
        if self.ledger.publish(m.deployment_crn, key, record.model_dump(mode="json")):
            self._wake_outbox()
        if m.config.webhook_url is not None and previous != result.status and not (
                previous is None and result.status in ("ok", "unknown")):
            event = alerts.drift_event(m.deployment_crn, previous, result.status, result.drifted_columns,
                                       (result.start_ms, result.end_ms), summary(result))
            error = alerts.send(str(m.config.webhook_url), event, self._secret)
            if error is not None:
                self.ledger.note_alert_error(m.deployment_crn, result.start_ms, result.end_ms, error)

    def _info(self, m: MonitorRow) -> MonitorInfo:
        ref = m.reference
        nxt = None
        if m.status == "active":
            every = m.config.every_ms
            nxt = m.last_end_ms + every if m.last_end_ms is not None else (m.created_ms // every + 1) * every
        return MonitorInfo(
            deployment_crn=m.deployment_crn, status=m.status, stopped_reason=m.stopped_reason,
            every=format_duration(m.config.every_ms), window=format_duration(m.config.window_ms),
            created_ms=m.created_ms, last_window_end_ms=m.last_end_ms, next_window_end_ms=nxt,
            drift_status=m.drift_status, drift_columns=m.drift_columns, config=m.config,
            reference=ReferenceInfo(source=ref.source, description=ref.source.describe(),
                                    numeric={k: v.column for k, v in ref.numeric.items()},
                                    categorical={k: v.column for k, v in ref.categorical.items()},
                                    rows={**{k: v.n for k, v in ref.numeric.items()},
                                          **{k: v.n for k, v in ref.categorical.items()}}),
            last_result=m.last_result)


def summary(result: WindowResult) -> dict[str, Any]:
    """What the ledger keeps of a window (the full figures are in the metrics store)."""
    decided = {t.column: t for t in result.tests if result.deciding_test.get(t.column) == t.test}
    return {"start_ms": result.start_ms, "end_ms": result.end_ms, "computed_ms": result.computed_ms,
            "predictions": result.predictions, "status": result.status, "drifted_columns": result.drifted_columns,
            "drifted_share": result.drifted_share, "seconds": round(result.seconds, 3),
            "columns": {c: {"test": t.test, "statistic": t.statistic, "p_value": t.p_value, "drifted": t.drifted,
                            "reason": t.reason} for c, t in sorted(decided.items())},
            "accuracy": result.classification.accuracy if result.classification else None,
            "labelled": (result.classification.n if result.classification else
                         result.regression.n if result.regression else 0),
            "mae": result.regression.mae if result.regression else None,
            "rmse": result.regression.rmse if result.regression else None,
            # every test's figures, for charts of each statistic over time against its threshold
            "tests": [{"test": t.test, "column": t.column, "statistic": t.statistic, "p_value": t.p_value,
                       "threshold": t.threshold, "drifted": t.drifted, "n": t.n, "reason": t.reason}
                      for t in result.tests],
            "prediction_distribution": _distribution(result)}


def _distribution(result: WindowResult) -> dict[str, Any] | None:
    """The prediction's counts against the reference's (chi-square) or its histogram over the reference's deciles
    (PSI): what a dashboard draws as the prediction distribution, summed over windows."""
    for t in result.tests:
        if t.column != result.prediction_key:
            continue
        d = t.details
        if t.test == "chisquare" and "observed" in d:
            return {"kind": "categorical", "n": t.n, "categories": d["categories"], "observed": d["observed"],
                    "expected": d["expected"]}
        if t.test == "psi" and "window_fractions" in d:
            return {"kind": "numeric", "n": t.n, "edges": d["edges"], "window_fractions": d["window_fractions"],
                    "reference_fractions": d["reference_fractions"]}
    return None
