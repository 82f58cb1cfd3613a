"""Raw scores of every offer for one client, from a ``ServableModel`` (numpy only).

This is the scoring half of serving (ranking and rules come after), so it must not import
implicit or lightfm. How a client is scored, first match wins:

1. ``item_item`` mode with owned offers: ``indicator(owned) @ item_item`` (EASE), which works
   for clients the model never saw.
2. ``factors`` mode, a known client: ``client_factors[i] @ item_factors.T``. An all-zero client
   vector means the model never saw that client (it had no training interactions), so it
   counts as unknown.
3. ``factors`` mode, unknown client with owned offers and ``fold_in_regularization``: the ALS
   user step over the owned offers (see ``Scorer.fold_in``).
4. ``factors`` mode, unknown client with features matching ``client_feature_names``: the sum of
   those features' embeddings (LightFM cold start).
5. Otherwise the mean of the popularity rows named in ``segment_rows`` that exist (unknown
   names are skipped; when none exists, the ``all`` row).

Factor convention (see ``recommender.servable``): the last column of ``item_factors`` is the
item bias and client vectors end with a constant 1; ``client_feature_factors`` rows have the
item factors' width and a 0 in that last column (the scorer sets it to 1 after summing).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recommender.servable import ServableModel


class Scorer:
    """Scores offers for known, folded-in, feature-only and fully unknown clients."""

    def __init__(self, model: ServableModel) -> None:
        self.model = model
        self._row_of = {name: i for i, name in enumerate(model.segment_names)}
        self._feature_of = {name: i for i, name in enumerate(model.client_feature_names)}
        self._known: np.ndarray | None = None
        if model.client_factors is not None:
            self._known = np.any(model.client_factors != 0, axis=1)
        self._gram: np.ndarray | None = None
        self._unit_items: np.ndarray | None = None

    @property
    def n_items(self) -> int:
        return self.model.n_items

    def is_known(self, client_index: int | None) -> bool:
        """Whether the model has a learned vector for this client index."""
        if client_index is None or self._known is None:
            return False
        return 0 <= client_index < len(self._known) and bool(self._known[client_index])

    def scores(
        self,
        client_index: int | None,
        owned: np.ndarray,
        features: Sequence[str] = (),
        segment_rows: Sequence[str] = ("all",),
    ) -> np.ndarray:
        """float32 (n_items,) scores of one client; see the module docstring for the cases."""
        owned = np.unique(np.asarray(owned, dtype=np.int64))
        model = self.model
        if model.mode == "item_item" and model.item_item is not None and len(owned):
            return np.asarray(model.item_item[owned].sum(axis=0), dtype=np.float32)
        if model.mode == "factors":
            vector = self.client_vector(client_index, owned, features)
            if vector is not None:
                assert model.item_factors is not None  # validated by ServableModel
                return np.asarray(model.item_factors @ vector, dtype=np.float32)
        return self.popularity_scores(segment_rows)

    def client_vector(
        self, client_index: int | None, owned: np.ndarray, features: Sequence[str] = ()
    ) -> np.ndarray | None:
        """The client's vector in factors mode (cases 2-4), or None when it falls back."""
        model = self.model
        if self.is_known(client_index):
            assert model.client_factors is not None
            assert client_index is not None
            return np.asarray(model.client_factors[client_index], dtype=np.float32)
        owned = np.asarray(owned, dtype=np.int64)
        if len(owned) and model.fold_in_regularization is not None:
            return self.fold_in(owned)
        if features:
            return self.feature_vector(features)
        return None

    def client_vectors_batch(
        self,
        client_indices: Sequence[int | None] | np.ndarray,
        owned: Sequence[np.ndarray],
        features: Sequence[Sequence[str]] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Factors-mode vectors of many clients for the batch kernel: (n, dim) and a has-vector
        mask; rows without a vector (zeros) must be scored with ``scores`` (popularity)."""
        model = self.model
        if model.mode != "factors" or model.item_factors is None:
            raise ValueError(f"model {model.name!r} is in {model.mode!r} mode, not factors")
        n = len(client_indices)
        vectors = np.zeros((n, model.item_factors.shape[1]), dtype=np.float32)
        present = np.zeros(n, dtype=np.bool_)
        for row, client in enumerate(client_indices):
            index = None if client is None else int(client)
            vector = self.client_vector(index, owned[row], features[row] if features else ())
            if vector is not None:
                vectors[row], present[row] = vector, True
        return vectors, present

    def fold_in(self, owned: np.ndarray) -> np.ndarray:
        """The implicit-ALS user step for a client who owns ``owned`` (binary preferences).

        Solves ``(Y^T Y + (c - 1) Y_o^T Y_o + reg I) x = c Y_o^T 1`` where ``Y`` are the item
        factors without the bias column, ``Y_o`` the owned rows and ``c`` the confidence of an
        owned offer (``metadata['fold_in_confidence']``, default 1). Returns ``[x, 1]``.
        """
        model = self.model
        if model.item_factors is None or model.fold_in_regularization is None:
            raise ValueError(f"model {model.name!r} does not support fold-in")
        factors = model.item_factors[:, :-1].astype(np.float64)
        if self._gram is None:
            self._gram = factors.T @ factors
        confidence = float(model.metadata.get("fold_in_confidence", 1.0))
        chosen = factors[np.unique(np.asarray(owned, dtype=np.int64))]
        dim = factors.shape[1]
        lhs = self._gram + (confidence - 1.0) * (chosen.T @ chosen)
        lhs += model.fold_in_regularization * np.eye(dim)
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

    def popularity_scores(self, segment_rows: Sequence[str] = ("all",)) -> np.ndarray:
        """Mean of the named popularity rows that exist; the ``all`` row when none does."""
        rows = [self._row_of[name] for name in dict.fromkeys(segment_rows) if name in self._row_of]
        if not rows:
            rows = [self._row_of["all"]] if "all" in self._row_of else []
        if not rows:
            return np.zeros(self.n_items, dtype=np.float32)
        return np.asarray(self.model.popularity[rows].mean(axis=0), dtype=np.float32)

    def similar_items(self, item_index: int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` offers most similar to one offer, itself excluded: (indices, scores).

        Cosine over the item factors (bias column left out) in factors mode; the EASE row of
        the item (what owning it alone would score) in item_item mode; overall popularity
        otherwise. Ties go to the lower index, as in ranking.
        """
        model = self.model
        if not 0 <= item_index < self.n_items:
            raise IndexError(f"item index {item_index} out of range 0..{self.n_items - 1}")
        if model.mode == "item_item" and model.item_item is not None:
            similarity = np.asarray(model.item_item[item_index], dtype=np.float32).copy()
        elif model.mode == "factors" and model.item_factors is not None:
            if self._unit_items is None:
                factors = model.item_factors[:, :-1].astype(np.float32)
                norms = np.linalg.norm(factors, axis=1, keepdims=True)
                self._unit_items = factors / np.where(norms > 0, norms, 1.0)
            similarity = self._unit_items @ self._unit_items[item_index]
        else:
            similarity = self.popularity_scores().copy()
        candidates = np.delete(np.arange(self.n_items), item_index)
        order = candidates[np.lexsort((candidates, -similarity[candidates]))][:k]
        return order.astype(np.int64), similarity[order].astype(np.float32)
