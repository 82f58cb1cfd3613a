import pandas as pd
import pytest
from pydantic import ValidationError

from recommender.domain import (
    CLIENT_COLUMNS,
    INDUSTRIES,
    INTERACTION_COLUMNS,
    Client,
    EventType,
    Interaction,
)
from recommender.synthetic import SyntheticConfig, chunk_frames, generate


def test_same_seed_gives_identical_frames():
    config = SyntheticConfig(n_clients=120, seed=3, chunk_size=50)
    first, second = generate(config), generate(config)
    pd.testing.assert_frame_equal(first.clients, second.clients)
    pd.testing.assert_frame_equal(first.interactions, second.interactions)
    pd.testing.assert_frame_equal(first.items, second.items)


def test_other_seed_gives_other_data():
    a = generate(SyntheticConfig(n_clients=60, seed=1))
    b = generate(SyntheticConfig(n_clients=60, seed=2))
    assert not a.clients["industry"].equals(b.clients["industry"])


def test_chunks_are_independent_streams():
    config = SyntheticConfig(n_clients=100, seed=5, chunk_size=40)
    clients, interactions = chunk_frames(config, 1)
    assert clients["client_id"].iloc[0] == "c000041"
    assert len(clients) == 40
    assert set(interactions["client_id"]) <= set(clients["client_id"])
    with pytest.raises(ValueError, match="chunk 3 out of range"):
        chunk_frames(config, 3)


def test_client_frame_schema_and_values(data):
    clients = data.clients
    assert tuple(clients.columns) == CLIENT_COLUMNS
    assert len(clients) == 500
    assert clients["client_id"].is_unique
    for row in clients.to_dict("records"):
        Client(**row)
    assert set(clients["industry"]) <= set(INDUSTRIES)
    assert clients["manager_id"].nunique() <= 500 // 40 + 1
    government = clients[clients["industry"].isin(["government", "municipal_services"])]
    assert (government["segment"] == "B2G").all()
    assert (clients["segment"] == "B2B").mean() > 0.5


def test_interaction_frame_schema_and_values(data):
    events = data.interactions
    assert tuple(events.columns) == ("event_id", *INTERACTION_COLUMNS)
    assert events["event_id"].is_unique
    assert isinstance(events["timestamp"].dtype, pd.DatetimeTZDtype)
    assert str(events["timestamp"].dt.tz) == "UTC"
    assert events["timestamp"].min() >= pd.Timestamp("2023-07-01", tz="UTC")
    assert events["timestamp"].max() < pd.Timestamp("2025-07-01", tz="UTC")
    assert set(events["client_id"]) <= set(data.clients["client_id"])
    assert set(events["item_id"]) <= set(data.items["item_id"])
    expected_types = {e.value for e in EventType} - {"impression", "click"}
    assert set(events["event_type"]) == expected_types
    assert (events["value"] > 0).all()
    for row in events.drop(columns="event_id").head(3000).to_dict("records"):
        Interaction(**row)


def test_events_never_precede_signup(data):
    signup = pd.to_datetime(data.clients.set_index("client_id")["signup_date"]).dt.tz_localize(
        "UTC"
    )
    events = data.interactions
    assert (events["timestamp"] >= events["client_id"].map(signup)).all()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"n_clients": 0}, "n_clients"),
        ({"seed": -1}, "seed"),
        ({"chunk_size": 0}, "chunk_size"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_bad_config_is_a_clear_error(changes, field):
    with pytest.raises(ValidationError, match=field):
        SyntheticConfig(**changes)


def test_window_must_be_long_enough():
    with pytest.raises(ValidationError, match="at least 90 days after start"):
        SyntheticConfig(start="2025-01-01", end="2024-01-01")
