"""Serving fixtures: a real redis-server, a tiny ALS model saved as a bundle, an app on both.

The data set is hand-made and small (14 offers, 60 clients, two managers) so every test file
stays fast; it carries every business rule (tariff families, prerequisites, B2G-only offers).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from feature_store.embedded import open_store
from feature_store.materialize import write_snapshot
from feature_store.redis_store import RedisOnlineStore
from feature_store.settings import OnlineStoreSettings
from recommender.dataset import Dataset
from recommender.models.registry import build_model
from serving.app import create_app
from serving.settings import ServingSettings
from tests.feature_store.redis_server import RedisServer

ADMIN_KEY = "admin-secret-key"
MANAGER_KEYS = {"m001": "key-of-m001", "m002": "key-of-m002"}

ITEMS = pd.DataFrame(
    {
        "item_id": [
            "sup_basic", "sup_premium", "os_std", "os_ent",
            "course_linux1", "course_linux2", "course_sec1", "course_sec2",
            "backup", "monitoring", "migration", "antivirus", "gov_cloud", "licences",
        ],
        "name": [
            "Support Basic", "Support Premium", "OS Standard", "OS Enterprise",
            "Linux 1", "Linux 2", "Security 1", "Security 2",
            "Backup", "Monitoring", "Migration", "Antivirus", "Gov cloud", "Licences",
        ],
        "kind": ["tariff"] * 4 + ["course"] * 4 + ["addon"] * 6,
        "family": ["support", "support", "os", "os"] + [None] * 10,
        "price": [100.0, 300.0, 200.0, 500.0, 50.0, 70.0, 60.0, 90.0,
                  20.0, 30.0, 150.0, 25.0, 400.0, 80.0],
        "margin": [0.2, 0.4, 0.3, 0.5, 0.5, 0.5, 0.6, 0.6, 0.3, 0.3, 0.4, 0.2, 0.3, 0.1],
        "eligibility": ["both"] * 12 + ["B2G", "both"],
        "prerequisites": [[], [], [], [], [], ["course_linux1"], [], ["course_sec1"],
                          [], [], [], [], [], []],
    }
)  # fmt: skip

INDUSTRIES = ("healthcare", "finance", "government", "education")


def make_frames(n_clients: int = 60, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Clients and owning events: each industry prefers a few offers, so factors are learnable."""
    rng = np.random.default_rng(seed)
    preferred = {
        "healthcare": ["sup_basic", "backup", "monitoring", "course_linux1", "antivirus"],
        "finance": ["sup_premium", "antivirus", "course_sec1", "course_sec2", "licences"],
        "government": ["os_std", "gov_cloud", "migration", "course_linux1", "backup"],
        "education": ["os_ent", "course_linux1", "course_linux2", "monitoring", "licences"],
    }
    rows, events = [], []
    for n in range(n_clients):
        industry = INDUSTRIES[n % len(INDUSTRIES)]
        client_id = f"c{n:03d}"
        rows.append(
            {
                "client_id": client_id,
                "industry": industry,
                "segment": "B2G" if industry == "government" else "B2B",
                "size_band": "medium",
                "region": "north",
                "manager_id": "m001" if n % 2 == 0 else "m002",
                "loyalty_tier": "silver",
                # a CRM names some clients (the pages show the name, the id beside it)
                "name": f"ООО Клиент {n}" if n % 5 == 0 else None,
            }
        )
        liked = preferred[industry]
        chosen = [item for item in liked if rng.random() < 0.6] or [liked[0]]
        if rng.random() < 0.2:
            chosen.append(str(rng.choice(ITEMS["item_id"][8:12])))
        for item in dict.fromkeys(chosen):
            events.append({"client_id": client_id, "item_id": item, "event_type": "purchase"})
    return pd.DataFrame(rows), pd.DataFrame(events)


def fit_bundle(directory: Path, seed: int = 7, version: str | None = None) -> Path:
    clients, events = make_frames(seed=seed)
    events["timestamp"] = pd.Timestamp("2024-01-01", tz="UTC")
    dataset = Dataset.from_frames(events, clients, ITEMS)
    model = build_model("als", {"factors": 8, "iterations": 5, "seed": seed})
    servable = model.fit(dataset).export()
    if version is not None:
        servable.metadata["version"] = version
    return servable.save(directory)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fit_bundle(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


def load_store(url: str, data_dir: Path) -> RedisOnlineStore:
    """A fresh online store with the test data materialized."""
    store = open_store(OnlineStoreSettings(redis_url=url, data_dir=data_dir))
    store.redis.flushdb()
    clients, events = make_frames()
    write_snapshot(store, clients, ITEMS, events[["client_id", "item_id"]])
    return store


def make_settings(
    model_dir: Path, redis_url: str, data_dir: Path, **extra: object
) -> ServingSettings:
    values: dict[str, object] = {
        "model_dir": model_dir,
        "redis_url": redis_url,
        "data_dir": data_dir,
        "admin_key": ADMIN_KEY,
        "manager_keys": MANAGER_KEYS,
        "reload_poll_s": 0,
        "store_retry_s": 0.2,
        **extra,
    }
    return ServingSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def store(redis_server: RedisServer, tmp_path: Path) -> Iterator[RedisOnlineStore]:
    if redis_server.process is None:  # a fault test may have left it stopped
        redis_server.start()
    store = load_store(redis_server.url, tmp_path)
    yield store
    store.redis.close()


@pytest.fixture
def settings(
    model_dir: Path, redis_server: RedisServer, tmp_path: Path, store: RedisOnlineStore
) -> ServingSettings:
    return make_settings(model_dir, redis_server.url, tmp_path)


@pytest.fixture
def client(settings: ServingSettings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def churn_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A churn model (``tests.serving.churn_bundle``), so risk routes and orders answer."""
    from tests.serving.churn_bundle import fit_churn_bundle

    return fit_churn_bundle(tmp_path_factory.mktemp("churn"))


@pytest.fixture
def risk_client(settings: ServingSettings, churn_dir: Path) -> Iterator[TestClient]:
    """``client`` with the churn model loaded."""
    with_churn = settings.model_copy(update={"churn_model_dir": churn_dir})
    with TestClient(create_app(with_churn), raise_server_exceptions=False) as test_client:
        yield test_client


def admin() -> dict[str, str]:
    return {"X-API-Key": ADMIN_KEY}


def manager(manager_id: str) -> dict[str, str]:
    return {"X-API-Key": MANAGER_KEYS[manager_id]}


def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Whether ``condition()`` becomes true within ``timeout`` seconds (polled every 50 ms)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False
