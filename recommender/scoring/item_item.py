"""Item-item scoring (EASE): ``indicator(owned) @ item_item``, built live from what is owned.

Works for any client that owns something, seen in training or not: a purchase recorded a moment
ago changes the very next answer. A bundle with pair inputs (higher-order EASE: ``pair_items``,
``pair_weights``) also adds, per owned pair it lists, that pair's row; the pairs are looked up in
a dense (n, n) map built once here.
"""

from __future__ import annotations

import numpy as np

from recommender.ranking.clients import ClientBlock
from recommender.scoring.base import OWNED_OFFERS, Scorer
from recommender.scoring.kernels import add_owned_pairs, sum_owned_rows
from recommender.servable import ServableModel


class ItemItemScorer(Scorer):
    def __init__(self, model: ServableModel) -> None:
        super().__init__(model)
        if model.item_item is None:
            raise ValueError(f"model {model.name!r} has no item_item matrix")
        self.item_item = np.require(model.item_item, np.float32, ("C_CONTIGUOUS", "WRITEABLE"))
        self.pair_map: np.ndarray | None = None
        self.pair_weights: np.ndarray | None = None
        if model.pair_items is not None and model.pair_weights is not None:
            self.pair_map = pair_map(model.pair_items, model.n_items)
            self.pair_weights = np.require(
                model.pair_weights, np.float32, ("C_CONTIGUOUS", "WRITEABLE")
            )

    def _score_personal(self, block: ClientBlock, out: np.ndarray, sources: np.ndarray) -> None:
        rows = np.flatnonzero(block.owned_counts > 0).astype(np.int64)
        if len(rows):
            sum_owned_rows(self.item_item, block.owned_indptr, block.owned_indices, rows, out)
            if self.pair_map is not None and self.pair_weights is not None:
                add_owned_pairs(
                    self.pair_map,
                    self.pair_weights,
                    block.owned_indptr,
                    block.owned_indices,
                    rows,
                    out,
                )
            sources[rows] = OWNED_OFFERS

    def _similarity(self, item_index: int) -> np.ndarray:
        """What owning this offer alone would score."""
        return np.asarray(self.item_item[item_index], dtype=np.float32).copy()


def pair_map(pair_items: np.ndarray, n_items: int) -> np.ndarray:
    """Dense int32 (n, n): the row of ``pair_items`` holding ``(a, b)`` (either order), or -1."""
    lookup = np.full((n_items, n_items), -1, dtype=np.int32)
    rows = np.arange(len(pair_items), dtype=np.int32)
    lookup[pair_items[:, 0], pair_items[:, 1]] = rows
    lookup[pair_items[:, 1], pair_items[:, 0]] = rows
    return lookup
