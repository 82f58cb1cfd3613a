"""Fixtures: a real redis-server for the session, small offline data, stores bound to them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from feature_store.embedded import open_store
from feature_store.offline import OfflineStore
from feature_store.redis_store import RedisOnlineStore
from feature_store.settings import OnlineStoreSettings
from tests.feature_store.redis_server import RedisServer


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real redis-server shared by the tests that do not stop it."""
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test alone, which the test may stop and restart."""
    with RedisServer(tmp_path / "private-redis") as server:
        yield server


def settings_for(url: str, data_dir: Path) -> OnlineStoreSettings:
    return OnlineStoreSettings(
        redis_url=url,
        data_dir=data_dir,
        socket_timeout_s=0.5,
        socket_connect_timeout_s=0.5,
        health_check_interval_s=1,
        write_batch=3,  # several chunks even with tiny data
    )


@pytest.fixture
def settings(redis_server: RedisServer, tmp_path: Path) -> OnlineStoreSettings:
    """Settings for the shared server, emptied first so every test starts clean."""
    import redis

    redis.Redis.from_url(redis_server.url).flushall()
    return settings_for(redis_server.url, tmp_path / "data")


@pytest.fixture
def store(settings: OnlineStoreSettings) -> RedisOnlineStore:
    return open_store(settings)


def tiny_items() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item_id": ["t-basic", "t-pro", "course-1", "backup"],
            "name": ["Basic", "Pro", "Linux admin", "Backup"],
            "kind": ["tariff", "tariff", "course", "addon"],
            "family": ["support", "support", None, None],
            "price": [100.0, 200.0, 50.0, 30.0],
            "margin": [0.3, 0.4, 0.5, 0.6],
            "prerequisites": [[], [], [], ["t-basic"]],
        }
    )


def tiny_clients() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "client_id": ["c1", "c2", "c3", "c4", "c5"],
            "industry": ["finance", "healthcare", "government", "retail", "it"],
            "segment": ["B2B", "B2B", "B2G", "B2B", "B2B"],
            "size_band": ["small", "large", "medium", "micro", "small"],
            "region": ["77", "78", "50", "16", "66"],
            "manager_id": ["m1", "m1", "m2", None, "m2"],
            "signup_date": pd.to_datetime(["2021-01-05"] * 4 + [None]),
            "loyalty_tier": ["gold", "bronze", "silver", "bronze", "bronze"],
        }
    )


def tiny_interactions() -> pd.DataFrame:
    stamps = pd.date_range("2024-01-01", periods=6, freq="D", tz="UTC")
    return pd.DataFrame(
        {
            "client_id": ["c1", "c1", "c2", "c2", "c3", "c1"],
            "item_id": ["t-basic", "backup", "course-1", "course-1", "t-pro", "backup"],
            "event_type": ["purchase", "purchase", "enrolment", "click", "view", "cancellation"],
            "timestamp": stamps,
            "value": [1.0] * 6,
        }
    )


@pytest.fixture
def offline(settings: OnlineStoreSettings) -> OfflineStore:
    """An offline store holding the tiny snapshot, in the settings' data dir."""
    store = OfflineStore(settings.data_dir)
    store.write_snapshot(
        {"items": tiny_items(), "clients": tiny_clients(), "interactions": tiny_interactions()}
    )
    return store
