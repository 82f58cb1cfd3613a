"""Build the arrays a ``ServableModel`` carries from a ``Dataset``: catalog rules, group shares.

Shared by every model's export so that all models serve with the same business rules.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recommender.dataset import Dataset
from recommender.domain import Eligibility, ItemKind
from recommender.servable import CatalogArrays
from recommender.usage import usage_matrix

KIND_NAMES: tuple[str, ...] = tuple(k.value for k in ItemKind)
ELIGIBLE_B2B, ELIGIBLE_B2G = 1, 2
_ELIGIBILITY_BITS = {
    Eligibility.B2B.value: ELIGIBLE_B2B,
    Eligibility.B2G.value: ELIGIBLE_B2G,
    Eligibility.BOTH.value: ELIGIBLE_B2B | ELIGIBLE_B2G,
}


def _column(items: pd.DataFrame, name: str, default: object) -> list[object]:
    if name not in items:
        return [default] * len(items)
    return [default if _missing(v) else v for v in items[name].tolist()]


def _missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return isinstance(value, str) and value == ""


def catalog_arrays(dataset: Dataset) -> CatalogArrays:
    """Rule masks aligned with the dataset's internal item ids.

    Items without attributes (e.g. a data set with no catalog, such as MovieLens) count as
    add-ons without family, eligible for everyone, with no prerequisites.
    """
    items = dataset.items
    kind_index = {name: i for i, name in enumerate(KIND_NAMES)}
    kind = np.array(
        [kind_index.get(str(v), kind_index["addon"]) for v in _column(items, "kind", "addon")],
        dtype=np.int8,
    )
    families = _column(items, "family", None)
    family_names = tuple(sorted({str(f) for f in families if f is not None}))
    family_index = {name: i for i, name in enumerate(family_names)}
    family = np.array([-1 if f is None else family_index[str(f)] for f in families], dtype=np.int32)
    eligibility = np.array(
        [_ELIGIBILITY_BITS.get(str(v), 3) for v in _column(items, "eligibility", "both")],
        dtype=np.int8,
    )
    indptr = [0]
    indices: list[int] = []
    for prereqs in _column(items, "prerequisites", ()):
        values = [] if isinstance(prereqs, str) else list(prereqs)  # type: ignore[call-overload]
        known = [dataset.item_ids.to_internal(p) for p in values if p in dataset.item_ids]
        indices.extend(sorted(known))
        indptr.append(len(indices))
    return CatalogArrays(
        kind=kind,
        kind_names=KIND_NAMES,
        family=family,
        family_names=family_names,
        eligibility=eligibility,
        prereq_indptr=np.asarray(indptr, dtype=np.int64),
        prereq_indices=np.asarray(indices, dtype=np.int64),
        price=np.asarray(_column(items, "price", 0.0), dtype=np.float32),
        margin=np.asarray(_column(items, "margin", 0.0), dtype=np.float32),
    )


def popularity_table(
    dataset: Dataset, group_columns: tuple[str, ...] = ("segment", "industry")
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Share of clients interacting with each item: overall (row ``all``) and per group value.

    Any kept interaction counts, views and clicks included: this is a score (the uniform-offer
    baselines and the cold-start fallback read it), not a claim about use; reasons quote
    ``usage_table``. Rows are named ``all`` and ``column=value`` (``segment=B2G``,
    ``industry=healthcare``).
    """
    binary = dataset.interactions.copy()
    binary.data[:] = 1.0
    return group_shares(binary, dataset.clients, group_columns)


def usage_table(
    dataset: Dataset, group_columns: tuple[str, ...] = ("segment", "industry")
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Share of clients using each item (``recommender.usage``), rows as ``popularity_table``.

    What "used by 63 % of healthcare clients" quotes: a client who only viewed or clicked an
    offer does not use it.
    """
    return group_shares(usage_matrix(dataset), dataset.clients, group_columns)


def group_shares(
    binary: sp.csr_matrix, clients: pd.DataFrame, group_columns: tuple[str, ...]
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Share of the clients (rows of ``binary``) with a 1 per item: overall, then per group."""
    n_clients = binary.shape[0]
    rows: list[np.ndarray] = [_shares(binary, np.zeros(n_clients, dtype=np.int64), 1)]
    names: list[str] = ["all"]
    for column in group_columns:
        if column not in clients:
            continue
        raw = clients[column].astype(object)
        text = raw.astype(str)
        text = text.where(~(raw.isna() | (text == "")), None)  # missing values: no group
        values = sorted(set(text.dropna()))
        codes = pd.Index(values, dtype=object).get_indexer(pd.Index(text.fillna("")))
        rows.append(_shares(binary, codes, len(values)))
        names.extend(f"{column}={value}" for value in values)
    return np.vstack(rows).astype(np.float32), tuple(names)


def _shares(binary: sp.csr_matrix, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """(n_groups, n_items) share of each group's clients (``codes``; -1: none) with a 1."""
    if n_groups == 0:
        return np.zeros((0, binary.shape[1]), dtype=np.float64)
    member = codes >= 0
    groups = sp.csr_matrix(
        (np.ones(int(member.sum())), (codes[member], np.flatnonzero(member))),
        shape=(n_groups, binary.shape[0]),
    )
    counts = np.bincount(codes[member], minlength=n_groups).astype(np.float64)
    totals = np.asarray((groups @ binary).todense(), dtype=np.float64)
    return totals / np.maximum(counts, 1.0)[:, None]
