"""The statistics of drift and accuracy monitoring: pure numpy/scipy on arrays and counts, results as frozen models.

A monitor compares a window of a deployment's predictions with a reference (training data, summarised once by
``serving.monitoring.reference``). Every result is JSON-ready: plain Python floats, never NaN or infinity.

Drift tests and their default thresholds (Evidently's for the same tests, so a decision can be compared with an
Evidently report):

* **chi-square** (categorical: the prediction and any string metric): goodness of fit of the window's category
  counts against the reference's frequencies scaled to the window's count; drifted when ``p_value < 0.05``.
  Categories are the union of the window's and the reference's, sorted. A category the reference never saw would
  have an expected count of 0 and an infinite term (Evidently's chi-square divides by that 0), so it gets a
  *floor* frequency ``unseen_floor`` - by default half an observation, ``0.5 / reference_n``, when the reference
  has a sample size, else (shares given with ``--expected``) ``1e-4`` - and the frequencies are renormalised to sum
  1 before ``f_exp = frequency * n_window``. The unseen category thus still adds a large term, as it should, but a
  finite one. Reference categories absent from the window are observed 0 times.
* **Kolmogorov-Smirnov** two-sample, two-sided (numeric): statistic and p-value equal to
  ``scipy.stats.ks_2samp(window, reference)`` with its default ``method='auto'`` (exact distribution when both
  samples have at most 10,000 values, else Smirnov's asymptotic one, ``scipy.stats.kstwo``); drifted when
  ``p_value < 0.05``.
* **PSI** over the reference's decile bins (numeric): the edges are the reference's 10%, ..., 90% quantiles
  (``np.quantile``, linear), deduplicated when there are ties, so there are at most 10 bins. Bins are closed on the
  right: ``(-inf, e1], (e1, e2], ..., (ek, inf)`` - a value equal to an edge falls in the bin below it (what
  ``np.searchsorted(edges, x, side="left")`` assigns; counted here as ``searchsorted(sorted_values, edges,
  side="right")`` for both the reference and the window). Empty bins get the fraction ``0.0001`` (Evidently's
  epsilon; Evidently shrinks it further when some non-empty bin holds less, here it is fixed so that one empty bin
  always weighs the same) before ``PSI = sum((ref - cur) * ln(ref / cur))``. Drifted when ``psi >= 0.1``
  (Evidently's default; 0.2 is the common line for a "significant" shift - pass ``threshold=PSI_SIGNIFICANT`` for
  that). Evidently bins reference and window together (equal-width, Sturges); these bins depend on the reference
  only, so they are computed once, stored with it, and the same window always gets the same PSI.
* **Wasserstein distance normalised** by the reference's standard deviation (numeric; Evidently's default test for
  references of more than 1,000 values): ``wasserstein_distance(reference, window) / max(np.std(reference),
  0.001)``; drifted when ``>= 0.1``.

Speed: a window can hold 1,000,000 values per column. scipy's ``ks_2samp`` and ``wasserstein_distance`` each sort
(or argsort) the window and the concatenation again; here the window is sorted once by the caller (``np.sort``,
then the largest cost by far) and everything else is ``searchsorted`` of the small reference into it plus one
linear, chunked pass for the Wasserstein integral. KS p-values still come from scipy's own code (its
exact-distribution helper and ``scipy.stats.kstwo``), so the numbers are scipy's, to rounding.

Too little data gives a result *with a reason* and ``statistic``/``p_value``/``drifted`` None, never a p-value from
three values: ``reason="n=3 < 30"`` for the window, ``"reference n=12 < 30"`` for the reference (both, joined by
``"; "``). ``min_n`` defaults to 30 for the drift tests and for the accuracy metrics alike: one rule ("fewer than
30 values: no number") is easier to explain than two, and an accuracy from 10 labels has a 95% interval of about
+-30 points.

Inputs must be finite: the caller counts and excludes missing and non-numeric values (and reports them); NaN or
infinity here is a bug upstream and raises ValueError.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field
from scipy import stats as scipy_stats

try:
    # ks_2samp's exact two-sample distribution lives only in this private helper. Calling it directly keeps the
    # single sort of the window, and ks_2samp's RuntimeWarning when the exact computation fails numerically (it
    # does, e.g., for 10,000 vs 10,000 values at D=0.001, or a tiny D among many ties) becomes the recorded
    # method "asymp (exact failed)" - the same fallback, without a warning per scheduled run.
    from scipy.stats._stats_py import _attempt_exact_2kssamp
except ImportError:  # pragma: no cover - a scipy that moved it; ks_2samp itself is then used for small samples
    _attempt_exact_2kssamp = None

__all__ = [
    "CHISQUARE_THRESHOLD",
    "DEFAULT_MIN_N",
    "KS_THRESHOLD",
    "PSI_EPSILON",
    "PSI_SIGNIFICANT",
    "PSI_THRESHOLD",
    "WASSERSTEIN_THRESHOLD",
    "ClassScores",
    "ClassificationQuality",
    "NumericResults",
    "RegressionQuality",
    "TestResult",
    "chisquare_test",
    "classification_quality",
    "decile_bins",
    "drifted_share",
    "ks_test",
    "numeric_tests",
    "psi_test",
    "regression_quality",
    "wasserstein_test",
]

DEFAULT_MIN_N = 30
CHISQUARE_THRESHOLD = 0.05
KS_THRESHOLD = 0.05
PSI_THRESHOLD = 0.1
PSI_SIGNIFICANT = 0.2
WASSERSTEIN_THRESHOLD = 0.1
PSI_EPSILON = 0.0001
WASSERSTEIN_MIN_STD = 0.001
UNSEEN_FLOOR_WITHOUT_N = 1e-4
KS_MAX_EXACT_N = 10_000  # ks_2samp's MAX_AUTO_N
_WASSERSTEIN_CHUNK = 1 << 16

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
TestName = Literal["chisquare", "ks", "psi", "wasserstein"]


class TestResult(BaseModel):
    """One drift test of one column. ``statistic``/``p_value``/``drifted`` are None exactly when ``reason`` says
    why no decision was made."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    # Its name starts with "Test": without this, pytest would try to collect it in every test module importing it.
    __test__: ClassVar[bool] = False

    test: TestName
    column: str
    statistic: float | None
    p_value: float | None = Field(default=None, description="chisquare and ks only")
    threshold: float
    drifted: bool | None
    n: int = Field(description="window values used")
    reference_n: int | None = Field(description="reference values; None for --expected shares")
    reason: str | None = None
    details: dict[str, Any] = Field(default_factory=dict,
                                    description="what the statistic was computed from (JSON values)")


