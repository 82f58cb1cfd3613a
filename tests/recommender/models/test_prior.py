"""The popularity prior of factor models: in the bias column, scaled by the model's spread."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.models import build_model
from recommender.models.prior import (
    scaled_log_popularity,
    score_spread,
    with_popularity_prior,
)
from tests.recommender.models.contract import checkerboard_dataset


def test_log_popularity_counts_owners_and_scales_to_one() -> None:
    matrix = sp.csr_matrix(np.array([[1, 0, 2], [1, 0, 0], [1, 0, 0]], dtype=np.float32))
    np.testing.assert_allclose(scaled_log_popularity(matrix), np.log1p([3, 0, 1]) / np.log1p(3))
    assert not scaled_log_popularity(sp.csr_matrix((2, 3), dtype=np.float32)).any()


def test_weight_zero_leaves_the_factors_and_others_add_to_the_bias_only() -> None:
    clients = np.array([[1.0, 1.0], [0.0, 0.0], [-1.0, 1.0]], dtype=np.float32)
    items = np.array([[0.5, 0.0], [-0.5, 0.0], [0.0, 0.0]], dtype=np.float32)
    matrix = sp.csr_matrix(np.array([[1, 0, 0], [1, 1, 0], [1, 0, 0]], dtype=np.float32))
    assert with_popularity_prior(items, clients, matrix, 0.0) is items
    spread = score_spread(clients, items)  # of the two known clients only
    assert spread == pytest.approx(float(np.std(clients[[0, 2]] @ items.T)))
    out = with_popularity_prior(items, clients, matrix, 2.0)
    np.testing.assert_array_equal(out[:, :-1], items[:, :-1])
    np.testing.assert_allclose(out[:, -1], 2.0 * spread * scaled_log_popularity(matrix), rtol=1e-6)


@pytest.mark.parametrize("name", ["als", "bpr", "lightfm"])
def test_a_heavy_prior_ranks_by_popularity(name: str) -> None:
    dataset = checkerboard_dataset(clients_per_group=30, per_client=3)
    config = {"factors": 2} if name != "lightfm" else {"no_components": 2}
    base = build_model(name, {**config, "popularity_weight": 0.0}).fit(dataset)
    heavy = build_model(name, {**config, "popularity_weight": 1e4}).fit(dataset)
    owners = np.asarray((dataset.interactions > 0).sum(axis=0)).ravel()
    clients = np.arange(dataset.n_clients)
    top = heavy.recommend(dataset, clients, k=1)[:, 0]
    owned = dataset.interactions.toarray() > 0
    best_free = np.where(owned, -1, owners).max(axis=1)
    assert (owners[top] == best_free).all()  # the most owned offer the client lacks
    assert (base.recommend(dataset, clients, k=1)[:, 0] != top).any()
