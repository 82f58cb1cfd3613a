"""Popularity baselines: the uniform offer (global) and the per-segment / per-industry offer.

Exported as a ``factors`` model so known clients need no metadata lookup: item factors are
the popularity rows transposed (column 0 is ``all``, then one column per group value, then
the zero bias column), and a client's vector is the one-hot of its group's column (of ``all``
when its group is missing) followed by the constant 1. A new client described by features
gets its group's row through ``client_feature_factors`` (one one-hot row per group value).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np

from recommender.catalog import popularity_table
from recommender.dataset import Dataset
from recommender.models.base import ModelConfig, Recommender


class PopularityConfig(ModelConfig):
    """``by``: the client column whose value picks the list (``all``: one list for everyone)."""

    by: Literal["all", "segment", "industry"] = "all"


class SegmentPopularityConfig(PopularityConfig):
    by: Literal["all", "segment", "industry"] = "segment"


class IndustryPopularityConfig(PopularityConfig):
    by: Literal["all", "segment", "industry"] = "industry"


class PopularityModel(Recommender):
    """Share of clients (of the client's group) who interacted with each offer."""

    name: ClassVar[str] = "popularity"
    config_class: ClassVar[type[ModelConfig]] = PopularityConfig
    config: PopularityConfig

    def _fit(self, dataset: Dataset) -> None:
        """Nothing to learn beyond counting, which ``export`` does from the dataset."""

    def _popularity_groups(self) -> tuple[str, ...]:
        return () if self.config.by == "all" else (self.config.by,)

    def _export_arrays(self, dataset: Dataset) -> dict[str, Any]:
        table, names = popularity_table(dataset, self._popularity_groups())
        width = len(names) + 1
        item_factors = np.zeros((dataset.n_items, width), dtype=np.float32)
        item_factors[:, :-1] = table.T
        column_of = {name: i for i, name in enumerate(names)}
        client_factors = np.zeros((dataset.n_clients, width), dtype=np.float32)
        client_factors[:, -1] = 1.0
        if self.config.by == "all" or self.config.by not in dataset.clients:
            client_factors[:, column_of["all"]] = 1.0
        else:
            values = dataset.clients[self.config.by].astype(object).to_numpy()
            for client, value in enumerate(values):
                key = f"{self.config.by}={value}"
                client_factors[client, column_of.get(key, column_of["all"])] = 1.0
        group_names = tuple(n for n in names if n != "all")
        feature_factors = np.zeros((len(group_names), width), dtype=np.float32)
        for row, group in enumerate(group_names):
            feature_factors[row, column_of[group]] = 1.0
        return {
            "mode": "factors",
            "client_factors": client_factors,
            "item_factors": item_factors,
            "client_feature_factors": feature_factors if group_names else None,
            "client_feature_names": group_names,
            "metadata": {"group_column": self.config.by},
        }


class SegmentPopularityModel(PopularityModel):
    """Each segment (B2B / B2G) gets its own popularity list."""

    name: ClassVar[str] = "segment_popularity"
    config_class: ClassVar[type[ModelConfig]] = SegmentPopularityConfig


class IndustryPopularityModel(PopularityModel):
    """Each industry gets its own popularity list."""

    name: ClassVar[str] = "industry_popularity"
    config_class: ClassVar[type[ModelConfig]] = IndustryPopularityConfig
