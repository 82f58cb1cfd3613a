"""Higher-order EASE: pairs of owned offers as extra inputs, for small catalogues.

Plain EASE scores an offer by a sum over the owned offers, one weight each, so "owns a and b"
can only say what a says plus what b says. On a small catalogue some offers depend on the
combination (clients with both a car and a home policy lack fire insurance; those with the car
alone lack something else); a weight per owned *pair* captures it (Steck and Liang, 2021,
"Negative interactions for improved collaborative filtering: don't go deeper, go higher").

The inputs are ``F = [x, x_a * x_b for the selected pairs]``: the ``n`` offers, then the pairs
``(a, b)``, ``a < b``, co-owned by at least ``min_support`` clients, the ``max_pairs`` most
frequent (ties: lower indices first). Every offer ``j`` is a ridge target over ``F`` with
``l2`` on single inputs (plus the EDLAE term ``dropout / (1 - dropout) * count``) and
``pair_l2`` on pairs, constrained to use neither ``j`` itself nor any pair containing ``j``
(EASE's zero diagonal, generalised). With ``A = F'F + diag(reg)`` and ``b_j = (F'F)[:, j]``
the constrained solution needs one inverse for all targets::

    w_j = A^-1 b_j - A^-1[:, E] (A^-1[E, E])^-1 (A^-1 b_j)[E],   E = {j} + pairs containing j

and ``A^-1 b_j = e_j - reg_j A^-1[:, j]`` (since ``F'F = A - diag(reg)``), so no product with
the Gram matrix is needed. Without pairs this is exactly ``I - P / diag(P)``, plain EASE.

A client owning ``S`` then scores ``sum(B[i] for i in S) + sum(C[q] for owned pairs q)``:
``item_item`` ``B`` (n, n), zero diagonal, and ``pair_weights`` ``C`` (P, n), with
``C[q, j] = 0`` when pair ``q`` contains ``j``. Fitted in float64, served in float32.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.linalg import lapack
from threadpoolctl import threadpool_limits

from recommender.scoring.item_item import pair_map

#: Default fewest clients owning both offers for a pair to become an input.
MIN_PAIR_SUPPORT = 5
#: Default most pair inputs (the most co-owned first): the inverse is (n + P) squared.
MAX_PAIRS = 4096
#: Largest catalogue pairs may be used on at all: serving keeps a dense (n, n) int32 map from
#: an owned pair to its row (64 MiB at this size).
PAIRS_LIMIT_ITEMS = 4096
#: Owned pairs expanded at once while building the pair inputs.
_CHUNK_PAIRS = 1 << 22
#: Rows mirrored at once when the inverse's upper triangle is copied to the lower.
_BLOCK = 512


@dataclass(frozen=True, eq=False)
class PairEASE:
    """The fitted weights, float32: ``item_item`` (n, n), ``pair_items`` int32 (P, 2) with
    ``a < b``, ``pair_weights`` (P, n)."""

    item_item: np.ndarray
    pair_items: np.ndarray
    pair_weights: np.ndarray

    @property
    def n_pairs(self) -> int:
        return len(self.pair_items)


def select_pairs(
    matrix: sp.csr_matrix, min_support: int = MIN_PAIR_SUPPORT, max_pairs: int = MAX_PAIRS
) -> np.ndarray:
    """int32 (P, 2) pairs ``a < b`` owned together by >= ``min_support`` rows of ``matrix``
    (non-zeros count as owned), most co-owned first, at most ``max_pairs``."""
    present = sp.csr_matrix(matrix, dtype=np.float64, copy=True)
    present.data[:] = 1.0
    counts = (present.T @ present).toarray()
    first, second = np.triu_indices(counts.shape[0], 1)
    support = counts[first, second]
    keep = support >= min_support
    first, second, support = first[keep], second[keep], support[keep]
    order = np.lexsort((second, first, -support))[:max_pairs]
    return np.stack([first[order], second[order]], axis=1).astype(np.int32)


def pair_indicators(matrix: sp.csr_matrix, pairs: np.ndarray) -> sp.csr_matrix:
    """(rows, P) sparse ``matrix[r, a] * matrix[r, b]`` for each pair ``q = (a, b)``: every row's
    owned pairs looked up in a dense map, as serving does (rows in chunks to bound memory)."""
    rows, n_items = matrix.shape
    lookup = pair_map(pairs, n_items)
    csr = sp.csr_matrix(matrix, copy=True)
    csr.sum_duplicates()
    csr.sort_indices()
    parts: list[sp.csr_matrix] = []
    start = 0
    per_row = np.diff(csr.indptr) * (np.diff(csr.indptr) - 1) // 2
    budget = np.cumsum(per_row)
    while start < rows:
        base = budget[start - 1] if start else 0
        stop = max(start + 1, int(np.searchsorted(budget, base + _CHUNK_PAIRS, side="right")))
        parts.append(_chunk_pairs(csr[start:stop], lookup, len(pairs)))
        start = stop
    if not parts:
        return sp.csr_matrix((rows, len(pairs)), dtype=csr.dtype)
    return sp.csr_matrix(sp.vstack(parts, format="csr"))


def _chunk_pairs(csr: sp.csr_matrix, lookup: np.ndarray, n_pairs: int) -> sp.csr_matrix:
    indptr, indices, data = csr.indptr, csr.indices, csr.data
    row_of = np.repeat(np.arange(csr.shape[0]), np.diff(indptr))
    position = np.arange(len(indices))
    later = indptr[row_of + 1] - position - 1
    first = np.repeat(position, later)
    offset = np.arange(len(first)) - np.repeat(np.cumsum(later) - later, later)
    second = first + 1 + offset
    column = lookup[indices[first], indices[second]]
    keep = column >= 0
    return sp.csr_matrix(
        (data[first[keep]] * data[second[keep]], (row_of[first[keep]], column[keep])),
        shape=(csr.shape[0], n_pairs),
    )


def ease_pair_weights(
    interactions: sp.csr_matrix,
    l2: float,
    pair_l2: float,
    *,
    dropout: float = 0.0,
    binary: bool = True,
    min_support: int = MIN_PAIR_SUPPORT,
    max_pairs: int = MAX_PAIRS,
    blas_threads: int = 1,
) -> PairEASE:
    """Fit higher-order EASE on ``interactions`` (clients x offers); see the module."""
    n_items = interactions.shape[1]
    if n_items > PAIRS_LIMIT_ITEMS:
        raise ValueError(
            f"pair inputs are for small catalogues: {n_items} offers is over "
            f"{PAIRS_LIMIT_ITEMS} (set pairs to false)"
        )
    matrix = sp.csr_matrix(interactions, dtype=np.float64, copy=True)
    if binary:
        matrix.data[:] = 1.0
    pairs = select_pairs(matrix, min_support, max_pairs)
    features = sp.hstack([matrix, pair_indicators(matrix, pairs)], format="csr")
    with threadpool_limits(blas_threads, "blas"):
        gram = (features.T @ features).toarray()
        counts = np.diag(gram).copy()
        reg = np.concatenate([np.full(n_items, float(l2)), np.full(len(pairs), float(pair_l2))])
        reg += dropout / (1.0 - dropout) * counts
        gram[np.diag_indices_from(gram)] += reg
        inverse = _spd_inverse(gram)
        weights = _constrained(inverse, reg, pairs, n_items)
    return PairEASE(
        item_item=weights[:n_items].astype(np.float32),
        pair_items=pairs,
        pair_weights=weights[n_items:].astype(np.float32),
    )


def _spd_inverse(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive definite matrix through Cholesky, in place."""
    factor, info = lapack.dpotrf(matrix, lower=False, overwrite_a=True, clean=True)
    if info == 0:
        factor, info = lapack.dpotri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(
            f"the regularised Gram matrix is not positive definite ({info})"
        )
    size = factor.shape[0]
    for start in range(0, size, _BLOCK):  # mirror the upper triangle, block by block
        stop = min(start + _BLOCK, size)
        diagonal = factor[start:stop, start:stop]
        diagonal[...] = np.triu(diagonal) + np.triu(diagonal, 1).T
        factor[stop:, start:stop] = factor[start:stop, stop:].T
    return np.asarray(factor)


