"""Splits: no leakage, cutoffs respected, proportions, determinism, cold clients."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recommender.dataset import Dataset
from recommender.evaluation.splits import (
    cold_client_split,
    evaluated_clients,
    leave_last_out,
    relevance,
    split_dataset,
    stratified_split,
    time_split,
)


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    """40 clients, 30 items, random events over a year, some pairs repeated (renewals)."""
    rng = np.random.default_rng(1)
    rows = []
    start = pd.Timestamp("2023-01-01", tz="UTC")
    for c in range(40):
        items = rng.choice(30, size=rng.integers(2, 15), replace=False)
        for item in items:
            ts = start + pd.Timedelta(days=int(rng.integers(0, 365)))
            rows.append((f"c{c}", f"i{item}", "purchase", ts))
            if rng.random() < 0.2:
                rows.append((f"c{c}", f"i{item}", "renewal", ts + pd.Timedelta(days=30)))
    events = pd.DataFrame(rows, columns=["client_id", "item_id", "event_type", "timestamp"])
    clients = pd.DataFrame(
        {"client_id": [f"c{c}" for c in range(45)], "industry": ["a", "b", "c"] * 15}
    )
    return Dataset.from_frames(events, clients)


def pairs(ds: Dataset) -> set[tuple[int, int]]:
    return set(zip(ds.events["client_idx"], ds.events["item_idx"], strict=True))


def test_all_splits_share_id_maps_and_keep_every_event(dataset: Dataset) -> None:
    for name in ("time", "leave_last", "stratified", "cold"):
        train, test = split_dataset(dataset, name, seed=3)
        assert train.client_ids is dataset.client_ids
        assert test.item_ids is dataset.item_ids
        assert train.interactions.shape == dataset.interactions.shape
        if name != "time":  # the time split drops test events of unknown clients
            assert len(train.events) + len(test.events) == len(dataset.events)


def test_unknown_split_name(dataset: Dataset) -> None:
    with pytest.raises(ValueError, match="unknown split"):
        split_dataset(dataset, "random")


def test_time_split_respects_cutoff(dataset: Dataset) -> None:
    cutoff = pd.Timestamp("2023-09-01", tz="UTC")
    train, test = time_split(dataset, cutoff=cutoff)
    assert (pd.to_datetime(train.events["timestamp"]) < cutoff).all()
    assert (pd.to_datetime(test.events["timestamp"]) >= cutoff).all()
    assert set(test.events["client_idx"]) <= set(train.events["client_idx"])
    _, everyone = time_split(dataset, cutoff=cutoff, known_clients_only=False)
    assert len(everyone.events) >= len(test.events)


def test_time_split_quantile(dataset: Dataset) -> None:
    train, _ = time_split(dataset, quantile=0.5, known_clients_only=False)
    assert len(train.events) / len(dataset.events) == pytest.approx(0.5, abs=0.05)


def test_leave_last_out_holds_the_latest_item(dataset: Dataset) -> None:
    train, test = leave_last_out(dataset)
    assert not pairs(train) & pairs(test)
    held = test.events.groupby("client_idx")["item_idx"].nunique()
    assert (held == 1).all()
    for client, group in test.events.groupby("client_idx"):
        latest = dataset.events.loc[dataset.events["client_idx"] == client, "timestamp"].max()
        assert group["timestamp"].max() == latest


def test_stratified_split_proportions_and_determinism(dataset: Dataset) -> None:
    train, test = stratified_split(dataset, ratio=0.75, seed=42)
    assert not pairs(train) & pairs(test)
    for client in np.unique(dataset.events["client_idx"]):
        n = len({p for p in pairs(dataset) if p[0] == client})
        n_train = len({p for p in pairs(train) if p[0] == client})
        assert n_train == int(np.floor(0.75 * n + 1e-9))  # rank / count <= 0.75
    again, _ = stratified_split(dataset, ratio=0.75, seed=42)
    assert pairs(again) == pairs(train)
    other, _ = stratified_split(dataset, ratio=0.75, seed=7)
    assert pairs(other) != pairs(train)


def test_stratified_matches_microsoft_recommenders_procedure() -> None:
    """One row per pair: the split equals python_stratified_split's, re-run here by hand."""
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {"client_id": rng.integers(0, 8, 200).astype(str), "item_id": rng.integers(0, 60, 200)}
    ).drop_duplicates(["client_id", "item_id"])
    frame["item_id"] = frame["item_id"].astype(str)
    ds = Dataset.from_frames(frame.reset_index(drop=True))
    train, _ = stratified_split(ds, seed=42)
    expected = frame.reset_index(drop=True)
    np.random.seed(42)  # noqa: NPY002
    expected["random"] = np.random.rand(len(expected))  # noqa: NPY002
    expected = expected.sort_values(["client_id", "random"])
    groups = expected.groupby("client_id")
    expected["rank"] = (groups.cumcount() + 1) / groups["client_id"].transform("count")
    kept = expected[expected["rank"] <= 0.75]
    assert set(zip(train.events["client_id"], train.events["item_id"], strict=True)) == set(
        zip(kept["client_id"], kept["item_id"], strict=True)
    )


def test_cold_split_holds_clients_out_entirely(dataset: Dataset) -> None:
    train, test = cold_client_split(dataset, fraction=0.25, seed=1)
    cold = set(test.events["client_idx"])
    assert len(cold) == 10
    assert not cold & set(train.events["client_idx"])
    assert train.interactions[sorted(cold)].nnz == 0
    again, _ = cold_client_split(dataset, fraction=0.25, seed=1)
    assert set(again.events["client_idx"]) == set(train.events["client_idx"])


def test_relevance_removes_seen_items(dataset: Dataset) -> None:
    train, test = time_split(dataset, cutoff=pd.Timestamp("2023-07-01", tz="UTC"))
    truth = relevance(train, test)
    seen = train.interactions.toarray() > 0
    assert not (truth.toarray() & seen).any()
    # A renewal in test of a pair bought in train is not relevant; a fresh test pair is.
    fresh = pairs(test) - pairs(train)
    assert {(int(r), int(c)) for r, c in zip(*truth.nonzero(), strict=True)} == fresh
    clients = evaluated_clients(truth)
    assert set(clients) == {c for c, _ in fresh}
