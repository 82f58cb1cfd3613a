"""EASE (Steck, 2019): a closed-form item-item model, scored live from the owned set.

``B = I - P / diag(P)`` with ``P = (X^T X + L)^-1``, which has a zero diagonal. ``L`` is
``l2 I`` (EASE), plus with ``dropout`` p > 0 the emphasized-denoising term
``p / (1 - p) diag(X^T X)`` of EDLAE (Steck, 2020, "Autoencoders that don't overfit towards the
identity"): each offer is regularised in proportion to how often it is owned, which keeps
popular offers from being predicted by themselves and makes ``l2`` far less sensitive to the
data's scale. Exported in ``item_item`` mode, so any client, seen in training or not, is scored
from what it owns now.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from pydantic import Field
from threadpoolctl import threadpool_limits

from recommender.dataset import Dataset
from recommender.models.base import ModelConfig, NotFittedError, Recommender

#: Largest catalogue whose ``l2`` / ``dropout`` are chosen on validation (8 inversions).
AUTO_MAX_ITEMS = 3000


class EASEConfig(ModelConfig):
    """``l2`` and ``dropout`` left unset are chosen on a validation split (catalogues up to
    ``AUTO_MAX_ITEMS`` offers; beyond, the first candidates: one inversion is costly)."""

    l2: float | None = Field(default=None, gt=0, description="None: chosen on validation.")
    dropout: float | None = Field(
        default=None, ge=0.0, lt=1.0, description="EDLAE dropout p (0: EASE; None: chosen)."
    )
    binary: bool = Field(default=True, description="Fit on 0/1 instead of feedback weights.")
    blas_threads: int = Field(default=1, ge=1, description="BLAS threads for the inversion.")


class EASEModel(Recommender):
    """Embarrassingly shallow autoencoder; ``seed`` is unused (the solution is exact)."""

    name: ClassVar[str] = "ease"
    config_class: ClassVar[type[ModelConfig]] = EASEConfig
    config: EASEConfig

    def _auto_grid(self, dataset: Dataset) -> dict[str, tuple[Any, ...]]:
        if dataset.n_items > AUTO_MAX_ITEMS:
            return {"l2": (400.0,), "dropout": (0.0,)}
        return {"l2": (400.0, 10.0, 100.0, 1000.0), "dropout": (0.0, 0.5)}

    def _fit(self, dataset: Dataset) -> None:
        c = self.config
        assert c.l2 is not None and c.dropout is not None  # chosen by fit()
        self._item_item = ease_weights(
            dataset.interactions, c.l2, c.dropout, binary=c.binary, blas_threads=c.blas_threads
        )

    def _export_arrays(self, dataset: Dataset) -> dict[str, Any]:
        if not hasattr(self, "_item_item"):
            raise NotFittedError(f"model {self.name!r} is not fitted")
        return {"mode": "item_item", "item_item": self._item_item}


def ease_weights(
    interactions: sp.csr_matrix,
    l2: float,
    dropout: float = 0.0,
    *,
    binary: bool = True,
    blas_threads: int = 1,
) -> np.ndarray:
    """The (n_items, n_items) float32 EASE / EDLAE weights, zero diagonal (see the module)."""
    matrix = interactions.astype(np.float64)
    if binary:
        matrix.data[:] = 1.0
    with threadpool_limits(blas_threads, "blas"):
        gram = (matrix.T @ matrix).toarray()
        diagonal = np.diag_indices_from(gram)
        gram[diagonal] += l2 + dropout / (1.0 - dropout) * gram[diagonal]
        precision = np.linalg.inv(gram)
    weights = precision / (-np.diag(precision))
    weights[np.diag_indices_from(weights)] = 0.0
    return weights.astype(np.float32)
