"""serving.monitoring.stats against scipy and sklearn on fixed (seeded) inputs, and the too-little-data rules."""

from __future__ import annotations

import json
import math
import warnings
from typing import Any

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    precision_recall_fscore_support,
)

from serving.monitoring import stats
from serving.monitoring.stats import (
    TestResult,
    chisquare_test,
    classification_quality,
    decile_bins,
    drifted_share,
    ks_test,
    numeric_tests,
    psi_test,
    regression_quality,
    wasserstein_test,
)

REL = 1e-9


def _json_roundtrip(result: TestResult) -> dict[str, Any]:
    """Results must serialise with strict JSON (no NaN/inf) and hold plain Python floats."""
    data: dict[str, Any] = json.loads(json.dumps(result.model_dump(), allow_nan=False))
    for key in ("statistic", "p_value", "threshold"):
        value = getattr(result, key)
        assert value is None or type(value) is float, (key, type(value))
    assert result.drifted is None or type(result.drifted) is bool
    return data


def _expected_psi(reference: np.ndarray, window: np.ndarray, edges: np.ndarray) -> float:
    """PSI written independently: every value binned by itself, (-inf, e1], (e1, e2], ..., (ek, inf)."""
    k = edges.size + 1
    ref = np.bincount(np.searchsorted(edges, reference, side="left"), minlength=k) / reference.size
    cur = np.bincount(np.searchsorted(edges, window, side="left"), minlength=k) / window.size
    ref = np.where(ref == 0, 0.0001, ref)
    cur = np.where(cur == 0, 0.0001, cur)
    return float(sum((r - c) * math.log(r / c) for r, c in zip(ref, cur, strict=True)))


def _wasserstein_norm(reference: np.ndarray, window: np.ndarray) -> float:
    return float(scipy.stats.wasserstein_distance(reference, window) / max(np.std(reference), 0.001))


# ---------------------------------------------------------------------------------------------------------------
# chi-square


def test_chisquare_equals_scipy_on_shared_categories() -> None:
    observed = {"a": 30, "b": 50, "c": 20}
    reference = {"a": 0.25, "b": 0.5, "c": 0.25}
    res = chisquare_test("prediction", observed, reference, reference_n=400)
    expected = scipy.stats.chisquare([30, 50, 20], [25.0, 50.0, 25.0])
    assert res.test == "chisquare"
    assert res.statistic == pytest.approx(float(expected.statistic), rel=REL)
    assert res.statistic == pytest.approx(2.0, rel=REL)  # (5**2 + 0 + 5**2) / 25
    assert res.p_value == pytest.approx(float(expected.pvalue), rel=REL)
    assert res.drifted is False
    assert res.n == 100
    assert res.reference_n == 400
    assert res.reason is None
    assert res.details["categories"] == ["a", "b", "c"]
    assert res.details["observed"] == [30, 50, 20]
    assert res.details["expected"] == pytest.approx([25.0, 50.0, 25.0], rel=REL)
    assert res.details["unseen"] == []
    _json_roundtrip(res)


def test_chisquare_counts_categories_unseen_in_the_reference() -> None:
    observed = {"b": 50, "a": 40, "new": 10}
    res = chisquare_test("prediction", observed, {"a": 0.5, "b": 0.5}, reference_n=200)
    floor = 0.5 / 200
    weights = np.array([0.5, 0.5, floor])  # a, b, new
    f_exp = weights / weights.sum() * 100
    expected = scipy.stats.chisquare([40, 50, 10], f_exp)
    assert res.details["categories"] == ["a", "b", "new"]
    assert res.details["unseen"] == ["new"]
    assert res.details["unseen_floor"] == pytest.approx(floor)
    assert res.details["expected"] == pytest.approx(list(f_exp), rel=REL)
    assert sum(res.details["expected"]) == pytest.approx(100.0, rel=1e-12)
    assert res.statistic == pytest.approx(float(expected.statistic), rel=REL)
    assert res.p_value == pytest.approx(float(expected.pvalue), rel=REL, abs=1e-300)
    assert res.statistic is not None and res.statistic > 300  # an unseen category is a large, finite term
    assert res.drifted is True
    _json_roundtrip(res)


