"""Who uses an offer: owners count, viewers and clickers do not; data without ownership."""

import numpy as np
import pandas as pd

from recommender.catalog import popularity_table, usage_table
from recommender.dataset import Dataset
from recommender.usage import usage_matrix


def _dataset(rows: list[tuple[str, str, str]]) -> Dataset:
    events = pd.DataFrame(rows, columns=["client_id", "item_id", "event_type"])
    events["timestamp"] = pd.date_range("2024-01-01", periods=len(events), freq="D", tz="UTC")
    clients = pd.DataFrame(
        {
            "client_id": ["buyer", "viewer", "clicker", "quitter"],
            "industry": ["healthcare", "healthcare", "finance", "finance"],
        }
    )
    return Dataset.from_frames(events, clients)


def test_only_owners_use_an_offer() -> None:
    ds = _dataset(
        [
            ("buyer", "backup", "purchase"),
            ("viewer", "backup", "view"),
            ("clicker", "backup", "click"),
            ("quitter", "backup", "subscription_start"),
            ("quitter", "backup", "cancellation"),
            ("quitter", "licences", "purchase"),
        ]
    )
    backup = ds.item_ids.to_internal("backup")
    used = usage_matrix(ds).toarray()
    assert used[:, backup].tolist() == [1, 0, 0, 0]

    usage, names = usage_table(ds, ("industry",))
    popularity, popularity_names = popularity_table(ds, ("industry",))
    assert names == popularity_names == ("all", "industry=finance", "industry=healthcare")
    # the viewer and the clicker interacted (so the scores count them) but do not use it
    assert popularity[names.index("industry=healthcare"), backup] == 1.0
    assert usage[names.index("industry=healthcare"), backup] == 0.5
    assert usage[names.index("industry=finance"), backup] == 0.0
    assert usage[0, backup] == 0.25


def test_data_without_ownership_counts_usage_events() -> None:
    # MovieLens: every rating is a usage event, so use is exactly the interactions
    ds = _dataset([("buyer", "m1", "usage"), ("viewer", "m1", "usage"), ("clicker", "m2", "usage")])
    usage, _ = usage_table(ds, ())
    popularity, _ = popularity_table(ds, ())
    np.testing.assert_array_equal(usage, popularity)
    np.testing.assert_allclose(usage[0], [0.5, 0.25])


def test_data_with_only_views_has_no_users() -> None:
    ds = _dataset([("buyer", "m1", "view"), ("viewer", "m2", "click")])
    usage, _ = usage_table(ds)
    assert usage.shape == (3, 2) and not usage.any()
    assert usage_matrix(ds).nnz == 0
