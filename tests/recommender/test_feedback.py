import pandas as pd

from recommender.feedback import owned_pairs


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
