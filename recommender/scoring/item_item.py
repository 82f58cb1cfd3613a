"""Item-item scoring (EASE): ``indicator(owned) @ item_item``, built live from what is owned.

Works for any client that owns something, seen in training or not: a purchase recorded a moment
ago changes the very next answer.
"""

from __future__ import annotations

import numpy as np

from recommender.ranking.clients import ClientBlock
from recommender.scoring.base import OWNED_OFFERS, Scorer
from recommender.scoring.kernels import sum_owned_rows
from recommender.servable import ServableModel


class ItemItemScorer(Scorer):
    def __init__(self, model: ServableModel) -> None:
        super().__init__(model)
        if model.item_item is None:
            raise ValueError(f"model {model.name!r} has no item_item matrix")
        self.item_item = np.require(model.item_item, np.float32, ("C_CONTIGUOUS", "WRITEABLE"))

    def _score_personal(self, block: ClientBlock, out: np.ndarray, sources: np.ndarray) -> None:
        rows = np.flatnonzero(block.owned_counts > 0)
        if len(rows):
            sum_owned_rows(
                self.item_item, block.owned_indptr, block.owned_indices, rows.astype(np.int64), out
            )
            sources[rows] = OWNED_OFFERS

    def _similarity(self, item_index: int) -> np.ndarray:
        """What owning this offer alone would score."""
        return np.asarray(self.item_item[item_index], dtype=np.float32).copy()
