"""Compile every kernel before serving, so no request pays for JIT compilation."""

from __future__ import annotations

from typing import Any

import numpy as np

from recommender.catalog import KIND_NAMES
from recommender.ranker_features import METADATA_KEY, RankerParts, RankerSpec
from recommender.ranking.boosts import MarginBoost, TierProgressBoost
from recommender.ranking.clients import ClientBlock
from recommender.ranking.model import RankingModel
from recommender.ranking.policy import RankingPolicy
from recommender.servable import CatalogArrays, ServableModel
from recommender.trees import TreeEnsemble


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
        price=np.ones(3, dtype=np.float32),
        margin=np.ones(3, dtype=np.float32),
    )


def _tiny_models() -> list[ServableModel]:
    catalog = _tiny_catalog()
    common: dict[str, Any] = {
        "item_ids": np.array(["a", "b", "c"], dtype=object),
        "client_ids": np.array(["x"], dtype=object),
        "catalog": catalog,
        "popularity": np.ones((1, 3), dtype=np.float32),
        "segment_names": ("all",),
    }
    spec = RankerSpec(3, True, (("segment", ("B2B",)),), (), candidates=2)
    leaf = {"tree_structure": {"leaf_value": 0.0}}
    trees = TreeEnsemble.from_dump({"max_feature_idx": spec.n_features - 1, "tree_info": [leaf]})
    ranker = RankerParts(spec, np.eye(3, dtype=np.float32), trees, np.zeros(3, np.float32))
    return [
        ServableModel(
            name="warm", mode="item_item", item_item=np.eye(3, dtype=np.float32), **common
        ),
        ServableModel(  # higher-order EASE: pair inputs
            name="warm",
            mode="item_item",
            item_item=np.eye(3, dtype=np.float32),
            pair_items=np.array([[0, 1]], dtype=np.int32),
            pair_weights=np.ones((1, 3), dtype=np.float32),
            **common,
        ),
        ServableModel(
            name="warm",
            mode="ranker",
            item_item=ranker.item_item,
            ranker_arrays=ranker.to_arrays(),
            metadata={METADATA_KEY: spec.to_metadata()},
            **common,
        ),
        ServableModel(
            name="warm",
            mode="factors",
            client_factors=np.ones((1, 2), dtype=np.float32),
            item_factors=np.ones((3, 2), dtype=np.float32),
            **common,
        ),
    ]


def warm_up() -> None:
    """Rank a tiny block through the policy with every model kind, with and without boosts
    and quota (loads numba's on-disk cache or compiles)."""
    owned = np.array([0], dtype=np.int64)
    block = ClientBlock.one("x", 0, owned, {"segment": "B2B", "loyalty_tier": "bronze"})
    policies = (
        RankingPolicy(2),
        RankingPolicy(2, 1, (MarginBoost(0.1), TierProgressBoost(0.1))),
    )
    for servable in _tiny_models():
        model = RankingModel(servable)
        for policy in policies:
            policy.rank(model, block)
