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
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp
from pydantic import Field
from threadpoolctl import threadpool_limits

from recommender.dataset import Dataset
from recommender.models.base import ModelConfig, NotFittedError, Recommender
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
    blas_threads: int = Field(default=1, ge=1, description="BLAS threads for the inversion.")


class EASEModel(Recommender):
    """Embarrassingly shallow autoencoder; ``seed`` is unused (the solution is exact)."""

    name: ClassVar[str] = "ease"
    config_class: ClassVar[type[ModelConfig]] = EASEConfig
    config: EASEConfig

    _pairs: PairEASE | None = None

    def _auto_grid(self, dataset: Dataset) -> dict[str, tuple[Any, ...]]:
        if dataset.n_items > AUTO_MAX_ITEMS:
            return {"l2": (400.0,), "dropout": (0.0,)}
        if self.config.pairs:  # dropout is not used with pairs
            return {"l2": (400.0, 10.0, 100.0, 1000.0), "dropout": (0.0,), "pair_l2": PAIR_L2_GRID}
        return {"l2": (400.0, 10.0, 100.0, 1000.0), "dropout": (0.0, 0.5)}

    def fit(self, dataset: Dataset) -> Self:
        """As ``Recommender.fit``; unset ``pairs`` are then tried (see the module)."""
        if self.config.pairs is not None:
            return super().fit(dataset)
        given = self.config
        self.config = given.model_copy(update={"pairs": False})
        super().fit(dataset)
        if dataset.n_items <= PAIRS_AUTO_MAX_ITEMS and len(
            select_pairs(dataset.interactions, given.min_pair_support, 1)
        ):
            self._choose_pairs(dataset, given)
        return self

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
        best = {
            on: max((score for combo, score in choice.table if combo["pairs"] is on), default=0.0)
            for on in (False, True)
        }
        chosen: dict[str, Any] = {"pairs": best[True] > best[False] * (1.0 + PAIRS_MIN_GAIN)}
        if chosen["pairs"]:
            unset = {"l2": given.l2, "pair_l2": given.pair_l2, "dropout": given.dropout}
            update = {**choice.chosen, "dropout": 0.0 if given.dropout is None else c.dropout}
            chosen |= {name: update[name] for name, value in unset.items() if value is None}
            self.config = c.model_copy(update=update)
            self._fit(dataset)
        first = self._auto or {"validation_clients": choice.n_clients}
        self._auto = {
            **first,
            "chosen": {**first.get("chosen", {}), **chosen},
            "pairs_validation_ndcg_at_10": choice.metadata()["validation_ndcg_at_10"],
        }

    def _fit(self, dataset: Dataset) -> None:
        c = self.config
        assert c.l2 is not None and c.dropout is not None  # chosen by fit()
        self._pairs = None
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
        self._item_item = ease_weights(
            dataset.interactions, c.l2, c.dropout, binary=c.binary, blas_threads=c.blas_threads
        )

    def _export_arrays(self, dataset: Dataset) -> dict[str, Any]:
        if not hasattr(self, "_item_item"):
            raise NotFittedError(f"model {self.name!r} is not fitted")
        arrays: dict[str, Any] = {"mode": "item_item", "item_item": self._item_item}
        if self._pairs is not None:
            arrays |= {
                "pair_items": self._pairs.pair_items,
                "pair_weights": self._pairs.pair_weights,
                "metadata": {"n_pairs": self._pairs.n_pairs},
            }
        return arrays


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
