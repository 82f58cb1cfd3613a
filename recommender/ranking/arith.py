"""The per-client arithmetic of the ranking policy, compiled (numba, ``nogil``), for a block.

Score statistics and the z-scores of the chosen offers, one loop per client in
a fixed order, so a client alone and a client in a block of thousands get the same numbers.
About ten small numpy calls per one-client answer cost ~30 us of Python overhead; these loops
cost a few us. ``warm_up`` (``recommender.ranking.warmup``) compiles or loads them at startup.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def row_stats(scores: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - numba
    """``out[r] = (max - min, mean, standard deviation)`` of row r's finite scores (zeros when
    none is finite); the spread in float32 as the scores, the moments in float64."""
    for r in range(scores.shape[0]):
        row = scores[r]
        n = 0
        lo = np.float32(np.inf)
        hi = np.float32(-np.inf)
        total = 0.0
        for i in range(row.shape[0]):
            s = row[i]
            if np.isfinite(s):
                n += 1
                total += np.float64(s)
                if s < lo:
                    lo = s
                if s > hi:
                    hi = s
        if n == 0:
            out[r, 0] = 0.0
            out[r, 1] = 0.0
            out[r, 2] = 0.0
            continue
        mean = total / n
        squares = 0.0
        for i in range(row.shape[0]):
            s = row[i]
            if np.isfinite(s):
                d = np.float64(s) - mean
                squares += d * d
        out[r, 0] = np.float64(hi - lo)
        out[r, 1] = mean
        out[r, 2] = math.sqrt(squares / n)


@njit(nogil=True, cache=True)
def chosen_z(
    scores: np.ndarray, items: np.ndarray, stats: np.ndarray, raw: np.ndarray, z: np.ndarray
) -> None:  # pragma: no cover - numba
    """Raw score and z-score (clipped to +-30; 0 when the row's std is 0) of each chosen offer;
    padding (-1) gets NaN."""
    for r in range(items.shape[0]):
        mean = stats[r, 1]
        std = stats[r, 2]
        for j in range(items.shape[1]):
            item = items[r, j]
            if item < 0:
                raw[r, j] = np.nan
                z[r, j] = np.nan
                continue
            value = scores[r, item]
            raw[r, j] = value
            score = 0.0
            if std > 0:
                score = (np.float64(value) - mean) / std
                if score < -30.0:
                    score = -30.0
                elif score > 30.0:
                    score = 30.0
            z[r, j] = score
