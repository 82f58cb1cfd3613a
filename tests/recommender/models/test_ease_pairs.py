"""Higher-order EASE: the closed form, the pair inputs, the choice on validation, serving."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recommender.dataset import Dataset
from recommender.models import ease as ease_module
from recommender.models.base import Recommender
from recommender.models.ease import EASEConfig, EASEModel, ease_weights
from recommender.models.ease_pairs import ease_pair_weights, pair_indicators, select_pairs
from recommender.ranking import ClientBlock
from recommender.servable import ServableModel
from tests.recommender.models.contract import ModelContract, checkerboard_dataset


def random_matrix(clients: int, items: int, density: float, seed: int) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    return sp.csr_matrix((rng.random((clients, items)) < density).astype(np.float64))


def direct_solution(
    matrix: sp.csr_matrix, pairs: np.ndarray, l2: float, pair_l2: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per target, the ridge over the allowed inputs solved by least squares (no closed form)."""
    x = matrix.toarray()
    n = x.shape[1]
    pair_columns = x[:, pairs[:, 0]] * x[:, pairs[:, 1]]
    features = np.hstack([x, pair_columns])
    reg = np.concatenate([np.full(n, l2), np.full(len(pairs), pair_l2)])
    weights = np.zeros((features.shape[1], n))
    for j in range(n):
        allowed = np.array(
            [i for i in range(n) if i != j]
            + [n + q for q, (a, b) in enumerate(pairs) if j not in (a, b)]
        )
        lhs = np.vstack([features[:, allowed], np.diag(np.sqrt(reg[allowed]))])
        rhs = np.concatenate([x[:, j], np.zeros(len(allowed))])
        weights[allowed, j] = np.linalg.lstsq(lhs, rhs, rcond=None)[0]
    return weights[:n], weights[n:]


@pytest.mark.parametrize("seed", [0, 1])
def test_closed_form_equals_the_constrained_ridge_per_target(seed: int) -> None:
    matrix = random_matrix(80, 7, 0.4, seed)
    fitted = ease_pair_weights(matrix, 3.0, 1.5, min_support=3)
    assert fitted.n_pairs > 5
    singles, pairs = direct_solution(matrix, fitted.pair_items, 3.0, 1.5)
    np.testing.assert_allclose(fitted.item_item, singles, atol=1e-5)
    np.testing.assert_allclose(fitted.pair_weights, pairs, atol=1e-5)
    assert np.all(np.diag(fitted.item_item) == 0)
    for q, (a, b) in enumerate(fitted.pair_items):
        assert fitted.pair_weights[q, a] == fitted.pair_weights[q, b] == 0


def test_without_pairs_it_is_plain_ease() -> None:
    matrix = random_matrix(50, 6, 0.3, 2)
    fitted = ease_pair_weights(matrix, 10.0, 1.0, min_support=10**6)
    assert fitted.n_pairs == 0
    np.testing.assert_allclose(fitted.item_item, ease_weights(matrix, 10.0), atol=1e-6)


def test_pairs_are_the_most_co_owned_above_the_support() -> None:
    x = np.zeros((10, 4))
    x[:6, [0, 1]] = 1  # (0, 1) co-owned by 6
    x[6:10, [2, 3]] = 1  # (2, 3) by 4
    x[:3, 2] = 1  # (0, 2), (1, 2) by 3
    matrix = sp.csr_matrix(x)
    np.testing.assert_array_equal(select_pairs(matrix, 3, 10), [[0, 1], [2, 3], [0, 2], [1, 2]])
    np.testing.assert_array_equal(select_pairs(matrix, 4, 10), [[0, 1], [2, 3]])
    np.testing.assert_array_equal(select_pairs(matrix, 3, 1), [[0, 1]])
    pairs = select_pairs(matrix, 3, 10)
    expected = x[:, pairs[:, 0]] * x[:, pairs[:, 1]]
    np.testing.assert_array_equal(pair_indicators(matrix, pairs).toarray(), expected)


def portfolio_frames(
    seed: int, with_structure: bool, per_group: int = 90, held: int = 30
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, list[tuple[str, str]]]:
    """Offers a..h. With structure: clients owning a and b own c, a alone or b alone own d;
    ``held`` clients of each kind lack their c / d (the answer to find). Without: every client
    owns each offer independently. e..h are noise owned at random either way."""
    rng = np.random.default_rng(seed)
    names = list("abcdefgh")
    events: list[tuple[str, str]] = []
    held_out: list[tuple[str, str]] = []
    groups = (("ab", "c"), ("a", "d"), ("b", "d"))
    client = 0
    for owned, target in groups:
        for n in range(per_group + held):
            cid = f"c{client}"
            client += 1
            if with_structure:
                basket = set(owned) | {target}
            else:
                basket = {i for i in "abcd" if rng.random() < 0.5}
            basket |= {i for i in "efgh" if rng.random() < 0.15}
            if with_structure and n < held:
                basket.discard(target)
                held_out.append((cid, target))
            events.extend((cid, item) for item in sorted(basket))
    interactions = pd.DataFrame(events, columns=["client_id", "item_id"])
    ids = sorted(set(interactions["client_id"]))
    clients = pd.DataFrame({"client_id": ids, "segment": "B2B", "industry": "retail"})
    items = pd.DataFrame({"item_id": names, "kind": "addon"})
    return interactions, clients, items, held_out