def test_chisquare_reference_categories_missing_from_the_window_are_observed_zero_times() -> None:
    observed = {"a": 45, "b": 55, "gone": 0}
    reference = {"a": 0.4, "b": 0.4, "gone": 0.2}
    res = chisquare_test("prediction", observed, reference, reference_n=1000)
    expected = scipy.stats.chisquare([45, 55, 0], [40.0, 40.0, 20.0])
    assert res.details["categories"] == ["a", "b", "gone"]
    assert res.details["observed"] == [45, 55, 0]
    assert res.details["unseen"] == []
    assert res.statistic == pytest.approx(float(expected.statistic), rel=REL)
    assert res.statistic == pytest.approx(25 / 40 + 225 / 40 + 20.0, rel=REL)
    assert res.p_value == pytest.approx(float(expected.pvalue), rel=REL)
    assert res.drifted is True


def test_chisquare_expected_shares_without_reference_n_use_the_1e4_floor() -> None:
    # The seed's `--expected Excellent=0.5,Poor=0.5`: shares, no sample size.
    shares = {"Excellent": 0.5, "Poor": 0.5}
    balanced = chisquare_test("quality", {"Excellent": 48, "Poor": 52}, shares, reference_n=None)
    assert balanced.statistic == pytest.approx(0.16, rel=REL)  # (2**2 + 2**2) / 50
    assert balanced.p_value == pytest.approx(float(scipy.stats.chisquare([48, 52], [50.0, 50.0]).pvalue), rel=REL)
    assert balanced.drifted is False
    assert balanced.reference_n is None

    res = chisquare_test("quality", {"Excellent": 40, "Poor": 55, "Average": 5}, shares, reference_n=None)
    weights = np.array([1e-4, 0.5, 0.5])  # Average, Excellent, Poor
    f_exp = weights / weights.sum() * 100
    expected = scipy.stats.chisquare([5, 40, 55], f_exp)
    assert res.details["categories"] == ["Average", "Excellent", "Poor"]
    assert res.details["unseen"] == ["Average"]
    assert res.details["unseen_floor"] == 1e-4
    assert res.statistic == pytest.approx(float(expected.statistic), rel=REL)
    assert res.p_value == pytest.approx(float(expected.pvalue), rel=REL, abs=1e-300)
    assert res.drifted is True


def test_chisquare_explicit_floor_and_unnormalised_weights() -> None:
    res = chisquare_test("c", {"x": 70, "y": 20, "z": 10}, {"x": 300, "y": 100}, reference_n=400, unseen_floor=20)
    weights = np.array([300.0, 100.0, 20.0])
    expected = scipy.stats.chisquare([70, 20, 10], weights / weights.sum() * 100)
    assert res.statistic == pytest.approx(float(expected.statistic), rel=REL)
    assert res.p_value == pytest.approx(float(expected.pvalue), rel=REL)
    assert res.details["unseen_floor"] == 20.0


def test_chisquare_too_little_data_is_a_reason_not_a_p_value() -> None:
    small = chisquare_test("c", {"a": 2, "b": 1}, {"a": 0.5, "b": 0.5}, reference_n=500)
    assert small.reason == "n=3 < 30"
    assert (small.statistic, small.p_value, small.drifted) == (None, None, None)
    assert small.n == 3
    _json_roundtrip(small)

    small_ref = chisquare_test("c", {"a": 20, "b": 20}, {"a": 0.5, "b": 0.5}, reference_n=12)
    assert small_ref.reason == "reference n=12 < 30"
    assert small_ref.drifted is None

    both = chisquare_test("c", {"a": 2}, {"a": 1.0}, reference_n=12)
    assert both.reason == "n=2 < 30; reference n=12 < 30"

    custom = chisquare_test("c", {"a": 6, "b": 4}, {"a": 0.5, "b": 0.5}, reference_n=None, min_n=10)
    assert custom.reason is None
    assert custom.statistic == pytest.approx(0.4, rel=REL)


