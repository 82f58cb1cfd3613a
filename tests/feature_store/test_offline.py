"""The Parquet offline store: atomic snapshots, the date-partitioned event log, load_dataset."""

from pathlib import Path

import pandas as pd
import pytest

from feature_store.errors import OfflineStoreEmptyError, OfflineStoreError, OfflineTableMissingError
from feature_store.offline import SNAPSHOTS_KEPT, OfflineStore
from recommender.feedback import FeedbackConfig
from recommender.schema import DataValidationError, validate_table


def tables(n_interactions: int = 3) -> dict[str, pd.DataFrame]:
    items = pd.DataFrame(
        {
            "item_id": ["i1", "i2", "i3"],
            "name": ["Basic", "Linux 1", "Backup"],
            "kind": ["tariff", "course", "addon"],
            "price": ["10", "20", "30"],
            "prerequisites": ["", "", "i1"],
            "tags": ["support", "linux;admin", ""],
        }
    )
    clients = pd.DataFrame(
        {"client_id": ["c1", "c2"], "industry": ["it", "energy"], "segment": ["B2B", "B2G"]}
    )
    interactions = pd.DataFrame(
        {
            "client_id": ["c1", "c2", "c2"][:n_interactions],
            "item_id": ["i1", "i2", "i3"][:n_interactions],
            "event_type": ["subscription_start", "enrolment", "purchase"][:n_interactions],
            "timestamp": ["2024-01-01", "2024-01-02", "2024-01-03T12:00:00+03:00"][:n_interactions],
        }
    )
    return {
        "items": validate_table(items, "items"),
        "clients": validate_table(clients, "clients"),
        "interactions": validate_table(interactions, "interactions"),
    }


def events(ids: list[str], days: list[str], event_type: str = "purchase") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_id": ids,
            "client_id": ["c1"] * len(ids),
            "item_id": ["i2"] * len(ids),
            "event_type": [event_type] * len(ids),
            "timestamp": days,
            "request_id": ["r"] * len(ids),
        }
    )


def test_empty_store_says_what_to_run(tmp_path: Path) -> None:
    store = OfflineStore(tmp_path)
    assert store.current_snapshot() is None
    assert store.tables() == ()
    with pytest.raises(
        OfflineStoreEmptyError, match=r"no data imported yet in .*recsys data import"
    ):
        store.read_table("items")
    with pytest.raises(ValueError, match="unknown table"):
        store.read_table("orders")


def test_round_trip_keeps_types_and_lists(tmp_path: Path) -> None:
    store = OfflineStore(tmp_path)
    written = tables()
    name = store.write_snapshot(written)
    assert store.current_snapshot() == name
    assert store.root == tmp_path / "offline"
    items = store.read_table("items")
    assert items["tags"].tolist() == [["support"], ["linux", "admin"], []]
    assert items["prerequisites"].tolist() == [[], [], ["i1"]]
    interactions = store.read_table("interactions")
    pd.testing.assert_frame_equal(interactions, written["interactions"])
    assert str(interactions["timestamp"].dt.tz) == "UTC"


def test_failed_write_leaves_previous_snapshot(tmp_path: Path) -> None:
    store = OfflineStore(tmp_path)
    first = store.write_snapshot(tables())
    broken = tables(n_interactions=2)
    # pyarrow cannot serialize arbitrary objects: the last table fails mid-snapshot.
    broken["interactions"] = broken["interactions"].assign(
        bad=pd.Series([object(), object()], dtype=object)
    )
    with pytest.raises(OfflineStoreError, match="current data is unchanged"):
        store.write_snapshot(broken)
    assert store.current_snapshot() == first
    assert len(store.read_table("interactions")) == 3
    leftovers = [p.name for p in (store.root / "snapshots").iterdir()]
    assert leftovers == [first]


def test_partial_write_keeps_other_tables_only_when_asked(tmp_path: Path) -> None:
    store = OfflineStore(tmp_path)
    store.write_snapshot(tables())
    new_clients = tables()["clients"].head(1)
    store.write_snapshot({"clients": new_clients}, replace=False)
    assert store.tables() == ("items", "clients", "interactions")
    assert len(store.read_table("clients")) == 1
    store.write_snapshot({"clients": new_clients})
    assert store.tables() == ("clients",)
    with pytest.raises(OfflineTableMissingError, match="no items table"):
        store.read_table("items")


