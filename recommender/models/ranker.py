"""A feature-aware second-stage ranker: EASE/EDLAE first stage, LightGBM trees on top.

Training rows mimic what serving scores. A *context* is a client's portfolio with one owned
offer hidden; its rows are the first stage's top ``candidates`` free offers of that context
(the window serving re-ranks): the hidden offer (label 1, kept only when it falls inside the
window) and the others (label 0, ``n_negatives`` drawn from the window on large catalogues).
Features (``recommender.ranker_features``, the code serving runs too): the offer, its
first-stage score and rank, its popularity, the rest of the portfolio, the client's attributes,
and for each categorical attribute whose values split the clients into groups (industry,
region, ...) the offer's *affinity*: how much more or less the clients sharing the client's
value own it (``ranker_features.affinity_table``). Trees learn "this value, this offer" from one
numeric column instead of one pair of category splits per offer: on generated data where the
industry tells which offer a client misses, HR@1 0.401 -> 0.431 (mean of 6 runs, none lower),
and on COIL 2000 with a client column naming one of the client's products for 90 % of clients,
0.756 -> 0.788 (client features on). The table is the one serving reads, fitted on all the
training clients (tables fitted out of fold differ from it by their noise, and trees split on
it: 0.45 -> 0.40 on the generated data); a value held by fewer than
``AFFINITY_MIN_CLIENTS`` clients has none, so that no small group's own offers make its value.

Choices that keep the trees honest (measured on COIL 2000 and MovieLens-100k):

* rows come from the serving window only: with top-``n`` negatives and positives from any rank,
  trees learned "beyond rank n means owned" (MovieLens NDCG@10 0.25 against EASE's 0.46);
* the first stage that scores training contexts is cross-fitted (``first_stage_folds``): EASE
  fitted on a client's own portfolio puts the hidden offer near rank 0 (MovieLens: mean rank 5
  in-sample, 170 out of fold), which is not what serving sees for an offer the client lacks;
* boosting starts from a prior, a logistic fit of the label on ``log1p(rank)``, so the trees
  learn corrections to the first-stage order instead of re-deriving it (with few rounds the
  model *is* the first stage, ties included);
* the rounds and ``use_client_features`` (when None) are chosen as an evaluation would: a
  share (``validation_fraction``) of the clients owning two or more offers hide one, the model
  is trained on the rest of the data (those clients included: at serving the trees have seen
  the client, and an offer it lacks was a negative of its own rows) and ranks each hidden offer
  from the remaining portfolio; attributes are used when their NDCG@5 gain is ``FEATURES_Z``
  standard errors above zero. The rounds kept are the most whose validation NDCG@5 is
  within ``ROUNDS_TOLERANCE`` of the best, and never more than ``max_tree_walks //
  candidates`` (serving walks every tree for every candidate: this caps its cost per client).
  Then the model is refitted on all the data.

  The most, not the fewest: on portfolio data the validation curve rises slowly and then
  plateaus within its noise (about 2,000 hidden offers: NDCG@5 moves by ~0.002 between
  rounds) while held-out hit rate keeps rising along the plateau. COIL 2000, 5 folds of
  clients, seed 0: HR@1 0.763 -> 0.772 from 1 to 150 rounds on a fold whose validation peaked
  at 20 rounds, 0.0007 above round 150. Over the folds, the fewest rounds near the best gave
  HR@1 0.768, the most 0.777. Where the trees overfit, the curve falls after its peak and the
  rule stops before the fall. What it cannot see is a test protocol unlike hiding one offer:
  on MovieLens-100k (25 % of each user's items hidden) the curve peaks near 30 rounds while
  the test falls from the first (NDCG@10 0.4714 -> 0.4693 with this rule at
  ``min_child_samples`` 50, 0.4718 at 100; EASE 0.4844).

``l2`` / ``dropout`` left unset are chosen as ``EASEModel`` chooses them. The trees are exported
as flat arrays (``recommender.trees``): serving never imports LightGBM.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from recommender.dataset import Dataset
from recommender.models.base import ModelConfig, NotFittedError, Recommender
from recommender.models.ease import EASEConfig, EASEModel, ease_parts, with_low_rank
from recommender.ranker_features import (
    METADATA_KEY,
    RANK,
    RankerParts,
    RankerSpec,
    affinity_table,
    fit_prior,
    infer_spec,
    log_popularity,
    training_rows,
)
from recommender.ranking import ClientBlock

#: Catalogues up to this size train on every free offer as a negative.
ALL_NEGATIVES_MAX_ITEMS = 64
#: Client features are used (``use_client_features`` None) when their NDCG@5 gain over the
#: portfolio-only model on the validation contexts is this many standard errors above zero.
FEATURES_Z = 2.0
#: The rounds kept are the most whose validation NDCG@5 is within this of the best (see the
#: module): a plateau keeps its trees, a fall after the peak does not.
ROUNDS_TOLERANCE = 0.002
#: Fewest hidden offers to validate on; with fewer, ``n_rounds`` rounds on the portfolio alone.
MIN_VALIDATION_GROUPS = 20


class RankerConfig(ModelConfig):
    """First stage, training rows, and LightGBM parameters (stable on portfolio data)."""

    l2: float | None = Field(
        default=None, gt=0, description="First stage (EASE) l2 (None: chosen as EASE does)."
    )
    dropout: float | None = Field(
        default=None, ge=0.0, lt=1.0, description="First stage EDLAE dropout (None: chosen)."
    )
    client_weighting: float = Field(
        default=0.0, ge=0.0, le=2.0, description="First stage client weighting (as EASE's)."
    )
    low_rank: int = Field(default=0, ge=0, description="First stage low-rank part (as EASE's).")
    low_rank_weight: float = Field(default=0.5, ge=0.0, description="Its weight (as EASE's).")
    low_rank_scaling: float = Field(default=0.25, ge=0.0, le=1.0, description="As EASE's.")
    first_stage_folds: int = Field(
        default=5, ge=0, description="Folds of clients the training first stage is fitted out of."
    )
    candidates: int = Field(default=20, ge=2, description="Offers the trees score per client.")
    use_client_features: bool | None = Field(
        default=None, description="Client attributes as features (None: chosen on validation)."
    )
    max_categories: int = Field(default=64, ge=2, description="Largest categorical vocabulary.")
    attribute_affinity: bool = Field(
        default=True,
        description="Per categorical attribute, the offer's log-lift among clients sharing the "
        "value as a feature (computed out of fold for training rows).",
    )
    max_train_clients: int = Field(default=20_000, ge=1, description="Clients sampled to train.")
    max_contexts: int = Field(default=10, ge=1, description="Owned offers hidden per client.")
    n_negatives: int | None = Field(
        default=20, ge=1, description="Negatives drawn per context from the candidates window."
    )
    validation_fraction: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="Share of clients owning two or more offers who hide one for validation.",
    )
    early_stopping_rounds: int = Field(
        default=50, ge=1, description="Validation rounds without a new best before stopping."
    )
    max_tree_walks: int = Field(
        default=3_000,
        ge=1,
        description="Serving cost cap: candidates x trees per client (caps the rounds).",
    )
    num_leaves: int = Field(default=15, ge=2)
    # 100 rather than 50: COIL 2000 with every client hiding one, HR@1 0.742 / 0.750 / 0.746
    # -> 0.749 / 0.751 / 0.749 over hiding seeds 0-2; 5 folds of clients unchanged within
    # 0.001; MovieLens-100k nDCG@10 0.4693 -> 0.4718. 200 gained on COIL, lost 0.011 there.
    min_child_samples: int = Field(default=100, ge=1)
    lambda_l2: float = Field(default=1.0, ge=0.0)
    learning_rate: float = Field(default=0.1, gt=0.0)
    n_rounds: int = Field(default=150, ge=1, description="Most boosting rounds.")
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


class RankerModel(Recommender):
    """Second-stage gradient-boosted ranker (see the module)."""

    name: ClassVar[str] = "ranker"
    config_class: ClassVar[type[ModelConfig]] = RankerConfig
    config: RankerConfig

    def _fit(self, dataset: Dataset) -> None:
        from recommender.trees import TreeEnsemble

        if self.config.l2 is None or self.config.dropout is None:
            first = EASEModel(
                EASEConfig(
                    l2=self.config.l2,
                    dropout=self.config.dropout,
                    low_rank=0,
                    client_weighting=self.config.client_weighting,
                    seed=self.config.seed,
                )
            )
            chosen = first.fit(dataset).config
            self.config = self.config.model_copy(
                update={"l2": chosen.l2, "dropout": chosen.dropout}
            )
        c = self.config
        assert c.l2 is not None and c.dropout is not None
        rng = np.random.default_rng(c.seed)
        rows = np.arange(dataset.n_clients, dtype=np.int64)
        if len(rows) > c.max_train_clients:
            rows = np.sort(rng.choice(rows, c.max_train_clients, replace=False))
        block = ClientBlock.from_dataset(dataset, rows)
        wanted = c.use_client_features is not False
        columns = [str(name) for name in dataset.clients.columns] if wanted else []
        full = infer_spec(
            columns,
            block.column,
            dataset.n_items,
            c.candidates,
            c.max_categories,
            affinity=c.attribute_affinity,
        )
        attributes = full.encode_attributes(block.column, len(block))
        matrix = dataset.interactions
        hidden = _hide_one(matrix, rows, c.validation_fraction, rng)
        # Without validation, unset use_client_features means the portfolio alone.
        spec = full if c.use_client_features else _without_attributes(full)
        rounds = self._max_rounds(dataset.n_items)
        self._validation: dict[str, Any] = {}
        if int((hidden >= 0).sum()) >= MIN_VALIDATION_GROUPS:
            spec, rounds = self._validate(full, matrix, rows, attributes, hidden)
        if c.use_client_features is None:
            self.config = c.model_copy(update={"use_client_features": bool(spec.n_attributes)})
        item_item = self._first_stage(matrix)
        log_pop = log_popularity(matrix)
        attributes = attributes[:, : spec.n_attributes]
        affinity = affinity_table(spec, attributes, matrix[rows])
        train = self._rows(spec, matrix, rows, attributes, affinity)
        spec = replace(spec, prior=fit_prior(train.features[:, RANK], train.labels))
        booster = self._boost(spec, train, None, rounds)
        self._parts = RankerParts(
            spec,
            item_item,
            TreeEnsemble.from_booster(booster),
            log_pop,
            affinity if spec.n_affinities else None,
        )
        gains = booster.feature_importance("gain")
        names = spec.feature_names()
        top = np.argsort(-gains, kind="stable")[:10]
        self._importance = {names[i]: round(float(gains[i]), 3) for i in top if gains[i] > 0}

    def _first_stage(self, matrix: sp.csr_matrix) -> np.ndarray:
        """The first stage's item-item weights of ``matrix``: EASE's, with this config's
        first-stage fields (the low-rank part only when given: it is not chosen here)."""
        c = self.config
        assert c.l2 is not None and c.dropout is not None  # chosen by _fit
        weights, part = ease_parts(
            matrix,
            c.l2,
            c.dropout,
            client_weighting=c.client_weighting,
            low_rank=c.low_rank,
            low_rank_scaling=c.low_rank_scaling,
        )
        return with_low_rank(weights, part, c.low_rank_weight)

    def _validate(
        self,
        spec: RankerSpec,
        matrix: sp.csr_matrix,
        rows: np.ndarray,
        attributes: np.ndarray,
        hidden: np.ndarray,
    ) -> tuple[RankerSpec, int]:
        """Boosting rounds and (``use_client_features`` None) the attributes, as evaluation
        would choose them: the hidden offers are left out of the data, the model is trained on
        the rest (their clients included) and ranks each hidden offer from its client's
        remaining portfolio, scored by a first stage fitted on that data, as serving scores."""
        c = self.config
        reduced = _drop(matrix, rows, hidden)
        affinity = affinity_table(spec, attributes, reduced[rows])
        train = self._rows(spec, reduced, rows, attributes, affinity)
        spec = replace(spec, prior=fit_prior(train.features[:, RANK], train.labels))
        held = np.flatnonzero(hidden >= 0)
        owned = matrix[rows[held]]
        valid = _Rows(
            *training_rows(
                spec,
                self._first_stage(reduced),
                log_popularity(reduced),
                owned.indptr,
                owned.indices,
                attributes[held],
                max_contexts=1,
                n_negatives=None,
                seed=c.seed,
                hidden=hidden[held],
                affinity=affinity,
            )
        )
        specs = [spec]  # rows carry every attribute; a spec without them reads fewer columns
        if c.use_client_features is None and spec.n_attributes:
            specs = [_without_attributes(spec), spec]
        histories: list[dict[str, Any]] = [{} for _ in specs]
        boosters = [
            self._boost(s, train, valid, history=h) for s, h in zip(specs, histories, strict=True)
        ]
        ndcg = [_ndcg_at_5(b, s, valid) for s, b in zip(specs, boosters, strict=True)]
        self._validation = {
            "hidden_offers": len(held),
            "ranked": len(valid.groups),
            "ndcg_at_5": {
                ("with" if s.n_attributes else "without") + "_client_features": round(
                    float(v.mean()), 5
                )
                for s, v in zip(specs, ndcg, strict=True)
            },
        }
        best = 0
        if len(specs) == 2:
            gain = ndcg[1] - ndcg[0]
            spread = float(gain.std()) / np.sqrt(len(gain))
            z = float(gain.mean()) / spread if spread > 0 else 0.0
            self._validation["client_features_z"] = round(z, 3)
            best = int(z > FEATURES_Z)
        curve = np.asarray(histories[best]["valid"]["ndcg@5"])  # after each round
        rounds = int(np.flatnonzero(curve >= curve.max() - ROUNDS_TOLERANCE)[-1]) + 1
        self._validation["rounds"] = rounds
        self._validation["best_rounds"] = int(np.argmax(curve)) + 1
        self._validation["rounds_ndcg_at_5"] = round(float(curve[rounds - 1]), 5)
        self._validation["best_ndcg_at_5"] = round(float(curve.max()), 5)
        return specs[best], rounds

    def _max_rounds(self, n_items: int) -> int:
        """``n_rounds``, capped so that serving walks at most ``max_tree_walks`` (candidate,
        tree) pairs per client."""
        c = self.config
        window = max(min(c.candidates, n_items), 1)
        return max(1, min(c.n_rounds, c.max_tree_walks // window))

    def _rows(
        self,
        spec: RankerSpec,
        matrix: sp.csr_matrix,
        rows: np.ndarray,
        attributes: np.ndarray,
        affinity: np.ndarray,
    ) -> _Rows:
        """Training rows of clients ``rows`` of ``matrix``, each fold's scored by a first stage
        fitted without that fold. Every fold reads ``affinity``, the table serving reads
        (``affinity_table`` of these clients): tables fitted out of fold differ from it by their
        sampling noise, and trees split on those differences."""
        c = self.config
        n_items = matrix.shape[1]
        n_negatives = None if n_items <= ALL_NEGATIVES_MAX_ITEMS else c.n_negatives
        folds = max(c.first_stage_folds, 1)
        fold_of = np.random.default_rng(c.seed + 1).integers(0, folds, len(rows))
        log_pop = log_popularity(matrix)
        pieces = []
        for fold in range(folds):
            members = np.flatnonzero(fold_of == fold)
            others = np.ones(matrix.shape[0], dtype=bool)
            others[rows[members]] = False
            weights = self._first_stage(matrix[others])
            owned = matrix[rows[members]]
            pieces.append(
                training_rows(
                    spec,
                    weights,
                    log_pop,
                    owned.indptr,
                    owned.indices,
                    attributes[members],
                    max_contexts=c.max_contexts,
                    n_negatives=n_negatives,
                    seed=c.seed + fold,
                    affinity=affinity,
                )
            )
        return _Rows.concat(pieces)

    def _boost(
        self,
        spec: RankerSpec,
        train: _Rows,
        valid: _Rows | None,
        rounds: int | None = None,
        history: dict[str, Any] | None = None,
    ) -> Any:
        """A booster on ``spec``'s columns, early-stopped on ``valid`` (NDCG@5 of its groups,
        recorded per round into ``history``)."""
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
        most = self._max_rounds(spec.n_items)
        if valid is None:
            return lightgbm.train(params, train_set, num_boost_round=min(rounds or most, most))
        valid_set = data(valid)
        return lightgbm.train(
            params,
            train_set,
            num_boost_round=most,
            valid_sets=[valid_set],
            valid_names=["valid"],
            callbacks=[
                lightgbm.early_stopping(c.early_stopping_rounds, verbose=False),
                lightgbm.record_evaluation({} if history is None else history),
            ],
        )

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


def _ndcg_at_5(booster: Any, spec: RankerSpec, rows: _Rows) -> np.ndarray:
    """Per group (one positive each): NDCG@5 of the booster's order, ties in row order."""
    features = np.ascontiguousarray(rows.features[:, : spec.n_features])
    scores = booster.predict(features, raw_score=True) + spec.prior_of(rows.features[:, RANK])
    group = np.repeat(np.arange(len(rows.groups)), rows.groups)
    positive = np.flatnonzero(rows.labels > 0)  # one per group, in group order
    target = scores[positive][group]
    before = (scores > target) | ((scores == target) & (np.arange(len(scores)) < positive[group]))
    rank = np.bincount(group, weights=before, minlength=len(rows.groups))
    return np.where(rank < 5, 1.0 / np.log2(rank + 2.0), 0.0)


