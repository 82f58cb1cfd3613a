"""The per-answer arithmetic of ``serving.recommend.rank``, compiled (numba, ``nogil``).

About ten small numpy calls per answer (finite mask, mean, deviation, min/max; z-score, clip,
logistic, value; the boosts) cost ~30 us of Python overhead; these loops cost ~2 us.
``warm_up`` compiles (or loads from the on-disk cache) all of them at startup, so no request
pays for JIT compilation.
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


@njit(cache=True, nogil=True)
def _owned_spend(price: np.ndarray, owned: np.ndarray) -> float:  # pragma: no cover - numba
    total = 0.0
    for t in range(owned.shape[0]):
        total += price[owned[t]]
    return total


@njit(cache=True, nogil=True)
def _boost_values(
    margin: np.ndarray,
    price: np.ndarray,
    margin_weight: float,
    loyalty: float,
    needed: float,
    spread: float,
) -> np.ndarray:  # pragma: no cover - numba
    out = np.empty(margin.shape[0], dtype=np.float32)
    inverse = 1.0 / needed if needed > 0 else 0.0
    for i in range(margin.shape[0]):
        unit = margin_weight * margin[i]
        if inverse > 0:
            unit += loyalty * min(price[i] * inverse, 1.0)
        out[i] = spread * unit
    return out


def owned_spend(price: np.ndarray, owned: np.ndarray) -> float:
    """Sum of ``price`` (float64) over the ``owned`` indices (int64)."""
    return float(_owned_spend(price, owned))


def boost_values(
    margin: np.ndarray,
    price: np.ndarray,
    margin_weight: float,
    loyalty: float,
    needed: float,
    spread: float,
) -> np.ndarray:
    """float32 ``spread * (margin_weight * margin + loyalty * min(price / needed, 1))``; the
    loyalty term only where ``needed > 0`` (``margin`` and ``price`` float64)."""
    return _boost_values(
        margin, price, float(margin_weight), float(loyalty), float(needed), float(spread)
    )


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
    owned_spend(np.ones(3), np.array([1], dtype=np.int64))
    boost_values(np.ones(3), np.ones(3), 0.1, 0.1, 2.0, 1.0)
