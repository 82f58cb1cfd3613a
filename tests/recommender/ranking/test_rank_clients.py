"""``rank_clients``: the batch path for factors models equals the per-client (serving) path."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.dataset import Dataset
from recommender.models import base, build_model
from recommender.ranking import RankingRules
from recommender.scoring import Scorer
from tests.recommender.models.contract import checkerboard_dataset

RULES = [
    RankingRules(k=3),
    RankingRules(k=20),
    RankingRules(k=4, max_per_kind=1),
    RankingRules(k=5, kinds=frozenset({"addon"}), one_tariff_per_family=False),
]


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return checkerboard_dataset(clients_per_group=30, per_client=3, seed=1)


@pytest.mark.parametrize("name", ["popularity", "segment_popularity", "industry_popularity", "als"])
def test_batch_path_equals_the_per_client_path(
    name: str, dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = {"factors": 4, "iterations": 5} if name == "als" else {}
    scorer = Scorer(build_model(name, config).fit(dataset).export())
    clients = np.arange(dataset.n_clients)[::-1]  # any order, not only 0..n-1
    assert base._all_known_factors(scorer, clients), "the batch path must be the one tested"
    batch = [base.rank_clients(scorer, dataset, clients, rules) for rules in RULES]
    monkeypatch.setattr(base, "_all_known_factors", lambda *_: False)
    for rules, got in zip(RULES, batch, strict=True):
        want = base.rank_clients(scorer, dataset, clients, rules)
        assert got.dtype == want.dtype == np.int64
        np.testing.assert_array_equal(got, want)


def test_an_unknown_client_keeps_the_per_client_path(dataset: Dataset) -> None:
    servable = build_model("popularity").fit(dataset).export()
    assert servable.client_factors is not None
    servable.client_factors[0] = 0.0  # a client without training interactions
    scorer = Scorer(servable)
    assert not base._all_known_factors(scorer, np.array([0, 1]))
    assert base._all_known_factors(scorer, np.array([1, 2]))
    got = base.rank_clients(scorer, dataset, np.array([0, 1]), RankingRules(k=3))
    assert got.shape == (2, 3)
