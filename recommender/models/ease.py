"""EASE (Steck, 2019): a closed-form item-item model, scored live from the owned set.

``B = I - P / diag(P)`` with ``P = (X^T X + L)^-1``, which has a zero diagonal. ``L`` is
``l2 I`` (EASE), plus with ``dropout`` p > 0 the emphasized-denoising term
``p / (1 - p) diag(X^T X)`` of EDLAE (Steck, 2020, "Autoencoders that don't overfit towards the
identity"): each offer is regularised in proportion to how often it is owned, which keeps
popular offers from being predicted by themselves and makes ``l2`` far less sensitive to the
data's scale. Exported in ``item_item`` mode, so any client, seen in training or not, is scored
from what it owns now.

With ``pairs`` the inputs also hold pairs of owned offers (``recommender.models.ease_pairs``):
a weight per co-owned pair, for small catalogues where what is missing depends on the
combination owned. Left unset, pairs are tried on catalogues of at most ``PAIRS_AUTO_MAX_ITEMS``
offers after ``l2`` / ``dropout`` are chosen, on the same validation split, and kept only when
they score better there; the singles are then plain ridge (``l2``; ``dropout`` is not used).

With ``low_rank`` components a low-rank item-item part is added to the weights
(``recommender.models.ease_low_rank``), still one ``item_item`` matrix. Left unset, it is tried
after ``l2`` / ``dropout`` (when pairs are off) on the same validation split, ``rank`` up to a
quarter of the catalogue, and kept only when it scores better there by more than
``LOW_RANK_MIN_GAIN``.

``client_weighting`` w weighs each client's row by ``(owned + 1)^-w`` in ``X^T X`` (both parts):
clients owning many offers otherwise dominate the co-occurrences, and the lists of the many
clients owning few are ranked from them. It is not chosen on validation (the hide-one split
does not favour it: MovieLens-100k 0.1173 without, 0.1135-0.1154 with); a tuning on the
evaluation protocol can set it (``benchmarks/quality_ml100k.py``).
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp
from pydantic import Field, model_validator
from threadpoolctl import threadpool_limits

from recommender.dataset import Dataset
from recommender.models.auto import AutoChoice, capped, max_factors
from recommender.models.base import ModelConfig, NotFittedError, Recommender
from recommender.models.ease_low_rank import low_rank_weights, relative_scale
from recommender.models.ease_pairs import (
    MAX_PAIRS,
    MIN_PAIR_SUPPORT,
    PairEASE,
    ease_pair_weights,
    select_pairs,
)

#: Largest catalogue whose ``l2`` / ``dropout`` are chosen on validation (8 inversions).
AUTO_MAX_ITEMS = 3000
#: Largest catalogue on which unset ``pairs`` are tried on validation (else off).
PAIRS_AUTO_MAX_ITEMS = 32
#: ``pair_l2`` candidates when unset (first: the fallback).
PAIR_L2_GRID = (50.0, 200.0)
#: Pairs are kept only when their best validation NDCG@10 beats the plain model's by more
#: than this share of it: a P-input model that merely ties (noise) stays off.
PAIRS_MIN_GAIN = 0.005
#: ``low_rank`` candidates when unset, capped at a quarter of the catalogue (0, off, comes first).
LOW_RANK_GRID = (8, 16, 32)
#: ``low_rank_weight`` candidates when unset (first: the fallback).
LOW_RANK_WEIGHTS = (0.5, 0.25, 1.0)
#: The low-rank part is kept only when its best validation NDCG@10 beats the plain model's by
#: more than this share of it (as pairs).
LOW_RANK_MIN_GAIN = 0.005


class EASEConfig(ModelConfig):
    """``l2`` and ``dropout`` left unset are chosen on a validation split (catalogues up to
    ``AUTO_MAX_ITEMS`` offers; beyond, the first candidates: one inversion is costly)."""

    l2: float | None = Field(default=None, gt=0, description="None: chosen on validation.")
    dropout: float | None = Field(
        default=None, ge=0.0, lt=1.0, description="EDLAE dropout p (0: EASE; None: chosen)."
    )
    binary: bool = Field(default=True, description="Fit on 0/1 instead of feedback weights.")
    pairs: bool | None = Field(
        default=None,
        description="Pairs of owned offers as inputs (None: tried on validation on catalogues "
        f"of at most {PAIRS_AUTO_MAX_ITEMS} offers, kept if better).",
    )
    pair_l2: float | None = Field(default=None, gt=0, description="None: chosen on validation.")
    min_pair_support: int = Field(
        default=MIN_PAIR_SUPPORT, ge=1, description="Fewest co-owners of a pair input."
    )
    max_pairs: int = Field(default=MAX_PAIRS, ge=1, description="Most pair inputs (most co-owned).")
    low_rank: int | None = Field(
        default=None,
        ge=0,
        description="Components of the low-rank part added to the weights (0: none; None: "
        "tried on validation on catalogues of at most AUTO_MAX_ITEMS offers, kept if better).",
    )
    low_rank_weight: float | None = Field(
        default=None, ge=0.0, description="Its weight, in units of EASE's scores (None: chosen)."
    )
    low_rank_scaling: float = Field(
        default=0.25, ge=0.0, le=1.0, description="Popularity exponent g of its column scaling."
    )
    client_weighting: float = Field(
        default=0.0,
        ge=0.0,
        le=2.0,
        description="Each client counts (owned offers + 1)^-w in X^T X (0: all alike).",
    )
    blas_threads: int = Field(default=1, ge=1, description="BLAS threads for the inversion.")

    @model_validator(mode="after")
    def _pairs_or_low_rank(self) -> Self:
        if self.pairs and (self.low_rank or self.client_weighting):
            raise ValueError(
                "pairs cannot be combined with low_rank or client_weighting: set one of them"
            )
        return self


class EASEModel(Recommender):
    """Embarrassingly shallow autoencoder; ``seed`` is unused (the solution is exact)."""

    name: ClassVar[str] = "ease"
    config_class: ClassVar[type[ModelConfig]] = EASEConfig
    config: EASEConfig

    #: The low-rank weight changes only the exported sum, not what ``_fit`` learns.
    scoring_fields: ClassVar[tuple[str, ...]] = ("low_rank_weight",)

    _pairs: PairEASE | None = None
    #: The low-rank part in units of EASE's scores (float32), before ``low_rank_weight``.
    _low_rank: np.ndarray | None = None

    def _auto_grid(self, dataset: Dataset) -> dict[str, tuple[Any, ...]]:
        weights = {"low_rank_weight": LOW_RANK_WEIGHTS} if self.config.low_rank else {}
        if dataset.n_items > AUTO_MAX_ITEMS:
            return {"l2": (400.0,), "dropout": (0.0,), **{k: v[:1] for k, v in weights.items()}}
        if self.config.pairs:  # dropout is not used with pairs
            return {"l2": (400.0, 10.0, 100.0, 1000.0), "dropout": (0.0,), "pair_l2": PAIR_L2_GRID}
        return {"l2": (400.0, 10.0, 100.0, 1000.0), "dropout": (0.0, 0.5), **weights}

    def _choose_and_fit(self, dataset: Dataset) -> None:
        """As ``Recommender``'s; unset ``pairs``, then an unset ``low_rank``, are then tried
        (see the module)."""
        given = self.config
        self.config = given.model_copy(
            update={"pairs": bool(given.pairs), "low_rank": given.low_rank or 0}
        )
        super()._choose_and_fit(dataset)
        if (
            given.pairs is None
            and not given.low_rank
            and dataset.n_items <= PAIRS_AUTO_MAX_ITEMS
            and len(select_pairs(dataset.interactions, given.min_pair_support, 1))
        ):
            self._choose_pairs(dataset, given)
        if given.low_rank is None and not self.config.pairs and dataset.n_items <= AUTO_MAX_ITEMS:
            self._choose_low_rank(dataset, given)

    def _choose_pairs(self, dataset: Dataset, given: EASEConfig) -> None:
        """The plain fit against pairs (singles ``l2``: the chosen one or a larger candidate,
        when unset), on the validation protocol of ``fit``; pairs only if better by more than
        ``PAIRS_MIN_GAIN``."""
        from recommender.models import auto

        c = self.config
        assert c.l2 is not None
        larger = () if given.l2 is not None else self._auto_grid(dataset)["l2"]
        grid: dict[str, tuple[Any, ...]] = {
            "pairs": (False, True),  # the plain model first: it wins ties
            "l2": (c.l2, *sorted(v for v in larger if v > c.l2)),
            "pair_l2": PAIR_L2_GRID if given.pair_l2 is None else (given.pair_l2,),
        }
        choice = auto.choose(self, dataset, grid)
        chosen: dict[str, Any] = {"pairs": _beats_plain(choice, "pairs", PAIRS_MIN_GAIN)}
        if chosen["pairs"]:
            unset = {"l2": given.l2, "pair_l2": given.pair_l2, "dropout": given.dropout}
            update = {**choice.chosen, "dropout": 0.0 if given.dropout is None else c.dropout}
            chosen |= {name: update[name] for name, value in unset.items() if value is None}
            self.config = c.model_copy(update=update)
            self._fit(dataset)
        self._record(choice, chosen, "pairs_validation_ndcg_at_10")

    def _choose_low_rank(self, dataset: Dataset, given: EASEConfig) -> None:
        """The plain fit against low-rank parts of a few ranks and weights, on the validation
        protocol of ``fit``; kept only if better by more than ``LOW_RANK_MIN_GAIN``."""
        from recommender.models import auto

        grid: dict[str, tuple[Any, ...]] = {
            "low_rank": (0, *capped(LOW_RANK_GRID, max_factors(dataset))),  # plain wins ties
            "low_rank_weight": (
                LOW_RANK_WEIGHTS if given.low_rank_weight is None else (given.low_rank_weight,)
            ),
        }
        choice = auto.choose(self, dataset, grid)
        chosen: dict[str, Any] = {"low_rank": 0}
        if _beats_plain(choice, "low_rank", LOW_RANK_MIN_GAIN):
            chosen = {"low_rank": choice.chosen["low_rank"]}
            if given.low_rank_weight is None:
                chosen["low_rank_weight"] = choice.chosen["low_rank_weight"]
            self.config = self.config.model_copy(update=chosen)
            self._fit(dataset)
        self._record(choice, chosen, "low_rank_validation_ndcg_at_10")

    def _record(self, choice: AutoChoice, chosen: dict[str, Any], table: str) -> None:
        """Add a follow-up choice to ``auto_choice``: what it set and its validation table."""
        first = self._auto or {"validation_clients": choice.n_clients}
        self._auto = {
            **first,
            "chosen": {**first.get("chosen", {}), **chosen},
            table: choice.metadata()["validation_ndcg_at_10"],
        }

    def _fit(self, dataset: Dataset) -> None:
        c = self.config
        assert c.l2 is not None and c.dropout is not None  # chosen by fit()
        self._pairs = None
        self._low_rank = None
        if c.pairs:
            assert c.pair_l2 is not None  # chosen by fit()
            fitted = ease_pair_weights(
                dataset.interactions,
                c.l2,
                c.pair_l2,
                binary=c.binary,
                min_support=c.min_pair_support,
                max_pairs=c.max_pairs,
                blas_threads=c.blas_threads,
            )
            self._item_item = fitted.item_item
            self._pairs = fitted if fitted.n_pairs else None
            return
        self._item_item, self._low_rank = ease_parts(
            dataset.interactions,
            c.l2,
            c.dropout,
            binary=c.binary,
            client_weighting=c.client_weighting,
            low_rank=c.low_rank or 0,
            low_rank_scaling=c.low_rank_scaling,
            blas_threads=c.blas_threads,
        )

    def _export_arrays(self, dataset: Dataset) -> dict[str, Any]:
        if not hasattr(self, "_item_item"):
            raise NotFittedError(f"model {self.name!r} is not fitted")
        weight = self.config.low_rank_weight
        assert self._low_rank is None or weight is not None  # chosen by fit()
        item_item = with_low_rank(self._item_item, self._low_rank, weight or 0.0)
        arrays: dict[str, Any] = {"mode": "item_item", "item_item": item_item}
        if self._pairs is not None:
            arrays |= {
                "pair_items": self._pairs.pair_items,
                "pair_weights": self._pairs.pair_weights,
                "metadata": {"n_pairs": self._pairs.n_pairs},
            }
        return arrays


def _beats_plain(choice: AutoChoice, field: str, min_gain: float) -> bool:
    """Is the best validation score with ``field`` on above the best with it off (False / 0)
    by more than ``min_gain`` of the latter?"""
    best = {
        on: max((score for combo, score in choice.table if bool(combo[field]) is on), default=0.0)
        for on in (False, True)
    }
    return best[True] > best[False] * (1.0 + min_gain)


def ease_weights(interactions: sp.csr_matrix, l2: float, dropout: float = 0.0) -> np.ndarray:
    """The (n_items, n_items) float32 EASE / EDLAE weights, zero diagonal (see the module)."""
    return ease_parts(interactions, l2, dropout)[0]


def ease_parts(
    interactions: sp.csr_matrix,
    l2: float,
    dropout: float = 0.0,
    *,
    binary: bool = True,
    client_weighting: float = 0.0,
    low_rank: int = 0,
    low_rank_scaling: float = 0.25,
    blas_threads: int = 1,
) -> tuple[np.ndarray, np.ndarray | None]:
    """EASE / EDLAE weights and, with ``low_rank`` components, the low-rank part in units of
    their scores (``recommender.models.ease_low_rank``; None without): float32, zero diagonal."""
    part = None
    with threadpool_limits(blas_threads, "blas"):
        gram = gram_matrix(interactions, binary, client_weighting)
        weights = ease_from_gram(gram, l2, dropout)
        if low_rank:
            part = low_rank_weights(gram, low_rank, low_rank_scaling)
            part *= relative_scale(gram, weights, part)
    return weights.astype(np.float32), None if part is None else part.astype(np.float32)


def with_low_rank(weights: np.ndarray, part: np.ndarray | None, weight: float) -> np.ndarray:
    """The served item-item matrix: ``weights + weight * part`` (``weights`` without a part)."""
    return weights if part is None else weights + np.float32(weight) * part


def gram_matrix(
    interactions: sp.csr_matrix, binary: bool = True, client_weighting: float = 0.0
) -> np.ndarray:
    """``X^T W X`` (dense float64) of the clients x offers matrix, 0/1 when ``binary``, with
    ``W = diag((owned + 1) ^ -client_weighting)`` (``owned``: the client's offers; 0: ``X^T X``)."""
    matrix = sp.csr_matrix(interactions, dtype=np.float64, copy=True)
    if binary:
        matrix.data[:] = 1.0
    if client_weighting:
        owned = np.diff(matrix.indptr).astype(np.float64)
        matrix.data *= np.repeat((owned + 1.0) ** (-client_weighting / 2.0), np.diff(matrix.indptr))
    return np.asarray((matrix.T @ matrix).toarray())


def ease_from_gram(gram: np.ndarray, l2: float, dropout: float = 0.0) -> np.ndarray:
    """The EASE / EDLAE weights (float64, zero diagonal) from ``X^T X`` (left as it was: the
    regulariser is added to its diagonal in place, for the inverse only)."""
    diagonal = np.diag_indices_from(gram)
    counts = gram[diagonal].copy()
    gram[diagonal] += l2 + dropout / (1.0 - dropout) * counts
    try:
        precision = np.linalg.inv(gram)
    finally:
        gram[diagonal] = counts
    weights = precision / (-np.diag(precision))
    weights[diagonal] = 0.0
    return weights
