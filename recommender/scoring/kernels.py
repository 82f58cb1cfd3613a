"""Numba kernels that turn a block of clients into a block of scores.

Each client's row is computed by the same loop whatever the block size, in a fixed order, so
ranking one client alone and ranking it inside a block of thousands give bit-identical scores
(and therefore identical lists: the batch and the one-client path cannot disagree). The dot
products keep eight independent partial sums (a fixed pairing, no fast-math reassociation), which
LLVM vectorizes without making the result depend on the memory layout.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def _dot(a: np.ndarray, b: np.ndarray) -> np.float32:  # pragma: no cover - numba
    """``a @ b`` (float32) with eight partial sums in a fixed order."""
    n = a.shape[0]
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = np.float32(0.0)
    j = 0
    while j + 8 <= n:
        s0 += a[j] * b[j]
        s1 += a[j + 1] * b[j + 1]
        s2 += a[j + 2] * b[j + 2]
        s3 += a[j + 3] * b[j + 3]
        s4 += a[j + 4] * b[j + 4]
        s5 += a[j + 5] * b[j + 5]
        s6 += a[j + 6] * b[j + 6]
        s7 += a[j + 7] * b[j + 7]
        j += 8
    total = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
    while j < n:
        total += a[j] * b[j]
        j += 1
    return total


@njit(nogil=True, cache=True)
def dot_block(
    vectors: np.ndarray, factors: np.ndarray, rows: np.ndarray, out: np.ndarray
) -> None:  # pragma: no cover - numba
    """``out[r] = factors @ vectors[r]`` for each ``r`` in ``rows`` (float32)."""
    n_items = factors.shape[0]
    for t in range(rows.shape[0]):
        r = rows[t]
        vector = vectors[r]
        for i in range(n_items):
            out[r, i] = _dot(factors[i], vector)


@njit(nogil=True, cache=True)
def sum_owned_rows(
    matrix: np.ndarray, indptr: np.ndarray, indices: np.ndarray, rows: np.ndarray, out: np.ndarray
) -> None:  # pragma: no cover - numba
    """``out[r] = sum of matrix[o] over the owned offers o of client r`` (item-item scoring).

    Offers are added in the order of ``indices`` (sorted per client by ``ClientBlock``).
    """
    n_items = matrix.shape[1]
    for t in range(rows.shape[0]):
        r = rows[t]
        for i in range(n_items):
            out[r, i] = 0.0
        for p in range(indptr[r], indptr[r + 1]):
            source = matrix[indices[p]]
            for i in range(n_items):
                out[r, i] += source[i]


@njit(nogil=True, cache=True)
def add_owned_pairs(
    pair_map: np.ndarray,
    pair_weights: np.ndarray,
    indptr: np.ndarray,
    indices: np.ndarray,
    rows: np.ndarray,
    out: np.ndarray,
) -> None:  # pragma: no cover - numba
    """``out[r] += pair_weights[q]`` for each owned pair of client ``r`` that ``pair_map``
    (dense (n, n) int32, -1: no pair) maps to a row ``q`` (higher-order EASE).

    Pairs are visited in the order of ``indices``: ``(indices[p], indices[p2])``, ``p < p2``.
    """
    n_items = pair_weights.shape[1]
    for t in range(rows.shape[0]):
        r = rows[t]
        stop = indptr[r + 1]
        for p in range(indptr[r], stop):
            first = indices[p]
            for p2 in range(p + 1, stop):
                q = pair_map[first, indices[p2]]
                if q >= 0:
                    source = pair_weights[q]
                    for i in range(n_items):
                        out[r, i] += source[i]
