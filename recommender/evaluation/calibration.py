"""Fit what an offer's probability means, on a held-out split (see ``ranking.calibration``).

Each listed offer of each evaluated client is one observation: its z-score among the client's
scores, and whether the client took it in the held-out part (the test ground truth). Isotonic
regression of the outcome on the z-score (``recommender.evaluation.isotonic``, numpy) gives a
non-decreasing map ``p(z)``.
The quality figures are cross-fitted (two halves of the clients, each scored by the fit on the
other) so the reported Brier score and log-loss are honest, and sit next to the base rate's and
the uncalibrated logistic proxy's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recommender.evaluation.isotonic import IsotonicFit, fit_isotonic
from recommender.ranking import RankedBlock
from recommender.ranking.calibration import Calibration

#: Most points kept in a stored calibration (the step function is thinned to this many).
MAX_POINTS = 200
_EPS = 1e-6


@dataclass(frozen=True, eq=False)
class CalibrationFit:
    """The fitted calibration and the held-out data it was judged on."""

    calibration: Calibration
    z: np.ndarray
    outcome: np.ndarray
    #: Cross-fitted p of each observation (what the quality figures are computed from).
    predicted: np.ndarray

    def reliability(self, bins: int = 10) -> list[dict[str, float]]:
        """Per bin of predicted p (equal counts): mean predicted, observed rate, count."""
        if len(self.predicted) == 0:
            return []
        order = np.argsort(self.predicted, kind="stable")
        rows = []
        for part in np.array_split(order, min(bins, len(order))):
            if len(part):
                rows.append(
                    {
                        "predicted": float(self.predicted[part].mean()),
                        "observed": float(self.outcome[part].mean()),
                        "count": float(len(part)),
                    }
                )
        return rows


def listed_outcomes(ranked: RankedBlock, truth: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """(z-score, taken) of every listed offer; ``truth`` rows align with ``ranked`` rows."""
    items = ranked.items
    listed = items >= 0
    rows = np.repeat(np.arange(len(items)), items.shape[1])[listed.ravel()]
    cols = items.ravel()[listed.ravel()]
    taken = np.asarray(truth[rows, cols]).ravel().astype(np.float64)
    return np.asarray(ranked.z[listed], dtype=np.float64), taken


def fit_calibration(
    z: np.ndarray, outcome: np.ndarray, *, horizon: str, seed: int = 0
) -> CalibrationFit:
    """Isotonic ``p(z)`` on all observations, quality cross-fitted over two halves."""
    n = len(z)
    if n < 2 or outcome.min() == outcome.max():
        constant = float(outcome.mean()) if n else 0.0
        calibration = Calibration(
            np.array([0.0]),
            np.array([constant]),
            calibrated=True,
            horizon=horizon,
            quality=(("observations", float(n)), ("base_rate", constant)),
        )
        return CalibrationFit(calibration, z, outcome, np.full(n, constant))
    halves = np.random.default_rng(seed).permutation(n) % 2
    predicted = np.empty(n)
    for half in (0, 1):
        fit_on, score_on = halves != half, halves == half
        predicted[score_on] = _isotonic(z[fit_on], outcome[fit_on]).predict(z[score_on])
    final = _isotonic(z, outcome)
    grid_z, grid_p = _thin(final.x, final.y)
    base = float(outcome.mean())
    proxy = Calibration.proxy().probability(z)
    quality = {
        "observations": float(n),
        "base_rate": base,
        "brier": brier_score(outcome, predicted),
        "log_loss": log_loss(outcome, predicted),
        "brier_base_rate": brier_score(outcome, np.full(n, base)),
        "brier_uncalibrated": brier_score(outcome, proxy),
        "log_loss_uncalibrated": log_loss(outcome, proxy),
    }
    calibration = Calibration(
        grid_z, grid_p, calibrated=True, horizon=horizon, quality=tuple(quality.items())
    )
    return CalibrationFit(calibration, z, outcome, predicted)


def brier_score(outcome: np.ndarray, p: np.ndarray) -> float:
    """Mean squared difference between the 0/1 outcome and its predicted probability."""
    return float(np.mean((np.asarray(outcome, dtype=np.float64) - p) ** 2))


def log_loss(outcome: np.ndarray, p: np.ndarray) -> float:
    """Mean negative log-likelihood of the 0/1 outcome, ``p`` kept within ``[eps, 1 - eps]``."""
    y = np.asarray(outcome, dtype=np.float64)
    q = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)
    return float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))


def _isotonic(z: np.ndarray, outcome: np.ndarray) -> IsotonicFit:
    return fit_isotonic(z, outcome, y_min=0.0, y_max=1.0)


def _thin(z: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """At most ``MAX_POINTS`` points of the step function, the ends kept."""
    z = np.asarray(z, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    if len(z) <= MAX_POINTS:
        return z, p
    keep = np.unique(np.linspace(0, len(z) - 1, MAX_POINTS).round().astype(np.int64))
    return z[keep], np.maximum.accumulate(p[keep])
