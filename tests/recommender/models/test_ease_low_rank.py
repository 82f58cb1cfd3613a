"""EASE's low-rank part: the projection, its scale, the choice on validation, serving."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from pydantic import ValidationError

from recommender.dataset import Dataset
from recommender.models import ease as ease_module
from recommender.models.base import Recommender
from recommender.models.ease import EASEConfig, EASEModel, ease_from_gram, gram_matrix
from recommender.models.ease_low_rank import low_rank_weights, relative_scale
from recommender.ranking import ClientBlock
from tests.recommender.models.contract import ModelContract


def random_matrix(clients: int, items: int, density: float, seed: int) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    return sp.csr_matrix((rng.random((clients, items)) < density).astype(np.float64))


def group_dataset(seed: int, clients_per_group: int = 60) -> Dataset:
    """8 groups of 12 offers; each client owns 3 of its group's: pairs are seldom co-owned,
    the groups are a rank-8 structure."""
    rng = np.random.default_rng(seed)
    events = [
        (f"c{g}_{c}", f"i{i}")
        for g in range(8)
        for c in range(clients_per_group)
        for i in rng.choice(np.arange(12 * g, 12 * g + 12), 3, replace=False)
    ]
    return Dataset.from_frames(pd.DataFrame(events, columns=["client_id", "item_id"]))


def test_the_projection_is_the_scaled_singular_vectors() -> None:
    matrix = random_matrix(80, 12, 0.3, seed=0)
    gram = gram_matrix(matrix)
    scaling = 0.25
    scale = (np.asarray(matrix.sum(axis=0)).ravel() + 1.0) ** -scaling
    _, _, vt = np.linalg.svd(matrix.toarray() * scale, full_matrices=False)
    expected = (scale[:, None] * vt[:4].T) @ vt[:4]
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(low_rank_weights(gram, 4, scaling), expected, atol=1e-10)


def test_rank_is_capped_below_the_catalogue() -> None:
    gram = gram_matrix(random_matrix(40, 5, 0.4, seed=1))
    np.testing.assert_array_equal(low_rank_weights(gram, 50, 0.25), low_rank_weights(gram, 4, 0.25))
    assert not low_rank_weights(gram_matrix(random_matrix(10, 1, 0.5, seed=2)), 3, 0.25).any()


def test_scale_is_the_ratio_of_score_sizes() -> None:
    matrix = random_matrix(60, 10, 0.3, seed=3)
    gram = gram_matrix(matrix)
    ease = ease_from_gram(gram, 5.0)
    part = low_rank_weights(gram, 3, 0.25)
    x = matrix.toarray()
    rms = [np.sqrt(np.mean((x @ w) ** 2)) for w in (ease, part)]
    assert relative_scale(gram, ease, part) == pytest.approx(rms[0] / rms[1])
    assert relative_scale(gram, ease, np.zeros_like(part)) == 0.0


def test_ease_from_gram_leaves_the_gram_as_it_was() -> None:
    gram = gram_matrix(random_matrix(30, 6, 0.4, seed=4))
    before = gram.copy()
    ease_from_gram(gram, 3.0, 0.5)
    np.testing.assert_array_equal(gram, before)


def test_client_weighting_scales_each_clients_row() -> None:
    matrix = random_matrix(50, 8, 0.35, seed=5)
    x = matrix.toarray()
    weight = (x.sum(axis=1) + 1.0) ** -0.75
    np.testing.assert_allclose(gram_matrix(matrix, True, 0.75), x.T @ (x * weight[:, None]))
    np.testing.assert_allclose(gram_matrix(matrix), x.T @ x)


def test_served_weights_are_ease_plus_the_scaled_part() -> None:
    dataset = group_dataset(0)
    model = EASEModel(
        EASEConfig(l2=50.0, dropout=0.0, low_rank=8, low_rank_weight=0.5, low_rank_scaling=0.25)
    ).fit(dataset)
    gram = gram_matrix(dataset.interactions)
    ease = ease_from_gram(gram, 50.0)
    part = low_rank_weights(gram, 8, 0.25)
    expected = ease + 0.5 * relative_scale(gram, ease, part) * part
    served = model.export().item_item
    assert served is not None
    np.testing.assert_allclose(served, expected, rtol=1e-4, atol=1e-6)
    # the weight is a scoring field: a new weight re-sums the same parts, no refit
    twice = model.rescored({"low_rank_weight": 1.0}).export().item_item
    assert twice is not None
    np.testing.assert_allclose(twice - served, served - ease, rtol=1e-3, atol=1e-5)


def test_validation_keeps_the_part_where_groups_are_low_rank() -> None:
    dataset = group_dataset(0)
    model = EASEModel(EASEConfig()).fit(dataset)
    assert model.config.low_rank and model.config.low_rank_weight is not None
    auto = model.export().metadata["auto_config"]
    table = auto["low_rank_validation_ndcg_at_10"]
    plain = max(r["ndcg"] for r in table if r["low_rank"] == 0)
    assert max(r["ndcg"] for r in table if r["low_rank"]) > plain * 1.05
    assert auto["chosen"]["low_rank"] == model.config.low_rank
    # ranks above a quarter of the 96 offers are not tried
    assert max(r["low_rank"] for r in table) <= 24


def test_a_gain_below_the_threshold_leaves_the_part_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ease_module, "LOW_RANK_MIN_GAIN", 10.0)
    model = EASEModel(EASEConfig()).fit(group_dataset(0))
    assert model.config.low_rank == 0
    assert model.auto_choice is not None
    assert any(r["low_rank"] for r in model.auto_choice["low_rank_validation_ndcg_at_10"])
    served = model.export().item_item
    assert served is not None
    gram = gram_matrix(group_dataset(0).interactions)
    assert model.config.l2 is not None and model.config.dropout is not None
    expected = ease_from_gram(gram, model.config.l2, model.config.dropout)
    np.testing.assert_allclose(served, expected, rtol=1e-4, atol=1e-6)


def test_given_low_rank_is_not_chosen_again() -> None:
    model = EASEModel(EASEConfig(l2=50.0, dropout=0.0, low_rank=4)).fit(group_dataset(1))
    assert model.config.low_rank == 4
    assert model.auto_choice is not None
    assert set(model.auto_choice["chosen"]) == {"low_rank_weight"}


def test_pairs_and_low_rank_do_not_combine() -> None:
    with pytest.raises(ValidationError, match="pairs cannot be combined"):
        EASEConfig(pairs=True, low_rank=4)


class TestEASEWithLowRank(ModelContract):
    """The model contract (served scores equal evaluated ones, bundles round-trip)."""

    model_name = "ease"
    config: ClassVar = {"l2": 5.0, "dropout": 0.0, "low_rank": 2, "low_rank_weight": 0.5}

    def test_scores_are_the_owned_rows_summed(self, fitted: Recommender, dataset: Dataset) -> None:
        clients = np.arange(dataset.n_clients)
        scores = fitted.ranking_model().scorer.score(ClientBlock.from_dataset(dataset, clients))
        served = fitted.export().item_item
        assert served is not None
        owned = (dataset.interactions > 0).astype(np.float64).toarray()
        np.testing.assert_allclose(scores.scores, owned @ served, rtol=1e-4, atol=1e-5)
