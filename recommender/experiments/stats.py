"""Fixed-horizon tests of treatment vs control, and the sample-ratio-mismatch check.

Every function takes summary statistics and broadcasts over numpy arrays, so a test can
simulate hundreds of experiments in one call. Intervals:

- absolute uplift (treatment - control): Wald interval with the unpooled standard error
  (normal quantile for proportions, Welch-Satterthwaite t quantile for means);
- relative uplift (treatment / control - 1): delta method on the log of the ratio,
  ``se(log r) = sqrt(v_t / m_t**2 + v_c / m_c**2)``, exponentiated back (the Katz interval
  for a risk ratio). It stays inside (-1, inf) and is asymmetric like the ratio itself; it
  needs both means positive, else it is NaN.

The z-test uses the pooled proportion under H0 (it equals the uncorrected 2x2 chi-square).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

FloatArray = npt.NDArray[np.float64]
SRM_THRESHOLD = 0.001


def _f(value: npt.ArrayLike) -> FloatArray:
    return np.asarray(value, dtype=np.float64)


@dataclass(frozen=True)
class Comparison:
    """Treatment vs control on one metric; every field has the broadcast shape of the inputs."""

    control: FloatArray
    treatment: FloatArray
    absolute: FloatArray
    absolute_low: FloatArray
    absolute_high: FloatArray
    relative: FloatArray
    relative_low: FloatArray
    relative_high: FloatArray
    statistic: FloatArray
    p_value: FloatArray


def relative_interval(
    mean_c: npt.ArrayLike,
    var_mean_c: npt.ArrayLike,
    mean_t: npt.ArrayLike,
    var_mean_t: npt.ArrayLike,
    quantile: npt.ArrayLike,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``mean_t / mean_c - 1`` and its log-delta-method interval (variances of the means)."""
    mc, mt = _f(mean_c), _f(mean_t)
    with np.errstate(divide="ignore", invalid="ignore"):
        positive = (mc > 0) & (mt > 0)
        log_ratio = np.where(positive, np.log(np.where(positive, mt / mc, 1.0)), np.nan)
        se = np.sqrt(_f(var_mean_t) / mt**2 + _f(var_mean_c) / mc**2)
        half = _f(quantile) * se
        return (
            np.expm1(log_ratio),
            np.expm1(log_ratio - half),
            np.expm1(log_ratio + half),
        )


def proportion_test(
    successes_c: npt.ArrayLike,
    n_c: npt.ArrayLike,
    successes_t: npt.ArrayLike,
    n_t: npt.ArrayLike,
    alpha: float = 0.05,
) -> Comparison:
    """Two-proportion z-test (pooled) with absolute and relative uplift intervals."""
    xc, nc, xt, nt = _f(successes_c), _f(n_c), _f(successes_t), _f(n_t)
    with np.errstate(divide="ignore", invalid="ignore"):
        pc, pt = xc / nc, xt / nt
        pooled = (xc + xt) / (nc + nt)
        z = (pt - pc) / np.sqrt(pooled * (1 - pooled) * (1 / nc + 1 / nt))
        var_c, var_t = pc * (1 - pc) / nc, pt * (1 - pt) / nt
        quantile = sps.norm.ppf(1 - alpha / 2)
        half = quantile * np.sqrt(var_c + var_t)
    relative, rel_low, rel_high = relative_interval(pc, var_c, pt, var_t, quantile)
    diff = pt - pc
    return Comparison(
        control=pc,
        treatment=pt,
        absolute=diff,
        absolute_low=diff - half,
        absolute_high=diff + half,
        relative=relative,
        relative_low=rel_low,
        relative_high=rel_high,
        statistic=z,
        p_value=_f(2 * sps.norm.sf(np.abs(z))),
    )


def welch_test(
    mean_c: npt.ArrayLike,
    var_c: npt.ArrayLike,
    n_c: npt.ArrayLike,
    mean_t: npt.ArrayLike,
    var_t: npt.ArrayLike,
    n_t: npt.ArrayLike,
    alpha: float = 0.05,
) -> Comparison:
    """Welch's unequal-variance t-test from per-arm means, sample variances and sizes."""
    mc, mt, nc, nt = _f(mean_c), _f(mean_t), _f(n_c), _f(n_t)
    with np.errstate(divide="ignore", invalid="ignore"):
        vmc, vmt = _f(var_c) / nc, _f(var_t) / nt
        se = np.sqrt(vmc + vmt)
        df = (vmc + vmt) ** 2 / (vmc**2 / (nc - 1) + vmt**2 / (nt - 1))
        t = (mt - mc) / se
        quantile = _f(sps.t.ppf(1 - alpha / 2, df))
    relative, rel_low, rel_high = relative_interval(mc, vmc, mt, vmt, quantile)
    diff = mt - mc
    return Comparison(
        control=mc,
        treatment=mt,
        absolute=diff,
        absolute_low=diff - quantile * se,
        absolute_high=diff + quantile * se,
        relative=relative,
        relative_low=rel_low,
        relative_high=rel_high,
        statistic=t,
        p_value=_f(2 * sps.t.sf(np.abs(t), df)),
    )


@dataclass(frozen=True)
class SampleRatioCheck:
    """Chi-square goodness of fit of the observed split to the configured weights."""

    observed: tuple[int, ...]
    expected: tuple[float, ...]
    statistic: float
    p_value: float
    flagged: bool


def sample_ratio_mismatch(
    observed: Sequence[int], weights: Sequence[float], threshold: float = SRM_THRESHOLD
) -> SampleRatioCheck:
    """Flag the split when ``p < threshold`` (0.001 by default: SRM is a bug alarm, not a test
    of interest, and a report is checked often)."""
    counts = np.asarray(observed, dtype=np.float64)
    shares = np.asarray(weights, dtype=np.float64)
    if counts.shape != shares.shape or counts.size < 2:
        raise ValueError("need one observed count and one weight per variant, at least two")
    expected = shares / shares.sum() * counts.sum()
    if counts.sum() == 0:
        return SampleRatioCheck(tuple(map(int, counts)), tuple(expected), 0.0, 1.0, False)
    statistic, p_value = sps.chisquare(counts, expected)
    return SampleRatioCheck(
        observed=tuple(int(c) for c in counts),
        expected=tuple(float(e) for e in expected),
        statistic=float(statistic),
        p_value=float(p_value),
        flagged=bool(p_value < threshold),
    )
