"""Single-client ranking on the numba kernels: the request path of the client cabinet.

Same arguments and results as ``rank_reference``. Everything derived from the catalog, segment
and rules is cached (``prepared.kernel_plan``), inputs already in the kernels' dtype and layout
are passed without copies, and the kernels take few arguments, so a call costs little beyond
the kernel itself. The kernels release the GIL, so request threads rank in parallel.
"""

from __future__ import annotations

import numpy as np

from recommender.ranking import kernels
from recommender.ranking.prepared import boost_array, float32_array, kernel_plan, owned_array
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
    plan = kernel_plan(catalog, segment, rules)
    values = float32_array(scores, 1)
    if values.shape[0] != plan.n_items:
        raise ValueError(f"scores has {values.shape[0]} values for {plan.n_items} items")
    out_items, out_scores = np.empty(rules.k, dtype=np.int64), np.empty(rules.k, dtype=np.float32)
    taken = kernels.select_scores(
        values,
        boost_array(boost, plan.n_items),
        owned_array(owned),
        plan.items,
        plan.prereq_indices,
        plan.params,
        out_items,
        out_scores,
    )
    return _first(taken, out_items, out_scores)


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
    plan = kernel_plan(catalog, segment, rules)
    factors = float32_array(item_factors, 2)
    vector = float32_array(client_vector, 1)
    if factors.shape != (plan.n_items, vector.shape[0]):
        raise ValueError(
            f"item_factors shape {factors.shape} does not match {plan.n_items} items "
            f"x {vector.shape[0]} factors"
        )
    out_items, out_scores = np.empty(rules.k, dtype=np.int64), np.empty(rules.k, dtype=np.float32)
    taken = kernels.select_factors(
        vector,
        factors,
        boost_array(boost, plan.n_items),
        owned_array(owned),
        plan.items,
        plan.prereq_indices,
        plan.params,
        out_items,
        out_scores,
    )
    return _first(taken, out_items, out_scores)


def _first(taken: int, items: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ``taken`` items written (all of them in the common case: no slicing then)."""
    if taken == items.shape[0]:
        return items, scores
    return items[:taken], scores[:taken]
