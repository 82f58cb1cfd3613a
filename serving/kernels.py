"""The per-answer arithmetic of ``serving.recommend.rank``, compiled (numba, ``nogil``).

About ten small numpy calls per answer (finite mask, mean, deviation, min/max; z-score, clip,
logistic, value) cost ~30 us of Python overhead; these loops cost ~2 us. ``warm_up`` compiles
(or loads from the on-disk cache) both at startup, so no request pays for JIT compilation.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _score_stats(scores: np.ndarray) -> tuple[float, float, float]:  # pragma: no cover - numba
    n = 0
    lo = np.float32(np.inf)
    hi = np.float32(-np.inf)
    total = 0.0
    for i in range(scores.shape[0]):
        s = scores[i]
        if np.isfinite(s):
            n += 1
            total += np.float64(s)
            if s < lo:
                lo = s
            if s > hi:
                hi = s
    if n == 0:
        return 0.0, 0.0, 0.0
    mean = total / n
    squares = 0.0
    for i in range(scores.shape[0]):
        s = scores[i]
        if np.isfinite(s):
            d = np.float64(s) - mean
            squares += d * d
    return np.float64(hi - lo), mean, math.sqrt(squares / n)


@njit(cache=True, nogil=True)
def _offer_values(
    scores: np.ndarray, top: np.ndarray, mean: float, std: float, value: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - numba
    k = top.shape[0]
    probabilities = np.empty(k)
    values = np.empty(k)
    for j in range(k):
        z = 0.0
        if std > 0:
            z = (np.float64(scores[top[j]]) - mean) / std
            if z < -30.0:  # a NaN stays NaN, as with np.clip
                z = -30.0
            elif z > 30.0:
                z = 30.0
        p = 1.0 / (1.0 + math.exp(-z))
        probabilities[j] = p
        values[j] = value[top[j]] * p
    return probabilities, values


def score_stats(scores: np.ndarray) -> tuple[float, float, float]:
    """Spread (max - min, in float32 as the scores), mean and standard deviation of the finite
    scores; zeros when none is finite."""
    spread, mean, std = _score_stats(np.ascontiguousarray(scores, dtype=np.float32))
    return float(spread), float(mean), float(std)


def offer_values(
    scores: np.ndarray, top: np.ndarray, mean: float, std: float, value: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The probability proxy (logistic of the clipped z-score; 0.5 when ``std`` is 0) of the
    ``top`` offers and their expected values (``value * probability``), as float64 arrays."""
    return _offer_values(
        np.ascontiguousarray(scores, dtype=np.float32),
        np.ascontiguousarray(top, dtype=np.int64),
        float(mean),
        float(std),
        np.ascontiguousarray(value, dtype=np.float64),
    )


def warm_up() -> None:
    """Compile (or load) both kernels for the argument types the wrappers pass."""
    scores = np.array([1.0, np.nan, 3.0], dtype=np.float32)
    _, mean, std = score_stats(scores)
    offer_values(scores, np.array([2, 0], dtype=np.int64), mean, std, np.ones(3))
