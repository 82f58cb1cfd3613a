"""Implicit BPR (Rendle et al.) through ``implicit.cpu``, single-threaded for determinism.

implicit's BPR already follows the serving convention: its item factors end with the item
bias and its user factors end with a constant 1, so they are exported as they are, the
popularity prior of ``recommender.models.prior`` added to the bias (clients without training
interactions become all-zero rows, i.e. unknown to the scorer).
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


class BPRConfig(PriorConfig):
    """``factors`` and ``regularization`` left unset are chosen on a validation split
    (``recommender.models.auto``); ml-100k's tuned values are in ``configs/ml100k/bpr.json``."""

    factors: int | None = Field(default=None, ge=1, description="None: chosen on validation.")
    learning_rate: float = Field(default=0.005, gt=0)
    regularization: float | None = Field(
        default=None, ge=0, description="None: chosen on validation."
    )
    iterations: int = Field(default=200, ge=1)


class BPRModel(Recommender):
    """Pairwise ranking factorisation; hogwild SGD is only reproducible on one thread."""

    name: ClassVar[str] = "bpr"
    config_class: ClassVar[type[ModelConfig]] = BPRConfig
    config: BPRConfig
    scoring_fields: ClassVar[tuple[str, ...]] = ("popularity_weight",)

    def _auto_grid(self, dataset: Dataset) -> dict[str, tuple[Any, ...]]:
        return {
            "factors": capped((64, 4, 16), max_factors(dataset)),
            "regularization": (0.05, 0.5),
            "popularity_weight": WEIGHTS,
        }

    def _fit(self, dataset: Dataset) -> None:
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        cfg = self.config
        with threadpool_limits(1, "blas"):
            model = BayesianPersonalizedRanking(
                factors=cfg.factors,
                learning_rate=cfg.learning_rate,
                regularization=cfg.regularization,
                iterations=cfg.iterations,
                num_threads=1,
                random_state=cfg.seed,
            )
            model.fit(dataset.interactions.astype(np.float32), show_progress=False)
        self._user_factors = np.asarray(model.user_factors, dtype=np.float32)
        self._item_factors = np.asarray(model.item_factors, dtype=np.float32)

    def _export_arrays(self, dataset: Dataset) -> dict[str, Any]:
        if not hasattr(self, "_item_factors"):
            raise NotFittedError(f"model {self.name!r} is not fitted")
        client_factors = client_vectors(self._user_factors, dataset, constant=False)
        return {
            "mode": "factors",
            "client_factors": client_factors,
            "item_factors": with_popularity_prior(
                self._item_factors.copy(),
                client_factors,
                dataset.interactions,
                self.config.popularity_weight,
            ),
        }
