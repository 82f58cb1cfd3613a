"""Top-k metrics: accuracy per client, and properties of the lists as a whole.

Recommendations are an ``(n, k)`` int array of internal item ids padded with -1; ground truth
is a boolean CSR matrix whose row ``i`` holds the relevant items of the client of row ``i``.
Accuracy metrics follow Microsoft Recommenders (binary relevance):

- precision = hits / k; recall = hits / |rel|; hit_rate = 1 if any hit;
- ndcg = DCG / IDCG with gains ``1 / log2(rank + 1)`` and IDCG over ``min(|rel|, k)`` hits;
- map = sum of precision at each hit rank / ``min(|rel|, k)``;
- mrr = 1 / rank of the first hit (0 without a hit in the top k).

List metrics:

- coverage: share of the catalog that appears in at least one list;
- personalization: 1 - mean Jaccard similarity of the top-k sets of client pairs (all pairs,
  or ``n_pairs`` seeded random pairs when there are more); two empty lists count as identical;
- kind_diversity: per list, 1 - share of item pairs of the same kind (0: one kind only,
  higher: mixed tariffs, courses and add-ons); lists shorter than 2 are skipped;
- novelty: mean ``-log2(popularity)`` of recommended items, popularity being the share of
  active train clients that interacted with the item (floored at one client).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

RANKING_METRICS: tuple[str, ...] = ("precision", "recall", "ndcg", "map", "hit_rate", "mrr")
LIST_METRICS: tuple[str, ...] = ("coverage", "personalization", "kind_diversity", "novelty")
ALL_METRICS: tuple[str, ...] = (*RANKING_METRICS, *LIST_METRICS)


def hits_matrix(recommendations: np.ndarray, relevant: sp.csr_matrix) -> np.ndarray:
    """``hits[i, j]``: is the j-th recommendation of row i relevant (padding never is)."""
    recs = np.asarray(recommendations, dtype=np.int64)
    n, k = recs.shape
    if n == 0 or k == 0:
        return np.zeros((n, k), dtype=bool)
    valid = recs >= 0
    rows = np.repeat(np.arange(n), k)
    cols = np.where(valid, recs, 0).ravel()
    found = np.asarray(relevant[rows, cols]).ravel().astype(bool).reshape(n, k)
    return found & valid


def ranking_metrics_per_client(
    recommendations: np.ndarray, relevant: sp.csr_matrix, k: int
) -> dict[str, np.ndarray]:
    """Each accuracy metric for each row; rows without relevant items get NaN."""
    recs = np.asarray(recommendations, dtype=np.int64)[:, :k]
    hits = hits_matrix(recs, relevant).astype(np.float64)
    if hits.shape[1] < k:  # a short list is a list padded with misses
        hits = np.pad(hits, ((0, 0), (0, k - hits.shape[1])))
    n_rel = np.diff(relevant.indptr).astype(np.float64)
    has_rel = n_rel > 0
    safe_rel = np.where(has_rel, n_rel, 1.0)
    n_hits = hits.sum(axis=1)
    ranks = np.arange(1, k + 1, dtype=np.float64)
    discounts = 1.0 / np.log2(ranks + 1.0)
    ideal_len = np.minimum(n_rel, k).astype(np.int64)
    idcg = np.concatenate([[0.0], np.cumsum(discounts)])[ideal_len]
    dcg = hits @ discounts
    precision_at_hits = np.cumsum(hits, axis=1) / ranks * hits
    first_hit = np.where(n_hits > 0, hits.argmax(axis=1) + 1.0, np.inf)
    values = {
        "precision": n_hits / k,
        "recall": n_hits / safe_rel,
        "ndcg": dcg / np.where(idcg > 0, idcg, 1.0),
        "map": precision_at_hits.sum(axis=1) / np.maximum(np.minimum(safe_rel, k), 1.0),
        "hit_rate": (n_hits > 0).astype(np.float64),
        "mrr": 1.0 / first_hit,
    }
    return {name: np.where(has_rel, value, np.nan) for name, value in values.items()}


def catalog_coverage(recommendations: np.ndarray, n_items: int) -> float:
    """Share of the ``n_items`` catalog recommended to at least one client."""
    recs = np.asarray(recommendations)
    return float(len(np.unique(recs[recs >= 0])) / n_items) if n_items else 0.0


def personalization(recommendations: np.ndarray, *, n_pairs: int = 10_000, seed: int = 0) -> float:
    """1 - mean Jaccard similarity of top-k sets over client pairs (NaN with < 2 clients)."""
    recs = np.asarray(recommendations, dtype=np.int64)
    n = len(recs)
    if n < 2:
        return float("nan")
    if n * (n - 1) // 2 <= n_pairs:
        first, second = np.triu_indices(n, k=1)
    else:
        rng = np.random.default_rng(seed)
        first = rng.integers(0, n, size=n_pairs)
        second = (first + rng.integers(1, n, size=n_pairs)) % n  # never the same client
    sets = _membership(recs)
    inter = np.asarray(sets[first].multiply(sets[second]).sum(axis=1)).ravel()
    sizes = np.asarray(sets.sum(axis=1)).ravel()
    union = sizes[first] + sizes[second] - inter
    similarity = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 1.0)
    return float(1.0 - similarity.mean())


def kind_diversity(recommendations: np.ndarray, item_kinds: np.ndarray) -> float:
    """Mean over lists of 1 - share of same-kind item pairs (NaN when no list has 2 items)."""
    recs = np.asarray(recommendations, dtype=np.int64)
    if recs.ndim != 2 or recs.size == 0:
        return float("nan")
    _, kind_codes = np.unique(np.asarray(item_kinds), return_inverse=True)
    valid = recs >= 0
    codes = np.where(valid, kind_codes.ravel()[np.where(valid, recs, 0)], -1)
    lengths = valid.sum(axis=1)
    # per list, the count of each kind: one bincount over (row, kind) cells
    n_kinds = int(kind_codes.max()) + 1 if len(kind_codes) else 1
    rows = np.repeat(np.arange(len(recs)), recs.shape[1])[valid.ravel()]
    counts = np.bincount(
        rows * n_kinds + codes.ravel()[valid.ravel()], minlength=len(recs) * n_kinds
    ).reshape(len(recs), n_kinds)
    pairs = lengths * (lengths - 1)
    scored = pairs > 0
    if not scored.any():
        return float("nan")
    same = (counts * (counts - 1)).sum(axis=1)[scored] / pairs[scored]
    return float(np.mean(1.0 - same))


def item_popularity(interactions: sp.csr_matrix) -> np.ndarray:
    """Share of active clients (any interaction) holding each item, floored at one client."""
    binary = interactions.tocsr().astype(bool)
    active = max(int((np.diff(binary.indptr) > 0).sum()), 1)
    counts = np.asarray(binary.sum(axis=0)).ravel().astype(np.float64)
    return np.maximum(counts, 1.0) / active


def novelty(recommendations: np.ndarray, popularity: np.ndarray) -> float:
    """Mean over lists of the mean self-information ``-log2(popularity)`` of their items."""
    recs = np.asarray(recommendations, dtype=np.int64)
    information = -np.log2(np.asarray(popularity, dtype=np.float64))
    valid = recs >= 0
    per_item = np.where(valid, information[np.where(valid, recs, 0)], 0.0)
    counts = valid.sum(axis=1)
    per_list = per_item.sum(axis=1)[counts > 0] / counts[counts > 0]
    return float(per_list.mean()) if len(per_list) else float("nan")


def compute_metrics(
    recommendations: np.ndarray,
    relevant: sp.csr_matrix,
    k: int,
    *,
    n_items: int,
    item_kinds: np.ndarray,
    popularity: np.ndarray,
    seed: int = 0,
    cutoffs: tuple[int, ...] = (),
) -> dict[str, float]:
    """Every metric over the rows that have at least one relevant item.

    Metrics at ``k`` have plain names (``ndcg``); ``cutoffs`` below ``k`` add the accuracy
    metrics of the lists cut there, named ``<metric>@<cutoff>`` (``hit_rate@1``, ``ndcg@5``).
    """
    keep = np.diff(relevant.indptr) > 0
    recs = np.asarray(recommendations, dtype=np.int64)[keep][:, :k]
    truth = relevant[keep]
    per_client = ranking_metrics_per_client(recs, truth, k)
    result = {
        name: float(np.mean(values)) if len(values) else float("nan")
        for name, values in per_client.items()
    }
    for cutoff in sorted(set(c for c in cutoffs if 0 < c < k)):
        at = ranking_metrics_per_client(recs[:, :cutoff], truth, cutoff)
        for name in ("hit_rate", "ndcg", "precision", "recall"):
            values = at[name]
            result[f"{name}@{cutoff}"] = float(np.mean(values)) if len(values) else float("nan")
    result["coverage"] = catalog_coverage(recs, n_items)
    result["personalization"] = personalization(recs, seed=seed)
    result["kind_diversity"] = kind_diversity(recs, item_kinds)
    result["novelty"] = novelty(recs, popularity)
    result["n_clients"] = float(len(recs))
    return result


def metrics_by_group(
    recommendations: np.ndarray,
    relevant: sp.csr_matrix,
    groups: np.ndarray,
    k: int,
    *,
    n_items: int,
    item_kinds: np.ndarray,
    popularity: np.ndarray,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """``compute_metrics`` per value of ``groups`` (one label per row, e.g. the industry)."""
    labels = np.asarray([str(g) for g in groups], dtype=object)
    out: dict[str, dict[str, float]] = {}
    for label in sorted(set(labels.tolist())):
        mask = labels == label
        if not (np.diff(relevant[mask].indptr) > 0).any():
            continue
        out[label] = compute_metrics(
            np.asarray(recommendations)[mask],
            relevant[mask],
            k,
            n_items=n_items,
            item_kinds=item_kinds,
            popularity=popularity,
            seed=seed,
        )
    return out


def _membership(recs: np.ndarray) -> sp.csr_matrix:
    """Row i: indicator of the distinct items of list i."""
    n, k = recs.shape
    rows = np.repeat(np.arange(n), k)
    cols = recs.ravel()
    valid = cols >= 0
    width = int(cols.max()) + 1 if valid.any() else 1
    data = np.ones(int(valid.sum()), dtype=np.float64)
    matrix = sp.csr_matrix((data, (rows[valid], cols[valid])), shape=(n, width))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0  # a repeated item counts once
    return matrix
