from pathlib import Path

import numpy as np
import pytest

from recommender.catalog import catalog_arrays, popularity_table
from recommender.dataset import Dataset
from recommender.ranking import ClientBlock
from recommender.scoring import Scorer, scorer_for
from recommender.servable import ServableModel

N_ITEMS = 6  # the rules_dataset catalog


def scores_of(
    scorer: Scorer,
    client: int | None,
    owned: np.ndarray,
    features: tuple[str, ...] | list[str] = (),
) -> np.ndarray:
    """One client's scores; ``features`` are ``column=value`` attributes."""
    profile = dict(f.split("=", 1) for f in features)
    return scorer.score(ClientBlock.one(None, client, owned, profile)).scores[0]


def _bundle(ds: Dataset, **fields) -> ServableModel:
    table, names = popularity_table(ds)
    base = {
        "name": "t",
        "mode": "factors",
        "item_ids": ds.item_ids.external,
        "client_ids": ds.client_ids.external,
        "catalog": catalog_arrays(ds),
        "popularity": table,
        "segment_names": names,
    }
    return ServableModel(**{**base, **fields})


@pytest.fixture
def factors(rules_dataset: Dataset) -> ServableModel:
    rng = np.random.default_rng(1)
    item_factors = rng.normal(size=(N_ITEMS, 4)).astype(np.float32)
    clients = rng.normal(size=(rules_dataset.n_clients, 4)).astype(np.float32)
    clients[:, -1] = 1.0
    clients[1] = 0.0  # a client the model never trained on
    features = np.zeros((2, 4), dtype=np.float32)
    features[:, :3] = rng.normal(size=(2, 3))
    return _bundle(
        rules_dataset,
        client_factors=clients,
        item_factors=item_factors,
        client_feature_factors=features,
        client_feature_names=("industry=finance", "segment=B2B"),
        fold_in_regularization=0.5,
        metadata={"fold_in_confidence": 3.0},
    )


def test_known_client_scores_are_dot_products(factors: ServableModel) -> None:
    assert factors.client_factors is not None
    assert factors.item_factors is not None
    scores = scores_of(scorer_for(factors), 0, np.array([0]))
    assert scores.dtype == np.float32
    assert scores.shape == (N_ITEMS,)
    np.testing.assert_allclose(scores, factors.item_factors @ factors.client_factors[0], rtol=1e-6)


def test_fold_in_solves_the_confidence_weighted_ridge(factors: ServableModel) -> None:
    assert factors.item_factors is not None
    owned = np.array([2, 4])
    y = factors.item_factors[:, :-1].astype(np.float64)
    lhs = y.T @ y + 2.0 * y[owned].T @ y[owned] + 0.5 * np.eye(3)
    expected = np.append(np.linalg.solve(lhs, 3.0 * y[owned].sum(axis=0)), 1.0)
    scorer = scorer_for(factors)
    # client 1 has an all-zero vector: unknown, so it is folded in like a new client
    for client in (None, 1, 99):
        np.testing.assert_allclose(
            scores_of(scorer, None if client is None else client, owned),
            factors.item_factors @ expected,
            rtol=1e-4,
            atol=1e-5,
        )


def test_features_build_a_cold_start_vector(rules_dataset: Dataset, factors: ServableModel) -> None:
    no_fold_in = _bundle(
        rules_dataset,
        item_factors=factors.item_factors,
        client_feature_factors=factors.client_feature_factors,
        client_feature_names=factors.client_feature_names,
    )
    assert factors.client_feature_factors is not None
    assert factors.item_factors is not None
    expected = factors.client_feature_factors.sum(axis=0)
    expected[-1] = 1.0
    scores = scores_of(
        scorer_for(no_fold_in), None, np.array([1]), ["industry=finance", "segment=B2B", "region=x"]
    )
    np.testing.assert_allclose(scores, factors.item_factors @ expected, rtol=1e-5, atol=1e-6)


def test_unknown_client_falls_back_to_mean_of_existing_popularity_rows(
    rules_dataset: Dataset,
) -> None:
    table, names = popularity_table(rules_dataset)
    model = _bundle(rules_dataset, item_factors=np.ones((N_ITEMS, 2), dtype=np.float32))
    scorer = scorer_for(model)
    rows = ("industry=finance", "segment=B2B", "all")
    expected = table[[names.index(r) for r in rows if r in names]].mean(axis=0)
    none = np.array([], dtype=np.int64)
    np.testing.assert_allclose(
        scores_of(scorer, None, none, ("industry=finance", "segment=B2B", "x=y")), expected
    )
    nowhere = scores_of(scorer, None, none, ("industry=nowhere",))
    np.testing.assert_allclose(nowhere, table[names.index("all")])


