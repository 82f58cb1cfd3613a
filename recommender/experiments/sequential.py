"""Always-valid p-values by the mixture sequential probability ratio test (mSPRT).

Johari, Pekelis, Walsh (2017), "Always valid inference: bringing sequential analysis to A/B
testing": with ``d`` the observed difference of means, ``V`` its variance and a normal
mixture ``theta ~ N(theta0, tau**2)`` over the true difference, the likelihood ratio is

    Lambda = sqrt(V / (V + tau**2)) * exp(tau**2 * (d - theta0)**2 / (2 * V * (V + tau**2)))

and ``p_n = min(p_{n-1}, 1 / Lambda_n)``. Under H0, ``P(any p_n <= alpha) <= alpha`` however
often one looks, so the report can be read every day. ``tau`` is the size of effect the test
is tuned to detect fastest; the default used by reports is a share of the control mean.
Proportions use the pooled variance under H0, as Johari et al. do for Bernoulli data (the
unpooled plug-in is zero after a first lone conversion and would reject spuriously).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
#: Default mixture scale as a share of the control mean: tuned to ~10 % relative uplifts.
DEFAULT_RELATIVE_TAU = 0.1


def msprt_p_values(
    difference: npt.ArrayLike,
    variance: npt.ArrayLike,
    tau: npt.ArrayLike,
    theta0: float = 0.0,
) -> FloatArray:
    """Always-valid p-values along the last axis (the successive looks).

    Looks with no information (variance zero or NaN) give 1.
    """
    d = np.asarray(difference, dtype=np.float64)
    v = np.asarray(variance, dtype=np.float64)
    t2 = np.asarray(tau, dtype=np.float64) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        log_lambda = 0.5 * np.log(v / (v + t2)) + t2 * (d - theta0) ** 2 / (2 * v * (v + t2))
    log_lambda = np.where(np.isfinite(log_lambda) & (v > 0), log_lambda, 0.0)
    p = np.exp(-np.maximum(log_lambda, 0.0))
    return np.minimum.accumulate(p, axis=-1) if p.ndim else p


def msprt_proportions(
    successes_c: npt.ArrayLike,
    n_c: npt.ArrayLike,
    successes_t: npt.ArrayLike,
    n_t: npt.ArrayLike,
    tau: npt.ArrayLike,
) -> FloatArray:
    """Always-valid p-values of a difference of proportions, from cumulative counts per look."""
    xc, nc = np.asarray(successes_c, np.float64), np.asarray(n_c, np.float64)
    xt, nt = np.asarray(successes_t, np.float64), np.asarray(n_t, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (xc + xt) / (nc + nt)
        variance = pooled * (1 - pooled) * (1 / nc + 1 / nt)
        return msprt_p_values(xt / nt - xc / nc, variance, tau)


def msprt_means(
    mean_c: npt.ArrayLike,
    var_c: npt.ArrayLike,
    n_c: npt.ArrayLike,
    mean_t: npt.ArrayLike,
    var_t: npt.ArrayLike,
    n_t: npt.ArrayLike,
    tau: npt.ArrayLike,
) -> FloatArray:
    """Always-valid p-values of a difference of means (plug-in sample variances) per look."""
    with np.errstate(divide="ignore", invalid="ignore"):
        variance = np.asarray(var_c, np.float64) / np.asarray(n_c, np.float64) + np.asarray(
            var_t, np.float64
        ) / np.asarray(n_t, np.float64)
        difference = np.asarray(mean_t, np.float64) - np.asarray(mean_c, np.float64)
    return msprt_p_values(difference, variance, tau)
