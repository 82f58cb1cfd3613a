"""Top-k of each row of a block of totals under the catalog rules (the numba ``select_rows``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recommender.ranking import kernels
from recommender.ranking.prepared import NO_BOOST, KernelCatalog, kernel_params, segment_bits
from recommender.ranking.rules import RankingRules


def select_block(
    totals: np.ndarray,
    owned_indptr: np.ndarray,
    owned_indices: np.ndarray,
    segments: Sequence[str | None],
    catalog: KernelCatalog,
    rules: RankingRules,
) -> tuple[np.ndarray, np.ndarray]:
    """(item indices int64 (n, k) padded with -1, totals float32 (n, k) padded with -inf).

    ``totals``: (n, n_items) float32, C-contiguous; a NaN or infinite total is never chosen.
    ``owned_*``: CSR of each row's owned item indices (int64, checked here: the kernel does
    not bounds-check).
    """
    n = totals.shape[0]
    if totals.ndim != 2 or totals.shape[1] != catalog.n_items:
        raise ValueError(f"totals {totals.shape} do not match {catalog.n_items} items")
    if owned_indptr.shape != (n + 1,) or owned_indptr[0] != 0:
        raise ValueError("owned_indptr: not a CSR pointer array over the clients")
    used = owned_indices[: owned_indptr[-1]]
    if len(used) and (used.min() < 0 or used.max() >= catalog.n_items):
        raise ValueError("owned_indices: item indices out of range")
    params = kernel_params(rules, catalog.kind_names, 0)  # the bits are per client, below
    bits = segment_bit_array(segments, rules)
    out_items = np.full((n, rules.k), -1, dtype=np.int64)
    out_totals = np.full((n, rules.k), -np.inf, dtype=np.float32)
    kernels.select_rows(
        np.require(totals, np.float32, ("C_CONTIGUOUS", "WRITEABLE")),
        0,
        NO_BOOST,
        catalog.items,
        catalog.prereq_indices,
        params,
        bits,
        np.ascontiguousarray(owned_indptr, dtype=np.int64),
        np.ascontiguousarray(owned_indices, dtype=np.int64),
        out_items,
        out_totals,
    )
    return out_items, out_totals


def segment_bit_array(segments: Sequence[str | None], rules: RankingRules) -> np.ndarray:
    """Eligibility bits each client needs (all zero when eligibility is not checked)."""
    if not rules.check_eligibility:
        return np.zeros(len(segments), dtype=np.int64)
    lookup: dict[str | None, int] = {}
    bits = np.empty(len(segments), dtype=np.int64)
    for i, segment in enumerate(segments):
        value = lookup.get(segment)
        if value is None:
            value = lookup[segment] = segment_bits(segment, rules)
        bits[i] = value
    return bits
