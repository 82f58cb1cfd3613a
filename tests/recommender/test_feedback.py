import numpy as np
import pandas as pd
import pytest

from recommender.feedback import FeedbackConfig, event_weights, owned_pairs, type_mask


def test_owned_pairs_replays_cancellations_in_time_order() -> None:
    events = pd.DataFrame(
        {
            "client_id": ["a", "a", "a", "b", "b"],
            "item_id": ["t1", "t1", "c1", "t1", "v"],
            "event_type": [
                "subscription_start",
                "cancellation",
                "enrolment",
                "cancellation",
                "view",
            ],
            "timestamp": pd.to_datetime(
                ["2024-01-01", "2024-02-01", "2024-01-05", "2024-01-01", "2024-01-01"], utc=True
            ),
        }
    )
    owned = set(map(tuple, owned_pairs(events).to_numpy()))
    assert owned == {("a", "c1")}

    resubscribed = pd.concat(
        [
            events,
            pd.DataFrame(
                {
                    "client_id": ["a"],
                    "item_id": ["t1"],
                    "event_type": ["renewal"],
                    "timestamp": pd.to_datetime(["2024-03-01"], utc=True),
                }
            ),
        ]
    )
    assert ("a", "t1") in set(map(tuple, owned_pairs(resubscribed).to_numpy()))


def _events(types: list[str | None], categorical: bool) -> pd.DataFrame:
    column = pd.Series(types, dtype="category" if categorical else object)
    return pd.DataFrame({"event_type": column, "value": [1.0] * len(types)})


@pytest.mark.parametrize("categorical", [True, False])
def test_weights_and_masks_read_each_row_type_whatever_the_column_dtype(
    categorical: bool,
) -> None:
    types = ["purchase", "view", None, "cancellation", "view", "usage", "made_up"]
    events = _events(types, categorical)
    config = FeedbackConfig()
    by_name = {str(k): v for k, v in config.weights.items()}
    expected = [by_name.get(t, 0.0) if t is not None else 0.0 for t in types]
    np.testing.assert_array_equal(event_weights(events, config), expected)
    mask = type_mask(events, {"view", "cancellation"})
    assert mask.tolist() == [t in {"view", "cancellation"} for t in types]
    assert type_mask(events.iloc[:0], {"view"}).tolist() == []
