"""Cold start: feature-only clients (LightFM, popularity fallback) and fold-in (ALS, EASE)."""

import numpy as np
import pandas as pd
import pytest

from recommender.dataset import Dataset
from recommender.models import build_model
from recommender.ranking import ClientBlock
from recommender.scoring import scorer_for
from tests.recommender.models.contract import HALF_A, HALF_B, checkerboard_dataset

LIGHTFM = {"no_components": 4, "epochs": 20}


def _with_new_clients(ds: Dataset) -> Dataset:
    """The checkerboard plus two clients known only by attributes (no interactions)."""
    new = pd.DataFrame(
        {
            "client_id": ["newA", "newB"],
            "industry": ["healthcare", "education"],
            "segment": ["B2B", "B2G"],
        }
    )
    clients = pd.concat([ds.clients.reset_index(), new], ignore_index=True)
    return Dataset.from_frames(ds.events[["client_id", "item_id"]], clients, ds.items.reset_index())


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return _with_new_clients(checkerboard_dataset())


def _half(ds: Dataset, half: list[str]) -> set[int]:
    return set(ds.item_ids.to_internal_many(half).tolist())


def _prospect(industry: str | None, segment: str | None = None) -> ClientBlock:
    """A client the model never saw, owning nothing, known by its attributes."""
    profile = {"industry": industry, "segment": segment}
    return ClientBlock.one(None, None, np.array([], dtype=np.int64), profile)


def test_lightfm_scores_a_feature_only_client_by_its_industry(dataset: Dataset) -> None:
    scorer = scorer_for(build_model("lightfm", LIGHTFM).fit(dataset).export())
    health = scorer.score(_prospect("healthcare")).scores[0]
    school = scorer.score(_prospect("education")).scores[0]
    assert set(np.argsort(-health)[:3].tolist()) <= _half(dataset, HALF_A)
    assert set(np.argsort(-school)[:3].tolist()) <= _half(dataset, HALF_B)


def test_lightfm_recommends_to_untrained_dataset_clients_from_features(dataset: Dataset) -> None:
    model = build_model("lightfm", LIGHTFM).fit(dataset)
    new = dataset.client_ids.to_internal_many(["newA", "newB"])
    recs = model.recommend(dataset, new, k=3)
    assert set(recs[0].tolist()) <= _half(dataset, HALF_A)
    assert set(recs[1].tolist()) <= _half(dataset, HALF_B)


def test_lightfm_without_features_falls_back_to_segment_popularity(dataset: Dataset) -> None:
    config = {**LIGHTFM, "use_client_features": False}
    servable = build_model("lightfm", config).fit(dataset).export()
    assert servable.client_feature_factors is None
    scores = scorer_for(servable).score(_prospect(None, "B2G")).scores[0]
    rows = [servable.segment_names.index(r) for r in ("segment=B2G", "all")]
    np.testing.assert_allclose(scores, servable.popularity[rows].mean(axis=0), rtol=1e-6)


def _grouped_events(n_clients: int = 240, n_groups: int = 4, per_group: int = 20) -> pd.DataFrame:
    """Clients of a group own Zipf-popular offers of their group's block, plus a stray one."""
    rng = np.random.default_rng(7)
    weights = 1.0 / np.arange(1, per_group + 1)
    rows: list[tuple[str, str]] = []
    for client in range(n_clients):
        group = client % n_groups
        block = group * per_group + rng.choice(
            per_group, 6, replace=False, p=weights / weights.sum()
        )
        stray = rng.integers(n_groups * per_group)
        rows.extend((f"c{client}", f"i{item}") for item in {*block.tolist(), int(stray)})
    return pd.DataFrame(rows, columns=["client_id", "item_id"])


@pytest.mark.parametrize(
    ("name", "config"),
    [("als", {"factors": 8, "iterations": 10, "regularization": 1.0}), ("ease", {"l2": 10.0})],
)
def test_unseen_client_with_a_few_items_gets_fold_in_close_to_training_on_it(
    name: str, config: dict
) -> None:
    full = Dataset.from_frames(_grouped_events())
    held_out = np.arange(0, full.n_clients, 12)
    held_ids = set(full.client_ids.to_external(held_out).tolist())
    cold = full.with_events(full.events[~full.events["client_id"].isin(held_ids)])
    assert cold.interactions[held_out].nnz == 0

    trained = build_model(name, config).fit(full).recommend(full, held_out, k=10)
    # the model never saw the held-out clients; their owned items come from ``full``
    folded = build_model(name, config).fit(cold).recommend(full, held_out, k=10)
    overlap = np.mean([len(set(a) & set(b)) for a, b in zip(trained, folded, strict=True)])
    chance = 10 * 10 / (full.n_items - 7)
    assert overlap >= 6 > 4 * chance
