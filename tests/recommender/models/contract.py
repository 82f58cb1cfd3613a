"""The contract every model passes, on a tiny checkerboard-like data set.

Two client groups each use one half of the catalog: group A (healthcare, B2B) the ``a*``
offers, group B (education, B2G) the ``b*`` offers. ``b4`` is B2G-only and ``bx`` is a B2B
client of group B, so an eligibility leak shows. A model joins by a three-line subclass::

    class TestALS(ModelContract):
        model_name = "als"
        config = {"factors": 8}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from recommender.cousage import co_usage_arrays
from recommender.dataset import Dataset
from recommender.models import NotFittedError, Recommender, build_model
from recommender.ranking import ClientBlock, RankingModel, RankingPolicy
from recommender.servable import ServableModel

HALF_A = [f"a{i}" for i in range(5)]
HALF_B = [f"b{i}" for i in range(5)]


def checkerboard_dataset(
    clients_per_group: int = 16, per_client: int = 3, seed: int = 0
) -> Dataset:
    """Each client owns ``per_client`` random offers of its group's half (seeded)."""
    rng = np.random.default_rng(seed)
    items = pd.DataFrame(
        {
            "item_id": HALF_A + HALF_B,
            "kind": ["course", "addon"] * 5,
            "vendor": ["integrator"] * 5 + ["partner"] * 5,
            "tags": [["health"]] * 5 + [["school"]] * 5,
            "eligibility": ["both"] * 9 + ["B2G"],
        }
    )
    rows: list[dict[str, str]] = []
    events: list[tuple[str, str]] = []
    for group, half, industry, segment in (
        ("A", HALF_A, "healthcare", "B2B"),
        ("B", HALF_B, "education", "B2G"),
    ):
        for n in range(clients_per_group):
            client = f"{group}{n}"
            rows.append({"client_id": client, "industry": industry, "segment": segment})
            for item in rng.choice(half, size=per_client, replace=False):
                events.append((client, str(item)))
    rows.append({"client_id": "bx", "industry": "education", "segment": "B2B"})
    events.extend(("bx", item) for item in ("b0", "b1", "b2"))
    frame = pd.DataFrame(events, columns=["client_id", "item_id"])
    return Dataset.from_frames(frame, pd.DataFrame(rows), items)


def group_half(dataset: Dataset, client: int) -> set[int]:
    """Internal indices of the half of the catalog the client's group uses."""
    half = HALF_A if str(dataset.client_ids.external[client]).startswith("A") else HALF_B
    return set(dataset.item_ids.to_internal_many(half).tolist())


def candidates(dataset: Dataset, client: int) -> set[int]:
    """Offers the client may get: not owned, and eligible for its segment."""
    owned = set(dataset.interactions[client].indices.tolist())
    allowed = set(range(dataset.n_items)) - owned
    if dataset.clients["segment"].iat[client] == "B2B":
        allowed.discard(dataset.item_ids.to_internal("b4"))
    return allowed


