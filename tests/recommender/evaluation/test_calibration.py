"""Calibration: p is a held-out frequency, better than the uncalibrated proxy, stored safely."""

from __future__ import annotations

import numpy as np

from recommender.evaluation.calibration import fit_calibration
from recommender.ranking.calibration import Calibration


def test_isotonic_p_follows_the_observed_rate_and_beats_the_proxy() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(size=20_000)
    truth = 0.02 + 0.2 / (1 + np.exp(-2 * (z - 1.5)))  # rare takes, rising with the score
    taken = (rng.random(len(z)) < truth).astype(float)
    fit = fit_calibration(z, taken, horizon="taken within 30 days", seed=1)
    quality = dict(fit.calibration.quality)
    assert quality["brier"] < quality["brier_uncalibrated"]
    assert quality["brier"] <= quality["brier_base_rate"]
    assert quality["log_loss"] < quality["log_loss_uncalibrated"]
    p = fit.calibration.probability(np.array([-2.0, 0.0, 3.0]))
    assert np.all(np.diff(p) >= 0)
    np.testing.assert_allclose(
        p, 0.02 + 0.2 / (1 + np.exp(-2 * (np.array([-2.0, 0.0, 3.0]) - 1.5))), atol=0.03
    )
    for row in fit.reliability(bins=5):  # predicted and observed agree bin by bin
        assert abs(row["predicted"] - row["observed"]) < 0.03


def test_metadata_round_trip_and_a_malformed_one_falls_back_to_the_proxy() -> None:
    fit = fit_calibration(
        np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.0, 0.0, 1.0, 1.0]), horizon="h"
    )
    again = Calibration.from_metadata({"calibration": fit.calibration.to_metadata()})
    assert again.calibrated and again.horizon == "h"
    np.testing.assert_array_equal(again.p, fit.calibration.p)
    broken = {"calibration": {"z": [1.0, 0.0], "p": [0.5, 0.2]}}  # not increasing
    assert not Calibration.from_metadata(broken).calibrated
    assert not Calibration.from_metadata({}).calibrated
