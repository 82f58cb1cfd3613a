"""A feature-aware second-stage ranker: EASE/EDLAE first stage, LightGBM trees on top.

Training rows mimic what serving scores. A *context* is a client's portfolio with one owned
offer hidden; its rows are the first stage's top ``candidates`` free offers of that context
(the window serving re-ranks): the hidden offer (label 1, kept only when it falls inside the
window) and the others (label 0, ``n_negatives`` drawn from the window on large catalogues).
Features (``recommender.ranker_features``, the code serving runs too): the offer, its
first-stage score and rank, its popularity, the rest of the portfolio, the client's attributes.

Three choices keep the trees honest (each measured; see the issue note):

* the first stage that scores training contexts is cross-fitted (``first_stage_folds``): EASE
  fitted on a client's own portfolio puts the hidden offer at rank ~0 (MovieLens: mean rank 5
  in-sample, 170 out of fold), and trees trained on that learn "rank 0 or nothing";
* boosting starts from a prior, a logistic fit of the label on ``log1p(rank)``, so the trees
  learn corrections to the first-stage order instead of re-deriving it (with few rounds the
  model *is* the first stage, ties included);
* the rounds and ``use_client_features`` (when None) are chosen on held-out clients
  (``validation_fraction``, NDCG@5 of their contexts), then the model is refitted on all.

``l2`` / ``dropout`` left unset are chosen as ``EASEModel`` chooses them. The trees are exported
as flat arrays (``recommender.trees``): serving never imports LightGBM.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from recommender.dataset import Dataset
from recommender.models.base import ModelConfig, NotFittedError, Recommender
from recommender.models.ease import EASEConfig, EASEModel, ease_weights
from recommender.ranker_features import (
    METADATA_KEY,
    RANK,
    RankerParts,
    RankerSpec,
    fit_prior,
    infer_spec,
    log_popularity,
    training_rows,
)
from recommender.ranking import ClientBlock

#: Catalogues up to this size train on every free offer as a negative.
ALL_NEGATIVES_MAX_ITEMS = 64
#: Fewest validation contexts to stop boosting early and choose on; below, all rows train.
MIN_VALIDATION_GROUPS = 20


class RankerConfig(ModelConfig):
    """First stage, training rows, and LightGBM parameters (stable on portfolio data)."""

    l2: float | None = Field(
        default=None, gt=0, description="First stage (EASE) l2 (None: chosen as EASE does)."
    )
    dropout: float | None = Field(
        default=None, ge=0.0, lt=1.0, description="First stage EDLAE dropout (None: chosen)."
    )
    first_stage_folds: int = Field(
        default=5, ge=0, description="Folds of clients the training first stage is fitted out of."
    )
    candidates: int = Field(default=50, ge=2, description="Offers the trees score per client.")
    use_client_features: bool | None = Field(
        default=None, description="Client attributes as features (None: chosen on validation)."
    )
    max_categories: int = Field(default=64, ge=2, description="Largest categorical vocabulary.")
    max_train_clients: int = Field(default=20_000, ge=1, description="Clients sampled to train.")
    max_contexts: int = Field(default=10, ge=1, description="Owned offers hidden per client.")
    n_negatives: int | None = Field(
        default=20, ge=1, description="Negatives drawn per context from the candidates window."
    )
    validation_fraction: float = Field(
        default=0.2, ge=0.0, lt=1.0, description="Clients held out to stop boosting and choose."
    )
    early_stopping_rounds: int = Field(default=20, ge=1)
    refit: bool = Field(default=True, description="Refit on all clients with the chosen rounds.")
    num_leaves: int = Field(default=31, ge=2)
    min_child_samples: int = Field(default=50, ge=1)
    lambda_l2: float = Field(default=1.0, ge=0.0)
    learning_rate: float = Field(default=0.05, gt=0.0)
    n_rounds: int = Field(default=300, ge=1, description="Most boosting rounds.")
    feature_fraction: float = Field(default=0.9, gt=0.0, le=1.0)
    num_threads: int = Field(default=1, ge=1)


@dataclass(frozen=True)
class _Rows:
    features: np.ndarray
    labels: np.ndarray
    groups: np.ndarray

    @classmethod
    def concat(cls, pieces: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> _Rows:
        features, labels, groups = (np.concatenate(p) for p in zip(*pieces, strict=True))
        return cls(features, labels, groups)

    def __len__(self) -> int:
        return len(self.groups)

    def join(self, other: _Rows) -> _Rows:
        return _Rows.concat([(r.features, r.labels, r.groups) for r in (self, other)])


class RankerModel(Recommender):
    """Second-stage gradient-boosted ranker (see the module)."""

    name: ClassVar[str] = "ranker"
    config_class: ClassVar[type[ModelConfig]] = RankerConfig
    config: RankerConfig

    def _fit(self, dataset: Dataset) -> None:
        from recommender.trees import TreeEnsemble

        if self.config.l2 is None or self.config.dropout is None:
            first = EASEModel(
                EASEConfig(l2=self.config.l2, dropout=self.config.dropout, seed=self.config.seed)
            )
            chosen = first.fit(dataset).config
            self.config = self.config.model_copy(
                update={"l2": chosen.l2, "dropout": chosen.dropout}
            )
        c = self.config
        assert c.l2 is not None and c.dropout is not None
        item_item = ease_weights(dataset.interactions, c.l2, c.dropout)
        log_pop = log_popularity(dataset.interactions)
        rng = np.random.default_rng(c.seed)
        rows = np.arange(dataset.n_clients, dtype=np.int64)
        if len(rows) > c.max_train_clients:
            rows = np.sort(rng.choice(rows, c.max_train_clients, replace=False))
        block = ClientBlock.from_dataset(dataset, rows)
        wanted = c.use_client_features is not False
        columns = [str(name) for name in dataset.clients.columns] if wanted else []
        spec = infer_spec(columns, block.column, dataset.n_items, c.candidates, c.max_categories)
        attributes = spec.encode_attributes(block.column, len(block))
        held_out = rng.random(len(rows)) < c.validation_fraction
        train, held = self._rows(dataset, spec, log_pop, rows, attributes, held_out, rng)
        valid: _Rows | None = held
        if len(held) < MIN_VALIDATION_GROUPS:
            train, valid = train.join(held), None
        spec = replace(spec, prior=fit_prior(train.features[:, RANK], train.labels))
        specs = [spec]
        if c.use_client_features is None and spec.n_attributes and valid is not None:
            specs = [replace(spec, categorical=(), numeric=()), spec]
        trials = [self._boost(s, train, valid) for s in specs]
        best = max(range(len(trials)), key=lambda n: (trials[n][1], -n))
        spec, booster = specs[best], trials[best][0]
        self._validation = {
            "ndcg_at_5": {
                ("with" if s.n_attributes else "without") + "_client_features": (
                    None if np.isnan(t[1]) else round(t[1], 5)
                )
                for s, t in zip(specs, trials, strict=True)
            },
            "rounds": booster.best_iteration or booster.current_iteration(),
        }
        if c.use_client_features is None:
            self.config = c.model_copy(update={"use_client_features": bool(spec.n_attributes)})
        if c.refit and valid is not None:
            everything = train.join(valid)
            booster, _ = self._boost(spec, everything, None, self._validation["rounds"])
        self._parts = RankerParts(spec, item_item, TreeEnsemble.from_booster(booster), log_pop)
        gains = booster.feature_importance("gain")
        names = spec.feature_names()
        top = np.argsort(-gains, kind="stable")[:10]
        self._importance = {names[i]: round(float(gains[i]), 3) for i in top if gains[i] > 0}

    def _rows(
        self,
        dataset: Dataset,
        spec: RankerSpec,
        log_pop: np.ndarray,
        rows: np.ndarray,
        attributes: np.ndarray,
        held_out: np.ndarray,
        rng: np.random.Generator,
    ) -> tuple[_Rows, _Rows]:
        """Training and validation rows, each fold's with a first stage fitted without it."""
        c = self.config
        assert c.l2 is not None and c.dropout is not None  # chosen by _fit
        n_negatives = None if dataset.n_items <= ALL_NEGATIVES_MAX_ITEMS else c.n_negatives
        folds = max(c.first_stage_folds, 1)
        fold_of = rng.integers(0, folds, len(rows))
        pieces: tuple[list[Any], list[Any]] = ([], [])
        for fold in range(folds):
            in_fold = fold_of == fold
            others = np.ones(dataset.n_clients, dtype=bool)
            others[rows[in_fold]] = False
            weights = ease_weights(dataset.interactions[others], c.l2, c.dropout)
            for side, members in enumerate((in_fold & ~held_out, in_fold & held_out)):
                part = ClientBlock.from_dataset(dataset, rows[members])
                pieces[side].append(
                    training_rows(
                        spec,
                        weights,
                        log_pop,
                        part.owned_indptr,
                        part.owned_indices,
                        attributes[members],
                        max_contexts=c.max_contexts,
                        n_negatives=n_negatives,
                        seed=c.seed + 2 * fold + side,
                    )
                )
        return _Rows.concat(pieces[0]), _Rows.concat(pieces[1])

    def _boost(
        self, spec: RankerSpec, train: _Rows, valid: _Rows | None, rounds: int | None = None
    ) -> tuple[Any, float]:
        """A booster on ``spec``'s columns, early-stopped on ``valid``; its validation NDCG@5."""
        import lightgbm  # lazy: only training needs it

        c = self.config
        if not train.labels.any():
            raise ValueError("ranker: no training rows (no client owns an offer)")
        params = {
            "objective": "binary",
            "num_leaves": c.num_leaves,
            "min_child_samples": c.min_child_samples,
            "lambda_l2": c.lambda_l2,
            "learning_rate": c.learning_rate,
            "feature_fraction": c.feature_fraction,
            "bagging_fraction": 1.0,
            "bagging_freq": 0,
            "num_threads": c.num_threads,
            "deterministic": True,
            "force_row_wise": True,
            "seed": c.seed,
            "verbose": -1,
            "metric": "ndcg",
            "eval_at": [5],
        }
        width = spec.n_features
        names = [f"f{n}" for n in range(width)]
        categorical = spec.categorical_features()

        def data(rows: _Rows) -> Any:
            return lightgbm.Dataset(
                np.ascontiguousarray(rows.features[:, :width]),
                rows.labels,
                group=rows.groups,
                init_score=spec.prior_of(rows.features[:, RANK]),
                feature_name=names,
                categorical_feature=categorical,
                free_raw_data=True,
            )

        train_set = data(train)
        if valid is None:
            booster = lightgbm.train(params, train_set, num_boost_round=rounds or c.n_rounds)
            return booster, float("nan")
        valid_set = data(valid)
        booster = lightgbm.train(
            params,
            train_set,
            num_boost_round=c.n_rounds,
            valid_sets=[valid_set],
            callbacks=[lightgbm.early_stopping(c.early_stopping_rounds, verbose=False)],
        )
        return booster, float(booster.best_score["valid_0"]["ndcg@5"])

    def _export_arrays(self, dataset: Dataset) -> dict[str, Any]:
        if not hasattr(self, "_parts"):
            raise NotFittedError(f"model {self.name!r} is not fitted")
        parts = self._parts
        return {
            "mode": "ranker",
            "item_item": parts.item_item,
            "ranker_arrays": parts.to_arrays(),
            "metadata": {
                METADATA_KEY: parts.spec.to_metadata(),
                "ranker_validation": self._validation,
                "ranker_feature_gain": self._importance,
            },
        }
