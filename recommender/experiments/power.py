"""Planning: clients per variant for a given effect, and the effect a given size can detect.

Two-sided two-proportion test with equal arms (Fleiss; the formula online calculators use):

    n = (z_{1-a/2} * sqrt(2 pbar qbar) + z_{1-b} * sqrt(p1 q1 + p2 q2))**2 / (p2 - p1)**2

with ``pbar`` the mean of the two rates. Means use ``n = 2 (z_{1-a/2} + z_{1-b})**2 sd**2 / d**2``.
An effect is relative to the baseline (``0.1`` = +10 %) unless ``relative=False``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import optimize
from scipy import stats as sps


@dataclass(frozen=True)
class PowerPlan:
    """The inputs and the answer of a sample-size or MDE calculation."""

    baseline: float
    treatment: float
    alpha: float
    power: float
    n_per_variant: int

    @property
    def relative_mde(self) -> float:
        return self.treatment / self.baseline - 1

    @property
    def absolute_mde(self) -> float:
        return self.treatment - self.baseline


def _check(baseline: float, alpha: float, power: float) -> None:
    if not 0 < baseline < 1:
        raise ValueError(f"baseline must be a rate in (0, 1), got {baseline}")
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError(f"alpha and power must lie in (0, 1), got {alpha} and {power}")


def _treatment(baseline: float, effect: float, relative: bool) -> float:
    treatment = baseline * (1 + effect) if relative else baseline + effect
    if not 0 < treatment < 1 or treatment == baseline:
        raise ValueError(
            f"effect {effect} moves the rate {baseline} to {treatment}, not a different rate in "
            "(0, 1)"
        )
    return treatment


def _n_exact(p1: float, p2: float, alpha: float, power: float) -> float:
    z_a, z_b = sps.norm.ppf(1 - alpha / 2), sps.norm.ppf(power)
    pbar = (p1 + p2) / 2
    spread = z_a * math.sqrt(2 * pbar * (1 - pbar)) + z_b * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return float(spread**2 / (p2 - p1) ** 2)


def sample_size_proportions(
    baseline: float,
    mde: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    relative: bool = True,
) -> PowerPlan:
    """Clients per variant to detect ``mde`` over ``baseline`` with the given power."""
    _check(baseline, alpha, power)
    treatment = _treatment(baseline, mde, relative)
    n = math.ceil(_n_exact(baseline, treatment, alpha, power) - 1e-9)
    return PowerPlan(baseline, treatment, alpha, power, n)


def power_proportions(
    baseline: float, treatment: float, n_per_variant: float, alpha: float
) -> float:
    """Power of the two-sided z-test at ``n_per_variant`` (the inverse of the formula above)."""
    z_a = sps.norm.ppf(1 - alpha / 2)
    pbar = (baseline + treatment) / 2
    numerator = abs(treatment - baseline) * math.sqrt(n_per_variant) - z_a * math.sqrt(
        2 * pbar * (1 - pbar)
    )
    spread = math.sqrt(baseline * (1 - baseline) + treatment * (1 - treatment))
    return float(sps.norm.cdf(numerator / spread))


def minimum_detectable_effect(
    baseline: float,
    n_per_variant: int,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
) -> PowerPlan:
    """The smallest upward effect ``n_per_variant`` clients per variant detect with ``power``."""
    _check(baseline, alpha, power)
    if n_per_variant < 2:
        raise ValueError(f"need at least 2 clients per variant, got {n_per_variant}")

    def gap(treatment: float) -> float:
        return power_proportions(baseline, treatment, n_per_variant, alpha) - power

    high = 1 - 1e-12
    if gap(high) < 0:
        raise ValueError(f"{n_per_variant} clients per variant cannot reach power {power}")
    treatment = float(optimize.brentq(gap, baseline + 1e-12, high, xtol=1e-12))
    return PowerPlan(baseline, treatment, alpha, power, n_per_variant)
