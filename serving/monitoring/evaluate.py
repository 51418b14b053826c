"""One window of a deployment against its reference: the statistics, the status, and the figures as metrics.

The figures are written as one aggregate record over exactly the window, under stable names that
``cdsw.read_metrics`` returns as CML would (``pd.json_normalize`` makes them ``metrics.drift.psi.Alcohol`` etc.):

* ``drift.status`` (ok / warning / drifting / unknown), ``drift.share``, ``drift.columns``;
* categorical: ``drift.chisq.<metric>.stat`` and ``.p_value``; for the prediction also the seed's own names
  ``chisq_x2`` and ``chisq_p``, so its analysis script plots the built-in monitor's drift unchanged;
* numeric: ``drift.ks.<metric>.stat`` / ``.p_value``, ``drift.psi.<metric>``, ``drift.wasserstein.<metric>``;
* a test without enough data: ``drift.<test>.<metric>.reason`` ("n=3 < 30") instead of a figure;
* accuracy: ``accuracy``, ``accuracy.labelled``, ``accuracy.macro_f1``, ``accuracy.precision|recall|f1.<class>``;
  or for numeric labels ``mae`` and ``rmse``;
* data quality: ``data.<metric>.missing`` and ``data.<metric>.non_numeric`` when not zero;
* ``monitor.window_start_ms``, ``monitor.window_end_ms``, ``monitor.predictions`` and ``monitor.kind`` (which
  marks the record as the built-in monitor's: a window's results are found again by it after a crash).

Status: ``drifting`` when the prediction's distribution drifted or the drifted share of columns reached the
threshold; ``warning`` when some column drifted or accuracy fell under ``min_accuracy``; ``ok`` when columns were
tested and none drifted; ``unknown`` when nothing could be tested (too little data).
"""

from __future__ import annotations

import time
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from serving.metrics import MetricsStore
from serving.monitoring.config import AUTO_KS_MAX_N, MonitorConfig
from serving.monitoring.reference import ReferenceSummary
from serving.monitoring.stats import (
    ClassificationQuality,
    RegressionQuality,
    TestResult,
    chisquare_test,
    classification_quality,
    drifted_share,
    numeric_tests,
    regression_quality,
)
from serving.monitoring.window import WindowData, read_window

Status = Literal["ok", "warning", "drifting", "unknown"]
MONITOR_KIND = "mlcatalog.monitor"
_TEST_NAMES = {"chisquare": "chisq", "ks": "ks", "psi": "psi", "wasserstein": "wasserstein"}


class ColumnQuality(BaseModel):
    missing: int
    non_numeric: int = 0


class WindowResult(BaseModel):
    deployment_crn: str
    prediction_key: str
    start_ms: int
    end_ms: int
    computed_ms: int
    predictions: int
    status: Status
    drifted_columns: list[str]
    drifted_share: float | None
    tests: list[TestResult]
    deciding_test: dict[str, str] = Field(description="metric -> the test that decides whether it drifted")
    data_quality: dict[str, ColumnQuality]
    classification: ClassificationQuality | None = None
    regression: RegressionQuality | None = None
    unlabelled: int = 0
    seconds: float = 0.0

    def metrics(self) -> dict[str, Any]:
        """The aggregate record's metrics (see the module docstring)."""
        m: dict[str, Any] = {"monitor.kind": MONITOR_KIND, "monitor.window_start_ms": self.start_ms,
                             "monitor.window_end_ms": self.end_ms, "monitor.predictions": self.predictions,
                             "drift.status": self.status, "drift.columns": list(self.drifted_columns)}
        if self.drifted_share is not None:
            m["drift.share"] = self.drifted_share
        for t in self.tests:
            _test_metrics(m, t)
            if t.test == "chisquare" and t.column == self.prediction_key and t.statistic is not None:
                m["chisq_x2"], m["chisq_p"] = t.statistic, t.p_value
        for col, q in self.data_quality.items():
            if q.missing:
                m[f"data.{col}.missing"] = q.missing
            if q.non_numeric:
                m[f"data.{col}.non_numeric"] = q.non_numeric
        _quality_metrics(m, self.classification, self.regression)
        return m


def _test_metrics(m: dict[str, Any], t: TestResult) -> None:
    base = f"drift.{_TEST_NAMES[t.test]}.{t.column}"
    if t.statistic is None:
        m[f"{base}.reason"] = t.reason or "not computed"
    elif t.test in ("chisquare", "ks"):
        m[f"{base}.stat"] = t.statistic
        m[f"{base}.p_value"] = t.p_value
    else:
        m[base] = t.statistic


