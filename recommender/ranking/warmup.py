"""Compile every kernel signature before serving, so no request pays for JIT compilation."""

from __future__ import annotations

import numpy as np

from recommender.catalog import KIND_NAMES
from recommender.ranking.batch import rank_batch
from recommender.ranking.fast import rank_factors, rank_scores
from recommender.ranking.rules import RankingRules
from recommender.servable import CatalogArrays


def _tiny_catalog() -> CatalogArrays:
    """Three offers: a tariff, a course needing it, an add-on."""
    return CatalogArrays(
        kind=np.array([0, 1, 2], dtype=np.int8),
        kind_names=KIND_NAMES,
        family=np.array([0, -1, -1], dtype=np.int32),
        family_names=("basic",),
        eligibility=np.array([3, 3, 1], dtype=np.int8),
        prereq_indptr=np.array([0, 0, 1, 1], dtype=np.int64),
        prereq_indices=np.array([0], dtype=np.int64),
        price=np.zeros(3, dtype=np.float32),
        margin=np.zeros(3, dtype=np.float32),
    )


def warm_up() -> None:
    """Run each public entry point once on tiny arrays (loads the on-disk cache or compiles).

    Covers with and without boost and quota; the argument types are fixed by the wrappers,
    so these calls compile every signature the request path uses.
    """
    catalog = _tiny_catalog()
    factors = np.ones((3, 2), dtype=np.float32)
    vector = np.ones(2, dtype=np.float32)
    owned = np.array([0], dtype=np.int64)
    boost = np.zeros(3, dtype=np.float32)
    for rules in (RankingRules(k=2), RankingRules(k=2, max_per_kind=1)):
        for extra in (None, boost):
            rank_scores(factors @ vector, owned, catalog, "B2B", rules, extra)
            rank_factors(vector, factors, owned, catalog, "B2B", rules, extra)
            rank_batch(
                np.ones((2, 2), dtype=np.float32),
                factors,
                np.array([0, 1, 1], dtype=np.int64),
                owned,
                catalog,
                ["B2B", "B2G"],
                rules,
                extra,
            )
