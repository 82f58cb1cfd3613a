"""``ClientBlock``: many clients described the way scorers and the ranking policy read them.

One shape for every caller: offline evaluation builds a block from a ``Dataset``, exports and
manager pages from a portfolio read from a store, the client cabinet a block of one from the
online store. Per client: its index in the model (-1 when the model never saw it), the offers
it owns (model item indices, CSR) and its attributes (industry, segment, ... and any extra
imported client column) as plain Python lists, so the one-client path pays for no pandas.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from recommender.dataset import DEFAULT_CLIENT_FEATURES, Dataset

_NO_ITEMS = np.empty(0, dtype=np.int64)


def text(value: object) -> str | None:
    """An attribute value as text; ``None`` for missing (NaN, NaT) and empty values."""
    if value is None or value is pd.NaT or value == "":
        return None
    if isinstance(value, float) and value != value:
        return None
    return str(value)


def fallback_rows(industry: str | None, segment: str | None) -> tuple[str, ...]:
    """Popularity rows describing a client: its industry's, its segment's and the overall."""
    rows: Sequence[str | None] = (
        None if industry is None else f"industry={industry}",
        None if segment is None else f"segment={segment}",
        "all",
    )
    return tuple(r for r in rows if r is not None)


@dataclass(frozen=True, eq=False)
class ClientBlock:
    """``n`` clients: model indices, owned offers (CSR over model item indices), attributes."""

    client_ids: tuple[str | None, ...]
    model_index: np.ndarray  # int64 (n,), -1 where the model does not know the client
    owned_indptr: np.ndarray  # int64 (n + 1,)
    owned_indices: np.ndarray  # int64 model item indices
    #: Attribute columns, one value per client (``None`` or NaN when missing).
    attributes: Mapping[str, Sequence[Any]]

    def __post_init__(self) -> None:
        n = len(self.client_ids)
        if self.model_index.shape != (n,) or self.owned_indptr.shape != (n + 1,):
            raise ValueError("ClientBlock: model_index / owned_indptr do not match the clients")
        for name, values in self.attributes.items():
            if len(values) != n:
                raise ValueError(f"ClientBlock: attribute {name!r} has {len(values)} values")

    def __len__(self) -> int:
        return len(self.client_ids)

    # ------------------------------------------------------------------ construction
    @classmethod
    def one(
        cls,
        client_id: str | None,
        model_index: int | None,
        owned: np.ndarray,
        profile: Mapping[str, Any],
    ) -> ClientBlock:
        """A block of one client (the request path)."""
        owned = np.asarray(owned, dtype=np.int64)
        return cls(
            (client_id,),
            np.array([-1 if model_index is None else model_index], dtype=np.int64),
            np.array([0, len(owned)], dtype=np.int64),
            owned,
            {name: (value,) for name, value in profile.items()},
        )

    @classmethod
    def from_dataset(cls, dataset: Dataset, indices: np.ndarray | None = None) -> ClientBlock:
        """Dataset clients (all, or ``indices``) for a model fitted on this dataset's id maps.

        What a client owns is what it has in ``dataset.interactions`` (any kept feedback): the
        offers a model must not recommend again and that item-item models score from.
        """
        rows = (
            np.arange(dataset.n_clients, dtype=np.int64)
            if indices is None
            else np.asarray(indices, dtype=np.int64).ravel()
        )
        matrix = dataset.interactions
        starts, ends = matrix.indptr[rows], matrix.indptr[rows + 1]
        indptr = np.concatenate([[0], np.cumsum(ends - starts)]).astype(np.int64)
        pieces = [matrix.indices[s:e] for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]
        indices_out = np.concatenate([_NO_ITEMS, *pieces]).astype(np.int64)
        frame = dataset.clients.iloc[rows]
        attributes = {
            str(c): frame[c].astype(object).to_numpy().tolist() for c in dataset.clients.columns
        }
        ids = tuple(str(c) for c in dataset.client_ids.to_external(rows))
        return cls(ids, rows.copy(), indptr, indices_out, attributes)

    @classmethod
    def from_frames(
        cls,
        clients: pd.DataFrame,
        owned: pd.DataFrame,
        item_ids: Iterable[Any],
        client_index: Mapping[str, int] | None = None,
    ) -> ClientBlock:
        """Clients (one row each, ``client_id`` + attributes) and owned pairs (client, item).

        Offers outside ``item_ids`` (what the model knows) are skipped; ``client_index`` maps a
        client id to its model index (unknown clients get -1).
        """
        clients = clients.reset_index(drop=True)
        ids = clients["client_id"].astype(str)
        row_of = pd.Index(ids)
        row = row_of.get_indexer(pd.Index(owned["client_id"].astype(str)))
        item = pd.Index(np.asarray(list(item_ids)).astype(str)).get_indexer(
            pd.Index(owned["item_id"].astype(str))
        )
        keep = (row >= 0) & (item >= 0)
        pairs = np.unique(np.stack([row[keep], item[keep]]).astype(np.int64), axis=1)
        counts = np.bincount(pairs[0], minlength=len(clients))
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        lookup = client_index or {}
        model_index = np.fromiter((lookup.get(c, -1) for c in ids), dtype=np.int64, count=len(ids))
        attributes = {
            str(c): clients[c].astype(object).to_numpy().tolist()
            for c in clients.columns
            if c != "client_id"
        }
        return cls(tuple(ids.tolist()), model_index, indptr, pairs[1].copy(), attributes)

    def slice(self, start: int, stop: int) -> ClientBlock:
        """Clients ``start:stop`` as a block of their own."""
        ptr = self.owned_indptr[start : stop + 1]
        return ClientBlock(
            self.client_ids[start:stop],
            self.model_index[start:stop],
            ptr - ptr[0],
            self.owned_indices[ptr[0] : ptr[-1]],
            {name: values[start:stop] for name, values in self.attributes.items()},
        )

    # ------------------------------------------------------------------ reading
    def owned(self, row: int) -> np.ndarray:
        return self.owned_indices[self.owned_indptr[row] : self.owned_indptr[row + 1]]

    @property
    def owned_counts(self) -> np.ndarray:
        return np.diff(self.owned_indptr)

    def column(self, name: str) -> list[str | None]:
        """One attribute as text for every client (``None`` where missing or absent)."""
        values = self.attributes.get(name)
        if values is None:
            return [None] * len(self)
        return [text(v) for v in values]

    @cached_property
    def segments(self) -> list[str | None]:
        return self.column("segment")

    @cached_property
    def popularity_rows(self) -> list[tuple[str, ...]]:
        """Each client's popularity fallback rows (industry, segment, all)."""
        industries = self.column("industry")
        return [fallback_rows(i, s) for i, s in zip(industries, self.segments, strict=True)]

    def feature_names(
        self, row: int, columns: Sequence[str] = DEFAULT_CLIENT_FEATURES
    ) -> tuple[str, ...]:
        """``column=value`` names of one client's attributes (what hybrid models embed)."""
        names = []
        for column in columns:
            values = self.attributes.get(column)
            value = None if values is None else text(values[row])
            if value is not None:
                names.append(f"{column}={value}")
        return tuple(names)

    def dense_owned(self, n_items: int) -> np.ndarray:
        """(n, n_items) boolean ownership."""
        out = np.zeros((len(self), n_items), dtype=np.bool_)
        rows = np.repeat(np.arange(len(self)), self.owned_counts)
        out[rows, self.owned_indices] = True
        return out
