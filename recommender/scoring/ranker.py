"""Second-stage ranker scoring: EASE first stage, then trees over the top candidates.

Per client, one numba kernel (``recommender.ranker_features.score_kernel``) scores what it owns
through the first stage, builds the feature rows of the top candidates and walks the trees; a
client that owns nothing but has known attributes is scored from them alone (an empty
portfolio, ``features`` source); one with neither gets the popularity fallback.
"""

from __future__ import annotations

import numpy as np

from recommender.ranker_features import RankerParts
from recommender.ranking.clients import ClientBlock
from recommender.scoring.base import FEATURES, OWNED_OFFERS, Scorer
from recommender.servable import ServableModel


class RankerScorer(Scorer):
    def __init__(self, model: ServableModel) -> None:
        super().__init__(model)
        try:
            self.parts = RankerParts.from_bundle(
                model.item_item, model.ranker_arrays, model.metadata
            )
        except ValueError as exc:
            raise ValueError(f"model {model.name!r}: {exc}") from None

    def _score_personal(self, block: ClientBlock, out: np.ndarray, sources: np.ndarray) -> None:
        owns = block.owned_counts > 0
        if not self.parts.spec.n_attributes:  # the portfolio alone: no attribute to read
            rows = np.flatnonzero(owns)
            if len(rows):
                attributes = np.empty((len(block), 0), dtype=np.float32)
                self.parts.score_block(
                    block.owned_indptr, block.owned_indices, rows, attributes, out
                )
                sources[rows] = OWNED_OFFERS
            return
        attributes = self.parts.spec.encode_attributes(block.column, len(block))
        described = ~np.isnan(attributes).all(axis=1)
        rows = np.flatnonzero(owns | described)
        if len(rows):
            self.parts.score_block(block.owned_indptr, block.owned_indices, rows, attributes, out)
            sources[owns] = OWNED_OFFERS
            sources[~owns & described] = FEATURES

    def _similarity(self, item_index: int) -> np.ndarray:
        """What owning this offer alone scores in the first stage."""
        return np.asarray(self.parts.item_item[item_index], dtype=np.float32).copy()
