"""Bounded min-heaps of (total, item) kept in flat arrays, for the ranking kernels.

A heap's root is its worst entry: the lowest total, and among equal totals the highest item
index (ties rank the lower index first). Several heaps share one array at ``base = h * capacity``
so a quota's heaps take one allocation per request. The functions are plain jitted functions,
which LLVM usually inlines into the kernels (see the note in ``kernels``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

INF = np.float32(np.inf)
helper = njit(nogil=True, cache=True)


@helper
def worse(score_a: np.float32, item_a: int, score_b: np.float32, item_b: int) -> bool:
    """Whether (a) ranks after (b): lower total, or equal total and higher index."""
    return bool(score_a < score_b or (score_a == score_b and item_a > item_b))


@helper
def sift_up(scores: np.ndarray, items: np.ndarray, base: int, pos: int) -> None:
    """Move the entry at ``base + pos`` up the min-heap (worst entry at the root)."""
    while pos > 0:
        parent = (pos - 1) >> 1
        a, b = base + pos, base + parent
        if not worse(scores[a], items[a], scores[b], items[b]):
            return
        scores[a], scores[b] = scores[b], scores[a]
        items[a], items[b] = items[b], items[a]
        pos = parent


@helper
def sift_down(scores: np.ndarray, items: np.ndarray, base: int, size: int) -> None:
    """Move the root of the min-heap at ``base`` down to its place."""
    pos = 0
    while True:
        child = 2 * pos + 1
        if child >= size:
            return
        c, r = base + child, base + child + 1
        if child + 1 < size and worse(scores[r], items[r], scores[c], items[c]):
            child, c = child + 1, r
        p = base + pos
        if not worse(scores[c], items[c], scores[p], items[p]):
            return
        scores[p], scores[c] = scores[c], scores[p]
        items[p], items[c] = items[c], items[p]
        pos = child


@helper
def lowest_threshold(thresholds: np.ndarray, kind_ok: np.ndarray) -> np.float32:
    """The lowest threshold of the per-kind heaps that can receive items (quota mode)."""
    lowest = INF
    for h in range(thresholds.shape[0]):
        if kind_ok[h] and thresholds[h] < lowest:
            lowest = thresholds[h]
    return lowest
