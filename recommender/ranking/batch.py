"""Many clients at once (account-manager lists, exports, offline evaluation).

Scores are computed a block of clients at a time with one BLAS matrix product into a reused
buffer that stays cache-sized, then a kernel ranks each row of the block with the same rules as
the single-client path. The product uses BLAS's threads; the kernel releases the GIL, so callers
may also rank disjoint client ranges from several threads.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recommender.ranking import kernels
from recommender.ranking.prepared import (
    boost_array,
    float32_array,
    kernel_catalog,
    kernel_params,
    segment_bits,
)
from recommender.ranking.rules import RankingRules
from recommender.servable import CatalogArrays

#: Target size of one block of scores, in float32 values (about 1 MiB).
BLOCK_VALUES = 1 << 18


def rank_batch(
    client_vectors: np.ndarray,
    item_factors: np.ndarray,
    owned_indptr: np.ndarray,
    owned_indices: np.ndarray,
    catalog: CatalogArrays,
    segments: Sequence[str | None] | np.ndarray,
    rules: RankingRules,
    boost: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k per client: (item indices int64 (n, k) padded with -1, totals float32 padded -inf).

    ``owned_indptr``/``owned_indices``: CSR of each client's owned item indices.
    ``segments``: one segment name per client, or an integer array of the eligibility bits
    each client needs (1: B2B, 2: B2G, 3: offers open to both). Row i equals
    ``rank_factors(client_vectors[i], ...)`` padded to k.
    """
    cat = kernel_catalog(catalog)
    params = kernel_params(rules, cat.kind_names, 0)  # the bits are per client, below
    vectors = float32_array(client_vectors, 2)
    factors = float32_array(item_factors, 2)
    n_clients = vectors.shape[0]
    if vectors.ndim != 2 or factors.ndim != 2 or factors.shape[1] != vectors.shape[1]:
        raise ValueError(f"client_vectors {vectors.shape} and item_factors {factors.shape} differ")
    if factors.shape[0] != cat.n_items:
        raise ValueError(f"item_factors has {factors.shape[0]} rows for {cat.n_items} items")
    indptr, indices = _owned_csr(owned_indptr, owned_indices, n_clients, cat.n_items)
    bits = _segment_bits(segments, n_clients, rules)
    boost_values = boost_array(boost, cat.n_items)
    out_items = np.full((n_clients, rules.k), -1, dtype=np.int64)
    out_scores = np.full((n_clients, rules.k), -np.inf, dtype=np.float32)
    rows = max(1, min(n_clients, BLOCK_VALUES // max(1, cat.n_items)))
    buffer = np.empty((rows, cat.n_items), dtype=np.float32)
    factors_t = factors.T
    for start in range(0, n_clients, rows):
        stop = min(start + rows, n_clients)
        block = buffer[: stop - start]
        np.matmul(vectors[start:stop], factors_t, out=block)
        kernels.select_rows(
            block,
            start,
            boost_values,
            cat.items,
            cat.prereq_indices,
            params,
            bits,
            indptr,
            indices,
            out_items,
            out_scores,
        )
    return out_items, out_scores


def _owned_csr(
    indptr: np.ndarray, indices: np.ndarray, n_clients: int, n_items: int
) -> tuple[np.ndarray, np.ndarray]:
    """Owned CSR as int64, checked (the kernel does not bounds-check)."""
    ptr = np.ascontiguousarray(indptr, dtype=np.int64)
    idx = np.ascontiguousarray(indices, dtype=np.int64)
    if ptr.shape != (n_clients + 1,) or ptr[0] != 0 or np.any(np.diff(ptr) < 0):
        raise ValueError("owned_indptr: not a CSR pointer array over the clients")
    used = idx[: ptr[-1]]
    if ptr[-1] > len(idx) or (len(used) and (used.min() < 0 or used.max() >= n_items)):
        raise ValueError("owned_indices: too short or item indices out of range")
    return ptr, idx


def _segment_bits(
    segments: Sequence[str | None] | np.ndarray, n_clients: int, rules: RankingRules
) -> np.ndarray:
    """Eligibility bits per client; all zero when eligibility is not checked."""
    if len(segments) != n_clients:
        raise ValueError(f"{len(segments)} segments for {n_clients} clients")
    if not rules.check_eligibility:
        return np.zeros(n_clients, dtype=np.int64)
    if isinstance(segments, np.ndarray) and np.issubdtype(segments.dtype, np.integer):
        return np.ascontiguousarray(segments, dtype=np.int64)
    lookup: dict[str | None, int] = {}
    bits = np.empty(n_clients, dtype=np.int64)
    for i, segment in enumerate(segments):
        value = lookup.get(segment)
        if value is None:
            value = lookup[segment] = segment_bits(segment, rules)
        bits[i] = value
    return bits
