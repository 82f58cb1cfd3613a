"""The model protocol: fit on a ``Dataset``, export a ``ServableModel``, recommend through it.

Every model ranks through the same path serving uses (export -> ``Scorer`` -> ranking), so an
offline evaluation measures exactly what the service would return.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from recommender import ranking
from recommender.catalog import catalog_arrays, group_shares, popularity_table
from recommender.cousage import co_usage_from_matrix, co_usage_thresholds
from recommender.dataset import Dataset
from recommender.ranking import RankingRules, rank_reference
from recommender.scoring import Scorer
from recommender.servable import CatalogArrays, ServableModel
from recommender.usage import usage_matrix

# The numba kernels once they exist; the numpy reference has the same semantics.
_rank = getattr(ranking, "rank_scores", rank_reference)


class ModelConfig(BaseModel):
    """Hyper-parameters of a model: logged as run params, and enough to rebuild the model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = 42


class NotFittedError(RuntimeError):
    """``export`` or ``recommend`` was called before ``fit``."""


class Recommender(abc.ABC):
    """A model: ``fit`` learns from a ``Dataset``, ``export`` hands serving a plain bundle."""

    name: ClassVar[str]
    config_class: ClassVar[type[ModelConfig]]

    def __init__(self, config: ModelConfig | None = None) -> None:
        if config is None:
            config = self.config_class()
        if not isinstance(config, self.config_class):
            raise TypeError(
                f"model {self.name!r} needs a {self.config_class.__name__}, "
                f"got {type(config).__name__}"
            )
        self.config = config
        self._dataset: Dataset | None = None
        self._servable: ServableModel | None = None
        self._scorer: Scorer | None = None

    def fit(self, dataset: Dataset) -> Self:
        """Learn from ``dataset.interactions`` (and features, for hybrid models)."""
        self._servable = None
        self._scorer = None
        self._fit(dataset)
        self._dataset = dataset
        return self

    @abc.abstractmethod
    def _fit(self, dataset: Dataset) -> None:
        """Model-specific training."""

    @abc.abstractmethod
    def _export_arrays(self, dataset: Dataset) -> dict[str, Any]:
        """Model-specific ``ServableModel`` fields (mode, factors, ...), metadata extras too."""

    def _popularity_groups(self) -> tuple[str, ...]:
        """Client columns whose popularity rows the export carries for the fallback."""
        return ("segment", "industry")

    def export(self) -> ServableModel:
        """The fitted model as a ``ServableModel`` with the catalog rules and popularity.

        Besides the model's own arrays, every export carries what the reasons quote, counted
        from the training data the same way whatever the model: the usage table and co-usage.
        """
        if self._dataset is None:
            raise NotFittedError(f"model {self.name!r} is not fitted; call fit() first")
        if self._servable is None:
            dataset = self._dataset
            groups = self._popularity_groups()
            table, names = popularity_table(dataset, groups)
            used = usage_matrix(dataset)  # one replay of ownership for both tables
            usage, _ = group_shares(used, dataset.clients, groups)
            fields = self._export_arrays(dataset)
            extra = fields.pop("metadata", {})
            self._servable = ServableModel(
                name=self.name,
                item_ids=dataset.item_ids.external,
                client_ids=dataset.client_ids.external,
                catalog=catalog_arrays(dataset),
                popularity=table,
                segment_names=names,
                usage=usage,
                co_usage=co_usage_from_matrix(used),
                metadata={
                    "model": self.name,
                    "config": self.config.model_dump(mode="json"),
                    "n_clients": dataset.n_clients,
                    "n_items": dataset.n_items,
                    "co_usage_thresholds": co_usage_thresholds(),
                    **extra,
                },
                **fields,
            )
            self._servable.validate()
        return self._servable

    def recommend(
        self,
        dataset: Dataset,
        client_indices: np.ndarray,
        k: int = 10,
        rules: RankingRules | None = None,
    ) -> np.ndarray:
        """Top-``k`` internal item indices per client, (n, k) int64 padded with -1.

        Items the client has in ``dataset.interactions`` are excluded; ``dataset`` must share
        the id maps of the one the model was fitted on (``Dataset.with_events`` keeps them).
        """
        servable = self.export()
        if dataset.n_items != servable.n_items:
            raise ValueError(
                f"dataset has {dataset.n_items} items, model {self.name!r} was fitted on "
                f"{servable.n_items}: build it with the same item ids"
            )
        if self._scorer is None:
            self._scorer = Scorer(servable)
        return rank_clients(self._scorer, dataset, client_indices, rules or RankingRules(k=k))


