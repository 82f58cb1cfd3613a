"""Fixed-horizon tests: hand checks against scipy, then coverage and A/A by simulation.

Bands are the issue's: the 95 % interval covers the true uplift in 91-98 % of 200 simulated
experiments, and an A/A test rejects at alpha 0.05 in 2-8 % of 200 runs. Each simulation
draws all 200 experiments at once.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from recommender.experiments.stats import (
    proportion_test,
    relative_interval,
    sample_ratio_mismatch,
    welch_test,
)

RUNS = 200
ALPHA = 0.05
COVERAGE_BAND = (0.91, 0.98)
AA_BAND = (0.02, 0.08)


def test_z_test_equals_uncorrected_chi_square() -> None:
    x_c, n_c, x_t, n_t = 120, 1000, 151, 1000
    table = np.array([[x_c, n_c - x_c], [x_t, n_t - x_t]])
    chi2, p_value, *_ = sps.chi2_contingency(table, correction=False)
    result = proportion_test(x_c, n_c, x_t, n_t)
    assert float(result.statistic) ** 2 == pytest.approx(chi2)
    assert float(result.p_value) == pytest.approx(p_value)
    assert float(result.absolute) == pytest.approx(x_t / n_t - x_c / n_c)
    se = np.sqrt(0.12 * 0.88 / 1000 + 0.151 * 0.849 / 1000)
    assert float(result.absolute_high - result.absolute) == pytest.approx(sps.norm.ppf(0.975) * se)
    assert float(result.relative) == pytest.approx(0.151 / 0.12 - 1)


def test_welch_matches_scipy() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(10, 2, 40), rng.normal(11, 5, 70)
    ours = welch_test(a.mean(), a.var(ddof=1), a.size, b.mean(), b.var(ddof=1), b.size)
    theirs = sps.ttest_ind(b, a, equal_var=False)
    assert float(ours.statistic) == pytest.approx(theirs.statistic)
    assert float(ours.p_value) == pytest.approx(theirs.pvalue)
    low, high = theirs.confidence_interval(0.95)
    assert float(ours.absolute_low) == pytest.approx(low)
    assert float(ours.absolute_high) == pytest.approx(high)


def test_relative_interval_needs_positive_means() -> None:
    rel, low, high = relative_interval(0.0, 0.0, 0.1, 1e-4, 1.96)
    assert np.isnan([rel, low, high]).all()
    rel, low, high = relative_interval(0.1, 1e-4, 0.12, 1e-4, 1.96)
    assert low < rel < high
    assert rel == pytest.approx(0.2)


def _share(mask: np.ndarray) -> float:
    return float(np.mean(mask))


def test_proportion_intervals_cover_true_uplift() -> None:
    rng = np.random.default_rng(7)
    n, p_c, p_t = 4000, 0.10, 0.12
    x_c, x_t = rng.binomial(n, p_c, RUNS), rng.binomial(n, p_t, RUNS)
    result = proportion_test(x_c, n, x_t, n, ALPHA)
    absolute = (result.absolute_low <= p_t - p_c) & (p_t - p_c <= result.absolute_high)
    relative = (result.relative_low <= p_t / p_c - 1) & (p_t / p_c - 1 <= result.relative_high)
    assert COVERAGE_BAND[0] <= _share(absolute) <= COVERAGE_BAND[1]
    assert COVERAGE_BAND[0] <= _share(relative) <= COVERAGE_BAND[1]


def _lognormal_arms(rng: np.random.Generator, n: int, lift: float) -> tuple[np.ndarray, ...]:
    control = rng.lognormal(3.0, 0.8, (RUNS, n))
    treatment = rng.lognormal(3.0, 0.8, (RUNS, n)) * (1 + lift)
    return control, treatment


def test_welch_intervals_cover_true_uplift() -> None:
    rng = np.random.default_rng(11)
    lift = 0.1
    control, treatment = _lognormal_arms(rng, 1500, lift)
    true_mean = np.exp(3.0 + 0.8**2 / 2)
    result = welch_test(
        control.mean(1), control.var(1, ddof=1), control.shape[1],
        treatment.mean(1), treatment.var(1, ddof=1), treatment.shape[1], ALPHA,
    )  # fmt: skip
    absolute = (result.absolute_low <= lift * true_mean) & (
        lift * true_mean <= result.absolute_high
    )
    relative = (result.relative_low <= lift) & (lift <= result.relative_high)
    assert COVERAGE_BAND[0] <= _share(absolute) <= COVERAGE_BAND[1]
    assert COVERAGE_BAND[0] <= _share(relative) <= COVERAGE_BAND[1]


def test_aa_tests_reject_at_about_alpha() -> None:
    rng = np.random.default_rng(3)
    n, rate = 5000, 0.08
    z = proportion_test(rng.binomial(n, rate, RUNS), n, rng.binomial(n, rate, RUNS), n, ALPHA)
    control, treatment = _lognormal_arms(rng, 800, 0.0)
    welch = welch_test(
        control.mean(1), control.var(1, ddof=1), 800, treatment.mean(1), treatment.var(1, ddof=1),
        800, ALPHA,
    )  # fmt: skip
    assert AA_BAND[0] <= _share(z.p_value < ALPHA) <= AA_BAND[1]
    assert AA_BAND[0] <= _share(welch.p_value < ALPHA) <= AA_BAND[1]
    # The interval and the test agree: zero is outside the interval exactly when p < alpha.
    outside = (z.absolute_low > 0) | (z.absolute_high < 0)
    assert _share(outside) == pytest.approx(_share(z.p_value < ALPHA), abs=0.02)


def test_real_uplift_is_detected() -> None:
    rng = np.random.default_rng(5)
    n = 20_000
    result = proportion_test(rng.binomial(n, 0.10, RUNS), n, rng.binomial(n, 0.12, RUNS), n)
    assert _share(result.p_value < ALPHA) > 0.95


def test_srm_flags_a_skewed_split_only() -> None:
    skewed = sample_ratio_mismatch([5200, 4800], [0.5, 0.5])
    assert skewed.flagged
    assert skewed.p_value < 0.001
    fair = sample_ratio_mismatch([5030, 2980, 1990], [5, 3, 2])
    assert not fair.flagged
    assert fair.expected == pytest.approx((5000.0, 3000.0, 2000.0))


def test_srm_needs_matching_shapes() -> None:
    with pytest.raises(ValueError, match="one observed count"):
        sample_ratio_mismatch([10, 20, 30], [0.5, 0.5])
