"""What an offer's probability means: ``p`` as a function of its score among the client's scores.

A model's raw scores are not probabilities (an EASE score of 0.4 and an ALS score of 0.4 mean
different things), so the policy describes an offer by its z-score among all of the client's
offer scores and maps that through a ``Calibration``: a non-decreasing step function fitted
on a held-out split (isotonic regression of "the client took the offer in the held-out part"
on the z-score; see ``recommender.evaluation.calibration``). ``p`` is then the probability that
the client takes the offer within ``horizon``, and expected value is ``price * margin * p``.

A bundle without one (trained before calibration existed) gets ``Calibration.proxy()``: the
logistic of the z-score, a monotone score that is *not* a probability (``calibrated`` False).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False)
class Calibration:
    """``p(z)``: piecewise-linear through (``z``, ``p``) points, clipped at the ends."""

    z: np.ndarray  # float64, increasing
    p: np.ndarray  # float64, non-decreasing, in [0, 1]
    calibrated: bool
    #: What p is the probability of, in words (e.g. "taken within 92 days").
    horizon: str = ""
    #: Held-out quality of the fit (Brier score, log-loss, number of offers it saw).
    quality: tuple[tuple[str, float], ...] = ()

    @classmethod
    def proxy(cls) -> Calibration:
        """The uncalibrated logistic of the z-score (kept for bundles without a fit)."""
        z = np.linspace(-30.0, 30.0, 601)
        return cls(z, 1.0 / (1.0 + np.exp(-z)), calibrated=False, horizon="uncalibrated")

    def probability(self, z: np.ndarray) -> np.ndarray:
        """``p`` of each z-score (NaN stays NaN)."""
        values = np.asarray(z, dtype=np.float64)
        return np.where(np.isnan(values), np.nan, np.interp(values, self.z, self.p))

    def to_metadata(self) -> dict[str, Any]:
        """JSON-ready form stored in a bundle's metadata (``calibration``)."""
        return {
            "z": [float(v) for v in self.z],
            "p": [float(v) for v in self.p],
            "horizon": self.horizon,
            "quality": dict(self.quality),
        }

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any]) -> Calibration:
        """The bundle's calibration, or the proxy when it has none (or a malformed one)."""
        raw = metadata.get("calibration")
        if not isinstance(raw, dict):
            return cls.proxy()
        try:
            z = np.asarray(raw["z"], dtype=np.float64)
            p = np.asarray(raw["p"], dtype=np.float64)
        except (KeyError, TypeError, ValueError):
            return cls.proxy()
        ok = (
            z.ndim == 1
            and z.shape == p.shape
            and len(z) >= 1
            and bool(np.all(np.isfinite(z)) and np.all(np.isfinite(p)))
            and bool(np.all(np.diff(z) >= 0) and np.all(np.diff(p) >= 0))
            and bool(np.all((p >= 0) & (p <= 1)))
        )
        if not ok:
            return cls.proxy()
        quality = raw.get("quality") or {}
        return cls(
            z,
            p,
            calibrated=True,
            horizon=str(raw.get("horizon", "")),
            quality=tuple((str(k), float(v)) for k, v in dict(quality).items()),
        )
