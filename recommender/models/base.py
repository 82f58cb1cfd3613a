"""The model protocol: fit on a ``Dataset``, export a ``ServableModel``, recommend through it.

``recommend`` ranks through the one ranking policy (``recommender.ranking.RankingPolicy``) over
the exported bundle, the path serving uses, so what a model recommends offline is what the
service would return for the same clients.
"""

from __future__ import annotations

import abc
import copy
import weakref
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np
from pydantic import BaseModel, ConfigDict

from recommender.catalog import catalog_arrays, group_shares, popularity_table
from recommender.cousage import co_usage_from_matrix, co_usage_thresholds
from recommender.dataset import Dataset
from recommender.ranking import ClientBlock, RankingModel, RankingPolicy, RankingRules
from recommender.servable import ServableModel
from recommender.usage import usage_matrix

if TYPE_CHECKING:
    from recommender.models.auto import ValidationSplit

#: What every export of one dataset shares, whatever the model or its config (validation fits
#: several candidates on one dataset): popularity rows, usage shares, co-usage.
_TABLES: weakref.WeakKeyDictionary[Dataset, dict[tuple[str, ...], tuple[Any, ...]]] = (
    weakref.WeakKeyDictionary()
)


def dataset_tables(dataset: Dataset, groups: tuple[str, ...]) -> tuple[Any, ...]:
    """(popularity table, its row names, usage shares, co-usage) of ``dataset``, computed once."""
    per_dataset = _TABLES.setdefault(dataset, {})
    if groups not in per_dataset:
        table, names = popularity_table(dataset, groups)
        used = usage_matrix(dataset)  # one replay of ownership for both tables
        usage, _ = group_shares(used, dataset.clients, groups)
        table.flags.writeable = usage.flags.writeable = False  # shared by every export
        per_dataset[groups] = (table, names, usage, co_usage_from_matrix(used))
    return per_dataset[groups]


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
        self._ranking: RankingModel | None = None

    def fit(self, dataset: Dataset) -> Self:
        """Learn from ``dataset.interactions`` (and features, for hybrid models).

        Config fields left unset (``None``) that ``_auto_grid`` names are first chosen on a
        validation split of ``dataset`` (``recommender.models.auto``); ``config`` then holds
        the chosen values.
        """
        self._servable = None
        self._ranking = None
        try:
            self._choose_and_fit(dataset)
        finally:
            self._split = None  # the validation split lives for one fit only
        self._dataset = dataset
        return self

    def _choose_and_fit(self, dataset: Dataset) -> None:
        """The unset fields chosen on validation, then ``_fit``; a model with follow-up choices
        extends it (their ``auto.choose`` calls share ``validation_split``)."""
        grid = {
            name: values
            for name, values in self._auto_grid(dataset).items()
            if getattr(self.config, name) is None
        }
        if grid:
            from recommender.models.auto import choose

            choice = choose(self, dataset, grid)
            self.config = self.config.model_copy(update=choice.chosen)
            self._auto = choice.metadata()
        self._fit(dataset)

    def validation_split(self, dataset: Dataset) -> ValidationSplit:
        """``auto.validation_split`` of ``dataset`` with this config's seed, made once per
        ``fit`` (every ``auto.choose`` of the fit uses it)."""
        from recommender.models.auto import validation_split

        seed = int(getattr(self.config, "seed", 42))
        if self._split is None or not self._split.of(dataset, seed):
            self._split = validation_split(dataset, seed)
        return self._split

    _auto: dict[str, Any] | None = None
    _split: ValidationSplit | None = None

    #: Config fields that change only the exported scores, not what ``_fit`` learns: the auto
    #: choice tries their candidates on one fit (``recommender.models.auto``).
    scoring_fields: ClassVar[tuple[str, ...]] = ()

    def rescored(self, update: dict[str, Any]) -> Self:
        """This fitted model with ``update`` applied to ``scoring_fields`` only (no refit)."""
        if unknown := set(update) - set(self.scoring_fields):
            raise ValueError(f"model {self.name!r}: {sorted(unknown)} need a refit")
        twin = copy.copy(self)
        twin.config = self.config.model_copy(update=update)
        twin._servable = None
        twin._ranking = None
        return twin

    @property
    def auto_choice(self) -> dict[str, Any] | None:
        """How the unset config fields were chosen on validation (None: none were unset)."""
        return self._auto

    def _auto_grid(self, dataset: Dataset) -> dict[str, tuple[Any, ...]]:
        """Candidates of the config fields chosen on validation when unset (first: fallback)."""
        return {}

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
            tables = dataset_tables(dataset, self._popularity_groups())
            table, names, usage, co_usage = tables
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
                co_usage=co_usage,
                metadata={
                    "model": self.name,
                    "config": self.config.model_dump(mode="json"),
                    "n_clients": dataset.n_clients,
                    "n_items": dataset.n_items,
                    "co_usage_thresholds": co_usage_thresholds(),
                    **({"auto_config": self._auto} if self._auto else {}),
                    **extra,
                },
                **fields,
            )
            self._servable.validate()
        return self._servable

    def ranking_model(self) -> RankingModel:
        """The exported bundle ready to rank (built once per fit)."""
        if self._ranking is None:
            self._ranking = RankingModel(self.export())
        return self._ranking

    def recommend(
        self,
        dataset: Dataset,
        client_indices: np.ndarray,
        k: int = 10,
        rules: RankingRules | None = None,
        policy: RankingPolicy | None = None,
    ) -> np.ndarray:
        """Top-``k`` internal item indices per client, (n, k) int64 padded with -1.

        Items the client has in ``dataset.interactions`` are excluded; ``dataset`` must share
        the id maps of the one the model was fitted on (``Dataset.with_events`` keeps them).
        ``policy`` defaults to the model alone (no boosts, no quota).
        """
        model = self.ranking_model()
        if dataset.n_items != model.n_items:
            raise ValueError(
                f"dataset has {dataset.n_items} items, model {self.name!r} was fitted on "
                f"{model.n_items}: build it with the same item ids"
            )
        chosen = policy or RankingPolicy(default_k=k)
        block = ClientBlock.from_dataset(dataset, client_indices)
        return chosen.rank(model, block, rules or chosen.rules(k)).items


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