def test_chisquare_single_category_is_not_tested() -> None:
    res = chisquare_test("c", {"a": 100}, {"a": 1.0}, reference_n=100)
    assert res.statistic is None
    assert res.drifted is None
    assert res.reason == "one category ('a'): nothing to test"


@pytest.mark.parametrize(
    ("observed", "reference"),
    [
        ({"a": -1, "b": 40}, {"a": 0.5, "b": 0.5}),
        ({"a": 1.5, "b": 40}, {"a": 0.5, "b": 0.5}),
        ({"a": 10, "b": 40}, {"a": float("nan"), "b": 0.5}),
        ({"a": 10, "b": 40}, {"a": 0.0}),
        ({"a": 10, "b": 40}, {}),
    ],
)
def test_chisquare_rejects_bad_counts_and_frequencies(observed: dict[str, Any], reference: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        chisquare_test("c", observed, reference, reference_n=100)


# ---------------------------------------------------------------------------------------------------------------
# KS


def _assert_ks_equals_scipy(window: np.ndarray, reference: np.ndarray) -> TestResult:
    res = ks_test("x", np.sort(window), np.sort(reference))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        expected = scipy.stats.ks_2samp(window, reference)
    # ks_2samp warns when its exact computation fails and it falls back to asymp (even for small samples, e.g. a
    # tiny D with many ties); the fallback must be the same here, reported in details instead of as a warning.
    exact_failed = any("Exact calculation unsuccessful" in str(w.message) for w in caught)
    assert [str(w.message) for w in caught if "Exact calculation unsuccessful" not in str(w.message)] == []
    if exact_failed:
        assert res.details == {"method": "asymp (exact failed)"}
    assert res.statistic == pytest.approx(float(expected.statistic), rel=REL)
    assert res.p_value == pytest.approx(float(expected.pvalue), rel=REL, abs=1e-300)
    assert res.drifted is (float(expected.pvalue) < 0.05)
    return res


@pytest.mark.parametrize("shift", [0.0, 0.3, 1.0])
def test_ks_small_samples_use_the_exact_distribution(shift: float) -> None:
    rng = np.random.default_rng(7)
    window, reference = rng.normal(shift, 1.0, 60), rng.normal(0.0, 1.0, 95)
    res = _assert_ks_equals_scipy(window, reference)
    assert res.details == {"method": "exact"}
    assert res.n == 60
    assert res.reference_n == 95
    _json_roundtrip(res)


def test_ks_small_samples_with_ties() -> None:
    rng = np.random.default_rng(8)
    window = rng.integers(0, 5, 80).astype(float)
    reference = rng.integers(1, 6, 120).astype(float)
    res = _assert_ks_equals_scipy(window, reference)
    assert res.drifted is True


def test_ks_large_samples_use_the_asymptotic_distribution() -> None:
    rng = np.random.default_rng(9)
    window, reference = rng.normal(0.03, 1.0, 50_000), rng.normal(0.0, 1.0, 8_000)
    res = _assert_ks_equals_scipy(window, reference)
    assert res.details == {"method": "asymp"}


def test_ks_large_samples_with_ties() -> None:
    rng = np.random.default_rng(10)
    window = np.round(rng.normal(0.0, 1.0, 40_000), 1)
    reference = np.round(rng.normal(0.0, 1.0, 10_000), 1)
    res = _assert_ks_equals_scipy(window, reference)
    assert res.details == {"method": "asymp"}
    assert res.drifted is False


def test_ks_reference_entirely_below_or_above_the_window() -> None:
    rng = np.random.default_rng(11)
    reference = rng.normal(0.0, 1.0, 200)
    res = _assert_ks_equals_scipy(reference + 100.0, reference)
    assert res.statistic == 1.0
    res = _assert_ks_equals_scipy(reference - 100.0, reference)
    assert res.statistic == 1.0


def test_ks_exact_failure_falls_back_to_asymp_like_scipy() -> None:
    reference = np.arange(10_000.0)
    window = reference + 10.5
    res = ks_test("x", window, reference)
    with pytest.warns(RuntimeWarning, match="Exact calculation unsuccessful"):
        expected = scipy.stats.ks_2samp(window, reference)
    assert res.details == {"method": "asymp (exact failed)"}
    assert res.statistic == pytest.approx(float(expected.statistic), rel=REL)
    assert res.p_value == pytest.approx(float(expected.pvalue), rel=REL)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(-3, 3), min_size=30, max_size=70),
    st.lists(st.integers(-2, 4), min_size=30, max_size=70),
)
def test_ks_equals_scipy_on_small_integer_samples(window: list[int], reference: list[int]) -> None:
    w, r = np.array(window, dtype=float), np.array(reference, dtype=float)
    _assert_ks_equals_scipy(w, r)