class NumericResults(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    ks: TestResult
    psi: TestResult
    wasserstein: TestResult


class ClassScores(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    precision: float
    recall: float
    f1: float
    support: int = Field(description="labelled predictions whose actual label is this class")


class ClassificationQuality(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    n: int = Field(description="labelled predictions")
    accuracy: float | None
    macro_f1: float | None
    per_class: dict[str, ClassScores] = Field(default_factory=dict)
    reason: str | None = None


class RegressionQuality(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    n: int = Field(description="labelled predictions")
    mae: float | None
    rmse: float | None
    reason: str | None = None


# ---------------------------------------------------------------------------------------------------------------
# Categorical


def chisquare_test(column: str, observed: Mapping[str, int], reference_frequencies: Mapping[str, float], *,
                   reference_n: int | None, threshold: float = CHISQUARE_THRESHOLD, min_n: int = DEFAULT_MIN_N,
                   unseen_floor: float | None = None) -> TestResult:
    """Chi-square goodness of fit of the window's category counts ``observed`` against ``reference_frequencies``
    (shares, or any non-negative weights: they are renormalised).

    Categories: the union of the window's (count > 0) and the reference's, sorted. A category with no reference
    frequency (absent, or 0) gets ``unseen_floor`` - default ``0.5 / reference_n``, or ``1e-4`` when
    ``reference_n`` is None - then the frequencies are renormalised to sum 1 and ``f_exp = frequency * n``.
    ``statistic``/``p_value`` equal ``scipy.stats.chisquare(f_obs, f_exp)``; ``details`` has the categories with
    their observed and expected counts, the unseen categories and the floor used.
    """
    _check_common(threshold, min_n)
    counts = _checked_counts(observed)
    n = sum(counts.values())
    reason = _too_few(n, reference_n, min_n)
    if reason is not None:
        return _undecided("chisquare", column, threshold, n, reference_n, reason)
    shares = {str(k): float(v) for k, v in reference_frequencies.items()}
    if any(not math.isfinite(v) or v < 0 for v in shares.values()) or not sum(shares.values()) > 0:
        raise ValueError(f"reference frequencies of {column!r} must be finite, non-negative and not all 0: {shares}")
    floor = _unseen_floor(unseen_floor, reference_n)
    categories = sorted({k for k, c in counts.items() if c > 0} | set(shares))
    if len(categories) < 2:
        return _undecided("chisquare", column, threshold, n, reference_n,
                          f"one category ({categories[0]!r}): nothing to test", {"categories": categories})
    unseen = [c for c in categories if shares.get(c, 0.0) <= 0]
    weights = np.array([shares.get(c, 0.0) or floor for c in categories], dtype=np.float64)
    f_exp = weights / weights.sum() * n
    f_obs = np.array([counts.get(c, 0) for c in categories], dtype=np.float64)
    res = scipy_stats.chisquare(f_obs, f_exp)
    details: dict[str, Any] = {"categories": categories, "observed": [counts.get(c, 0) for c in categories],
                               "expected": [float(e) for e in f_exp], "unseen": unseen, "unseen_floor": floor,
                               "df": len(categories) - 1}
    return _decided("chisquare", column, threshold, n, reference_n, float(res.statistic), float(res.pvalue),
                    details)


def _checked_counts(observed: Mapping[str, int]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for k, c in observed.items():
        if isinstance(c, bool) or not isinstance(c, int | np.integer) or c < 0:
            raise ValueError(f"category counts must be non-negative integers: {k!r}={c!r}")
        counts[str(k)] = int(c)
    return counts


def _unseen_floor(unseen_floor: float | None, reference_n: int | None) -> float:
    if unseen_floor is None:
        # Half an observation: "not seen in reference_n draws" bounds the frequency near 1/reference_n, and half
        # of that keeps an unseen category clearly worse than a category seen once.
        return 0.5 / reference_n if reference_n else UNSEEN_FLOOR_WITHOUT_N
    if not (math.isfinite(unseen_floor) and unseen_floor > 0):
        raise ValueError(f"unseen_floor must be a positive number, not {unseen_floor!r}")
    return float(unseen_floor)


# ---------------------------------------------------------------------------------------------------------------
# Numeric


def decile_bins(reference: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """``(edges, fractions)`` of the reference: edges are its 10%, ..., 90% quantiles (``np.quantile``, linear),
    deduplicated with ``np.unique``; ``fractions[i]`` is the share of the reference in bin i of ``(-inf, e1], (e1,
    e2], ..., (ek, inf)`` (``len(edges) + 1`` bins, closed on the right). ``reference`` need not be sorted."""
    values = _as_finite_1d("reference", reference)
    if values.size == 0:
        raise ValueError("decile bins of an empty reference")
    if not _is_sorted(values):
        values = np.sort(values)
    edges = np.unique(np.quantile(values, np.arange(1, 10) / 10))
    return edges, _bin_fractions(values, edges)


def ks_test(column: str, window_sorted: npt.ArrayLike, reference_sorted: npt.ArrayLike, *,
            threshold: float = KS_THRESHOLD, min_n: int = DEFAULT_MIN_N) -> TestResult:
    """Two-sided two-sample Kolmogorov-Smirnov test; equals ``scipy.stats.ks_2samp(window, reference)``.
    Both arrays must be sorted ascending (``np.sort``)."""
    _check_common(threshold, min_n)
    window = _as_sorted("window", window_sorted)
    reference = _as_sorted("reference", reference_sorted)
    return _ks_result(column, window, reference, None, threshold, min_n)


def psi_test(column: str, window_sorted: npt.ArrayLike, edges: npt.ArrayLike, ref_fractions: npt.ArrayLike, *,
             reference_n: int | None, threshold: float = PSI_THRESHOLD, min_n: int = DEFAULT_MIN_N) -> TestResult:
    """Population stability index of the (sorted) window over the reference's bins from :func:`decile_bins`."""
    _check_common(threshold, min_n)
    window = _as_sorted("window", window_sorted)
    return _psi_result(column, window, edges, ref_fractions, reference_n, threshold, min_n)


def wasserstein_test(column: str, window_sorted: npt.ArrayLike, reference_sorted: npt.ArrayLike, *,
                     threshold: float = WASSERSTEIN_THRESHOLD, min_n: int = DEFAULT_MIN_N) -> TestResult:
    """``scipy.stats.wasserstein_distance(reference, window) / max(np.std(reference), 0.001)``; both arrays
    sorted ascending."""
    _check_common(threshold, min_n)
    window = _as_sorted("window", window_sorted)
    reference = _as_sorted("reference", reference_sorted)
    return _wasserstein_result(column, window, reference, None, threshold, min_n)


def numeric_tests(column: str, window_sorted: npt.ArrayLike, reference_sorted: npt.ArrayLike,
                  edges: npt.ArrayLike, ref_fractions: npt.ArrayLike, *, ks_threshold: float = KS_THRESHOLD,
                  psi_threshold: float = PSI_THRESHOLD, wasserstein_threshold: float = WASSERSTEIN_THRESHOLD,
                  min_n: int = DEFAULT_MIN_N) -> NumericResults:
    """KS, PSI and normalised Wasserstein of one numeric column, checking the (sorted) inputs once."""
    for threshold in (ks_threshold, psi_threshold, wasserstein_threshold):
        _check_common(threshold, min_n)
    window = _as_sorted("window", window_sorted)
    reference = _as_sorted("reference", reference_sorted)
    # KS and Wasserstein both place the reference among the window values; one search serves both.
    left = np.searchsorted(window, reference, side="left") if window.size else None
    return NumericResults(
        ks=_ks_result(column, window, reference, left, ks_threshold, min_n),
        psi=_psi_result(column, window, edges, ref_fractions, reference.size, psi_threshold, min_n),
        wasserstein=_wasserstein_result(column, window, reference, left, wasserstein_threshold, min_n),
    )


def _ks_result(column: str, window: FloatArray, reference: FloatArray, left: IntArray | None, threshold: float,
               min_n: int) -> TestResult:
    reason = _too_few(window.size, reference.size, min_n)
    if reason is not None:
        return _undecided("ks", column, threshold, window.size, reference.size, reason)
    if left is None:
        left = np.searchsorted(window, reference, side="left")
    statistic, p_value, method = _ks_2samp_sorted(window, reference, left)
    return _decided("ks", column, threshold, window.size, reference.size, statistic, p_value, {"method": method})


def _ks_2samp_sorted(window: FloatArray, reference: FloatArray, left: IntArray) -> tuple[float, float, str]:
    """(D, p, method) as ``ks_2samp(window, reference)`` computes them, from sorted arrays; ``left`` is
    ``searchsorted(window, reference, "left")``.

    ks_2samp evaluates ``F_window - F_reference`` at every value of both samples. Between two consecutive distinct
    reference values F_reference is constant and F_window rises, so the largest difference there is just below the
    upper reference value and the smallest at the lower one: evaluating both ECDFs at the reference values only
    (``side="left"`` for the limit from below, ``"right"`` for the value) gives the same set of extreme
    ``k/n1 - l/n2`` floats, with no pass over the window.
    """
    n1, n2 = window.size, reference.size
    right = left.copy()
    # Window values equal to a reference value: only those positions need the second search (few, for
    # continuous data).
    inside = np.flatnonzero(left < n1)
    tied = inside[window[left[inside]] == reference[inside]]
    if tied.size:
        right[tied] = np.searchsorted(window, reference[tied], side="right")
    below = left / n1 - np.searchsorted(reference, reference, side="left") / n2
    at = np.searchsorted(reference, reference, side="right") / n2 - right / n1
    d_plus = float(below.max())  # >= 0: the first reference value has nothing of the reference below it
    d_minus = min(max(float(at.max()), 0.0), 1.0)  # ks_2samp clips minS to [0, 1]
    d = d_minus if d_minus > d_plus else d_plus
    if max(n1, n2) <= KS_MAX_EXACT_N:
        if _attempt_exact_2kssamp is None:  # pragma: no cover - see the import
            res = scipy_stats.ks_2samp(window, reference)
            return float(res.statistic), float(res.pvalue), "auto"
        success, d, prob = _attempt_exact_2kssamp(n1, n2, math.gcd(n1, n2), d, "two-sided")
        if success:
            return float(d), _clip01(float(prob)), "exact"
        method = "asymp (exact failed)"
    else:
        method = "asymp"
    m, n = sorted([float(n1), float(n2)], reverse=True)
    prob = scipy_stats.kstwo.sf(d, np.round(m * n / (m + n)))
    return float(d), _clip01(float(prob)), method


def _psi_result(column: str, window: FloatArray, edges: npt.ArrayLike, ref_fractions: npt.ArrayLike,
                reference_n: int | None, threshold: float, min_n: int) -> TestResult:
    reason = _too_few(window.size, reference_n, min_n)
    if reason is not None:
        return _undecided("psi", column, threshold, window.size, reference_n, reason)
    edge_arr = _as_finite_1d("edges", edges)
    ref = _as_finite_1d("ref_fractions", ref_fractions)
    if edge_arr.size and not np.all(edge_arr[1:] > edge_arr[:-1]):
        raise ValueError("edges must be strictly increasing (decile_bins deduplicates them)")
    if ref.size != edge_arr.size + 1 or np.any(ref < 0) or not math.isclose(float(ref.sum()), 1.0, rel_tol=1e-6):
        raise ValueError(f"ref_fractions must be {edge_arr.size + 1} non-negative shares summing to 1")
    cur = _bin_fractions(window, edge_arr)
    # Evidently's epsilon: an empty bin on either side would make ln(ref / cur) infinite.
    ref_eps = np.where(ref == 0, PSI_EPSILON, ref)
    cur_eps = np.where(cur == 0, PSI_EPSILON, cur)
    psi = float(np.sum((ref_eps - cur_eps) * np.log(ref_eps / cur_eps)))
    details = {"edges": edge_arr.tolist(), "reference_fractions": ref.tolist(), "window_fractions": cur.tolist(),
               "epsilon": PSI_EPSILON}
    return _decided("psi", column, threshold, window.size, reference_n, psi, None, details)


def _bin_fractions(sorted_values: FloatArray, edges: FloatArray) -> FloatArray:
    # Counting values <= each edge is the right-closed binning (-inf, e1], (e1, e2], ..., (ek, inf).
    at_or_below = np.searchsorted(sorted_values, edges, side="right")
    counts = np.diff(at_or_below, prepend=0, append=sorted_values.size)
    return counts / sorted_values.size


def _wasserstein_result(column: str, window: FloatArray, reference: FloatArray, left: IntArray | None,
                        threshold: float, min_n: int) -> TestResult:
    reason = _too_few(window.size, reference.size, min_n)
    if reason is not None:
        return _undecided("wasserstein", column, threshold, window.size, reference.size, reason)
    if left is None:
        left = np.searchsorted(window, reference, side="left")
    # Values near the float limits can overflow the integral; that is reported as a reason, not as a warning.
    with np.errstate(over="ignore", invalid="ignore"):
        distance = _wasserstein_sorted(window, reference, left)
        std = float(np.std(reference))
    norm = max(std, WASSERSTEIN_MIN_STD)
    # An infinite std would make any distance look like 0; _decided turns NaN into "no decision".
    value = distance / norm if math.isfinite(norm) else math.nan
    details = {"distance": _json_float(distance), "reference_std": _json_float(std), "norm": _json_float(norm)}
    return _decided("wasserstein", column, threshold, window.size, reference.size, value, None, details)


def _wasserstein_sorted(window: FloatArray, reference: FloatArray, left: IntArray) -> float:
    """``scipy.stats.wasserstein_distance(reference, window)`` from sorted arrays (``left`` is
    ``searchsorted(window, reference, "left")``): the integral of ``|F_window - F_reference|``, summed over the
    intervals between consecutive merged values as scipy sums it, without scipy's argsorts.

    Each reference value is merged before the window values equal to it: inside a run of equal values the
    intervals are 0 wide, so only the run's last position - where both counts are complete - contributes. The
    merged sequence is processed in chunks: the temporaries then stay in cache (and are not fresh pages, which
    cost more than the arithmetic on a million values).
    """
    n1, n2 = window.size, reference.size
    total = n1 + n2
    positions = left + np.arange(n2)  # of the reference values in the merged sequence
    acc = 0.0
    for k0 in range(0, total - 1, _WASSERSTEIN_CHUNK):
        k1 = min(k0 + _WASSERSTEIN_CHUNK, total - 1)  # intervals k0 .. k1-1 need merged[k0 .. k1]
        a = int(np.searchsorted(positions, k0, side="left"))  # reference values before the chunk
        b = int(np.searchsorted(positions, k1, side="right"))
        local = positions[a:b] - k0
        is_reference = np.zeros(k1 - k0 + 1, dtype=bool)
        is_reference[local] = True
        merged = np.empty(k1 - k0 + 1, dtype=np.float64)
        merged[local] = reference[a:b]
        merged[~is_reference] = window[k0 - a:k1 + 1 - b]
        # |F_window - F_reference| * n1 * n2 after merged value k = |(k+1) * n2 - references_so_far * (n1 + n2)|,
        # exact in float64 (below 2**53), divided once at the end.
        gap = np.arange(k0 + 1, k1 + 1, dtype=np.float64)
        gap *= n2
        gap -= np.cumsum(is_reference[:-1], dtype=np.int64) * float(total)
        gap -= a * total
        np.abs(gap, out=gap)
        # Not np.dot: OpenBLAS wakes its threads for it, which costs more than the product.
        gap *= np.diff(merged)
        acc += float(gap.sum())
    return acc / (n1 * n2)


# ---------------------------------------------------------------------------------------------------------------
# Dataset level and accuracy


def drifted_share(decisions: Iterable[bool | None]) -> float | None:
    """Drifted columns / columns with a decision (one decision per column; None - too little data - is left out
    of both). None when no column could be decided."""
    decided = [d for d in decisions if d is not None]
    return sum(decided) / len(decided) if decided else None


def classification_quality(confusion: Mapping[tuple[str, str], int], *,
                           min_n: int = DEFAULT_MIN_N) -> ClassificationQuality:
    """Accuracy, per-class precision/recall/F1 and macro F1 from ``{(actual, predicted): count}``.

    Classes are the labels of the cells with a count, actual or predicted, sorted; a class never predicted has
    precision 0.0 and one never actual recall 0.0 (sklearn's ``zero_division=0``). The values equal sklearn's
    ``accuracy_score`` and ``precision_recall_fscore_support(labels=classes, zero_division=0)`` on the expanded
    label arrays.
    """
    _check_min_n(min_n)
    tp: dict[str, int] = {}
    actual: dict[str, int] = {}
    predicted: dict[str, int] = {}
    for key, count in confusion.items():
        if isinstance(count, bool) or not isinstance(count, int | np.integer) or count < 0:
            raise ValueError(f"confusion counts must be non-negative integers: {key!r}={count!r}")
        if count == 0:
            continue
        a, p = str(key[0]), str(key[1])
        actual[a] = actual.get(a, 0) + int(count)
        predicted[p] = predicted.get(p, 0) + int(count)
        if a == p:
            tp[a] = tp.get(a, 0) + int(count)
    n = sum(actual.values())
    if n < min_n:
        return ClassificationQuality(n=n, accuracy=None, macro_f1=None, reason=f"n={n} < {min_n}")
    per_class: dict[str, ClassScores] = {}
    for label in sorted(actual.keys() | predicted.keys()):
        hits, n_actual, n_predicted = tp.get(label, 0), actual.get(label, 0), predicted.get(label, 0)
        per_class[label] = ClassScores(
            precision=hits / n_predicted if n_predicted else 0.0,
            recall=hits / n_actual if n_actual else 0.0,
            # sklearn's form, 2tp / (2tp + fp + fn), rather than 2PR / (P + R): same rounding as sklearn
            f1=2 * hits / (n_actual + n_predicted),
            support=n_actual,
        )
    macro_f1 = float(np.mean([s.f1 for s in per_class.values()]))
    return ClassificationQuality(n=n, accuracy=sum(tp.values()) / n, macro_f1=macro_f1, per_class=per_class)


def regression_quality(actual: npt.ArrayLike, predicted: npt.ArrayLike, *,
                       min_n: int = DEFAULT_MIN_N) -> RegressionQuality:
    """MAE and RMSE of labelled predictions (equal to sklearn's ``mean_absolute_error`` and
    ``sqrt(mean_squared_error)``)."""
    _check_min_n(min_n)
    a = _as_finite_1d("actual", actual)
    p = _as_finite_1d("predicted", predicted)
    if a.shape != p.shape:
        raise ValueError(f"actual and predicted differ in length: {a.size} != {p.size}")
    if a.size < min_n:
        return RegressionQuality(n=a.size, mae=None, rmse=None, reason=f"n={a.size} < {min_n}")
    with np.errstate(over="ignore"):  # errors beyond 1e154 square to inf: reported as a reason below
        error = p - a
        mae = float(np.mean(np.abs(error)))
        rmse = float(np.sqrt(np.mean(error * error)))
    if not (math.isfinite(mae) and math.isfinite(rmse)):
        return RegressionQuality(n=a.size, mae=None, rmse=None, reason="errors too large for a float")
    return RegressionQuality(n=a.size, mae=mae, rmse=rmse)


# ---------------------------------------------------------------------------------------------------------------
# Helpers


def _check_common(threshold: float, min_n: int) -> None:
    if not math.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number, not {threshold!r}")
    _check_min_n(min_n)


def _check_min_n(min_n: int) -> None:
    # At least one value: the statistics divide by the sample sizes.
    if min_n < 1:
        raise ValueError(f"min_n must be at least 1, not {min_n}")


def _too_few(n: int, reference_n: int | None, min_n: int) -> str | None:
    parts = []
    if n < min_n:
        parts.append(f"n={n} < {min_n}")
    if reference_n is not None and reference_n < min_n:
        parts.append(f"reference n={reference_n} < {min_n}")
    return "; ".join(parts) or None


def _as_finite_1d(name: str, values: npt.ArrayLike) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, not of shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values (count and exclude them before testing)")
    return arr


def _as_sorted(name: str, values: npt.ArrayLike) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, not of shape {arr.shape}")
    # Sorted with finite ends means finite throughout, so a million values are checked in one comparison pass;
    # NaN anywhere fails the >= comparison.
    if arr.size and not (math.isfinite(arr[0]) and math.isfinite(arr[-1]) and _is_sorted(arr)):
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} contains NaN or infinite values (count and exclude them before testing)")
        raise ValueError(f"{name} must be sorted ascending (np.sort)")
    return arr


def _is_sorted(arr: FloatArray) -> bool:
    return bool(np.all(arr[1:] >= arr[:-1]))


def _clip01(p: float) -> float:
    return min(max(p, 0.0), 1.0)


def _json_float(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _undecided(test: TestName, column: str, threshold: float, n: int, reference_n: int | None, reason: str,
               details: dict[str, Any] | None = None) -> TestResult:
    return TestResult(test=test, column=column, statistic=None, p_value=None, threshold=threshold, drifted=None,
                       n=n, reference_n=reference_n, reason=reason, details=details or {})


def _decided(test: TestName, column: str, threshold: float, n: int, reference_n: int | None, statistic: float,
             p_value: float | None, details: dict[str, Any]) -> TestResult:
    """The result of a computed statistic; drift is ``p_value < threshold`` for tests with a p-value, else
    ``statistic >= threshold``. A non-finite statistic (only from values near the float limits) is no decision."""
    if not math.isfinite(statistic) or (p_value is not None and not math.isfinite(p_value)):
        return _undecided(test, column, threshold, n, reference_n, "the statistic is not a finite number", details)
    drifted = p_value < threshold if p_value is not None else statistic >= threshold
    return TestResult(test=test, column=column, statistic=statistic, p_value=p_value, threshold=threshold,
                       drifted=drifted, n=n, reference_n=reference_n, details=details)
