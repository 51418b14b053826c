"""Where a monitor's reference comes from, in the order of preference: the training table of the deployment's
lineage (over HiveServer2), a CSV/Parquet file, an earlier window of the deployment's own predictions, and the
``--expected`` shares of the prediction (which may also complete any of the others)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from catalog import DatasetRef, InvalidInput
from serving.metrics import MetricsStore
from serving.monitoring.config import MonitorConfig
from serving.monitoring.reference import (
    DEFAULT_MAX_ROWS,
    CategoricalReference,
    Kind,
    ReferenceError,
    ReferenceSource,
    ReferenceSummary,
    match_columns,
    numeric_reference,
    read_reference_file,
    summarize,
)
from serving.monitoring.window import read_window

TRACKED_SAMPLE = 200  # latest predictions looked at to learn which metrics a deployment tracks
MAX_EXPECTED_CATEGORIES = 10_000  # a prediction with more categories than this is not categorical


@dataclass(frozen=True)
class SampledTable:
    qualified_name: str
    columns: list[str]
    rows: list[tuple[Any, ...]]
    total_rows: int | None = None


#: ``sampler(qualified_name, limit)``: a bounded sample of a Hive table (the composition root reads it over
#: HiveServer2); raises the catalog's errors (InvalidInput for a missing table, UpstreamUnavailable when down).
TableSampler = Callable[[str, int], SampledTable]


class ReferenceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    table: str | None = Field(default=None, description="qualifiedName of a table in the build's lineage")
    file: str | None = Field(default=None, description="absolute path of a CSV or Parquet file")
    window: tuple[int, int] | None = Field(default=None, description="(start_ms, end_ms) of earlier predictions")
    expected: dict[str, float] | None = Field(default=None, description="shares of the prediction's categories")
    column_map: dict[str, str] = Field(default_factory=dict, description="metric -> reference column")
    sample_rows: int = Field(default=DEFAULT_MAX_ROWS, ge=30, le=1_000_000)

    @field_validator("expected")
    @classmethod
    def _shares(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        # what the chi-square test can weigh; refused here rather than by every window computed later
        if value is None:
            return None
        if len(value) > MAX_EXPECTED_CATEGORIES:
            raise ValueError(f"at most {MAX_EXPECTED_CATEGORIES} categories")
        if any(not math.isfinite(v) or v < 0 for v in value.values()):
            raise ValueError("shares are finite numbers, 0 or more")
        if not 0 < sum(value.values()) < math.inf:
            raise ValueError("shares must not all be 0, and their sum must be a finite number")
        return value


def tracked_metrics(store: MetricsStore, crn: str) -> dict[str, Kind] | None:
    """Metric name -> kind, from the deployment's latest predictions; None when it has made none yet."""
    records = store.recent_predictions(crn, TRACKED_SAMPLE)
    if not records:
        return None
    kinds: dict[str, set[str]] = {}
    for r in records:
        for k, v in r.metrics.items():
            if v is None or isinstance(v, dict | list):
                continue
            kinds.setdefault(k, set()).add(
                "numeric" if isinstance(v, int | float) and not isinstance(v, bool) else "categorical")
    return {k: ("numeric" if s == {"numeric"} else "categorical") for k, s in sorted(kinds.items())}


def build_reference(req: ReferenceRequest, *, crn: str, config: MonitorConfig, store: MetricsStore,
                    lineage: Callable[[], list[DatasetRef]], sampler: TableSampler | None) -> ReferenceSummary:
    """The summary a new monitor stores; ReferenceError (one line) when the reference cannot serve."""
    given = [name for name, v in (("--reference-table", req.table), ("--reference-file", req.file),
                                  ("--reference-window", req.window)) if v]
    if len(given) > 1:
        raise ReferenceError(f"give one reference, not {' and '.join(given)}")
    tracked = tracked_metrics(store, crn)
    exclude = [config.actual_key]
    if req.expected and tracked is not None and config.prediction_key not in tracked:
        raise ReferenceError(f"--expected: the deployment tracks no metric {config.prediction_key!r} "
                             f"(tracked: {', '.join(tracked) or 'none'}); set the prediction key")
    summary: ReferenceSummary | None = None
    if req.file:
        columns, source = read_reference_file(Path(req.file), max_rows=req.sample_rows)
        summary = _from_columns(columns, source, tracked, req.column_map, exclude, req.sample_rows)
    elif req.window:
        summary = _from_window(store, crn, req.window, tracked, exclude, req.sample_rows)
    elif req.table:
        names = [d.qualified_name for d in lineage() if d.type_name == "hive_table"]
        if req.table not in names:
            raise ReferenceError(f"--reference-table {req.table} is not a table of the build's lineage "
                                 f"(tables: {', '.join(names) or 'none'})")
        summary = _from_table(_need(sampler)(req.table, req.sample_rows), tracked, req.column_map, exclude,
                              req.sample_rows)
    elif not req.expected or req.column_map:
        summary = _first_lineage_table(lineage(), sampler, tracked, req, exclude)
    if summary is None:
        summary = ReferenceSummary(source=ReferenceSource(kind="expected"), created_ms=0)
    if req.expected:
        summary = summary.with_expected(config.prediction_key, req.expected)
    if not summary.columns():
        raise ReferenceError("the reference has none of the tracked metrics")
    return summary


