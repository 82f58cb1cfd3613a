"""Risk bands: a churn probability as "low", "medium" or "high", with configurable thresholds.

The thresholds are probabilities of churning within the model's horizon (90 days by default):
a client is in the ``high`` band from ``high`` on, ``medium`` from ``medium`` on, else ``low``.
The defaults sit around twice and five times the synthetic data's base rate (about 5 % per 90
days); set them to the business's own (``RECSYS_CHURN_BAND_MEDIUM`` / ``_HIGH``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

RiskBand = Literal["low", "medium", "high"]
RISK_BANDS: tuple[RiskBand, ...] = get_args(RiskBand)
DEFAULT_MEDIUM = 0.10
DEFAULT_HIGH = 0.25


@dataclass(frozen=True)
class RiskBands:
    """The lowest probability of the ``medium`` and of the ``high`` band."""

    medium: float = DEFAULT_MEDIUM
    high: float = DEFAULT_HIGH

    def __post_init__(self) -> None:
        if not 0.0 < self.medium < self.high <= 1.0:
            raise ValueError(
                f"churn risk bands: need 0 < medium < high <= 1, got medium={self.medium}, "
                f"high={self.high}"
            )

    def band(self, probability: float) -> RiskBand:
        """The band of one probability."""
        if probability >= self.high:
            return "high"
        return "medium" if probability >= self.medium else "low"

    def bands(self, probability: np.ndarray) -> np.ndarray:
        """The band of each probability (object array; "" where NaN: the client is not at
        risk, it holds no tariff)."""
        p = np.asarray(probability, dtype=np.float64)
        out = np.full(p.shape, "", dtype=object)
        known = ~np.isnan(p)
        out[known] = "low"
        out[known & (p >= self.medium)] = "medium"
        out[known & (p >= self.high)] = "high"
        return out

    def weight(self, probability: np.ndarray) -> np.ndarray:
        """How much of the retention boost each client gets, in [0, 1]: 0 in the low band
        (and where NaN: not at risk), 0.5 at ``medium`` rising linearly to 1 at ``high``."""
        p = np.nan_to_num(np.asarray(probability, dtype=np.float64), nan=0.0)
        rise = np.clip((p - self.medium) / (self.high - self.medium), 0.0, 1.0)
        return np.where(p >= self.medium, 0.5 + 0.5 * rise, 0.0)
