"""Single-client ranking on the numba kernels: the request path of the client cabinet.

Same arguments and results as ``rank_reference``; the per-request Python work is O(owned),
and the kernels release the GIL, so request threads rank in parallel.
"""

from __future__ import annotations

import numpy as np

from recommender.ranking import kernels
from recommender.ranking.prepared import (
    boost_array,
    kernel_catalog,
    kernel_rules,
    owned_array,
    segment_bits,
)
from recommender.ranking.rules import RankingRules
from recommender.servable import CatalogArrays


def rank_scores(
    scores: np.ndarray,
    owned: np.ndarray,
    catalog: CatalogArrays,
    segment: str | None,
    rules: RankingRules,
    boost: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k item indices (int64) and boosted float32 totals for precomputed scores."""
    cat = kernel_catalog(catalog)
    kr = kernel_rules(rules, cat.kind_names)
    values = np.ascontiguousarray(scores, dtype=np.float32).reshape(-1)
    if values.shape[0] != cat.n_items:
        raise ValueError(f"scores has {values.shape[0]} values for {cat.n_items} items")
    result: tuple[np.ndarray, np.ndarray] = kernels.select_scores(
        values,
        boost_array(boost, cat.n_items),
        cat.kind,
        cat.family,
        cat.eligibility,
        cat.prereq_indptr,
        cat.prereq_indices,
        kr.kind_ok,
        segment_bits(segment, kr),
        owned_array(owned),
        kr.flags,
        kr.k,
        kr.max_per_kind,
    )
    return result


def rank_factors(
    client_vector: np.ndarray,
    item_factors: np.ndarray,
    owned: np.ndarray,
    catalog: CatalogArrays,
    segment: str | None,
    rules: RankingRules,
    boost: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``rank_scores(item_factors @ client_vector, ...)`` with the dot products fused in.

    ``item_factors`` should already be C-contiguous float32 (as a ``ServableModel`` holds it);
    anything else is converted, which costs a copy per call.
    """
    cat = kernel_catalog(catalog)
    kr = kernel_rules(rules, cat.kind_names)
    factors = np.ascontiguousarray(item_factors, dtype=np.float32)
    vector = np.ascontiguousarray(client_vector, dtype=np.float32).reshape(-1)
    if factors.ndim != 2 or factors.shape != (cat.n_items, vector.shape[0]):
        raise ValueError(
            f"item_factors shape {factors.shape} does not match {cat.n_items} items "
            f"x {vector.shape[0]} factors"
        )
    result: tuple[np.ndarray, np.ndarray] = kernels.select_factors(
        vector,
        factors,
        boost_array(boost, cat.n_items),
        cat.kind,
        cat.family,
        cat.eligibility,
        cat.prereq_indptr,
        cat.prereq_indices,
        kr.kind_ok,
        segment_bits(segment, kr),
        owned_array(owned),
        kr.flags,
        kr.k,
        kr.max_per_kind,
    )
    return result
