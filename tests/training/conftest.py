"""A small offline store with industry structure, and a SQLite MLflow store, per test.

Clients of one industry mostly buy that industry's offers, in time order, so a model that
learns anything beats chance and a time split has a test part. Sizes stay tiny: 2 CPUs are
shared by every test run on the machine.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from feature_store.offline import OfflineStore

INDUSTRIES = ("finance", "government", "education")


def make_tables(n_clients: int = 60, n_items: int = 15, seed: int = 0) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    kinds = ["tariff", "course", "addon"]
    items = pd.DataFrame(
        {
            "item_id": [f"i{j:02d}" for j in range(n_items)],
            "name": [f"Offer {j}" for j in range(n_items)],
            "kind": [kinds[j % 3] for j in range(n_items)],
            "family": [f"fam{j}" if j % 3 == 0 else None for j in range(n_items)],
            "price": [100.0 + j for j in range(n_items)],
            "margin": [0.3] * n_items,
        }
    )
    clients = pd.DataFrame(
        {
            "client_id": [f"c{i:03d}" for i in range(n_clients)],
            "industry": [INDUSTRIES[i % 3] for i in range(n_clients)],
            "segment": ["B2G" if i % 3 == 1 else "B2B" for i in range(n_clients)],
            "size_band": ["small"] * n_clients,
            "region": ["north"] * n_clients,
        }
    )
    rows = []
    start = pd.Timestamp("2024-01-01", tz="UTC")
    for i in range(n_clients):
        group = i % 3
        preferred = [j for j in range(n_items) if j % 3 == group or j % 5 == group]
        chosen = rng.choice(preferred, size=min(5, len(preferred)), replace=False)
        for step, item in enumerate(chosen):
            day = int(step * 12 + rng.integers(0, 10))
            rows.append((f"c{i:03d}", f"i{item:02d}", "purchase", start + pd.Timedelta(days=day)))
    interactions = pd.DataFrame(rows, columns=["client_id", "item_id", "event_type", "timestamp"])
    interactions["value"] = 1.0
    return {"items": items, "clients": clients, "interactions": interactions}


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    """A data directory whose offline store holds ``make_tables()``."""
    root = tmp_path / "data"
    OfflineStore(root).write_snapshot(make_tables())
    return root


@pytest.fixture(autouse=True)
def _no_server_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests choose their tracking URI explicitly; a developer's env must not leak in."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    monkeypatch.setenv("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
