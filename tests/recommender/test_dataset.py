import numpy as np
import pandas as pd
import pytest

from recommender.dataset import Dataset, IdMap
from recommender.feedback import FeedbackConfig


def _events() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "client_id": ["a", "a", "b", "b"],
            "item_id": ["x", "y", "x", "x"],
            "event_type": ["purchase", "view", "usage", "usage"],
            "timestamp": pd.to_datetime(
                ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"], utc=True
            ),
            "value": [1.0, 1.0, 1.0, 1.0],
        }
    )


def test_id_map_round_trip_and_unknown() -> None:
    ids = IdMap.from_values(["b", "a", "b", 3])
    assert list(ids.external) == ["b", "a", "3"]
    assert ids.to_internal("a") == 1
    assert list(ids.to_internal_many(["3", "zz"])) == [2, -1]
    with pytest.raises(KeyError, match="zz"):
        ids.to_internal("zz")
    assert ids.extend(["c", "a"]).to_internal("c") == 3


def test_weights_follow_feedback_config() -> None:
    ds = Dataset.from_frames(_events())
    a, b = ds.client_ids.to_internal("a"), ds.client_ids.to_internal("b")
    x, y = ds.item_ids.to_internal("x"), ds.item_ids.to_internal("y")
    dense = ds.interactions.toarray()
    assert dense[a, x] == pytest.approx(4.0)
    assert dense[a, y] == pytest.approx(0.25)
    assert dense[b, x] == pytest.approx(2.0)  # two usage events summed

    custom = FeedbackConfig(weights={"purchase": 1.0, "usage": 0.0}, min_weight=0.0)
    dense = Dataset.from_frames(_events(), feedback=custom).interactions.toarray()
    assert dense[b, x] == 0.0 and dense[a, y] == 0.0
    assert Dataset.from_frames(_events(), feedback=custom).interactions.nnz == 1


def test_catalog_items_without_interactions_get_ids_and_features() -> None:
    items = pd.DataFrame(
        {
            "item_id": ["x", "y", "z"],
            "kind": ["tariff", "course", "addon"],
            "tags": [["a"], [], ["a", "b"]],
        }
    )
    clients = pd.DataFrame({"client_id": ["a", "b", "c"], "industry": ["it", "finance", "it"]})
    ds = Dataset.from_frames(_events(), clients, items)
    assert ds.n_items == 3 and ds.n_clients == 3
    assert "z" in ds.item_ids
    names = ds.item_features.names
    z = ds.item_ids.to_internal("z")
    row = ds.item_features.matrix[z].toarray().ravel()
    assert {names[i] for i in np.flatnonzero(row)} == {"kind=addon", "tags=a", "tags=b"}
    c = ds.client_ids.to_internal("c")
    assert ds.clients.iloc[c]["industry"] == "it"


def test_dataset_is_immutable() -> None:
    ds = Dataset.from_frames(_events())
    with pytest.raises(ValueError, match="read-only"):
        ds.interactions.data[0] = 5.0
    with pytest.raises(AttributeError):
        ds.feedback = FeedbackConfig()  # type: ignore[misc]


def test_with_events_keeps_id_maps() -> None:
    ds = Dataset.from_frames(_events())
    first = ds.with_events(ds.events.iloc[:1])
    assert first.client_ids is ds.client_ids and first.item_ids is ds.item_ids
    assert first.interactions.shape == ds.interactions.shape
    assert first.interactions.nnz == 1


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="missing required column 'item_id'"):
        Dataset.from_frames(pd.DataFrame({"client_id": ["a"]}))
    known = IdMap.from_values(["a"])
    with pytest.raises(ValueError, match="client_id outside the id map"):
        Dataset.from_frames(_events(), client_ids=known)
    with pytest.raises(ValueError, match="duplicate item_id 'x'"):
        Dataset.from_frames(_events(), items=pd.DataFrame({"item_id": ["x", "x"]}))


def test_events_are_lean_and_coded_by_the_id_maps() -> None:
    frame = _events().assign(event_id=["e1", "e2", "e3", "e4"])
    ds = Dataset.from_frames(frame)
    events = ds.events
    assert "event_id" not in events
    assert events["client_idx"].dtype == np.int32 and events["item_idx"].dtype == np.int32
    for kind, ids in (("client", ds.client_ids), ("item", ds.item_ids)):
        column = events[f"{kind}_id"]
        assert isinstance(column.dtype, pd.CategoricalDtype)
        np.testing.assert_array_equal(column.cat.codes, events[f"{kind}_idx"])
        assert list(column.astype(str)) == list(frame[f"{kind}_id"])
        assert list(ids.to_internal_many(column)) == list(events[f"{kind}_idx"])
    assert list(events["event_type"].astype(str)) == list(frame["event_type"])


def test_with_events_shares_attributes_and_matches_a_rebuild() -> None:
    clients = pd.DataFrame({"client_id": ["a", "b", "c"], "industry": ["it", "finance", "it"]})
    ds = Dataset.from_frames(_events(), clients)
    part = ds.with_events(ds.events.iloc[2:])
    assert part.clients is ds.clients and part.client_features is ds.client_features
    rebuilt = Dataset.from_frames(
        _events().iloc[2:], clients, client_ids=ds.client_ids, item_ids=ds.item_ids
    )
    assert (part.interactions != rebuilt.interactions).nnz == 0
    assert part.client_features.names == rebuilt.client_features.names
    left, right = part.events, rebuilt.events
    assert list(left["event_type"].astype(str)) == list(right["event_type"].astype(str))
    pd.testing.assert_frame_equal(left.drop(columns="event_type"), right.drop(columns="event_type"))


def test_ids_coded_by_another_map_are_mapped_by_value() -> None:
    ds = Dataset.from_frames(_events())
    other = IdMap.from_values(["b", "zz", "a"])  # other numbering, one unknown id
    column = pd.Series(ds.client_ids.as_categorical(np.array([0, 1, 1])))
    assert list(other.to_internal_many(column)) == [2, 0, 0]
    assert list(other.to_internal_many(pd.Series(["zz", None, "a"]))) == [1, -1, 2]
    with pytest.raises(ValueError, match="outside the id map"):
        Dataset.from_frames(_events(), client_ids=IdMap.from_values(["a", "zz"]))