# ---------------------------------------------------------------------------------------------------------------
# PSI


def test_decile_bins_are_the_reference_quantiles() -> None:
    rng = np.random.default_rng(12)
    reference = rng.normal(5.0, 2.0, 10_000)
    edges, fractions = decile_bins(reference)  # unsorted input is fine
    np.testing.assert_array_equal(edges, np.quantile(reference, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]))
    assert fractions.size == 10
    assert fractions.sum() == pytest.approx(1.0, rel=1e-12)
    np.testing.assert_allclose(fractions, 0.1, atol=1e-3)


def test_decile_bins_deduplicate_ties_and_close_bins_on_the_right() -> None:
    # 101 values: the deciles sit at positions 10, 20, ..., 90, inside the runs, so they are 1 1 1 2 2 3 3 4 4.
    reference = np.repeat([1.0, 2.0, 3.0, 4.0], [31, 20, 20, 30])
    edges, fractions = decile_bins(reference)
    np.testing.assert_array_equal(np.quantile(reference, np.arange(1, 10) / 10), [1, 1, 1, 2, 2, 3, 3, 4, 4])
    np.testing.assert_array_equal(edges, [1.0, 2.0, 3.0, 4.0])
    # (-inf, 1], (1, 2], (2, 3], (3, 4], (4, inf): each value sits in the bin its edge closes.
    np.testing.assert_allclose(fractions, np.array([31, 20, 20, 30, 0]) / 101)

    window = np.sort(np.array([2.0] * 40 + [2.5] * 10 + [6.0] * 10))
    res = psi_test("x", window, edges, fractions, reference_n=101)
    assert res.details["window_fractions"] == pytest.approx([0.0, 40 / 60, 10 / 60, 0.0, 10 / 60])
    assert res.statistic == pytest.approx(_expected_psi(reference, window, edges), rel=REL)
    assert res.details["epsilon"] == 0.0001
    assert res.drifted is True


def test_decile_bins_of_a_constant_reference() -> None:
    edges, fractions = decile_bins(np.full(50, 3.0))
    np.testing.assert_array_equal(edges, [3.0])
    np.testing.assert_array_equal(fractions, [1.0, 0.0])


@pytest.mark.parametrize(("shift", "drifted"), [(0.0, False), (0.5, True)])
def test_psi_equals_a_direct_formula(shift: float, drifted: bool) -> None:
    rng = np.random.default_rng(13)
    reference = rng.normal(0.0, 1.0, 10_000)
    window = rng.normal(shift, 1.0, 20_000)
    edges, fractions = decile_bins(reference)
    res = psi_test("x", np.sort(window), edges, fractions, reference_n=reference.size)
    assert res.test == "psi"
    assert res.p_value is None
    assert res.statistic == pytest.approx(_expected_psi(reference, window, edges), rel=REL)
    assert res.drifted is drifted
    assert res.threshold == 0.1
    assert len(res.details["window_fractions"]) == 10
    _json_roundtrip(res)


def test_psi_threshold_is_inclusive_and_configurable() -> None:
    rng = np.random.default_rng(14)
    reference = rng.normal(0.0, 1.0, 5_000)
    window = np.sort(rng.normal(0.35, 1.0, 5_000))
    edges, fractions = decile_bins(reference)
    psi = psi_test("x", window, edges, fractions, reference_n=5_000).statistic
    assert psi is not None and 0.1 < psi < 0.2
    assert psi_test("x", window, edges, fractions, reference_n=5_000, threshold=psi).drifted is True
    significant = psi_test("x", window, edges, fractions, reference_n=5_000, threshold=stats.PSI_SIGNIFICANT)
    assert significant.drifted is False


