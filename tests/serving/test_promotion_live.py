"""Promotion under load, as deployed: ``recsys serve --workers 2`` on an MLflow registry.

Two versions are registered in a real (SQLite) MLflow registry and the champion alias is moved
while client threads keep asking for recommendations over loopback HTTP. Every request must
succeed, and both workers must end on the new version: the first by its alias poll, the second
through the reload announcement over Redis (or its own poll). Then a corrupted version is
promoted: it is refused with a logged reason, and the workers keep serving.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from feature_store.redis_store import RedisOnlineStore
from recommender.dataset import Dataset
from recommender.models.registry import build_model
from tests.feature_store.redis_server import RedisServer, free_port
from tests.serving.conftest import ADMIN_KEY, ITEMS, MANAGER_KEYS, eventually, make_frames
from training.registry import promote
from training.run_logging import log_offers_model

NAME = "offers-live"
CLIENTS = 4
STARTUP_S = 180


def _register(uri: str, artifacts: Path, seed: int) -> str:
    """Fit the test ALS, log it as MLflow does for ``recsys train``; its registry version."""
    clients, events = make_frames(seed=seed)
    events["timestamp"] = pd.Timestamp("2024-01-01", tz="UTC")
    dataset = Dataset.from_frames(events, clients, ITEMS)
    servable = build_model("als", {"factors": 8, "iterations": 5, "seed": seed}).fit(dataset)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if mlflow.get_experiment_by_name("live") is None:
        mlflow.create_experiment("live", artifact_location=str(artifacts))
    mlflow.set_experiment("live")
    with mlflow.start_run():
        info = log_offers_model(servable.export(), dataset)
    return str(mlflow.register_model(info.model_uri, NAME).version)


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[tuple[str, MlflowClient, list[str]]]:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    versions = [_register(uri, tmp_path / "artifacts", seed) for seed in (7, 11, 13)]
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    promote(client, NAME, versions[0], "champion")
    yield uri, client, versions
    mlflow.set_tracking_uri(None)  # type: ignore[arg-type]


def _serve(
    uri: str, redis_url: str, data_dir: Path, port: int, log: Path
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": uri,
        "RECSYS_MODEL_NAME": NAME,
        "REDIS_URL": redis_url,
        "RECSYS_DATA_DIR": str(data_dir),
        "RECSYS_RELOAD_POLL_S": "1",
        "RECSYS_ADMIN_KEY": ADMIN_KEY,
        "RECSYS_MANAGER_KEYS": json.dumps(MANAGER_KEYS),
    }
    recsys = str(Path(sys.executable).with_name("recsys"))
    command = [recsys, "serve", "--workers", "2", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"recsys serve exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    process.terminate()
    pytest.fail(f"recsys serve not ready in {STARTUP_S} s:\n{log.read_text()[-3000:]}")


class Load:
    """Client threads asking for recommendations until stopped; what they saw."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/v1/clients/c{{:03d}}/recommendations"
        self.stop = threading.Event()
        self.versions: list[str] = []
        self.failures: list[str] = []
        self.threads = [threading.Thread(target=self._run, args=(n,)) for n in range(CLIENTS)]

    def _run(self, offset: int) -> None:
        n = offset
        # a connection per request: the kernel spreads connections over both workers
        # (SO_REUSEPORT), so the last answers come from each of them
        no_reuse = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(timeout=10, limits=no_reuse) as http:
            while not self.stop.is_set():
                try:
                    response = http.get(self.url.format(n % 60), params={"k": 3})
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                    continue
                n += CLIENTS
                if response.status_code != 200:
                    self.failures.append(f"{response.status_code}: {response.text[:200]}")
                else:
                    self.versions.append(response.json()["model_version"])

    def latest_all(self, version: str, count: int) -> bool:
        recent = self.versions[-count:]
        return len(recent) == count and all(v.endswith(f":{version}") for v in recent)


def test_promotion_under_load_on_two_workers(
    registry: tuple[str, MlflowClient, list[str]],
    redis_server: RedisServer,
    store: RedisOnlineStore,
    tmp_path: Path,
) -> None:
    uri, client, (v1, v2, v3) = registry
    port, log = free_port(), tmp_path / "serve.log"
    service = _serve(uri, redis_server.url, tmp_path, port, log)
    load = Load(port)
    try:
        for thread in load.threads:
            thread.start()
        assert eventually(lambda: len(load.versions) >= 50, 60), load.failures[:3]
        assert set(load.versions) == {f"als:{v1}"}

        promote(client, NAME, v2, "champion")
        # both workers (requests land on either) serve v2: the last 100 answers all say so
        assert eventually(lambda: load.latest_all(v2, 100), 60), load.versions[-10:]

        # a broken version: its bundle is corrupted in the artifact store, then promoted
        source = Path(client.get_model_version_download_uri(NAME, v3).removeprefix("file://"))
        for npz in source.rglob("arrays.npz"):
            npz.write_bytes(b"corrupted")
        promote(client, NAME, v3, "champion")
        # each worker's poll tries it, refuses it and logs why; v2 keeps answering meanwhile
        assert eventually(lambda: log.read_text().count("refused model champion") >= 2, 60)
        count = len(load.versions)
        assert eventually(lambda: len(load.versions) >= count + 100, 60)
        assert load.latest_all(v2, 100)
    finally:
        load.stop.set()
        for thread in load.threads:
            thread.join()
        service.terminate()
        service.wait(timeout=30)
    assert load.failures == []
    output = log.read_text()
    refusals = [line for line in output.splitlines() if "refused model champion" in line]
    assert all("checksum" in line and "still serving als:" + v2 in line for line in refusals)
    assert ADMIN_KEY not in output