def _without_attributes(spec: RankerSpec) -> RankerSpec:
    return replace(spec, categorical=(), numeric=(), dates=())


def _hide_one(
    matrix: sp.csr_matrix, rows: np.ndarray, fraction: float, rng: np.random.Generator
) -> np.ndarray:
    """Per client of ``rows``: one owned offer to hide (a ``fraction`` of the clients owning
    two or more, drawn), else -1."""
    counts = np.diff(matrix.indptr)[rows]
    draw = rng.random(len(rows)) < fraction
    pick = (rng.random(len(rows)) * np.maximum(counts, 1)).astype(np.int64)
    chosen = draw & (counts >= 2)
    hidden = np.full(len(rows), -1, dtype=np.int64)
    hidden[chosen] = matrix.indices[matrix.indptr[rows[chosen]] + pick[chosen]]
    return hidden


def _drop(matrix: sp.csr_matrix, rows: np.ndarray, hidden: np.ndarray) -> sp.csr_matrix:
    """``matrix`` without the (client, offer) pairs ``(rows[t], hidden[t])``."""
    n_items = matrix.shape[1]
    held = hidden >= 0
    codes = rows[held] * n_items + hidden[held]
    entries = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr)) * n_items
    out = matrix.copy()
    out.data[np.isin(entries + matrix.indices, codes)] = 0
    out.eliminate_zeros()
    return out