def _need(sampler: TableSampler | None) -> TableSampler:
    if sampler is None:
        raise ReferenceError("no HiveServer2 is configured to read the reference table from "
                             "(set [hive] host, or MLCATALOG_HIVE_HOST, where mlcatalog up runs)")
    return sampler


def _first_lineage_table(inputs: list[DatasetRef], sampler: TableSampler | None, tracked: Mapping[str, Kind] | None,
                         req: ReferenceRequest, exclude: Sequence[str]) -> ReferenceSummary | None:
    tables = [d for d in inputs if d.type_name == "hive_table"]
    tried: list[str] = []
    mapped = {c.lower() for c in req.column_map.values()}
    for d in tables:
        if d.columns and not match_columns(tracked, d.columns, {}, exclude=exclude) and not (
                mapped & {c.lower() for c in d.columns}):
            tried.append(f"{d.qualified_name} (no tracked column)")
            continue
        try:
            sample = _need(sampler)(d.qualified_name, req.sample_rows)
            return _from_table(sample, tracked, req.column_map, exclude, req.sample_rows)
        except (ReferenceError, InvalidInput) as e:  # this table does not serve; the next one may
            tried.append(f"{d.qualified_name} ({e})")
    if req.expected:
        return None
    what = "; ".join(tried) if tried else "the build's lineage names no Hive table"
    raise ReferenceError(f"no reference: {what}; give --reference-table, --reference-file, --reference-window "
                         "or --expected")


def _from_table(sample: SampledTable, tracked: Mapping[str, Kind] | None, column_map: Mapping[str, str],
                exclude: Sequence[str], max_rows: int) -> ReferenceSummary:
    columns = {c: [row[i] for row in sample.rows] for i, c in enumerate(sample.columns)}
    source = ReferenceSource(kind="table", qualified_name=sample.qualified_name, sample_rows=len(sample.rows),
                             total_rows=sample.total_rows)
    return _from_columns(columns, source, tracked, column_map, exclude, max_rows)


def _from_columns(columns: Mapping[str, Sequence[Any]], source: ReferenceSource, tracked: Mapping[str, Kind] | None,
                  column_map: Mapping[str, str], exclude: Sequence[str], max_rows: int) -> ReferenceSummary:
    mapping = match_columns(tracked, list(columns), column_map, exclude=exclude)
    if not mapping:
        what = f"tracked: {', '.join(tracked)}" if tracked else "the deployment has made no predictions yet"
        raise ReferenceError(f"the reference has none of the tracked metrics ({what}; reference columns: "
                             f"{', '.join(columns) or 'none'}); match them with --map metric=column")
    return summarize(columns, mapping, dict(tracked or {}), source, max_rows=max_rows)


def _from_window(store: MetricsStore, crn: str, window: tuple[int, int], tracked: Mapping[str, Kind] | None,
                 exclude: Sequence[str], max_rows: int) -> ReferenceSummary:
    if tracked is None:
        raise ReferenceError("--reference-window: the deployment has made no predictions yet")
    numeric = [k for k, kind in tracked.items() if kind == "numeric" and k not in exclude]
    categorical = [k for k, kind in tracked.items() if kind == "categorical" and k not in exclude]
    data = read_window(store, crn, window[0], window[1], numeric=numeric, categorical=categorical)
    if not data.predictions:
        raise ReferenceError(f"--reference-window {window[0]}..{window[1]}: no predictions in that window")
    rng = np.random.default_rng(0)
    nums = {}
    for k in numeric:
        col = data.numeric[k]
        values = col.values if col.values.size <= max_rows else rng.choice(col.values, max_rows, replace=False)
        ref = numeric_reference(k, values.tolist(), max_rows=max_rows)
        nums[k] = ref.model_copy(update={"missing": col.missing, "non_numeric": col.non_numeric})
    cats = {}
    for k in categorical:
        counts = data.categorical.get(k, {})
        n = sum(counts.values())
        if n:
            cats[k] = CategoricalReference(column=k, n=n, missing=data.categorical_missing.get(k, 0),
                                           frequencies={c: v / n for c, v in sorted(counts.items())})
    source = ReferenceSource(kind="window", window_start_ms=window[0], window_end_ms=window[1],
                             sample_rows=data.predictions)
    return ReferenceSummary(source=source, created_ms=0, numeric=nums, categorical=cats)
