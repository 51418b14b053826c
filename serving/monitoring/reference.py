"""A monitor's reference, summarised once when the monitor is added and stored with it.

Numeric columns keep a sorted sample of at most ``max_rows`` values (exact KS and Wasserstein need the values, and
10,000 float64 are 80 KB), their decile bins for PSI, mean and standard deviation; categorical columns keep the
category counts and shares. The summary records where it came from: the table's qualifiedName and sample size,
the file's path and sha256, the deployment's own window, or the ``--expected`` shares.

Columns are matched to the deployment's tracked metrics case-insensitively (HiveServer2 reports ``alcohol`` for
the model's ``Alcohol``), or explicitly with ``--map metric=column``.
"""

from __future__ import annotations

import base64
import hashlib
import math
import random
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from serving.monitoring.stats import decile_bins

Kind = Literal["numeric", "categorical"]
DEFAULT_MAX_ROWS = 10_000


class ReferenceError(ValueError):
    """The reference cannot be used (no tracked column, unreadable file, ...); ``str()`` is one line."""


class ReferenceSource(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["table", "file", "window", "expected"]
    qualified_name: str | None = None
    sample_rows: int | None = Field(default=None, description="rows read (a table's bounded sample)")
    total_rows: int | None = None
    path: str | None = None
    sha256: str | None = None
    format: str | None = None
    window_start_ms: int | None = None
    window_end_ms: int | None = None

    def describe(self) -> str:
        if self.kind == "table":
            return f"table {self.qualified_name} (sample of {self.sample_rows} rows)"
        if self.kind == "file":
            return f"file {self.path} (sha256 {str(self.sha256)[:12]}, {self.sample_rows} rows)"
        if self.kind == "window":
            return f"predictions of [{self.window_start_ms}, {self.window_end_ms}) ({self.sample_rows} records)"
        return "expected shares"


class NumericReference(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    column: str
    n: int = Field(description="values in the sample")
    missing: int = 0
    non_numeric: int = 0
    values_b64: str = Field(description="the sorted sample, float64 little-endian, base64")
    edges: list[float]
    fractions: list[float]
    mean: float
    std: float

    def values(self) -> np.ndarray:
        return np.frombuffer(base64.b64decode(self.values_b64), dtype="<f8").astype(np.float64)


class CategoricalReference(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    column: str
    n: int | None = Field(description="values counted; None for --expected shares")
    missing: int = 0
    frequencies: dict[str, float]


class ReferenceSummary(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    source: ReferenceSource
    created_ms: int
    numeric: dict[str, NumericReference] = Field(default_factory=dict, description="by metric name")
    categorical: dict[str, CategoricalReference] = Field(default_factory=dict, description="by metric name")
    provisional: bool = Field(default=False, description="the deployment had made no prediction when the reference "
                                                         "was matched: metric names are the reference's columns "
                                                         "until the first window names them as the model does")

    def columns(self) -> list[str]:
        return sorted([*self.numeric, *self.categorical])

    def rekeyed(self, tracked: Sequence[str]) -> ReferenceSummary:
        """Metric names spelled as the model tracks them (``alcohol`` -> ``Alcohol``), no longer provisional."""
        by_lower = {t.lower(): t for t in tracked}
        return self.model_copy(update={
            "numeric": {by_lower.get(k.lower(), k): v for k, v in self.numeric.items()},
            "categorical": {by_lower.get(k.lower(), k): v for k, v in self.categorical.items()},
            "provisional": False})

    def with_expected(self, metric: str, shares: Mapping[str, float]) -> ReferenceSummary:
        """This summary with ``metric``'s categories given as shares (``--expected``), replacing any from data."""
        cat = dict(self.categorical)
        cat[metric] = CategoricalReference(column="(expected)", n=None, frequencies=dict(shares))
        return self.model_copy(update={"categorical": cat})


def numeric_reference(column: str, raw: Sequence[Any], *, max_rows: int = DEFAULT_MAX_ROWS,
                      seed: int = 0) -> NumericReference:
    values: list[float] = []
    missing = non_numeric = 0
    for v in raw:
        x = as_number(v)
        if x is None:
            if v is None or (isinstance(v, str) and not v.strip()) or (isinstance(v, float) and math.isnan(v)):
                missing += 1
            else:
                non_numeric += 1
        else:
            values.append(x)
    if len(values) > max_rows:
        values = random.Random(seed).sample(values, max_rows)
    arr = np.sort(np.asarray(values, dtype=np.float64))
    if arr.size:
        edges, fractions = decile_bins(arr)
        mean, std = float(arr.mean()), float(arr.std())
    else:
        edges, fractions, mean, std = np.empty(0), np.empty(0), 0.0, 0.0
    return NumericReference(column=column, n=int(arr.size), missing=missing, non_numeric=non_numeric,
                            values_b64=base64.b64encode(arr.astype("<f8").tobytes()).decode(),
                            edges=[float(e) for e in edges], fractions=[float(f) for f in fractions],
                            mean=mean, std=std)


def categorical_reference(column: str, raw: Sequence[Any]) -> CategoricalReference:
    counts = Counter(category_text(v) for v in raw if v is not None)
    n = sum(counts.values())
    return CategoricalReference(column=column, n=n, missing=len(raw) - n,
                                frequencies={k: c / n for k, c in sorted(counts.items())} if n else {})


def as_number(v: Any) -> float | None:
    """A reference cell as a finite float, or None (missing or not a number; bools are not numbers)."""
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int | float):
        x = float(v)
    elif isinstance(v, str):
        try:
            x = float(v.strip())
        except ValueError:
            return None
    else:
        try:
            x = float(v)  # Decimal from HiveServer2, numpy scalars from Parquet
        except (TypeError, ValueError):
            return None
    return x if math.isfinite(x) else None


def category_text(v: Any) -> str:
    """How a category is named in counts: strings as they are, other JSON values as their JSON text (as the
    window reader names them), so a label stored as 1 and a reference cell 1 meet."""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v)) if abs(v) < 2**53 else repr(v)
    return str(v)


def match_columns(tracked: Mapping[str, Kind] | None, columns: Sequence[str], explicit: Mapping[str, str], *,
                  exclude: Sequence[str] = ()) -> dict[str, str]:
    """metric -> reference column. ``tracked`` None: the deployment has no predictions yet; every reference column
    then stands for the metric of the same name."""
    by_lower: dict[str, str] = {}
    for c in columns:
        by_lower.setdefault(c.lower(), c)
    out: dict[str, str] = {}
    for metric, column in explicit.items():
        found = by_lower.get(column.lower())
        if found is None:
            raise ReferenceError(f"--map {metric}={column}: the reference has no column {column!r} "
                                 f"(columns: {', '.join(columns) or 'none'})")
        if tracked is not None and metric not in tracked:
            raise ReferenceError(f"--map {metric}={column}: the deployment tracks no metric {metric!r} "
                                 f"(tracked: {', '.join(sorted(tracked)) or 'none'})")
        out[metric] = found
    names = list(tracked) if tracked is not None else list(columns)
    for metric in names:
        if metric in out or metric in exclude:
            continue
        found = by_lower.get(metric.lower())
        if found is not None and found not in out.values():
            out[metric] = found
    return out


def summarize(rows: Mapping[str, Sequence[Any]], mapping: Mapping[str, str], kinds: Mapping[str, Kind],
              source: ReferenceSource, *, max_rows: int = DEFAULT_MAX_ROWS) -> ReferenceSummary:
    """Summarise reference columns (``rows``: column -> cells) for the metrics in ``mapping`` (metric -> column)."""
    numeric: dict[str, NumericReference] = {}
    categorical: dict[str, CategoricalReference] = {}
    for metric, column in mapping.items():
        cells = rows[column]
        if kinds.get(metric, guess_kind(cells)) == "numeric":
            numeric[metric] = numeric_reference(column, cells, max_rows=max_rows)
        else:
            categorical[metric] = categorical_reference(column, cells)
    return ReferenceSummary(source=source, created_ms=int(time.time() * 1000), numeric=numeric,
                            categorical=categorical, provisional=not kinds)


def guess_kind(cells: Sequence[Any]) -> Kind:
    """Numeric when most present cells read as numbers (a reference column's type, when no prediction tells)."""
    present = [c for c in cells[:1000] if c is not None]
    if not present:
        return "categorical"
    numbers = sum(1 for c in present if as_number(c) is not None and not isinstance(c, str))
    return "numeric" if numbers >= 0.9 * len(present) else "categorical"


def read_reference_file(path: Path, *, max_rows: int = DEFAULT_MAX_ROWS, seed: int = 0,
                        ) -> tuple[dict[str, list[Any]], ReferenceSource]:
    """A CSV (header row; ``,`` or ``;`` sniffed) or Parquet file as columns, uniformly sampled to ``max_rows``
    rows when longer; its sha256 identifies it in the summary."""
    import pyarrow as pa

    if not path.is_file():
        raise ReferenceError(f"reference file {path} does not exist")
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    fmt = "parquet" if path.suffix.lower() in (".parquet", ".pq") else "csv"
    try:
        table = _read_parquet(path) if fmt == "parquet" else _read_csv(path)
    except (pa.ArrowException, OSError, UnicodeDecodeError) as e:
        raise ReferenceError(f"cannot read reference file {path} as {fmt.upper()}: "
                             f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    total = table.num_rows
    if total > max_rows:
        keep = sorted(random.Random(seed).sample(range(total), max_rows))
        table = table.take(pa.array(keep))
    columns = {name: table.column(name).to_pylist() for name in table.column_names}
    source = ReferenceSource(kind="file", path=str(path), sha256=digest.hexdigest(), format=fmt,
                             sample_rows=table.num_rows, total_rows=total)
    return columns, source


def _read_parquet(path: Path) -> Any:
    import pyarrow.parquet as pq

    return pq.read_table(path)


def _read_csv(path: Path) -> Any:
    import pyarrow.csv as pcsv

    with path.open("r", encoding="utf-8", newline="") as f:
        head = f.readline()
    delimiter = ";" if head.count(";") > head.count(",") else ","
    return pcsv.read_csv(path, parse_options=pcsv.ParseOptions(delimiter=delimiter))