def test_psi_rejects_bins_that_do_not_fit() -> None:
    window = np.arange(100.0)
    with pytest.raises(ValueError, match="ref_fractions"):
        psi_test("x", window, [10.0, 20.0], [0.5, 0.5], reference_n=100)
    with pytest.raises(ValueError, match="strictly increasing"):
        psi_test("x", window, [20.0, 10.0], [0.2, 0.3, 0.5], reference_n=100)


# ---------------------------------------------------------------------------------------------------------------
# Wasserstein


@pytest.mark.parametrize(
    ("window_size", "reference_size", "shift", "drifted"),
    [
        (30, 30, 0.0, True),  # 0.27: with 30 values the sampling noise alone crosses 0.1
        (500, 10_000, 0.6, True),  # 0.27
        (200_000, 10_000, 0.05, False),  # 0.048
        (150_000, 3_000, -0.5, True),  # 0.24
    ],
)
def test_wasserstein_equals_scipy_normalised(window_size: int, reference_size: int, shift: float,
                                             drifted: bool) -> None:
    rng = np.random.default_rng(window_size + reference_size)
    reference = rng.normal(1.0, 2.0, reference_size)
    window = rng.normal(1.0 + shift, 2.0, window_size)
    res = wasserstein_test("x", np.sort(window), np.sort(reference))
    assert res.statistic == pytest.approx(_wasserstein_norm(reference, window), rel=REL)
    assert res.details["distance"] == pytest.approx(float(scipy.stats.wasserstein_distance(reference, window)),
                                                    rel=REL)
    assert res.details["reference_std"] == pytest.approx(float(np.std(reference)), rel=1e-12)
    assert res.drifted is drifted
    _json_roundtrip(res)


def test_wasserstein_with_ties_across_chunks() -> None:
    # Few distinct values, so runs of equal values straddle the chunk boundaries of the merged sequence.
    rng = np.random.default_rng(15)
    window = rng.integers(0, 7, 300_000).astype(float)
    reference = rng.integers(1, 7, 9_000).astype(float)
    res = wasserstein_test("x", np.sort(window), np.sort(reference))
    assert res.statistic == pytest.approx(_wasserstein_norm(reference, window), rel=REL)


def test_wasserstein_of_a_constant_reference_uses_the_minimum_norm() -> None:
    reference = np.full(100, 2.0)
    window = np.sort(np.random.default_rng(16).normal(2.0, 0.01, 100))
    res = wasserstein_test("x", window, reference)
    assert res.details["norm"] == 0.001
    assert res.statistic == pytest.approx(float(scipy.stats.wasserstein_distance(reference, window)) / 0.001,
                                          rel=REL)
    assert res.drifted is True


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(-5, 5), min_size=30, max_size=80),
    st.lists(st.integers(-5, 5), min_size=30, max_size=80),
)
def test_wasserstein_equals_scipy_on_small_integer_samples(window: list[int], reference: list[int]) -> None:
    w, r = np.array(window, dtype=float), np.array(reference, dtype=float)
    res = wasserstein_test("x", np.sort(w), np.sort(r))
    assert res.statistic == pytest.approx(_wasserstein_norm(r, w), rel=REL, abs=1e-15)


# ---------------------------------------------------------------------------------------------------------------
# numeric_tests, reasons, input checks


