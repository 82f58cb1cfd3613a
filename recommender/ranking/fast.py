"""Single-client ranking on the numba kernels: the request path of the client cabinet.

Same arguments and results as ``rank_reference``. Everything derived from the catalog, segment
and rules is cached (``prepared.kernel_plan``). The inputs go to the kernels untouched: the
kernels are compiled for float32 / int64, C-contiguous, writable arrays (what a
``ServableModel`` holds) and raise TypeError for anything else, which is then converted once
and retried; shapes are checked inside the kernels, where it costs nothing, and a mismatch
comes back as a code that becomes a ValueError naming the input here. So a call costs little
beyond the kernel: a plan look-up, two output allocations and numba's dispatch. The kernels
release the GIL, so request threads rank in parallel.
"""

from __future__ import annotations

import numpy as np

from recommender.ranking import kernels
from recommender.ranking.prepared import (
    NO_BOOST,
    KernelPlan,
    boost_array,
    float32_array,
    kernel_plan,
    owned_array,
)
from recommender.ranking.rules import RankingRules
from recommender.servable import CatalogArrays

# dtype objects: np.empty(k, dtype) parses these faster than dtype= keywords of types
_INT64, _FLOAT32 = np.dtype(np.int64), np.dtype(np.float32)


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
    out_items, out_scores = np.empty(rules.k, _INT64), np.empty(rules.k, _FLOAT32)
    extra = NO_BOOST if boost is None else boost
    items, prereqs, params = plan.items, plan.prereq_indices, plan.params
    try:
        taken = kernels.select_scores(
            scores, extra, owned, items, prereqs, params, out_items, out_scores
        )
    except TypeError:  # not the compiled dtypes and layouts: convert, then the same call
        values, converted = float32_array(scores, 1), _converted(boost, owned, plan)
        taken = kernels.select_scores(values, *converted, out_items, out_scores)
    if taken == rules.k:
        return out_items, out_scores
    if taken < 0:
        raise _bad_input(taken, plan.n_items, np.shape(scores), (), boost)
    return out_items[:taken], out_scores[:taken]


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
    out_items, out_scores = np.empty(rules.k, _INT64), np.empty(rules.k, _FLOAT32)
    extra = NO_BOOST if boost is None else boost
    items, prereqs, params = plan.items, plan.prereq_indices, plan.params
    try:
        taken = kernels.select_factors(
            client_vector, item_factors, extra, owned, items, prereqs, params, out_items, out_scores
        )
    except TypeError:  # not the compiled dtypes and layouts: convert, then the same call
        vector, factors = float32_array(client_vector, 1), float32_array(item_factors, 2)
        converted = _converted(boost, owned, plan)
        taken = kernels.select_factors(vector, factors, *converted, out_items, out_scores)
    if taken == rules.k:
        return out_items, out_scores
    if taken < 0:
        shape = np.shape(item_factors)
        raise _bad_input(taken, plan.n_items, shape, np.shape(client_vector), boost)
    return out_items[:taken], out_scores[:taken]


def _converted(
    boost: np.ndarray | None, owned: np.ndarray, plan: KernelPlan
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The kernels' arguments after the scores: boost, owned and the plan, in compiled types."""
    boost_values, owned_indices = boost_array(boost, plan.n_items), owned_array(owned)
    return boost_values, owned_indices, plan.items, plan.prereq_indices, plan.params


def _bad_input(
    code: int,
    n_items: int,
    rows_shape: tuple[int, ...],
    vector_shape: tuple[int, ...],
    boost: np.ndarray | None,
) -> ValueError:
    """The error for a kernel's ``BAD_*`` code, naming the input and the sizes."""
    factors = len(rows_shape) == 2
    if code == kernels.BAD_SCORES and factors:
        return ValueError(f"item_factors has {rows_shape[0]} rows for {n_items} items")
    if code == kernels.BAD_SCORES:
        return ValueError(
            f"scores has {rows_shape[0] if rows_shape else 1} values for {n_items} items"
        )
    if code == kernels.BAD_VECTOR:
        return ValueError(
            f"client vector shape {vector_shape} does not match item_factors' "
            f"{rows_shape[1]} factors"
        )
    if code == kernels.BAD_BOOST:
        return ValueError(
            f"boost has {0 if boost is None else np.size(boost)} values for {n_items} items"
        )
    return ValueError(f"kernel refused its inputs (code {code})")