def _constrained(
    inverse: np.ndarray, reg: np.ndarray, pairs: np.ndarray, n_items: int
) -> np.ndarray:
    """(n + P, n) weights: column ``j`` is target ``j``'s constrained ridge solution."""
    weights = -inverse[:, :n_items] * reg[:n_items]  # A^-1 b_j = e_j - reg_j A^-1[:, j]
    weights[np.arange(n_items), np.arange(n_items)] += 1.0
    for j, excluded in enumerate(excluded_inputs(pairs, n_items)):
        inner = inverse[np.ix_(excluded, excluded)]
        weights[:, j] -= inverse[:, excluded] @ np.linalg.solve(inner, weights[excluded, j])
        weights[excluded, j] = 0.0
    return weights


def excluded_inputs(pairs: np.ndarray, n_items: int) -> list[np.ndarray]:
    """Per target ``j``: the inputs it may not use, ``j`` and ``n_items + q`` for pairs ``q``
    containing ``j``."""
    owners = np.concatenate([pairs[:, 0], pairs[:, 1]]).astype(np.int64)
    rows = np.tile(np.arange(len(pairs), dtype=np.int64), 2) + n_items
    order = np.argsort(owners, kind="stable")
    bounds = np.searchsorted(owners[order], np.arange(n_items + 1))
    sorted_rows = rows[order]
    return [
        np.concatenate([[j], np.sort(sorted_rows[bounds[j] : bounds[j + 1]])])
        for j in range(n_items)
    ]
