"""The immutable ``Dataset``: id maps, the weighted interaction matrix and feature matrices.

Models only ever see internal integer ids; the ``IdMap`` of the dataset is the one place where
external ids (strings) and internal ids (row / column numbers) meet.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recommender.feedback import FeedbackConfig, event_weights

DEFAULT_CLIENT_FEATURES: tuple[str, ...] = ("industry", "segment", "size_band", "region")
DEFAULT_ITEM_FEATURES: tuple[str, ...] = ("kind", "family", "tags", "vendor")


@dataclass(frozen=True, eq=False)
class IdMap:
    """Bijection between external ids (strings) and internal ids ``0..n-1``."""

    external: np.ndarray
    _index: dict[str, int] = field(repr=False)

    @classmethod
    def from_values(cls, values: Iterable[Any]) -> IdMap:
        """Ids in first-seen order, duplicates ignored."""
        if isinstance(values, pd.Series):  # distinct values first: no Python string per row
            values = pd.Series(pd.unique(values)).astype(str)
        ordered = list(dict.fromkeys(str(v) for v in values))
        external = np.asarray(ordered, dtype=object)
        external.flags.writeable = False
        return cls(external, {v: i for i, v in enumerate(ordered)})

    def __len__(self) -> int:
        return len(self.external)

    def __contains__(self, external_id: object) -> bool:
        return str(external_id) in self._index

    def to_internal(self, external_id: str) -> int:
        """Internal id of one external id; ``KeyError`` naming the id when unknown."""
        try:
            return self._index[str(external_id)]
        except KeyError:
            raise KeyError(f"unknown id {external_id!r}") from None

    def to_internal_many(self, external_ids: Iterable[Any], missing: int = -1) -> np.ndarray:
        """Internal ids of many external ids; ``missing`` where an id is unknown (a hash join
        in pandas, not a Python loop: evaluation maps hundreds of thousands of pairs).

        The distinct values are looked up once (``pandas.factorize``): tens of millions of
        interaction rows never become Python strings, only the few distinct ids do.
        """
        values = external_ids if isinstance(external_ids, pd.Series) else list(external_ids)
        if not len(values):
            return np.empty(0, dtype=np.int64)
        series = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
        if isinstance(series.dtype, pd.CategoricalDtype) and series.dtype == self.dtype:
            found = series.cat.codes.to_numpy().astype(np.int64)  # this map's own codes
        else:
            codes, distinct = pd.factorize(series, use_na_sentinel=False)
            known = self._lookup.get_indexer(
                pd.Index(pd.Series(distinct).astype(str), dtype=object)
            )
            found = known.astype(np.int64, copy=False)[codes]
        if missing != -1:
            found[found < 0] = missing
        return found

    @property
    def dtype(self) -> pd.CategoricalDtype:
        """A categorical dtype whose codes are the internal ids (built once per map): a column
        of ids stored as 4 bytes a row instead of a string."""
        dtype = self.__dict__.get("_categorical_dtype")
        if dtype is None:
            dtype = pd.CategoricalDtype(self._lookup, ordered=False)
            object.__setattr__(self, "_categorical_dtype", dtype)
        return dtype

    def as_categorical(self, internal_ids: np.ndarray) -> pd.Categorical:
        """The external ids of ``internal_ids`` as a categorical (codes = internal ids)."""
        return pd.Categorical.from_codes(np.asarray(internal_ids), dtype=self.dtype)

    @property
    def _lookup(self) -> pd.Index:
        """The external ids as a pandas index (built once per map)."""
        lookup = self.__dict__.get("_lookup_index")
        if lookup is None:
            lookup = pd.Index(self.external, dtype=object)
            object.__setattr__(self, "_lookup_index", lookup)
        return lookup

    def to_external(self, internal_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        return self.external[np.asarray(internal_ids, dtype=np.int64)]

    def extend(self, values: Iterable[Any]) -> IdMap:
        """A new map with unseen ``values`` appended (existing ids keep their numbers)."""
        return IdMap.from_values([*self.external.tolist(), *values])


def _readonly(matrix: sp.csr_matrix) -> sp.csr_matrix:
    for array in (matrix.data, matrix.indices, matrix.indptr):
        array.flags.writeable = False
    return matrix


@dataclass(frozen=True, eq=False)
class FeatureMatrix:
    """A sparse entity x feature matrix and the names of its columns (``column=value``)."""

    matrix: sp.csr_matrix
    names: tuple[str, ...]

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, columns: Sequence[str]) -> FeatureMatrix:
        """One-hot for scalar columns, multi-hot for list columns; missing values get no 1.

        ``frame`` rows must already be in internal-id order.
        """
        names: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        for column in columns:
            if column not in frame:
                continue
            for row, value in enumerate(frame[column].tolist()):
                values = value if isinstance(value, list | tuple | np.ndarray) else [value]
                for v in values:
                    if v is None or (isinstance(v, float) and np.isnan(v)) or v == "":
                        continue
                    name = f"{column}={v}"
                    rows.append(row)
                    cols.append(names.setdefault(name, len(names)))
        data = np.ones(len(rows), dtype=np.float32)
        matrix = sp.csr_matrix((data, (rows, cols)), shape=(len(frame), len(names)))
        matrix.sum_duplicates()
        matrix.data[:] = 1.0
        return cls(_readonly(matrix), tuple(names))


@dataclass(frozen=True, eq=False)
class Dataset:
    """Interactions, clients and items of one training or evaluation run.

    ``interactions`` is a clients x items CSR matrix of implicit-feedback weights built with a
    ``FeedbackConfig``. ``events`` keeps the raw rows (with internal ``client_idx`` and
    ``item_idx`` columns) because splits need timestamps and event types. ``clients`` and
    ``items`` are attribute frames indexed by internal id (row ``i`` is internal id ``i``).
    """

    client_ids: IdMap
    item_ids: IdMap
    interactions: sp.csr_matrix
    events: pd.DataFrame
    clients: pd.DataFrame
    items: pd.DataFrame
    client_features: FeatureMatrix
    item_features: FeatureMatrix
    feedback: FeedbackConfig

    @property
    def n_clients(self) -> int:
        return len(self.client_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @classmethod
    def from_frames(
        cls,
        interactions: pd.DataFrame,
        clients: pd.DataFrame | None = None,
        items: pd.DataFrame | None = None,
        *,
        feedback: FeedbackConfig | None = None,
        client_feature_columns: Sequence[str] = DEFAULT_CLIENT_FEATURES,
        item_feature_columns: Sequence[str] = DEFAULT_ITEM_FEATURES,
        client_ids: IdMap | None = None,
        item_ids: IdMap | None = None,
    ) -> Dataset:
        """Build a dataset; pass ``client_ids`` / ``item_ids`` to keep another one's numbering.

        Every client of ``clients`` and item of ``items`` gets an id even without interactions
        (a catalog item nobody bought yet can still be recommended by a hybrid model).
        Interaction rows whose client or item is outside given id maps are a ``ValueError``.
        """
        feedback = feedback or FeedbackConfig()
        for column in ("client_id", "item_id"):
            if column not in interactions:
                raise ValueError(f"interactions: missing required column {column!r}")
        clients_frame = _entity_frame(clients, "client_id")
        items_frame = _entity_frame(items, "item_id")
        if client_ids is None:
            client_ids = IdMap.from_values(_first_seen(clients_frame, interactions, "client_id"))
        if item_ids is None:
            item_ids = IdMap.from_values(_first_seen(items_frame, interactions, "item_id"))
        events = _lean_events(interactions, client_ids, item_ids)
        clients_aligned = _align(clients_frame, "client_id", client_ids)
        items_aligned = _align(items_frame, "item_id", item_ids)
        return cls(
            client_ids=client_ids,
            item_ids=item_ids,
            interactions=_interaction_matrix(events, client_ids, item_ids, feedback),
            events=events,
            clients=clients_aligned,
            items=items_aligned,
            client_features=FeatureMatrix.from_frame(clients_aligned, client_feature_columns),
            item_features=FeatureMatrix.from_frame(items_aligned, item_feature_columns),
            feedback=feedback,
        )

    def with_events(self, events: pd.DataFrame) -> Dataset:
        """A dataset over a subset of ``events`` with the same ids, clients and items.

        Only the events and the interaction matrix are new: the id maps, attribute frames and
        feature matrices are this dataset's own (a split costs its events, not a copy of every
        client's attributes).
        """
        lean = _lean_events(events, self.client_ids, self.item_ids)
        return Dataset(
            client_ids=self.client_ids,
            item_ids=self.item_ids,
            interactions=_interaction_matrix(lean, self.client_ids, self.item_ids, self.feedback),
            events=lean,
            clients=self.clients,
            items=self.items,
            client_features=self.client_features,
            item_features=self.item_features,
            feedback=self.feedback,
        )


def _first_seen(entities: pd.DataFrame, interactions: pd.DataFrame, column: str) -> pd.Series:
    """Distinct ids of ``entities`` then of ``interactions``, as text, in first-seen order."""
    seen = pd.Series(pd.unique(interactions[column])).astype(str)
    return pd.concat([entities[column], seen], ignore_index=True)


def _lean_events(interactions: pd.DataFrame, client_ids: IdMap, item_ids: IdMap) -> pd.DataFrame:
    """The event rows as a dataset keeps them: ids as categoricals of the id maps (codes are
    the internal ids), ``client_idx`` / ``item_idx`` int32, ``event_type`` categorical, default
    ``event_type`` / ``value`` / ``timestamp`` filled in; ``event_id`` is not kept.

    About 30 bytes a row instead of a hundred or more with string columns: a portfolio of a
    million clients has tens of millions of events. Rows whose client or item is outside the
    id maps are a ``ValueError``.
    """
    events = interactions.drop(
        columns=[c for c in ("event_id", "client_idx", "item_idx") if c in interactions]
    )
    if "event_type" not in events:
        events["event_type"] = "purchase"
    if "value" not in events:
        events["value"] = 1.0
    if "timestamp" not in events:
        events["timestamp"] = pd.Timestamp(0, tz="UTC")
    indices = {}
    for ids, kind in ((client_ids, "client"), (item_ids, "item")):
        column = events[f"{kind}_id"]
        if _coded_by(column, ids):  # a split of this dataset's events: the codes are the ids
            indices[f"{kind}_idx"] = column.cat.codes.to_numpy().astype(np.int32)
            continue
        found = ids.to_internal_many(column)
        unknown = found < 0
        if unknown.any():
            first = events[f"{kind}_id"].to_numpy()[np.flatnonzero(unknown)[0]]
            raise ValueError(
                f"interactions: {int(unknown.sum())} rows have a {kind}_id outside the id "
                f"map (first: {str(first)!r})"
            )
        events[f"{kind}_id"] = ids.as_categorical(found)
        indices[f"{kind}_idx"] = found.astype(np.int32)
    types = events["event_type"]
    if not isinstance(types.dtype, pd.CategoricalDtype) and not types.isna().any():
        events["event_type"] = types.astype(str).astype("category")
    for name, values in indices.items():
        events[name] = values
    return events.reset_index(drop=True)


def _coded_by(column: pd.Series, ids: IdMap) -> bool:
    """Is ``column`` a categorical of ``ids`` (codes = internal ids) without missing values?"""
    dtype = column.dtype
    if not isinstance(dtype, pd.CategoricalDtype):
        return False
    if dtype is not ids.dtype and not dtype.categories.equals(ids.dtype.categories):
        return False
    return not bool((column.cat.codes.to_numpy() < 0).any())


def _interaction_matrix(
    events: pd.DataFrame, client_ids: IdMap, item_ids: IdMap, feedback: FeedbackConfig
) -> sp.csr_matrix:
    """The read-only clients x items float32 CSR of feedback weights of ``events``."""
    weights = event_weights(events, feedback)
    matrix = sp.csr_matrix(
        (weights.astype(np.float32), (events["client_idx"], events["item_idx"])),
        shape=(len(client_ids), len(item_ids)),
        dtype=np.float32,
    )
    matrix.sum_duplicates()
    matrix.data[matrix.data <= feedback.min_weight] = 0.0
    matrix.eliminate_zeros()
    if feedback.binary:
        matrix.data[:] = 1.0
    matrix.sort_indices()
    return _readonly(matrix)


def _entity_frame(frame: pd.DataFrame | None, id_column: str) -> pd.DataFrame:
    if frame is None:
        return pd.DataFrame({id_column: pd.Series(dtype=str)})
    if id_column not in frame:
        if frame.index.name == id_column:
            frame = frame.reset_index()
        else:
            raise ValueError(f"{id_column.split('_')[0]}s: missing required column {id_column!r}")
    out = frame.copy()
    out[id_column] = out[id_column].astype(str)
    duplicated = out[id_column].duplicated()
    if duplicated.any():
        first = out.loc[duplicated, id_column].iloc[0]
        raise ValueError(f"{id_column.split('_')[0]}s: duplicate {id_column} {first!r}")
    return out


def _align(frame: pd.DataFrame, id_column: str, ids: IdMap) -> pd.DataFrame:
    """Attribute frame indexed by external id, rows in internal-id order (gaps are NaN)."""
    aligned = frame.set_index(id_column).reindex(pd.Index(ids.external, name=id_column))
    return aligned
