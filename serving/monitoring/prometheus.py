"""Prometheus gauges of the monitors, read from the platform's state at scrape time (the worker process that
computes windows has no registry of its own, and a restarted platform shows the last status at once)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from serving.monitoring.ledger import Ledger

STATUS_VALUE = {"ok": 0, "warning": 1, "drifting": 2, "unknown": -1}


class MonitorCollector(Collector):
    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    def collect(self) -> Iterator[Metric]:
        labels = ["deployment_crn"]
        status = GaugeMetricFamily("mlcatalog_monitor_drift_status",
                                   "Drift status of the latest window: 0 ok, 1 warning, 2 drifting, -1 unknown",
                                   labels=labels)
        share = GaugeMetricFamily("mlcatalog_monitor_drifted_share", "Share of columns that drifted", labels=labels)
        accuracy = GaugeMetricFamily("mlcatalog_monitor_accuracy", "Accuracy against delayed ground truth",
                                     labels=labels)
        window_end = GaugeMetricFamily("mlcatalog_monitor_window_end_seconds", "End of the latest window computed",
                                       labels=labels)
        column = GaugeMetricFamily("mlcatalog_monitor_column_statistic",
                                   "The deciding statistic of each column in the latest window",
                                   labels=["deployment_crn", "column", "test"])
        drifted = GaugeMetricFamily("mlcatalog_monitor_column_drifted", "1 if the column drifted in the latest window",
                                    labels=["deployment_crn", "column"])
        for m in self._ledger.all():
            crn = m.deployment_crn
            if m.drift_status is not None:
                status.add_metric([crn], STATUS_VALUE.get(m.drift_status, -1))
            r = m.last_result or {}
            if r.get("drifted_share") is not None:
                share.add_metric([crn], float(r["drifted_share"]))
            if r.get("accuracy") is not None:
                accuracy.add_metric([crn], float(r["accuracy"]))
            if r.get("end_ms") is not None:
                window_end.add_metric([crn], int(r["end_ms"]) / 1000)
            for col, t in (r.get("columns") or {}).items():
                if t.get("statistic") is not None:
                    column.add_metric([crn, col, t["test"]], float(t["statistic"]))
                if t.get("drifted") is not None:
                    drifted.add_metric([crn, col], 1.0 if t["drifted"] else 0.0)
        yield from (status, share, accuracy, window_end, column, drifted)