def test_item_item_scores_the_owned_set_for_any_client(rules_dataset: Dataset) -> None:
    weights = np.arange(N_ITEMS * N_ITEMS, dtype=np.float32).reshape(N_ITEMS, N_ITEMS)
    model = _bundle(rules_dataset, mode="item_item", item_item=weights)
    scorer = scorer_for(model)
    got = scores_of(scorer, None, np.array([1, 3]))
    np.testing.assert_array_equal(got, weights[1] + weights[3])
    nothing = scores_of(scorer, 0, np.array([], dtype=np.int64))
    np.testing.assert_array_equal(nothing, model.popularity[model.segment_names.index("all")])


def test_item_item_adds_the_rows_of_owned_pairs(rules_dataset: Dataset) -> None:
    """Higher-order EASE: each owned pair the bundle lists adds its row, in any owned order."""
    rng = np.random.default_rng(3)
    weights = rng.normal(size=(N_ITEMS, N_ITEMS)).astype(np.float32)
    pair_items = np.array([[0, 1], [2, 4], [1, 4]], dtype=np.int32)
    pair_weights = rng.normal(size=(3, N_ITEMS)).astype(np.float32)
    model = _bundle(
        rules_dataset,
        mode="item_item",
        item_item=weights,
        pair_items=pair_items,
        pair_weights=pair_weights,
    )
    scorer = scorer_for(model)
    cases = {
        (3,): weights[3],
        (0, 3): weights[0] + weights[3],  # no listed pair
        (0, 1): weights[0] + weights[1] + pair_weights[0],
        (0, 1, 2, 4): weights[[0, 1, 2, 4]].sum(0) + pair_weights.sum(0),
    }
    for pairs_owned, expected in cases.items():
        got = scores_of(scorer, None, np.array(pairs_owned))
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    owned_sets = [np.array(o) for o in cases]
    counts = [len(o) for o in owned_sets]
    block = ClientBlock(
        tuple("abcd"),
        np.full(4, -1, dtype=np.int64),
        np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        np.concatenate(owned_sets).astype(np.int64),
        {},
    )
    together = scorer.score(block).scores
    for row, owned in enumerate(owned_sets):
        np.testing.assert_array_equal(together[row], scores_of(scorer, None, owned))
    plain = scorer_for(_bundle(rules_dataset, mode="item_item", item_item=weights))
    np.testing.assert_array_equal(scores_of(plain, None, np.array([0, 1])), weights[0] + weights[1])


def test_similar_items_by_cosine_excludes_the_item(rules_dataset: Dataset, tmp_path: Path) -> None:
    item_factors = np.array(
        [[1, 0, 9], [2, 0.1, -9], [0, 1, 0], [-1, 0, 0], [1, 1, 0], [0, 0, 0]], dtype=np.float32
    )
    model = _bundle(rules_dataset, item_factors=item_factors)
    model.save(tmp_path)
    index, scores = scorer_for(ServableModel.load(tmp_path)).similar_items(0, k=3)
    # the bias column (last) is ignored: item 1 points the same way as item 0
    assert index.tolist() == [1, 4, 2]
    np.testing.assert_allclose(scores, [np.cos(np.arctan(0.05)), np.sqrt(0.5), 0.0], atol=1e-6)
    with pytest.raises(IndexError):
        scorer_for(model).similar_items(N_ITEMS)


def test_similar_items_item_item_uses_the_items_row(rules_dataset: Dataset) -> None:
    weights = np.zeros((N_ITEMS, N_ITEMS), dtype=np.float32)
    weights[2] = [5, 1, 0, 3, 0, 0]
    model = _bundle(rules_dataset, mode="item_item", item_item=weights)
    index, scores = scorer_for(model).similar_items(2, k=2)
    assert index.tolist() == [0, 3]
    assert scores.tolist() == [5.0, 3.0]


def test_a_block_scores_each_client_as_it_would_alone(factors: ServableModel) -> None:
    """Known, folded-in, feature-only and unknown clients in one block: row == alone."""
    scorer = scorer_for(factors)
    owned = [np.array([0]), np.array([2, 3]), np.array([], dtype=np.int64), np.array([1])]
    profiles = [{}, {}, {"segment": "B2B"}, {"industry": "nowhere"}]
    index = [0, 1, -1, -1]
    counts = [len(o) for o in owned]
    block = ClientBlock(
        ("a", "b", "c", "d"),
        np.array(index, dtype=np.int64),
        np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        np.concatenate(owned).astype(np.int64),
        {
            "segment": [p.get("segment") for p in profiles],
            "industry": [p.get("industry") for p in profiles],
        },
    )
    together = scorer.score(block)
    for row in range(4):
        alone = scorer.score(block.slice(row, row + 1))
        np.testing.assert_array_equal(together.scores[row], alone.scores[0])
        assert together.sources[row] == alone.sources[0]
