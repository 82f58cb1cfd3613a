"""Implicit ALS (Hu, Koren, Volinsky) through ``implicit.cpu``, with fold-in for unseen clients.

implicit >= 0.7 uses the matrix values times ``alpha`` as confidences. Its exported factors
follow the ``ServableModel`` convention: an item-bias column (the popularity prior of
``recommender.models.prior``, zero at weight 0) and a constant 1 at the end of client vectors;
clients without training interactions get an all-zero vector so the scorer treats them as
unknown (fold-in, features or popularity).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import Field
from threadpoolctl import threadpool_limits

from recommender.dataset import Dataset
from recommender.models.auto import capped, max_factors
from recommender.models.base import ModelConfig, NotFittedError, Recommender, client_vectors
from recommender.models.prior import WEIGHTS, PriorConfig, with_popularity_prior


class ALSConfig(PriorConfig):
    """``factors`` and ``regularization`` left unset are chosen on a validation split
    (``recommender.models.auto``); ml-100k's tuned values are in ``configs/ml100k/als.json``."""

    factors: int | None = Field(default=None, ge=1, description="None: chosen on validation.")
    regularization: float | None = Field(
        default=None, ge=0, description="None: chosen on validation."
    )
    alpha: float = Field(default=1.0, gt=0)
    iterations: int = Field(default=15, ge=1)
    num_threads: int = Field(default=1, ge=0, description="implicit's threads (0: all cores)")


class ALSModel(Recommender):
    """Weighted matrix factorisation of the implicit-feedback matrix."""

    name: ClassVar[str] = "als"
    config_class: ClassVar[type[ModelConfig]] = ALSConfig
    config: ALSConfig
    scoring_fields: ClassVar[tuple[str, ...]] = ("popularity_weight",)

    def _auto_grid(self, dataset: Dataset) -> dict[str, tuple[Any, ...]]:
        return {
            "factors": capped((16, 2, 8, 32, 64), max_factors(dataset)),
            "regularization": (3.0, 0.3, 30.0),
            "popularity_weight": WEIGHTS,
        }

    def _fit(self, dataset: Dataset) -> None:
        from implicit.cpu.als import AlternatingLeastSquares

        cfg = self.config
        # implicit solves many small systems in parallel; a threaded BLAS underneath thrashes.
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=cfg.factors,
                regularization=cfg.regularization,
                alpha=cfg.alpha,
                iterations=cfg.iterations,
                num_threads=cfg.num_threads,
                random_state=cfg.seed,
            )
            model.fit(dataset.interactions.astype(np.float32), show_progress=False)
        self._user_factors = np.asarray(model.user_factors, dtype=np.float32)
        self._item_factors = np.asarray(model.item_factors, dtype=np.float32)

    def _export_arrays(self, dataset: Dataset) -> dict[str, Any]:
        if not hasattr(self, "_item_factors"):
            raise NotFittedError(f"model {self.name!r} is not fitted")
        client_factors = client_vectors(self._user_factors, dataset, constant=True)
        item_factors = np.hstack(
            [self._item_factors, np.zeros((len(self._item_factors), 1), dtype=np.float32)]
        )
        item_factors = with_popularity_prior(
            item_factors, client_factors, dataset.interactions, self.config.popularity_weight
        )
        weights = dataset.interactions.data
        typical = float(np.median(weights)) if len(weights) else 1.0
        return {
            "mode": "factors",
            "client_factors": client_factors,
            "item_factors": item_factors,
            "fold_in_regularization": self.config.regularization,
            # an owned offer of a new client counts like a typical training interaction
            "metadata": {"fold_in_confidence": self.config.alpha * typical},
        }
