"""LightFM hybrid (WARP or BPR loss) with client and item features, for cold start.

As LightFM usually is, each entity gets an identity feature next to its attribute features
(industry=..., kind=...), so known clients keep a personal embedding while the attribute
embeddings carry over to new ones. Export folds the biases in (``ServableModel`` convention):
client vector ``[u, u_bias, 1]``, item vector ``[v, 1, v_bias]`` (``v_bias`` plus the popularity
prior of ``recommender.models.prior``). The non-identity client
feature embeddings are exported as ``client_feature_factors`` rows ``[e, e_bias, 0]``, so a
client known only by its features is scored by their sum. Clients without training
interactions get an all-zero vector: their untrained identity embedding is noise, so the
scorer uses their features (or the popularity fallback) instead. Whether the client attributes
are used at all is chosen on validation when unset: on COIL 2000 they cost LightFM HR@1 0.64 ->
0.55 (every client hiding one), and the validation split sees it.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from recommender.dataset import Dataset
from recommender.models.auto import capped, max_factors
from recommender.models.base import ModelConfig, NotFittedError, Recommender, client_vectors
from recommender.models.prior import WEIGHTS, PriorConfig, with_popularity_prior


class LightFMConfig(PriorConfig):
    """``no_components``, the L2 penalties and the client features left unset are chosen on a
    validation split (``recommender.models.auto``); ml-100k's values are in
    ``configs/ml100k/lightfm.json``."""

    loss: Literal["warp", "bpr"] = "warp"
    no_components: int | None = Field(default=None, ge=1, description="None: on validation.")
    epochs: int = Field(default=30, ge=1)
    learning_rate: float = Field(default=0.03, gt=0)
    item_alpha: float | None = Field(default=None, ge=0, description="None: on validation.")
    user_alpha: float | None = Field(default=None, ge=0, description="None: item_alpha's.")
    max_sampled: int = Field(default=10, ge=1)
    use_client_features: bool | None = Field(
        default=None,
        description="Client attribute features next to the identities (None: on validation).",
    )
    use_item_features: bool = True


class LightFMBPRConfig(LightFMConfig):
    loss: Literal["warp", "bpr"] = "bpr"


def _with_identity(features: sp.csr_matrix, use: bool) -> sp.csr_matrix:
    identity = sp.identity(features.shape[0], dtype=np.float32, format="csr")
    if not use or features.shape[1] == 0:
        return identity
    return sp.hstack([identity, features.astype(np.float32)], format="csr")


class LightFMModel(Recommender):
    """LightFM with the WARP loss (the usual choice for top-k ranking)."""

    name: ClassVar[str] = "lightfm"
    config_class: ClassVar[type[ModelConfig]] = LightFMConfig
    config: LightFMConfig
    scoring_fields: ClassVar[tuple[str, ...]] = ("popularity_weight",)

    def _auto_grid(self, dataset: Dataset) -> dict[str, tuple[Any, ...]]:
        return {
            "no_components": capped((32, 4, 16), max_factors(dataset)),
            "item_alpha": (0.0, 1e-3, 1e-2),
            "use_client_features": (True, False),
            "popularity_weight": WEIGHTS,
        }

    def _fit(self, dataset: Dataset) -> None:
        from lightfm import LightFM

        cfg = self.config
        self._user_features = _with_identity(
            dataset.client_features.matrix, bool(cfg.use_client_features)
        )
        self._item_features = _with_identity(dataset.item_features.matrix, cfg.use_item_features)
        model = LightFM(
            no_components=cfg.no_components,
            loss=cfg.loss,
            learning_rate=cfg.learning_rate,
            item_alpha=cfg.item_alpha,
            user_alpha=cfg.item_alpha if cfg.user_alpha is None else cfg.user_alpha,
            max_sampled=cfg.max_sampled,
            random_state=np.random.RandomState(cfg.seed),
        )
        model.fit(
            dataset.interactions.tocoo().astype(np.float32),
            user_features=self._user_features,
            item_features=self._item_features,
            epochs=cfg.epochs,
            num_threads=1,  # Hogwild updates are only reproducible on one thread
        )
        self._model = model

    def _export_arrays(self, dataset: Dataset) -> dict[str, Any]:
        if not hasattr(self, "_model"):
            raise NotFittedError(f"model {self.name!r} is not fitted")
        model = self._model
        user_bias, user_emb = model.get_user_representations(self._user_features)
        item_bias, item_emb = model.get_item_representations(self._item_features)
        ones = np.ones((len(item_bias), 1), dtype=np.float32)
        item_factors = np.hstack([item_emb, ones, item_bias[:, None]]).astype(np.float32)
        clients = np.hstack([user_emb, user_bias[:, None]]).astype(np.float32)
        client_factors = client_vectors(clients, dataset, constant=True)
        arrays: dict[str, Any] = {
            "mode": "factors",
            "client_factors": client_factors,
            "item_factors": with_popularity_prior(
                item_factors, client_factors, dataset.interactions, self.config.popularity_weight
            ),
        }
        n_clients, names = dataset.n_clients, dataset.client_features.names
        if self._user_features.shape[1] > n_clients and names:
            emb = model.user_embeddings[n_clients:]
            bias = model.user_biases[n_clients:]
            zeros = np.zeros((len(bias), 1), dtype=np.float32)
            arrays["client_feature_factors"] = np.hstack([emb, bias[:, None], zeros]).astype(
                np.float32
            )
            arrays["client_feature_names"] = tuple(names)
        return arrays


class LightFMBPRModel(LightFMModel):
    """LightFM with the BPR loss."""

    name: ClassVar[str] = "lightfm_bpr"
    config_class: ClassVar[type[ModelConfig]] = LightFMBPRConfig