def rank_clients(
    scorer: Scorer, dataset: Dataset, client_indices: np.ndarray, rules: RankingRules
) -> np.ndarray:
    """Rank offers for dataset clients with a ``Scorer``: the shared path of every model.

    A client is described to the scorer as serving would: its index, the items it has in
    ``dataset.interactions``, its feature names and its popularity fallback rows. When the
    model is in factors mode and knows every one of these clients, the scorer would score each
    with its learned vector, so all are ranked at once by ``rank_batch`` (a BLAS product per
    block of clients and the same kernel rules), which gives the same lists.
    """
    indices = np.asarray(client_indices, dtype=np.int64).ravel()
    matrix = dataset.interactions
    if _all_known_factors(scorer, indices):
        return _rank_known_clients(scorer, dataset, indices, rules)
    out = np.full((len(indices), rules.k), -1, dtype=np.int64)
    feature_matrix = dataset.client_features.matrix
    feature_names = np.asarray(dataset.client_features.names, dtype=object)
    catalog: CatalogArrays = scorer.model.catalog
    for row, client in enumerate(indices):
        owned = matrix.indices[matrix.indptr[client] : matrix.indptr[client + 1]]
        cols = feature_matrix.indices[
            feature_matrix.indptr[client] : feature_matrix.indptr[client + 1]
        ]
        segment = _attribute(dataset.clients, "segment", int(client))
        scores = scorer.scores(
            int(client),
            owned,
            features=tuple(feature_names[cols].tolist()),
            segment_rows=fallback_rows(
                _attribute(dataset.clients, "industry", int(client)), segment
            ),
        )
        top, _ = _rank(scores, owned, catalog, segment, rules)
        out[row, : len(top)] = top
    return out


def _all_known_factors(scorer: Scorer, indices: np.ndarray) -> bool:
    """Whether ``Scorer.scores`` would use each client's learned vector (its case 2)."""
    model = scorer.model
    return (
        model.mode == "factors"
        and model.item_factors is not None
        and model.client_factors is not None
        and all(scorer.is_known(int(client)) for client in indices)
    )


def _rank_known_clients(
    scorer: Scorer, dataset: Dataset, indices: np.ndarray, rules: RankingRules
) -> np.ndarray:
    """``rank_clients`` for clients who all have a learned vector, through ``rank_batch``."""
    model = scorer.model
    assert model.client_factors is not None and model.item_factors is not None
    matrix = dataset.interactions
    starts, ends = matrix.indptr[indices], matrix.indptr[indices + 1]
    owned_indptr = np.concatenate([[0], np.cumsum(ends - starts)]).astype(np.int64)
    owned_indices = np.concatenate(
        [np.empty(0, dtype=np.int64)]
        + [matrix.indices[start:end] for start, end in zip(starts, ends, strict=True)]
    )
    segments = [_attribute(dataset.clients, "segment", int(client)) for client in indices]
    top, _ = ranking.rank_batch(
        model.client_factors[indices],
        model.item_factors,
        owned_indptr,
        owned_indices,
        model.catalog,
        segments,
        rules,
    )
    return top


def fallback_rows(industry: str | None, segment: str | None) -> tuple[str, ...]:
    """Popularity rows describing a client: its industry's, its segment's and the overall."""
    rows: Sequence[str | None] = (
        None if industry is None else f"industry={industry}",
        None if segment is None else f"segment={segment}",
        "all",
    )
    return tuple(r for r in rows if r is not None)


def _attribute(frame: pd.DataFrame, column: str, index: int) -> str | None:
    if column not in frame:
        return None
    value = frame[column].iat[index]
    if value is None or (isinstance(value, float) and np.isnan(value)) or value == "":
        return None
    return str(value)


def client_vectors(user_factors: np.ndarray, dataset: Dataset, *, constant: bool) -> np.ndarray:
    """Client vectors in the serving convention; untrained clients become all-zero rows.

    ``constant``: append the trailing 1 (models whose factors lack it); otherwise the factors
    already end with it (implicit BPR).
    """
    vectors = np.asarray(user_factors, dtype=np.float32)
    if constant:
        vectors = np.hstack([vectors, np.ones((len(vectors), 1), dtype=np.float32)])
    trained = np.diff(dataset.interactions.indptr) > 0
    vectors = vectors.copy()
    vectors[~trained] = 0.0
    return vectors