def fit_ease(dataset: Dataset, **config: Any) -> EASEModel:
    return EASEModel(EASEConfig(**config)).fit(dataset)


def hit_rate_at_1(
    model_config: dict[str, Any], dataset: Dataset, held_out: list[tuple[str, str]]
) -> float:
    model = fit_ease(dataset, **model_config)
    rows = dataset.client_ids.to_internal_many([c for c, _ in held_out])
    top = model.recommend(dataset, rows, k=1)[:, 0]
    wanted = dataset.item_ids.to_internal_many([t for _, t in held_out])
    return float(np.mean(top == wanted))


def test_pairs_are_chosen_where_the_missing_offer_depends_on_a_pair() -> None:
    interactions, clients, items, held_out = portfolio_frames(0, with_structure=True)
    dataset = Dataset.from_frames(interactions, clients, items)
    model = fit_ease(dataset)
    assert model.config.pairs is True and model.config.pair_l2 is not None
    auto = model.export().metadata["auto_config"]
    assert auto["chosen"]["pairs"] is True
    table = auto["pairs_validation_ndcg_at_10"]
    best_plain = max(r["ndcg"] for r in table if not r["pairs"])
    assert max(r["ndcg"] for r in table if r["pairs"]) > best_plain
    servable = model.export()
    assert servable.pair_items is not None and len(servable.pair_items) > 0
    plain = {"l2": model.config.l2, "dropout": 0.0, "pairs": False, "low_rank": 0}
    with_pairs = hit_rate_at_1(model.config.model_dump(), dataset, held_out)
    assert with_pairs > hit_rate_at_1(plain, dataset, held_out)
    assert with_pairs > 0.9


def test_without_pair_structure_validation_leaves_pairs_off() -> None:
    interactions, clients, items, _ = portfolio_frames(1, with_structure=False)
    dataset = Dataset.from_frames(interactions, clients, items)
    model = fit_ease(dataset)
    assert model.config.pairs is False and model.config.pair_l2 is None
    assert model.auto_choice is not None
    table = model.auto_choice["pairs_validation_ndcg_at_10"]
    assert any(row["pairs"] for row in table)  # tried, and lost
    assert model.export().pair_items is None


def test_large_catalogues_do_not_try_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ease_module, "PAIRS_AUTO_MAX_ITEMS", 9)  # the checkerboard has 10
    model = fit_ease(checkerboard_dataset(clients_per_group=30))
    assert model.config.pairs is False
    assert "pairs_validation_ndcg_at_10" not in (model.auto_choice or {})
    assert model.export().pair_items is None


def test_given_pairs_choose_only_what_is_unset() -> None:
    dataset = checkerboard_dataset(clients_per_group=30)
    model = fit_ease(dataset, pairs=True, l2=5.0, min_pair_support=2)
    assert model.auto_choice is not None
    assert set(model.auto_choice["chosen"]) == {"pair_l2", "dropout"}
    assert model.config.pairs is True and model.config.l2 == 5.0


class TestEASEWithPairs(ModelContract):
    """The model contract (served scores equal evaluated ones, bundles round-trip) with pairs."""

    model_name = "ease"
    config: ClassVar = {"l2": 5.0, "pairs": True, "pair_l2": 5.0, "min_pair_support": 2}

    def test_export_carries_the_pairs(
        self, fitted: Recommender, dataset: Dataset, tmp_path: Path
    ) -> None:
        servable = fitted.export()
        assert servable.pair_items is not None and servable.pair_weights is not None
        assert servable.pair_items.dtype == np.int32 and servable.pair_items.shape[1] == 2
        assert servable.pair_weights.dtype == np.float32
        assert servable.pair_weights.shape == (len(servable.pair_items), dataset.n_items)
        assert servable.metadata["n_pairs"] == len(servable.pair_items)
        loaded = ServableModel.load(servable.save(tmp_path / "bundle"))
        assert loaded.pair_items is not None and loaded.pair_weights is not None
        np.testing.assert_array_equal(loaded.pair_items, servable.pair_items)
        np.testing.assert_array_equal(loaded.pair_weights, servable.pair_weights)

    def test_scores_are_the_dense_formula(self, fitted: Recommender, dataset: Dataset) -> None:
        servable = fitted.export()
        assert servable.pair_items is not None and servable.pair_weights is not None
        clients = np.arange(dataset.n_clients)
        scores = fitted.ranking_model().scorer.score(ClientBlock.from_dataset(dataset, clients))
        owned = (dataset.interactions > 0).astype(np.float64)
        pairs = pair_indicators(owned.tocsr(), servable.pair_items).toarray()
        expected = owned.toarray() @ servable.item_item + pairs @ servable.pair_weights
        np.testing.assert_allclose(scores.scores, expected, rtol=1e-5, atol=1e-6)
