"""Metrics against hand-computed examples and, with hypothesis, a plain Python reference."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.evaluation.metrics import (
    catalog_coverage,
    compute_metrics,
    item_popularity,
    kind_diversity,
    metrics_by_group,
    novelty,
    personalization,
    ranking_metrics_per_client,
)

N_ITEMS = 12


def truth_matrix(relevant: list[set[int]], n_items: int = N_ITEMS) -> sp.csr_matrix:
    rows = [i for i, items in enumerate(relevant) for _ in items]
    cols = [j for items in relevant for j in sorted(items)]
    data = np.ones(len(rows), dtype=bool)
    return sp.csr_matrix((data, (rows, cols)), shape=(len(relevant), n_items), dtype=bool)


def reference(recs: list[int], relevant: set[int], k: int) -> dict[str, float]:
    """The textbook definitions, one client, plain Python."""
    top = [r for r in recs[:k]]
    hits = [1 if r >= 0 and r in relevant else 0 for r in top]
    dcg = sum(h / math.log2(i + 2) for i, h in enumerate(hits))
    idcg = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    ap, seen = 0.0, 0
    for i, h in enumerate(hits):
        if h:
            seen += 1
            ap += seen / (i + 1)
    first = next((i + 1 for i, h in enumerate(hits) if h), None)
    return {
        "precision": sum(hits) / k,
        "recall": sum(hits) / len(relevant),
        "ndcg": dcg / idcg,
        "map": ap / min(len(relevant), k),
        "hit_rate": float(any(hits)),
        "mrr": 1 / first if first else 0.0,
    }


def test_hand_computed_example() -> None:
    # relevant {1, 3, 5}; list [1, 2, 3, 4]: hits at ranks 1 and 3.
    out = ranking_metrics_per_client(np.array([[1, 2, 3, 4]]), truth_matrix([{1, 3, 5}]), 4)
    assert out["precision"][0] == pytest.approx(0.5)
    assert out["recall"][0] == pytest.approx(2 / 3)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert out["ndcg"][0] == pytest.approx((1 + 1 / math.log2(4)) / idcg)
    assert out["map"][0] == pytest.approx((1 / 1 + 2 / 3) / 3)
    assert out["hit_rate"][0] == 1.0
    assert out["mrr"][0] == 1.0


def test_miss_padding_and_client_without_relevance() -> None:
    recs = np.array([[7, -1, -1], [0, 1, 2]])
    out = ranking_metrics_per_client(recs, truth_matrix([{0}, set()]), 3)
    assert out["precision"][0] == 0.0
    assert out["mrr"][0] == 0.0
    assert math.isnan(out["ndcg"][1])  # no relevant item: not averaged


def test_map_divides_by_min_relevant_and_k() -> None:
    # 5 relevant items, k=2, both recommended items relevant: AP = (1 + 1) / 2.
    out = ranking_metrics_per_client(np.array([[0, 1]]), truth_matrix([set(range(5))]), 2)
    assert out["map"][0] == pytest.approx(1.0)
    assert out["ndcg"][0] == pytest.approx(1.0)
    assert out["recall"][0] == pytest.approx(0.4)


def test_list_metrics_hand_computed() -> None:
    recs = np.array([[0, 1, 2], [0, 1, 3], [4, 5, -1]])
    assert catalog_coverage(recs, 10) == pytest.approx(0.6)
    # Jaccard: (0,1) 2/4, (0,2) 0, (1,2) 0 -> mean 1/6.
    assert personalization(recs) == pytest.approx(1 - 1 / 6)
    assert personalization(np.array([[0, 1], [0, 1], [1, 0]])) == pytest.approx(0.0)
    kinds = np.array(["a", "a", "b", "b", "c", "c"])
    # list 0: a,a,b -> 1 same pair of 3 -> 2/3; list 1: a,a,b -> 2/3; list 2: c,c -> 0.
    assert kind_diversity(recs, kinds) == pytest.approx((2 / 3 + 2 / 3 + 0) / 3)
    popularity = np.array([0.5, 0.25, 1.0, 0.125, 0.5, 0.5])
    expected = np.mean([(1 + 2 + 0) / 3, (1 + 2 + 3) / 3, (1 + 1) / 2])
    assert novelty(recs, popularity) == pytest.approx(expected)


def test_item_popularity_counts_active_clients_and_floors() -> None:
    interactions = sp.csr_matrix(np.array([[1, 0, 0], [2, 3, 0], [0, 0, 0]], dtype=np.float32))
    assert item_popularity(interactions) == pytest.approx([1.0, 0.5, 0.5])


def test_personalization_sampling_is_seeded_and_close_to_exact() -> None:
    rng = np.random.default_rng(0)
    recs = np.stack([rng.choice(30, size=5, replace=False) for _ in range(200)])
    exact = personalization(recs, n_pairs=10**6)
    sampled = personalization(recs, n_pairs=5_000, seed=3)
    assert sampled == personalization(recs, n_pairs=5_000, seed=3)
    assert sampled == pytest.approx(exact, abs=0.02)


def test_compute_metrics_and_groups() -> None:
    recs = np.array([[0, 1], [2, 3], [0, 1]])
    truth = truth_matrix([{0}, {3}, set()])
    kinds = np.zeros(N_ITEMS, dtype=int)
    pop = np.full(N_ITEMS, 0.5)
    kw = {"n_items": N_ITEMS, "item_kinds": kinds, "popularity": pop}
    overall = compute_metrics(recs, truth, 2, **kw)
    assert overall["n_clients"] == 2.0
    assert overall["precision"] == pytest.approx(0.5)
    assert overall["mrr"] == pytest.approx(0.75)
    assert overall["coverage"] == pytest.approx(4 / N_ITEMS)
    groups = metrics_by_group(recs, truth, np.array(["x", "y", "y"]), 2, **kw)
    assert set(groups) == {"x", "y"}
    assert groups["x"]["mrr"] == pytest.approx(1.0)
    assert groups["y"]["mrr"] == pytest.approx(0.5)
    assert groups["y"]["n_clients"] == 1.0


client_case = st.integers(min_value=1, max_value=6).flatmap(
    lambda k: st.tuples(
        st.just(k),
        st.lists(
            st.tuples(
                st.lists(st.integers(0, N_ITEMS - 1), unique=True, max_size=k),
                st.sets(st.integers(0, N_ITEMS - 1), min_size=1, max_size=N_ITEMS),
            ),
            min_size=1,
            max_size=8,
        ),
    )
)


@settings(max_examples=150, deadline=None)
@given(client_case)
def test_ranking_metrics_match_reference(
    case: tuple[int, list[tuple[list[int], set[int]]]],
) -> None:
    k, clients = case
    recs = np.full((len(clients), k), -1, dtype=np.int64)
    for i, (items, _) in enumerate(clients):
        recs[i, : len(items)] = items
    out = ranking_metrics_per_client(recs, truth_matrix([rel for _, rel in clients]), k)
    for i, (_, rel) in enumerate(clients):
        expected = reference(recs[i].tolist(), rel, k)
        for name, value in expected.items():
            assert out[name][i] == pytest.approx(value), name


lists = st.lists(
    st.lists(st.integers(0, N_ITEMS - 1), unique=True, min_size=0, max_size=5),
    min_size=2,
    max_size=8,
)


@settings(max_examples=100, deadline=None)
@given(lists)
def test_list_metrics_match_reference(rows: list[list[int]]) -> None:
    width = max(max(len(r) for r in rows), 1)
    recs = np.full((len(rows), width), -1, dtype=np.int64)
    for i, row in enumerate(rows):
        recs[i, : len(row)] = row
    sims = []
    for a, b in itertools.combinations(rows, 2):
        union = set(a) | set(b)
        sims.append(len(set(a) & set(b)) / len(union) if union else 1.0)
    assert personalization(recs) == pytest.approx(1 - sum(sims) / len(sims))
    kinds = np.arange(N_ITEMS) % 3
    diversities = []
    for row in rows:
        if len(row) >= 2:
            pairs = list(itertools.combinations(row, 2))
            diversities.append(1 - sum(kinds[a] == kinds[b] for a, b in pairs) / len(pairs))
    got = kind_diversity(recs, kinds)
    if diversities:
        assert got == pytest.approx(sum(diversities) / len(diversities))
    else:
        assert math.isnan(got)
    distinct = {i for row in rows for i in row}
    assert catalog_coverage(recs, N_ITEMS) == pytest.approx(len(distinct) / N_ITEMS)
