"""Isotonic regression in numpy: the non-decreasing least-squares fit of ``y`` on ``x``.

What ``sklearn.isotonic.IsotonicRegression(y_min=0, y_max=1, increasing=True,
out_of_bounds="clip")`` computes, without importing scikit-learn (about a second of start-up for
every training job): equal ``x`` (within ``EPS``, as there) are averaged into one point, the
pool-adjacent-violators algorithm pools neighbouring points until the means increase, the
result is clipped to ``[y_min, y_max]``, and prediction interpolates linearly between the kept
points, clipped to the fitted range of ``x`` outside it.

The pooling runs as whole-array passes (every run of non-increasing neighbours pooled at once),
which shrink the problem geometrically on real data; once a pass pools little, a plain stack
PAVA finishes the (by then small) rest, so no input makes it quadratic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: ``x`` closer than this to the first ``x`` of a group of ties joins that group
#: (``numpy.finfo(float64).resolution``, scikit-learn's tolerance).
EPS = float(np.finfo(np.float64).resolution)
#: A vectorised pass that leaves more than this share of the blocks hands over to the stack.
_SLOW_PASS = 0.9


@dataclass(frozen=True, eq=False)
class IsotonicFit:
    """The fitted step points (``x`` increasing, ``y`` non-decreasing); no interior point of a
    flat stretch is kept, as in scikit-learn's ``X_thresholds_`` / ``y_thresholds_``."""

    x: np.ndarray
    y: np.ndarray

    def predict(self, values: np.ndarray) -> np.ndarray:
        """Linear interpolation between the points, clipped to the fitted range of ``x``."""
        t = np.asarray(values, dtype=np.float64)
        if len(self.x) == 1:
            return np.full(t.shape, self.y[0])
        return np.interp(np.clip(t, self.x[0], self.x[-1]), self.x, self.y)


def fit_isotonic(
    x: np.ndarray, y: np.ndarray, *, y_min: float = 0.0, y_max: float = 1.0
) -> IsotonicFit:
    """Non-decreasing fit of ``y`` on ``x`` (unit weights), clipped to ``[y_min, y_max]``."""
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if len(x) != len(y):
        raise ValueError(f"x and y differ in length: {len(x)} != {len(y)}")
    if len(x) == 0:
        raise ValueError("isotonic regression needs at least one observation")
    order = np.lexsort((y, x))
    x, y = x[order], y[order]
    starts = _tie_groups(x)
    is_start = np.zeros(len(x), dtype=bool)
    is_start[starts] = True
    group = np.cumsum(is_start) - 1
    sums = np.bincount(group, weights=y)
    weights = np.bincount(group).astype(np.float64)
    fitted = np.clip(_pava(sums, weights), y_min, y_max)
    unique_x = x[starts]
    keep = np.ones(len(fitted), dtype=bool)
    keep[1:-1] = (fitted[1:-1] != fitted[:-2]) | (fitted[1:-1] != fitted[2:])
    return IsotonicFit(unique_x[keep], fitted[keep])


def _tie_groups(x: np.ndarray) -> np.ndarray:
    """First index of every group of ties of sorted ``x``: a value joins the group while it is
    within ``EPS`` of the group's first value."""
    close = np.diff(x) < EPS
    if not np.any(close[1:] & close[:-1]):  # no chain of near ties: neighbours decide
        return np.concatenate([[0], np.flatnonzero(~close) + 1])
    starts, first = [0], float(x[0])
    for i, value in enumerate(x[1:].tolist(), start=1):
        if value - first >= EPS:
            starts.append(i)
            first = value
    return np.asarray(starts, dtype=np.int64)


def _pava(sums: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Pool adjacent violators: the non-decreasing weighted least-squares fit of the points
    with weighted sums ``sums`` and weights ``weights`` (one fitted value per point)."""
    n = len(sums)
    starts = np.arange(n)
    while len(sums) > 1:
        means = sums / weights
        pool = means[:-1] >= means[1:]  # ties pool too, as scikit-learn does
        if not pool.any():
            break
        new_block = np.concatenate([[True], ~pool])
        block = np.cumsum(new_block) - 1
        sums = np.bincount(block, weights=sums)
        weights = np.bincount(block, weights=weights)
        starts = starts[new_block]
        if len(sums) > _SLOW_PASS * len(new_block):
            starts, sums, weights = _stack_pava(starts, sums, weights)
            break
    lengths = np.diff(np.append(starts, n))
    return np.repeat(sums / weights, lengths)


def _stack_pava(
    starts: np.ndarray, sums: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The classic one-pass PAVA over blocks (linear time, a Python loop)."""
    out_start: list[int] = []
    out_sum: list[float] = []
    out_weight: list[float] = []
    for start, s, w in zip(starts.tolist(), sums.tolist(), weights.tolist(), strict=True):
        while out_sum and out_sum[-1] / out_weight[-1] >= s / w:
            s += out_sum.pop()
            w += out_weight.pop()
            start = out_start.pop()
        out_start.append(start)
        out_sum.append(s)
        out_weight.append(w)
    return np.asarray(out_start), np.asarray(out_sum), np.asarray(out_weight)
