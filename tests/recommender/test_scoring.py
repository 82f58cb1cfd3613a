from pathlib import Path

import numpy as np
import pytest

from recommender.catalog import catalog_arrays, popularity_table
from recommender.dataset import Dataset
from recommender.scoring import Scorer
from recommender.servable import ServableModel

N_ITEMS = 6  # the rules_dataset catalog


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
    scores = Scorer(factors).scores(0, np.array([0]))
    assert scores.dtype == np.float32
    assert scores.shape == (N_ITEMS,)
    np.testing.assert_allclose(scores, factors.item_factors @ factors.client_factors[0], rtol=1e-6)


def test_fold_in_solves_the_confidence_weighted_ridge(factors: ServableModel) -> None:
    assert factors.item_factors is not None
    owned = np.array([2, 4])
    y = factors.item_factors[:, :-1].astype(np.float64)
    lhs = y.T @ y + 2.0 * y[owned].T @ y[owned] + 0.5 * np.eye(3)
    expected = np.append(np.linalg.solve(lhs, 3.0 * y[owned].sum(axis=0)), 1.0)
    scorer = Scorer(factors)
    # client 1 has an all-zero vector: unknown, so it is folded in like a new client
    for client in (None, 1, 99):
        np.testing.assert_allclose(
            scorer.scores(client, owned), factors.item_factors @ expected, rtol=1e-4, atol=1e-5
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
    scores = Scorer(no_fold_in).scores(
        None, np.array([1]), features=["industry=finance", "segment=B2B", "region=unknown"]
    )
    np.testing.assert_allclose(scores, factors.item_factors @ expected, rtol=1e-5, atol=1e-6)


def test_unknown_client_falls_back_to_mean_of_existing_popularity_rows(
    rules_dataset: Dataset,
) -> None:
    table, names = popularity_table(rules_dataset)
    model = _bundle(rules_dataset, item_factors=np.ones((N_ITEMS, 2), dtype=np.float32))
    scorer = Scorer(model)
    rows = ("industry=finance", "segment=B2B", "industry=nowhere", "all")
    expected = table[[names.index(r) for r in rows if r in names]].mean(axis=0)
    np.testing.assert_allclose(scorer.scores(None, np.array([]), ("x=y",), rows), expected)
    np.testing.assert_allclose(
        scorer.scores(None, np.array([]), segment_rows=("nowhere",)), table[0]
    )


def test_item_item_scores_the_owned_set_for_any_client(rules_dataset: Dataset) -> None:
    weights = np.arange(N_ITEMS * N_ITEMS, dtype=np.float32).reshape(N_ITEMS, N_ITEMS)
    model = _bundle(rules_dataset, mode="item_item", item_item=weights)
    scorer = Scorer(model)
    np.testing.assert_array_equal(scorer.scores(None, np.array([1, 3, 3])), weights[1] + weights[3])
    assert np.array_equal(scorer.scores(0, np.array([], dtype=np.int64)), model.popularity[0])


def test_similar_items_by_cosine_excludes_the_item(rules_dataset: Dataset, tmp_path: Path) -> None:
    item_factors = np.array(
        [[1, 0, 9], [2, 0.1, -9], [0, 1, 0], [-1, 0, 0], [1, 1, 0], [0, 0, 0]], dtype=np.float32
    )
    model = _bundle(rules_dataset, item_factors=item_factors)
    model.save(tmp_path)
    index, scores = Scorer(ServableModel.load(tmp_path)).similar_items(0, k=3)
    # the bias column (last) is ignored: item 1 points the same way as item 0
    assert index.tolist() == [1, 4, 2]
    np.testing.assert_allclose(scores, [np.cos(np.arctan(0.05)), np.sqrt(0.5), 0.0], atol=1e-6)
    with pytest.raises(IndexError):
        Scorer(model).similar_items(N_ITEMS)


def test_similar_items_item_item_uses_the_items_row(rules_dataset: Dataset) -> None:
    weights = np.zeros((N_ITEMS, N_ITEMS), dtype=np.float32)
    weights[2] = [5, 1, 0, 3, 0, 0]
    model = _bundle(rules_dataset, mode="item_item", item_item=weights)
    index, scores = Scorer(model).similar_items(2, k=2)
    assert index.tolist() == [0, 3]
    assert scores.tolist() == [5.0, 3.0]


def test_client_vectors_batch_matches_single_scoring(factors: ServableModel) -> None:
    assert factors.item_factors is not None
    scorer = Scorer(factors)
    owned = [np.array([0]), np.array([2, 3]), np.array([], dtype=np.int64), np.array([])]
    features = [(), (), ("segment=B2B",), ()]
    vectors, present = scorer.client_vectors_batch([0, 1, None, None], owned, features)
    assert present.tolist() == [True, True, True, False]
    assert not vectors[3].any()
    for row in range(3):
        np.testing.assert_allclose(
            factors.item_factors @ vectors[row],
            scorer.scores([0, 1, None][row], owned[row], features[row]),
            rtol=1e-5,
        )