class ModelContract:
    """Base test class; subclasses set ``model_name`` and a small, fast ``config``."""

    model_name: ClassVar[str]
    config: ClassVar[dict[str, Any]] = {}
    #: Personalized models must recommend from the client's own half of the catalog.
    personalized: ClassVar[bool] = True

    def make_model(self) -> Recommender:
        return build_model(self.model_name, dict(self.config))

    @pytest.fixture(scope="class")
    @classmethod
    def dataset(cls) -> Dataset:
        return checkerboard_dataset()

    @pytest.fixture(scope="class")
    @classmethod
    def fitted(cls, dataset: Dataset) -> Recommender:
        return build_model(cls.model_name, dict(cls.config)).fit(dataset)

    def test_recommends_only_unseen_eligible_items(
        self, fitted: Recommender, dataset: Dataset
    ) -> None:
        clients = np.arange(dataset.n_clients)
        recs = fitted.recommend(dataset, clients, k=dataset.n_items)
        assert recs.dtype == np.int64
        assert recs.shape == (dataset.n_clients, dataset.n_items)
        for client, row in zip(clients, recs, strict=True):
            valid = row[row >= 0]
            assert (row[len(valid) :] == -1).all(), "padding must come last"
            assert len(set(valid.tolist())) == len(valid)
            assert set(valid.tolist()) == candidates(dataset, int(client))

    def test_recommends_from_own_group(self, fitted: Recommender, dataset: Dataset) -> None:
        if not self.personalized:
            pytest.skip("not a personalized model")
        recs = fitted.recommend(dataset, np.arange(dataset.n_clients), k=2)
        hits = 0
        for client, row in enumerate(recs):
            own = group_half(dataset, client) & candidates(dataset, client)
            top = row[: min(2, len(own))]
            hits += set(top.tolist()) <= own
        assert hits >= 0.9 * dataset.n_clients

    def test_export_save_load_gives_identical_rankings(
        self, fitted: Recommender, dataset: Dataset, tmp_path: Path
    ) -> None:
        fitted.export().save(tmp_path / "bundle")
        loaded = ServableModel.load(tmp_path / "bundle")
        clients = np.arange(dataset.n_clients)
        policy = RankingPolicy(5)
        served = policy.rank(RankingModel(loaded), ClientBlock.from_dataset(dataset, clients))
        np.testing.assert_array_equal(served.items, fitted.recommend(dataset, clients, k=5))

    def test_served_scores_equal_evaluated_scores(
        self, fitted: Recommender, dataset: Dataset
    ) -> None:
        """The cabinet's one-client path gives each client what evaluation scored for it."""
        model = fitted.ranking_model()
        clients = np.arange(dataset.n_clients)
        block = ClientBlock.from_dataset(dataset, clients)
        evaluated = model.scorer.score(block)
        for client in clients:
            owned = dataset.item_ids.to_external(dataset.interactions[client].indices)
            profile = dataset.clients.iloc[client].to_dict()
            one = model.client(str(dataset.client_ids.external[client]), list(owned), profile)
            served = model.scorer.score(one)
            np.testing.assert_array_equal(served.scores[0], evaluated.scores[client])
            assert served.sources[0] == evaluated.sources[client]

    def test_export_carries_ids_and_metadata(self, fitted: Recommender, dataset: Dataset) -> None:
        servable = fitted.export()
        assert list(servable.item_ids) == list(dataset.item_ids.external)
        assert list(servable.client_ids) == list(dataset.client_ids.external)
        assert servable.name == self.model_name
        assert servable.metadata["model"] == self.model_name
        assert servable.metadata["n_clients"] == dataset.n_clients
        assert servable.metadata["n_items"] == dataset.n_items
        assert servable.metadata["config"] == fitted.config.model_dump(mode="json")
        assert "all" in servable.segment_names

    def test_export_carries_the_reason_tables(
        self, fitted: Recommender, dataset: Dataset, tmp_path: Path
    ) -> None:
        """Reasons quote the same usage and co-usage counts whatever model serves."""
        servable = fitted.export()
        assert servable.usage is not None and servable.usage.shape == servable.popularity.shape
        assert servable.co_usage is not None
        loaded = ServableModel.load(servable.save(tmp_path / "bundle"))
        assert loaded.usage is not None and loaded.co_usage is not None
        np.testing.assert_array_equal(loaded.usage, servable.usage)
        expected = co_usage_arrays(dataset)
        for name in ("indptr", "partner", "count", "share", "lift"):
            np.testing.assert_array_equal(getattr(loaded.co_usage, name), getattr(expected, name))

    def test_fixed_seed_refit_is_identical(self, fitted: Recommender, dataset: Dataset) -> None:
        again = self.make_model().fit(dataset)
        clients = np.arange(dataset.n_clients)
        np.testing.assert_array_equal(
            again.recommend(dataset, clients, k=5), fitted.recommend(dataset, clients, k=5)
        )
        for name in ("client_factors", "item_factors", "item_item"):
            first, second = getattr(fitted.export(), name), getattr(again.export(), name)
            assert (first is None) == (second is None)
            if first is not None:
                np.testing.assert_array_equal(first, second)

    def test_build_model_round_trips_the_config(self, fitted: Recommender) -> None:
        rebuilt = build_model(self.model_name, fitted.config.model_dump())
        assert type(rebuilt) is type(fitted)
        assert rebuilt.config == fitted.config

    def test_export_before_fit_fails(self) -> None:
        with pytest.raises(NotFittedError):
            self.make_model().export()