def test_numeric_tests_equal_the_single_tests() -> None:
    rng = np.random.default_rng(17)
    reference = np.sort(rng.normal(0.0, 1.0, 10_000))
    window = rng.normal(0.5, 1.1, 100_000)
    window_sorted = np.sort(window)
    edges, fractions = decile_bins(reference)
    res = numeric_tests("alcohol", window_sorted, reference, edges, fractions)
    assert res.ks == ks_test("alcohol", window_sorted, reference)
    assert res.psi == psi_test("alcohol", window_sorted, edges, fractions, reference_n=10_000)
    assert res.wasserstein == wasserstein_test("alcohol", window_sorted, reference)
    expected_ks = scipy.stats.ks_2samp(window, reference)
    assert res.ks.statistic == pytest.approx(float(expected_ks.statistic), rel=REL)
    assert res.ks.p_value == pytest.approx(float(expected_ks.pvalue), rel=REL, abs=1e-300)
    assert res.wasserstein.statistic == pytest.approx(_wasserstein_norm(reference, window), rel=REL)
    assert res.psi.statistic == pytest.approx(_expected_psi(reference, window, edges), rel=REL)
    assert (res.ks.drifted, res.psi.drifted, res.wasserstein.drifted) == (True, True, True)
    json.loads(res.model_dump_json())


def test_numeric_tests_with_too_little_data() -> None:
    reference = np.sort(np.random.default_rng(18).normal(size=1000))
    edges, fractions = decile_bins(reference)
    res = numeric_tests("x", np.array([0.1, 0.2, 0.3]), reference, edges, fractions)
    for r in (res.ks, res.psi, res.wasserstein):
        assert r.reason == "n=3 < 30"
        assert (r.statistic, r.p_value, r.drifted) == (None, None, None)
        assert r.n == 3
        _json_roundtrip(r)

    small_ref = np.sort(np.random.default_rng(19).normal(size=12))
    res = numeric_tests("x", reference, small_ref, *decile_bins(small_ref))
    assert {r.reason for r in (res.ks, res.psi, res.wasserstein)} == {"reference n=12 < 30"}

    # An empty reference (no numeric value in it) has no bins; that is a reason, not an error.
    res = numeric_tests("x", reference, np.empty(0), np.empty(0), np.empty(0))
    assert res.psi.reason == "reference n=0 < 30"
    assert res.ks.reason == "reference n=0 < 30"


def test_min_n_is_configurable() -> None:
    window = np.sort(np.random.default_rng(20).normal(size=10))
    reference = np.sort(np.random.default_rng(21).normal(size=10))
    assert ks_test("x", window, reference).reason == "n=10 < 30; reference n=10 < 30"
    res = ks_test("x", window, reference, min_n=10)
    assert res.reason is None
    assert res.p_value == pytest.approx(float(scipy.stats.ks_2samp(window, reference).pvalue), rel=REL)
    with pytest.raises(ValueError, match="min_n"):
        ks_test("x", window, reference, min_n=0)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_input_is_rejected(bad: float) -> None:
    reference = np.sort(np.random.default_rng(22).normal(size=100))
    window = np.sort(np.append(np.random.default_rng(23).normal(size=100), bad))
    edges, fractions = decile_bins(reference)
    with pytest.raises(ValueError, match="NaN or infinite"):
        numeric_tests("x", window, reference, edges, fractions)
    with pytest.raises(ValueError, match="NaN or infinite"):
        ks_test("x", reference, window)
    with pytest.raises(ValueError, match="NaN or infinite"):
        wasserstein_test("x", window, reference)
    with pytest.raises(ValueError, match="NaN or infinite"):
        psi_test("x", window, edges, fractions, reference_n=100)
    with pytest.raises(ValueError, match="NaN or infinite"):
        decile_bins(window)
    with pytest.raises(ValueError, match="NaN or infinite"):
        regression_quality(window, window)


def test_nan_inside_a_sorted_looking_array_is_rejected() -> None:
    window = np.array([*np.arange(50.0), math.nan, *np.arange(50.0, 100.0)])
    with pytest.raises(ValueError, match="NaN or infinite"):
        ks_test("x", window, np.arange(100.0))


def test_unsorted_input_is_rejected() -> None:
    window = np.random.default_rng(24).normal(size=100)
    with pytest.raises(ValueError, match="sorted"):
        ks_test("x", window, np.arange(100.0))
    with pytest.raises(ValueError, match="one-dimensional"):
        wasserstein_test("x", np.zeros((10, 10)), np.arange(100.0))


# ---------------------------------------------------------------------------------------------------------------
# dataset level


