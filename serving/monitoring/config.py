"""What a monitor is told: its schedule, thresholds and keys, and the parsing of the CLI's durations and windows.

Defaults follow Evidently's: a numeric column of large samples drifts when its Wasserstein distance, normalised
by the reference's standard deviation, reaches 0.1, and of small samples (1,000 values or fewer on either side)
when the KS p-value falls under 0.05; a categorical one when the chi-square goodness-of-fit p-value falls under
0.05; the dataset drifts when half of its columns do. KS, PSI (>= 0.1) and Wasserstein are computed and stored for
every numeric column, each with its own threshold, and any of the three can be chosen as the one that decides
(``numeric_test``; default ``auto``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

NumericTest = Literal["auto", "wasserstein", "ks", "psi"]
#: "auto" decides with KS when either sample has at most this many values, else with Wasserstein (Evidently's
#: rule of thumb, applied to the smaller sample: a p-value is calibrated to the sample size, the 0.1 distance
#: threshold is not, and on a million values KS calls the smallest shift significant)
AUTO_KS_MAX_N = 1000
MIN_EVERY_MS = 1000  # the scheduler's resolution; real monitors run every few minutes or hours
MAX_WINDOW_MS = 366 * 86_400_000
_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 7 * 86_400_000}
_DURATION = re.compile(r"^\s*(\d+)\s*(ms|s|m|h|d|w)\s*$")


class Thresholds(BaseModel):
    # infinity passes gt=0 but is stored as JSON null, which would make the stored monitor unreadable
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    chisquare: float = Field(default=0.05, gt=0, lt=1, description="p-value under which a categorical column drifts")
    ks: float = Field(default=0.05, gt=0, lt=1, description="KS p-value under which a numeric column drifts")
    psi: float = Field(default=0.1, gt=0, description="PSI at or above which a numeric column drifts")
    wasserstein: float = Field(default=0.1, gt=0,
                               description="normalised Wasserstein distance at or above which a numeric column drifts")
    drift_share: float = Field(default=0.5, gt=0, le=1,
                               description="share of drifted columns at or above which the deployment is drifting")


class MonitorConfig(BaseModel):
    """A monitor's settings (stored with it; the reference summary is stored beside)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    every_ms: int = Field(ge=MIN_EVERY_MS, le=MAX_WINDOW_MS)
    window_ms: int = Field(ge=MIN_EVERY_MS, le=MAX_WINDOW_MS)
    numeric_test: NumericTest = "auto"
    thresholds: Thresholds = Field(default_factory=Thresholds)
    min_n: int = Field(default=30, ge=1, description="fewer values in a window: no statistic, a reason instead")
    prediction_key: str = Field(default="prediction", min_length=1)
    actual_key: str = Field(default="actual_result", min_length=1, description="delayed ground truth's metric name")
    min_accuracy: float | None = Field(default=None, ge=0, le=1,
                                       description="accuracy under this makes the status at least 'warning'")
    webhook_url: HttpUrl | None = None
    max_catch_up: int = Field(default=48, ge=1, le=10_000,
                              description="after downtime, at most this many missed windows are computed")

    @model_validator(mode="after")
    def _keys_differ(self) -> MonitorConfig:
        if self.prediction_key == self.actual_key:
            raise ValueError("prediction_key and actual_key must differ")
        return self


def parse_duration(text: str, what: str = "duration") -> int:
    """``30m`` -> 1_800_000 (units ms, s, m, h, d, w); ValueError with a one-line message otherwise."""
    m = _DURATION.match(text or "")
    if not m or int(m.group(1)) == 0:
        raise ValueError(f"bad {what} {text!r}: use a positive number and a unit, e.g. 30m, 2h, 1d (ms s m h d w)")
    return int(m.group(1)) * _UNITS_MS[m.group(2)]


def parse_instant(text: str) -> int:
    """Epoch milliseconds from epoch ms digits or an ISO 8601 time (UTC unless it carries an offset)."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"bad time {text!r}: use epoch milliseconds or ISO 8601 (2026-12-01T10:00:00Z)") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return int(t.timestamp() * 1000)


def parse_window(text: str) -> tuple[int, int]:
    """``START..END`` (epoch ms or ISO 8601 each) -> (start_ms, end_ms), START before END."""
    start, sep, end = (text or "").partition("..")
    if not sep or not start.strip() or not end.strip():
        raise ValueError(f"bad window {text!r}: use START..END, e.g. 2026-12-01T10:00Z..2026-12-01T10:30Z")
    s, e = parse_instant(start), parse_instant(end)
    if e <= s:
        raise ValueError(f"bad window {text!r}: the end is not after the start")
    return s, e


def parse_pairs(items: list[str], what: str) -> dict[str, str]:
    """``["a=b", "c=d,e=f"]`` -> {"a": "b", "c": "d", "e": "f"} (``--map``, ``--expected``, ``--threshold``)."""
    out: dict[str, str] = {}
    for item in items:
        for part in item.split(","):
            key, sep, value = part.partition("=")
            if not sep or not key.strip() or not value.strip():
                raise ValueError(f"bad {what} {part!r}: use NAME=VALUE")
            out[key.strip()] = value.strip()
    return out


def parse_expected(items: list[str]) -> dict[str, float]:
    """``--expected Excellent=0.5,Poor=0.5``: category shares (any positive weights; normalised to sum 1)."""
    raw = parse_pairs(items, "--expected")
    shares: dict[str, float] = {}
    for k, v in raw.items():
        try:
            shares[k] = float(v)
        except ValueError:
            raise ValueError(f"bad --expected share {k}={v}: not a number") from None
        if not shares[k] > 0 or shares[k] == float("inf"):
            raise ValueError(f"bad --expected share {k}={v}: must be a positive number")
    total = sum(shares.values())
    return {k: v / total for k, v in shares.items()}


def format_duration(ms: int) -> str:
    for unit in ("w", "d", "h", "m", "s"):
        if ms % _UNITS_MS[unit] == 0:
            return f"{ms // _UNITS_MS[unit]}{unit}"
    return f"{ms}ms"