def test_old_snapshots_are_pruned(tmp_path: Path) -> None:
    store = OfflineStore(tmp_path)
    names = [store.write_snapshot(tables()) for _ in range(SNAPSHOTS_KEPT + 2)]
    kept = sorted(p.name for p in (store.root / "snapshots").iterdir())
    assert kept == names[-SNAPSHOTS_KEPT:]


def test_events_are_partitioned_by_date_and_deduped(tmp_path: Path) -> None:
    store = OfflineStore(tmp_path)
    assert store.read_events().empty
    assert store.event_ids() == set()
    batch = events(["e1", "e2", "e3"], ["2024-02-01T10:00", "2024-02-01T23:00", "2024-02-02"])
    assert store.append_events(batch) == 3
    assert store.append_events(events(["e3"], ["2024-02-02"])) == 1  # a retried batch
    folders = sorted(p.name for p in (store.root / "events").iterdir())
    assert folders == ["date=2024-02-01", "date=2024-02-02"]
    files = list((store.root / "events").rglob("*"))
    assert not [f for f in files if f.name.endswith(".tmp")]
    assert store.event_ids() == {"e1", "e2", "e3"}
    assert store.read_events()["event_id"].tolist() == ["e1", "e2", "e3"]
    window = store.read_events(start="2024-02-01T12:00", end="2024-02-02")
    assert window["event_id"].tolist() == ["e2"]
    assert window["request_id"].tolist() == ["r"]


def test_bad_events_are_refused_whole(tmp_path: Path) -> None:
    store = OfflineStore(tmp_path)
    with pytest.raises(DataValidationError, match="events row 2, column 'timestamp'"):
        store.append_events(events(["e1", "e2"], ["2024-02-01", "soon"]))
    assert store.event_ids() == set()
    assert store.append_events(events([], [])) == 0


def test_load_dataset_adds_events_that_carry_feedback(tmp_path: Path) -> None:
    store = OfflineStore(tmp_path)
    store.write_snapshot(tables())
    store.append_events(events(["e1"], ["2024-03-01"], "purchase"))
    store.append_events(events(["e2"], ["2024-03-01"], "impression"))  # weight 0: left out
    dataset = store.load_dataset()
    assert dataset.n_clients == 2
    assert dataset.n_items == 3
    assert len(dataset.events) == 4
    c1, i2 = dataset.client_ids.to_internal("c1"), dataset.item_ids.to_internal("i2")
    assert dataset.interactions[c1, i2] == pytest.approx(4.0)
    assert dataset.item_features.matrix.shape[0] == 3
    assert len(store.load_dataset(include_events=False).events) == 3
    only_views = FeedbackConfig(weights={"view": 1.0})
    assert len(store.load_dataset(only_views).events) == 4  # owning events always count


def test_fingerprint_tracks_content(tmp_path: Path) -> None:
    store = OfflineStore(tmp_path)
    store.write_snapshot(tables())
    first = store.fingerprint()
    assert first["rows_interactions"] == 3
    assert first["rows_items"] == 3
    assert first["interactions_min_ts"].startswith("2024-01-01T00:00:00")
    assert first["interactions_max_ts"].startswith("2024-01-03T09:00:00")
    assert first["events_rows"] == 0
    store.write_snapshot(tables(n_interactions=2))
    second = store.fingerprint()
    assert second["offline_sha256"] != first["offline_sha256"]
    assert second["rows_interactions"] == 2


def test_load_dataset_merges_events_into_coded_columns(tmp_path: Path) -> None:
    store = OfflineStore(tmp_path)
    written = tables()
    written["interactions"]["event_id"] = ["s1", "s2", "s3"]
    store.write_snapshot(written)
    flushed = events(["e1", "s2"], ["2024-03-01", "2024-03-02"], "subscription_start")
    flushed["client_id"] = ["c3", "c2"]  # a client the snapshot lacks; s2 is already there
    flushed["item_id"] = ["i3", "i2"]
    store.append_events(flushed)
    dataset = store.load_dataset()
    assert len(dataset.events) == 4  # s2 counted once
    assert list(dataset.client_ids.external) == ["c1", "c2", "c3"]
    c3, i3 = dataset.client_ids.to_internal("c3"), dataset.item_ids.to_internal("i3")
    assert dataset.interactions[c3, i3] > 0
    column = dataset.events["client_id"]
    assert isinstance(column.dtype, pd.CategoricalDtype)
    assert list(column.astype(str)) == ["c1", "c2", "c2", "c3"]
