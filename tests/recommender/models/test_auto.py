"""Unset capacity / regularisation are chosen on a validation split; given values are kept."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from recommender.models import build_model
from recommender.models.als import ALSModel
from recommender.models.auto import capped, max_factors
from recommender.models.prior import WEIGHTS
from tests.recommender.models.contract import checkerboard_dataset


def test_unset_fields_are_chosen_on_validation_and_recorded() -> None:
    dataset = checkerboard_dataset(clients_per_group=30, per_client=3)
    model = build_model("als", {"iterations": 5}).fit(dataset)
    auto = model.export().metadata["auto_config"]
    chosen = auto["chosen"]
    assert set(chosen) == {"factors", "regularization", "popularity_weight"}
    assert chosen["factors"] <= max_factors(dataset) == 2  # ten offers: no more than the data
    fields = ("factors", "regularization", "popularity_weight")
    assert tuple(getattr(model.config, f) for f in fields) == tuple(chosen[f] for f in fields)
    table = auto["validation_ndcg_at_10"]
    assert len(table) == 3 * len(WEIGHTS) and auto["validation_clients"] > 0
    best = next(r for r in table if r["ndcg"] == max(row["ndcg"] for row in table))
    assert all(best[f] == chosen[f] for f in fields)


def test_candidates_differing_in_scoring_fields_share_one_fit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fits: list[tuple[Any, ...]] = []
    fit = ALSModel._fit

    def counted(self: ALSModel, dataset: Any) -> None:
        fits.append((self.config.factors, self.config.regularization))
        fit(self, dataset)

    monkeypatch.setattr(ALSModel, "_fit", counted)
    dataset = checkerboard_dataset(clients_per_group=30, per_client=3)
    build_model("als", {"iterations": 5}).fit(dataset)
    # three regularizations on validation, once each whatever the prior's weight, then the fit
    assert len(fits) == 3 + 1 and len(set(fits[:3])) == 3


def test_given_fields_are_not_searched() -> None:
    dataset = checkerboard_dataset()
    given = {"l2": 50.0, "dropout": 0.0, "pairs": False, "low_rank": 0}
    model = build_model("ease", given).fit(dataset)
    assert "auto_config" not in model.export().metadata
    assert (model.config.l2, model.config.dropout) == (50.0, 0.0)


def test_the_choice_is_deterministic() -> None:
    dataset = checkerboard_dataset(clients_per_group=30)
    first = build_model("ease").fit(dataset)
    second = build_model("ease").fit(dataset)
    assert first.config == second.config
    np.testing.assert_array_equal(first.export().item_item, second.export().item_item)


def test_capped_keeps_what_fits() -> None:
    assert capped((16, 2, 8, 32), 5) == (2,)
    assert capped((16, 2, 8), 64) == (16, 2, 8)
    assert capped((16, 32), 3) == (3,)


def test_one_fit_makes_one_validation_split_for_all_its_choices(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import recommender.evaluation.splits as splits
    from recommender.models.auto import validation_split
    from recommender.models.base import Recommender

    dataset = checkerboard_dataset(clients_per_group=30)
    made: list[int] = []
    real = splits.snapshot_split

    def counted(data: Any, *, seed: int = 42) -> Any:
        made.append(data.interactions.nnz)
        return real(data, seed=seed)

    monkeypatch.setattr(splits, "snapshot_split", counted)
    model = build_model("ease").fit(dataset)  # l2 / dropout, then pairs and low rank
    assert made == [dataset.interactions.nnz]
    tables = [k for k in model.auto_choice or {} if k.endswith("validation_ndcg_at_10")]
    assert len(tables) >= 2  # the follow-up choices validated too, on that split
    assert model._split is None  # not kept after the fit

    made.clear()  # each choice making its own split chooses the same
    monkeypatch.setattr(
        Recommender, "validation_split", lambda self, data: validation_split(data, 42)
    )
    unshared = build_model("ease").fit(dataset)
    assert len(made) >= 2
    assert unshared.config == model.config and unshared.auto_choice == model.auto_choice
