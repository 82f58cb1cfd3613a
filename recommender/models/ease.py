"""EASE (Steck, 2019): a closed-form item-item model, scored live from the owned set.

``B = I - P / diag(P)`` with ``P = (X^T X + l2 I)^-1``, which has a zero diagonal. Exported in
``item_item`` mode, so any client, seen in training or not, is scored from what it owns now.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import Field
from threadpoolctl import threadpool_limits

from recommender.dataset import Dataset
from recommender.models.base import ModelConfig, NotFittedError, Recommender


class EASEConfig(ModelConfig):
    l2: float = Field(default=400.0, gt=0)
    binary: bool = Field(default=True, description="Fit on 0/1 instead of feedback weights.")
    blas_threads: int = Field(default=1, ge=1, description="BLAS threads for the inversion.")


class EASEModel(Recommender):
    """Embarrassingly shallow autoencoder; ``seed`` is unused (the solution is exact)."""

    name: ClassVar[str] = "ease"
    config_class: ClassVar[type[ModelConfig]] = EASEConfig
    config: EASEConfig

    def _fit(self, dataset: Dataset) -> None:
        matrix = dataset.interactions.astype(np.float64)
        if self.config.binary:
            matrix.data[:] = 1.0
        with threadpool_limits(self.config.blas_threads, "blas"):
            gram = (matrix.T @ matrix).toarray()
            gram[np.diag_indices_from(gram)] += self.config.l2
            precision = np.linalg.inv(gram)
        weights = precision / (-np.diag(precision))
        weights[np.diag_indices_from(weights)] = 0.0
        self._item_item = weights.astype(np.float32)

    def _export_arrays(self, dataset: Dataset) -> dict[str, Any]:
        if not hasattr(self, "_item_item"):
            raise NotFittedError(f"model {self.name!r} is not fitted")
        return {"mode": "item_item", "item_item": self._item_item}