def _quality_metrics(m: dict[str, Any], c: ClassificationQuality | None, r: RegressionQuality | None) -> None:
    if c is not None:
        m["accuracy.labelled"] = c.n
        if c.accuracy is None:
            m["accuracy.reason"] = c.reason or "not computed"
        else:
            m["accuracy"] = c.accuracy
            m["accuracy.macro_f1"] = c.macro_f1
            for label, s in c.per_class.items():
                m[f"accuracy.precision.{label}"] = s.precision
                m[f"accuracy.recall.{label}"] = s.recall
                m[f"accuracy.f1.{label}"] = s.f1
    if r is not None:
        m["accuracy.labelled"] = r.n
        if r.mae is None:
            m["accuracy.reason"] = r.reason or "not computed"
        else:
            m["mae"] = r.mae
            m["rmse"] = r.rmse


def read_for(store: MetricsStore, crn: str, config: MonitorConfig, reference: ReferenceSummary, start_ms: int,
             end_ms: int) -> WindowData:
    """The window's columns that ``reference`` can judge, plus the labels for accuracy."""
    categorical = sorted(reference.categorical)
    if config.prediction_key not in categorical and config.prediction_key not in reference.numeric:
        categorical.append(config.prediction_key)  # for accuracy, even without a reference for it
    return read_window(store, crn, start_ms, end_ms, numeric=sorted(reference.numeric), categorical=categorical,
                       actual_key=config.actual_key, prediction_key=config.prediction_key,
                       label_pairs=config.prediction_key not in reference.numeric)


def evaluate(crn: str, config: MonitorConfig, reference: ReferenceSummary, data: WindowData, start_ms: int,
             end_ms: int) -> WindowResult:
    """The statistics of one window (pure: no I/O)."""
    t0 = time.perf_counter()
    th = config.thresholds
    tests: list[TestResult] = []
    deciding: dict[str, str] = {}
    decisions: dict[str, bool | None] = {}
    quality: dict[str, ColumnQuality] = {}
    for metric, ref in sorted(reference.categorical.items()):
        observed = data.categorical.get(metric, {})
        t = chisquare_test(metric, observed, ref.frequencies, reference_n=ref.n, threshold=th.chisquare,
                           min_n=config.min_n)
        tests.append(t)
        deciding[metric] = "chisquare"
        decisions[metric] = t.drifted
        quality[metric] = ColumnQuality(missing=data.categorical_missing.get(metric, 0))
    for metric, nref in sorted(reference.numeric.items()):
        col = data.numeric[metric]
        res = numeric_tests(metric, np.sort(col.values), nref.values(), np.asarray(nref.edges),
                            np.asarray(nref.fractions), ks_threshold=th.ks, psi_threshold=th.psi,
                            wasserstein_threshold=th.wasserstein, min_n=config.min_n)
        by_test = {"ks": res.ks, "psi": res.psi, "wasserstein": res.wasserstein}
        tests.extend(by_test.values())
        test = config.numeric_test
        if test == "auto":
            test = "ks" if min(col.values.size, nref.n) <= AUTO_KS_MAX_N else "wasserstein"
        deciding[metric] = test
        decisions[metric] = by_test[test].drifted
        quality[metric] = ColumnQuality(missing=col.missing, non_numeric=col.non_numeric)
    drifted = sorted(k for k, v in decisions.items() if v)
    share = drifted_share(decisions.values())
    classification, regression = _accuracy(data, config, reference)
    status = _status(config, decisions, share, classification)
    return WindowResult(deployment_crn=crn, prediction_key=config.prediction_key, start_ms=start_ms, end_ms=end_ms,
                        computed_ms=int(time.time() * 1000), predictions=data.predictions, status=status,
                        drifted_columns=drifted, drifted_share=share,
                        tests=tests, deciding_test=deciding, data_quality=quality, classification=classification,
                        regression=regression, unlabelled=data.unlabelled, seconds=time.perf_counter() - t0)


def _accuracy(data: WindowData, config: MonitorConfig, reference: ReferenceSummary,
              ) -> tuple[ClassificationQuality | None, RegressionQuality | None]:
    """Classification when the prediction is a category (in the reference, or any label in the window is not a
    number), regression when it is a number; 0/1 classes without a reference for the prediction count as numbers."""
    labelled = sum(data.labels.values()) if data.labels else int(data.actual_numbers.size)
    if not labelled:
        return None, None
    numeric = config.prediction_key in reference.numeric or (
        config.prediction_key not in reference.categorical and data.actual_numbers.size == labelled)
    if numeric:
        return None, regression_quality(data.actual_numbers, data.predicted_numbers, min_n=config.min_n)
    return classification_quality(data.labels, min_n=config.min_n), None


def _status(config: MonitorConfig, decisions: dict[str, bool | None], share: float | None,
            classification: ClassificationQuality | None) -> Status:
    low_accuracy = (config.min_accuracy is not None and classification is not None
                    and classification.accuracy is not None and classification.accuracy < config.min_accuracy)
    if share is None:
        return "warning" if low_accuracy else "unknown"
    if decisions.get(config.prediction_key) or share >= config.thresholds.drift_share:
        return "drifting"
    if any(decisions.values()) or low_accuracy:
        return "warning"
    return "ok"
