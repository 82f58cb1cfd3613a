"""Next-best offers for many clients at once, with the batch kernel (``rank_batch``).

For every client: the top-k offers the rules allow, each with a purchase-probability proxy, its
expected value and its reasons; the client's opportunity is the sum of those expected values.

Probability proxy (the same as the API's ``serving.recommend.rank``): the offer's score as a
z-score among all of the client's offer scores, through a logistic, ``p = 1 / (1 + e^-z)``. It
is monotone in the score and comparable across clients, not a calibrated purchase rate.
Expected value of an offer = ``price * margin * p``; of a client = the sum over its top-k.

Scores are raw model scores (no margin or loyalty boost: the expected value already weighs
price and margin). Clients without a personal vector (unknown, nothing owned) are ranked from
the popularity rows of their industry and segment, a group at a time, with the same kernel.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from recommender.dataset import DEFAULT_CLIENT_FEATURES
from recommender.explain import Explainer
from recommender.models.base import fallback_rows
from recommender.ranking.batch import rank_batch
from recommender.ranking.rules import RankingRules
from recommender.scoring import Scorer
from recommender.servable import ServableModel

#: Clients scored per step (bounds memory; one progress tick each).
BLOCK_CLIENTS = 20_000


@dataclass(frozen=True)
class Portfolio:
    """Clients (one row each, ``client_id`` plus attributes) and what they own, as CSR."""

    clients: pd.DataFrame
    owned_indptr: np.ndarray
    owned_indices: np.ndarray
    _attributes: dict[str, list[str | None]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def from_frames(
        cls, clients: pd.DataFrame, owned: pd.DataFrame, item_ids: np.ndarray
    ) -> Portfolio:
        """``owned``: pairs (client_id, item_id); offers the model does not know are skipped."""
        clients = clients.reset_index(drop=True)
        client_index = pd.Index(clients["client_id"].astype(str))
        row = client_index.get_indexer(pd.Index(owned["client_id"].astype(str)))
        item_index = pd.Index(np.asarray(item_ids).astype(str))
        item = item_index.get_indexer(pd.Index(owned["item_id"].astype(str)))
        keep = (row >= 0) & (item >= 0)
        pairs = np.unique(np.stack([row[keep], item[keep]]).astype(np.int64), axis=1)
        counts = np.bincount(pairs[0], minlength=len(clients))
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return cls(clients, indptr, pairs[1].copy())

    def __len__(self) -> int:
        return len(self.clients)

    def owned_of(self, i: int) -> np.ndarray:
        return self.owned_indices[self.owned_indptr[i] : self.owned_indptr[i + 1]]

    def dense_owned(self, start: int, stop: int, n_items: int) -> np.ndarray:
        out = np.zeros((stop - start, n_items), dtype=np.bool_)
        ptr = self.owned_indptr[start : stop + 1]
        rows = np.repeat(np.arange(stop - start), np.diff(ptr))
        out[rows, self.owned_indices[ptr[0] : ptr[-1]]] = True
        return out

    def attribute(self, name: str) -> list[str | None]:
        """One client column as text (``None`` where missing or empty); a fresh list each call."""
        if name not in self._attributes:
            if name not in self.clients:
                self._attributes[name] = [None] * len(self)
            else:
                column = self.clients[name]
                values = column.astype(object).where(column.notna(), None)
                self._attributes[name] = [None if v in (None, "") else str(v) for v in values]
        return list(self._attributes[name])


@dataclass(frozen=True)
class NboResult:
    """Top-k per client (rows aligned with ``portfolio.clients``); items padded with -1."""

    portfolio: Portfolio
    items: np.ndarray
    scores: np.ndarray
    probability: np.ndarray
    value: np.ndarray
    reasons: list[list[tuple[str, ...]]] | None

    @property
    def expected_value(self) -> np.ndarray:
        return self.value.sum(axis=1)

    def order(self) -> np.ndarray:
        """Client rows by opportunity (expected value, high first; client id breaks ties)."""
        ids = self.portfolio.clients["client_id"].astype(str).to_numpy()
        return np.lexsort((ids, -self.expected_value))


def _vectors(
    model: ServableModel, scorer: Scorer, data: Portfolio, start: int, stop: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(client vectors, has-vector mask, item matrix) such that scores = vectors @ items.T."""
    n = stop - start
    if model.mode == "item_item" and model.item_item is not None:
        vectors = data.dense_owned(start, stop, model.n_items).astype(np.float32)
        present = np.asarray(vectors.any(axis=1), dtype=np.bool_)
        return vectors, present, np.asarray(model.item_item, dtype=np.float32).T
    if model.mode != "factors" or model.item_factors is None:
        return np.zeros((n, 1), np.float32), np.zeros(n, np.bool_), np.zeros((model.n_items, 1))
    index = pd.Index(model.client_ids.astype(str)).get_indexer(
        pd.Index(data.clients["client_id"].iloc[start:stop].astype(str))
    )
    features = [data.attribute(c)[start:stop] for c in DEFAULT_CLIENT_FEATURES]
    vectors, present = scorer.client_vectors_batch(
        [None if i < 0 else int(i) for i in index],
        [data.owned_of(i) for i in range(start, stop)],
        [
            tuple(
                f"{c}={v[r]}"
                for c, v in zip(DEFAULT_CLIENT_FEATURES, features, strict=True)
                if v[r]
            )
            for r in range(n)
        ],
    )
    return vectors, present, np.asarray(model.item_factors, dtype=np.float32)


