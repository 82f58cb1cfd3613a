"""Factor scoring: ``client_vector @ item_factors.T`` (ALS, BPR, LightFM, popularity models).

A client's vector, first match wins:

1. a known client: its learned row of ``client_factors`` (an all-zero row means the model never
   saw it, so it counts as unknown);
2. an unknown client that owns something, for models with ``fold_in_regularization``: the ALS
   user step over the owned offers (``fold_in``);
3. an unknown client with attributes matching ``client_feature_names``: the sum of those
   features' embeddings (LightFM cold start);
4. otherwise none: the popularity fallback of ``Scorer``.

Convention (``recommender.servable``): the last column of ``item_factors`` is the item bias and
client vectors end with a constant 1; ``client_feature_factors`` rows have the item factors'
width and a 0 in that last column (set to 1 after summing).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from recommender.dataset import DEFAULT_CLIENT_FEATURES
from recommender.ranking.clients import ClientBlock
from recommender.scoring.base import FEATURES, OWNED_OFFERS, PERSONAL, Scorer
from recommender.scoring.kernels import dot_block
from recommender.servable import ServableModel

_WRITABLE: list[Literal["C_CONTIGUOUS", "WRITEABLE"]] = ["C_CONTIGUOUS", "WRITEABLE"]


class FactorsScorer(Scorer):
    def __init__(self, model: ServableModel) -> None:
        super().__init__(model)
        if model.item_factors is None:
            raise ValueError(f"model {model.name!r} has no item_factors")
        self.item_factors = np.require(model.item_factors, np.float32, _WRITABLE)
        self.client_factors = (
            None
            if model.client_factors is None
            else np.require(model.client_factors, np.float32, _WRITABLE)
        )
        self._known = (
            np.zeros(0, dtype=np.bool_)
            if self.client_factors is None
            else np.any(self.client_factors != 0, axis=1)
        )
        self._feature_of = {name: i for i, name in enumerate(model.client_feature_names)}
        self._feature_columns = tuple(
            dict.fromkeys(name.split("=", 1)[0] for name in model.client_feature_names)
        ) or tuple(DEFAULT_CLIENT_FEATURES)
        self._gram: np.ndarray | None = None
        self._unit_items: np.ndarray | None = None

    def is_known(self, client_index: int) -> bool:
        """Whether the model has a learned vector for this client index."""
        return 0 <= client_index < len(self._known) and bool(self._known[client_index])

    def _score_personal(self, block: ClientBlock, out: np.ndarray, sources: np.ndarray) -> None:
        n = len(block)
        vectors = np.zeros((n, self.item_factors.shape[1]), dtype=np.float32)
        for row in range(n):
            source, vector = self.client_vector(block, row)
            if vector is not None:
                vectors[row], sources[row] = vector, source
        rows = np.flatnonzero(sources != 0).astype(np.int64)
        if len(rows):
            dot_block(vectors, self.item_factors, rows, out)

    def client_vector(self, block: ClientBlock, row: int) -> tuple[int, np.ndarray | None]:
        """(source code, vector) of one client of the block; the vector is None to fall back."""
        index = int(block.model_index[row])
        if self.client_factors is not None and self.is_known(index):
            return PERSONAL, self.client_factors[index]
        owned = block.owned(row)
        if len(owned) and self.model.fold_in_regularization is not None:
            return OWNED_OFFERS, self.fold_in(owned)
        if self._feature_of:
            vector = self.feature_vector(block.feature_names(row, self._feature_columns))
            if vector is not None:
                return FEATURES, vector
        return 0, None

    def fold_in(self, owned: np.ndarray) -> np.ndarray:
        """The implicit-ALS user step for a client who owns ``owned`` (binary preferences).

        Solves ``(Y^T Y + (c - 1) Y_o^T Y_o + reg I) x = c Y_o^T 1`` where ``Y`` are the item
        factors without the bias column, ``Y_o`` the owned rows and ``c`` the confidence of an
        owned offer (``metadata['fold_in_confidence']``, default 1). Returns ``[x, 1]``.
        """
        model = self.model
        if model.fold_in_regularization is None:
            raise ValueError(f"model {model.name!r} does not support fold-in")
        factors = self.item_factors[:, :-1].astype(np.float64)
        if self._gram is None:
            self._gram = factors.T @ factors
        confidence = float(model.metadata.get("fold_in_confidence", 1.0))
        chosen = factors[np.unique(np.asarray(owned, dtype=np.int64))]
        lhs = self._gram + (confidence - 1.0) * (chosen.T @ chosen)
        lhs += model.fold_in_regularization * np.eye(factors.shape[1])
        x = np.linalg.solve(lhs, confidence * chosen.sum(axis=0))
        return np.append(x, 1.0).astype(np.float32)

    def feature_vector(self, features: Sequence[str]) -> np.ndarray | None:
        """Sum of the known features' embeddings with the constant 1 appended; None if none."""
        table = self.model.client_feature_factors
        if table is None:
            return None
        rows = sorted({self._feature_of[f] for f in features if f in self._feature_of})
        if not rows:
            return None
        vector = table[rows].sum(axis=0).astype(np.float32)
        vector[-1] = 1.0
        return vector

    def _similarity(self, item_index: int) -> np.ndarray:
        """Cosine over the item factors, bias column left out."""
        if self._unit_items is None:
            factors = self.item_factors[:, :-1]
            norms = np.linalg.norm(factors, axis=1, keepdims=True)
            self._unit_items = factors / np.where(norms > 0, norms, 1.0)
        return np.asarray(self._unit_items @ self._unit_items[item_index], dtype=np.float32)


__all__ = ["FEATURES", "OWNED_OFFERS", "PERSONAL", "FactorsScorer"]
