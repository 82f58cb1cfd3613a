"""The split is chosen for the data: time when timestamps spread, else the snapshot split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recommender.dataset import Dataset
from recommender.evaluation.split_choice import NoUsableSplitError, auto_split
from recommender.evaluation.splits import evaluated_clients, relevance, snapshot_split


def portfolio(n_clients: int = 60, *, same_day: bool = True, seed: int = 0) -> Dataset:
    """Each client owns 1-4 of 12 offers; one date for everyone (a CRM snapshot) or spread."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(n_clients):
        for item in rng.choice(12, size=rng.integers(1, 5), replace=False):
            day = 0 if same_day else int(rng.integers(0, 365))
            rows.append(
                (f"c{c}", f"i{item}", pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(days=day))
            )
    return Dataset.from_frames(pd.DataFrame(rows, columns=["client_id", "item_id", "timestamp"]))


def test_a_snapshot_gets_the_snapshot_split_and_says_why() -> None:
    data = portfolio()
    train, test, choice = auto_split(data, seed=3)
    assert choice.name == "snapshot"
    assert "one moment" in choice.reason and "hidden" in choice.reason
    owned = np.diff(data.interactions.indptr)
    # one offer of each client with two or more is hidden, nobody else loses anything
    assert choice.n_test_clients == int((owned >= 2).sum()) > 0
    hidden = np.diff(relevance(train, test).indptr)
    assert set(hidden.tolist()) <= {0, 1}
    np.testing.assert_array_equal(hidden, (owned >= 2).astype(int))


def test_spread_timestamps_get_the_time_split() -> None:
    train, test, choice = auto_split(portfolio(200, same_day=False))
    assert choice.name == "time"
    assert "time split" in choice.reason
    assert train.events["timestamp"].max() <= test.events["timestamp"].min()


def test_events_dated_by_join_date_get_the_snapshot_split() -> None:
    """Each client's offers carry its own join date; a few clients bought again later: a time
    split would test those few, the snapshot split tests everyone with two offers."""
    rng = np.random.default_rng(0)
    rows = []
    for c in range(400):
        joined = pd.Timestamp("2015-01-01", tz="UTC") + pd.Timedelta(days=int(rng.integers(3000)))
        for item in rng.choice(12, size=rng.integers(1, 4), replace=False):
            rows.append((f"c{c}", f"i{item}", joined))
        if c < 8 and joined < pd.Timestamp("2020-01-01", tz="UTC"):  # bought again, late
            rows.append((f"c{c}", "i99", pd.Timestamp("2024-06-01", tz="UTC")))
    data = Dataset.from_frames(pd.DataFrame(rows, columns=["client_id", "item_id", "timestamp"]))
    _, _, choice = auto_split(data)
    assert choice.name == "snapshot"
    assert "the time split leaves" in choice.reason and "clients own two or more" in choice.reason
    assert choice.n_test_clients > 100


def test_the_snapshot_split_is_seeded() -> None:
    data = portfolio()
    first = relevance(*snapshot_split(data, seed=1))
    again = relevance(*snapshot_split(data, seed=1))
    other = relevance(*snapshot_split(data, seed=2))
    assert (first != again).nnz == 0
    assert (first != other).nnz > 0
    assert len(evaluated_clients(first)) == len(evaluated_clients(other))


def test_no_usable_split_names_what_is_missing() -> None:
    single = pd.DataFrame(
        {"client_id": ["a", "b", "c"], "item_id": ["x", "y", "x"], "timestamp": "2024-01-01"}
    )
    with pytest.raises(NoUsableSplitError, match="two or more offers") as error:
        auto_split(Dataset.from_frames(single))
    assert "timestamps" in str(error.value)
