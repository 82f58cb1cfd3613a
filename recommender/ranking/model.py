"""``RankingModel``: a ``ServableModel`` with everything ranking derives from it, computed once.

The scorer, the catalog in the kernels' layout, per-offer price, margin and value, id maps and
the calibration: serving holds one per loaded version, evaluation and exports build one per
model, and the ranking policy reads them all from here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

import numpy as np

from recommender.ranking.calibration import Calibration
from recommender.ranking.clients import ClientBlock
from recommender.ranking.prepared import KernelCatalog, kernel_catalog
from recommender.scoring import Scorer, scorer_for
from recommender.servable import ServableModel

_NONE = np.empty(0, dtype=np.int64)


class RankingModel:
    """A servable model ready to rank: built once per model version."""

    def __init__(self, servable: ServableModel) -> None:
        self.servable = servable
        self.scorer: Scorer = scorer_for(servable)
        self.catalog: KernelCatalog = kernel_catalog(servable.catalog)
        catalog = servable.catalog
        self.item_ids: list[str] = [str(i) for i in servable.item_ids]
        self.kinds: list[str] = [catalog.kind_names[int(k)] for k in catalog.kind]
        self.price = np.asarray(catalog.price, dtype=np.float64)
        self.margin = np.asarray(catalog.margin, dtype=np.float64)
        self.value = self.price * self.margin
        self.calibration = Calibration.from_metadata(servable.metadata)

    @property
    def name(self) -> str:
        return self.servable.name

    @property
    def n_items(self) -> int:
        return self.servable.n_items

    @cached_property
    def item_index(self) -> dict[str, int]:
        return {item: n for n, item in enumerate(self.item_ids)}

    @cached_property
    def client_index(self) -> dict[str, int]:
        return {str(c): n for n, c in enumerate(self.servable.client_ids)}

    def owned_indices(self, item_ids: Sequence[str]) -> np.ndarray:
        """Sorted model indices of the offers the model knows (others cannot be ranked)."""
        index = self.item_index
        found = [index[i] for i in item_ids if i in index]
        return np.unique(np.asarray(found, dtype=np.int64)) if found else _NONE

    def client(
        self, client_id: str | None, owned_item_ids: Sequence[str], profile: Mapping[str, Any]
    ) -> ClientBlock:
        """A block of one client described by ids and a profile (the request path)."""
        index = None if client_id is None else self.client_index.get(client_id)
        return ClientBlock.one(client_id, index, self.owned_indices(owned_item_ids), profile)