def test_drifted_share() -> None:
    assert drifted_share([True, False, None, True]) == pytest.approx(2 / 3)
    assert drifted_share([False, None]) == 0.0
    assert drifted_share([None, None]) is None
    assert drifted_share([]) is None
    assert drifted_share(r.drifted for r in [_decided(True), _decided(None)]) == 1.0


def _decided(drifted: bool | None) -> TestResult:
    return TestResult(test="psi", column="x", statistic=None if drifted is None else 0.5, threshold=0.1,
                       drifted=drifted, n=100, reference_n=100)


# ---------------------------------------------------------------------------------------------------------------
# accuracy


def test_classification_quality_equals_sklearn() -> None:
    rng = np.random.default_rng(25)
    labels = ["Average", "Excellent", "Poor"]
    confusion: dict[tuple[str, str], int] = {}
    for actual in labels:
        for predicted in labels:
            confusion[(actual, predicted)] = int(rng.integers(0, 40))
    confusion[("Rare", "Average")] = 3  # actual only: recall 0, never predicted -> precision 0.0 (zero_division)
    confusion[("Poor", "Ghost")] = 2  # predicted only: recall 0.0 (zero_division), precision 0
    confusion[("Average", "Unused")] = 0  # a zero cell names no class
    y_true = [a for (a, _), c in confusion.items() for _ in range(c)]
    y_pred = [p for (_, p), c in confusion.items() for _ in range(c)]

    q = classification_quality(confusion)
    classes = sorted(set(y_true) | set(y_pred))
    assert list(q.per_class) == classes == ["Average", "Excellent", "Ghost", "Poor", "Rare"]
    assert q.n == len(y_true)
    assert q.accuracy == pytest.approx(accuracy_score(y_true, y_pred), rel=REL)
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=classes,
                                                                     zero_division=0)
    for i, label in enumerate(classes):
        scores = q.per_class[label]
        assert scores.precision == pytest.approx(float(precision[i]), rel=REL, abs=1e-15)
        assert scores.recall == pytest.approx(float(recall[i]), rel=REL, abs=1e-15)
        assert scores.f1 == pytest.approx(float(f1[i]), rel=REL, abs=1e-15)
        assert scores.support == int(support[i])
    assert q.per_class["Ghost"].precision == 0.0
    assert q.per_class["Rare"].recall == 0.0
    assert q.macro_f1 == pytest.approx(f1_score(y_true, y_pred, labels=classes, average="macro", zero_division=0),
                                       rel=REL)
    assert q.reason is None
    json.loads(q.model_dump_json())


def test_classification_quality_with_too_few_labels() -> None:
    q = classification_quality({("a", "a"): 2, ("a", "b"): 1})
    assert q.reason == "n=3 < 30"
    assert (q.accuracy, q.macro_f1, q.per_class) == (None, None, {})
    assert q.n == 3
    assert classification_quality({("a", "a"): 2, ("a", "b"): 1}, min_n=3).accuracy == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        classification_quality({("a", "a"): -1})


def test_regression_quality_equals_sklearn() -> None:
    rng = np.random.default_rng(26)
    actual = rng.normal(5.0, 1.0, 500)
    predicted = actual + rng.normal(0.2, 0.5, 500)
    q = regression_quality(actual, predicted)
    assert q.n == 500
    assert q.mae == pytest.approx(float(mean_absolute_error(actual, predicted)), rel=REL)
    assert q.rmse == pytest.approx(math.sqrt(float(mean_squared_error(actual, predicted))), rel=REL)
    assert q.reason is None
    assert type(q.mae) is float and type(q.rmse) is float


def test_regression_quality_with_too_few_labels_or_mismatched_lengths() -> None:
    q = regression_quality(np.arange(3.0), np.arange(3.0))
    assert q.reason == "n=3 < 30"
    assert (q.mae, q.rmse) == (None, None)
    with pytest.raises(ValueError, match="length"):
        regression_quality(np.arange(40.0), np.arange(41.0))
    huge = regression_quality(np.full(40, -1e200), np.full(40, 1e200))
    assert (huge.mae, huge.rmse, huge.reason) == (None, None, "errors too large for a float")
