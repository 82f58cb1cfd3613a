"""The numpy isotonic fit gives scikit-learn's IsotonicRegression results (kept as the oracle)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import brier_score_loss
from sklearn.metrics import log_loss as sklearn_log_loss

from recommender.evaluation.calibration import _EPS, brier_score, log_loss
from recommender.evaluation.isotonic import EPS, fit_isotonic


def _oracle(x: np.ndarray, y: np.ndarray, y_min: float, y_max: float) -> IsotonicRegression:
    model = IsotonicRegression(y_min=y_min, y_max=y_max, increasing=True, out_of_bounds="clip")
    return model.fit(x, y)


def _inputs(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 2_000))
    x = rng.normal(size=n)
    if seed % 3 == 1:
        x = np.round(x, 1)  # many ties
    elif seed % 3 == 2:
        x = rng.integers(0, 6, size=n).astype(np.float64)  # a handful of distinct values
    if seed % 2:
        y = (rng.random(n) < 1.0 / (1.0 + np.exp(-x))).astype(np.float64)  # 0/1 outcomes
    else:
        y = rng.normal(0.5, 0.7, size=n)  # beyond [0, 1]: the clip is exercised
    return x, y


@pytest.mark.parametrize("seed", range(24))
def test_matches_scikit_learn_on_random_data_with_ties(seed: int) -> None:
    x, y = _inputs(seed)
    oracle, fit = _oracle(x, y, 0.0, 1.0), fit_isotonic(x, y, y_min=0.0, y_max=1.0)
    np.testing.assert_array_equal(fit.x, oracle.X_thresholds_)
    np.testing.assert_allclose(fit.y, oracle.y_thresholds_, rtol=0, atol=1e-12)
    assert np.all(np.diff(fit.y) >= 0) and fit.y.min() >= 0.0 and fit.y.max() <= 1.0
    outside = np.array([x.min() - 5.0, x.min() - 1e-9, x.max() + 1e-9, x.max() + 5.0])
    probe = np.concatenate([x, np.linspace(x.min() - 1, x.max() + 1, 501), outside])
    np.testing.assert_allclose(fit.predict(probe), oracle.predict(probe), rtol=0, atol=1e-12)


def test_one_distinct_value_and_one_observation() -> None:
    for x, y in ((np.full(5, 2.0), np.array([0.0, 1.0, 1.0, 0.0, 1.0])), (np.ones(1), np.ones(1))):
        oracle, fit = _oracle(x, y, 0.0, 1.0), fit_isotonic(x, y)
        probe = np.array([-3.0, 2.0, 7.0])
        np.testing.assert_allclose(fit.predict(probe), oracle.predict(probe), atol=1e-12)


def test_near_ties_group_from_their_first_value_as_scikit_learn_does() -> None:
    x = 1.0 + EPS * np.array([0.0, 0.6, 1.2, 1.8, 2.4, 5.0, 5.5, 9.0])  # chains of near ties
    y = np.array([1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0])
    oracle, fit = _oracle(x, y, 0.0, 1.0), fit_isotonic(x, y)
    np.testing.assert_array_equal(fit.x, oracle.X_thresholds_)
    np.testing.assert_allclose(fit.y, oracle.y_thresholds_, atol=1e-12)


def test_a_violation_that_pools_all_the_way_back_stays_exact() -> None:
    n = 20_000  # rising values then one far below: every pass pools one block (stack PAVA)
    x = np.arange(n, dtype=np.float64)
    y = np.linspace(0.0, 1.0, n)
    y[-1] = -1e6
    oracle = _oracle(x, y, -np.inf, np.inf)
    fit = fit_isotonic(x, y, y_min=-np.inf, y_max=np.inf)
    np.testing.assert_array_equal(fit.x, oracle.X_thresholds_)
    np.testing.assert_allclose(fit.predict(x), oracle.predict(x), rtol=1e-12, atol=1e-9)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="length"):
        fit_isotonic(np.arange(3.0), np.arange(2.0))
    with pytest.raises(ValueError, match="at least one"):
        fit_isotonic(np.empty(0), np.empty(0))


def test_brier_and_log_loss_match_scikit_learn() -> None:
    rng = np.random.default_rng(7)
    outcome = (rng.random(5_000) < 0.1).astype(np.float64)
    p = np.concatenate([rng.random(4_998), [0.0, 1.0]])  # the ends are clipped for log-loss
    assert brier_score(outcome, p) == pytest.approx(brier_score_loss(outcome, p), rel=1e-12)
    expected = sklearn_log_loss(outcome, np.clip(p, _EPS, 1 - _EPS), labels=[0, 1])
    assert log_loss(outcome, p) == pytest.approx(expected, rel=1e-12)