def _moments(vectors: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each client's scores over all offers, without scoring."""
    y = items.astype(np.float64)
    v = vectors.astype(np.float64)
    mean = v @ y.mean(axis=0)
    square = ((v @ (y.T @ y / len(y))) * v).sum(axis=1)
    return mean, np.sqrt(np.maximum(square - mean**2, 0.0))


def _rank_block(
    model: ServableModel,
    scorer: Scorer,
    data: Portfolio,
    start: int,
    stop: int,
    rules: RankingRules,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Items, scores and score moments (mean, std) of clients ``start:stop``."""
    vectors, present, matrix = _vectors(model, scorer, data, start, stop)
    n = stop - start
    items = np.full((n, rules.k), -1, dtype=np.int64)
    scores = np.full((n, rules.k), -np.inf, dtype=np.float32)
    mean, std = np.zeros(n), np.zeros(n)
    segments = np.asarray(data.attribute("segment")[start:stop], dtype=object)
    industries = data.attribute("industry")[start:stop]
    ptr = data.owned_indptr[start : stop + 1]
    groups: dict[tuple[str, ...], list[int]] = {}
    for r in np.flatnonzero(~present).tolist():
        groups.setdefault(fallback_rows(industries[r], segments[r]), []).append(r)
    batches = [(np.flatnonzero(present), vectors[present], matrix)]
    for names, members in groups.items():
        popular = scorer.popularity_scores(names).astype(np.float32)[:, None]
        batches.append((np.asarray(members), np.ones((len(members), 1), np.float32), popular))
    rows: np.ndarray
    for rows, vecs, mat in batches:
        if not len(rows):
            continue
        counts = np.diff(ptr)[rows]
        sub_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        sub_idx = np.concatenate([data.owned_indices[ptr[r] : ptr[r + 1]] for r in rows])
        top, totals = rank_batch(
            vecs, mat, sub_ptr, sub_idx.astype(np.int64), model.catalog, list(segments[rows]), rules
        )
        items[rows], scores[rows] = top, totals
        mean[rows], std[rows] = _moments(vecs, mat)
    return items, scores, mean, std


def compute_nbo(
    model: ServableModel,
    data: Portfolio,
    rules: RankingRules,
    *,
    names: Mapping[str, str] | None = None,
    explain: bool = True,
    progress: Callable[[int], None] | None = None,
) -> NboResult:
    """Top offers, expected values and (with ``explain``) reasons for every client."""
    scorer = Scorer(model)
    ids = [str(i) for i in model.item_ids]
    explainer = Explainer(model, [(names or {}).get(i, i) for i in ids]) if explain else None
    catalog_value = np.asarray(model.catalog.price, np.float64) * np.asarray(
        model.catalog.margin, np.float64
    )
    parts: list[tuple[np.ndarray, ...]] = []
    reasons: list[list[tuple[str, ...]]] = []
    for start in range(0, len(data), BLOCK_CLIENTS):
        stop = min(start + BLOCK_CLIENTS, len(data))
        items, scores, mean, std = _rank_block(model, scorer, data, start, stop, rules)
        safe = np.where(std > 0, std, 1.0)[:, None]
        z = np.where(std[:, None] > 0, (scores - mean[:, None]) / safe, 0.0)
        probability = np.where(items >= 0, 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30))), 0.0)
        value = np.where(items >= 0, catalog_value[np.maximum(items, 0)] * probability, 0.0)
        parts.append((items, scores, probability, value))
        if explainer is not None:
            industries = data.attribute("industry")[start:stop]
            segments = data.attribute("segment")[start:stop]
            rows = explainer.popularity_row_indices(
                [fallback_rows(i, s) for i, s in zip(industries, segments, strict=True)]
            )
            owned = data.dense_owned(start, stop, model.n_items)
            reasons.extend(explainer.explain(items, owned, rows))
        if progress is not None:
            progress(stop - start)
    k = rules.k
    stacked = [
        np.concatenate([p[n] for p in parts]) if parts else np.empty((0, k)) for n in range(4)
    ]
    return NboResult(
        data,
        stacked[0].astype(np.int64),
        stacked[1].astype(np.float32),
        stacked[2],
        stacked[3],
        reasons if explain else None,
    )
