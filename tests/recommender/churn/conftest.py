"""Synthetic data sets shared by the churn tests (generated once per session)."""

import pytest

from recommender.churn import EventLog
from recommender.synthetic import SyntheticConfig, SyntheticData, generate


@pytest.fixture(scope="session")
def data_20k() -> SyntheticData:
    """The size the issue's targets are stated for (at least 20,000 clients)."""
    return generate(SyntheticConfig(n_clients=20_000, seed=42))


@pytest.fixture(scope="session")
def log_20k(data_20k: SyntheticData) -> EventLog:
    return EventLog.from_frames(data_20k.interactions, data_20k.clients, data_20k.items)


@pytest.fixture(scope="session")
def data_small() -> SyntheticData:
    return generate(SyntheticConfig(n_clients=4_000, seed=7))


@pytest.fixture(scope="session")
def log_small(data_small: SyntheticData) -> EventLog:
    return EventLog.from_frames(data_small.interactions, data_small.clients, data_small.items)
