"""Helpers of the live serving tests: `recsys serve --workers 2` as deployed, on a real MLflow
registry (SQLite), with client threads asking for recommendations over loopback HTTP."""

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
import psutil
import pytest
from mlflow import MlflowClient

from recommender.dataset import Dataset
from recommender.models.registry import build_model
from tests.serving.conftest import ADMIN_KEY, ITEMS, MANAGER_KEYS, make_frames
from training.registry import promote
from training.run_logging import log_offers_model

#: How long `recsys serve` may take to answer /readyz (imports, MLflow, numba warm-up).
STARTUP_S = 180


def register(uri: str, artifacts: Path, name: str, seed: int) -> str:
    """Fit the test ALS, log it as ``recsys train`` does; its registry version."""
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
    return str(mlflow.register_model(info.model_uri, name).version)


def three_versions(tmp_path: Path, name: str) -> Iterator[tuple[str, MlflowClient, list[str]]]:
    """A SQLite registry holding three versions of ``name`` (champion: the first); for a fixture."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    versions = [register(uri, tmp_path / "artifacts", name, seed) for seed in (7, 11, 13)]
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    promote(client, name, versions[0], "champion")
    yield uri, client, versions
    mlflow.set_tracking_uri(None)  # type: ignore[arg-type]


def corrupt(client: MlflowClient, name: str, version: str) -> None:
    """Damage a registered version's bundle in the artifact store (its checksum fails)."""
    source = Path(client.get_model_version_download_uri(name, version).removeprefix("file://"))
    damaged = list(source.rglob("arrays.npz"))
    assert damaged, f"no arrays.npz under {source}"
    for npz in damaged:
        npz.write_bytes(b"corrupted")


def serve(
    uri: str,
    name: str,
    data_dir: Path,
    port: int,
    log: Path,
    redis_url: str | None = None,
    **env: str,
) -> subprocess.Popen[bytes]:
    """Start ``recsys serve --workers 2`` and wait until it answers /readyz with 200.

    Without ``redis_url`` the workers use the embedded Redis of ``data_dir``.
    """
    environment = {
        **os.environ,
        "MLFLOW_TRACKING_URI": uri,
        "RECSYS_MODEL_NAME": name,
        "RECSYS_DATA_DIR": str(data_dir),
        "RECSYS_RELOAD_POLL_S": "1",
        "RECSYS_ADMIN_KEY": ADMIN_KEY,
        "RECSYS_MANAGER_KEYS": json.dumps(MANAGER_KEYS),
        **env,
    }
    environment.pop("REDIS_URL", None)
    if redis_url is not None:
        environment["REDIS_URL"] = redis_url
    recsys = str(Path(sys.executable).with_name("recsys"))
    command = [recsys, "serve", "--workers", "2", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("ab") as out:
        process = subprocess.Popen(command, env=environment, stdout=out, stderr=subprocess.STDOUT)
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
    stop(process)
    pytest.fail(f"recsys serve not ready in {STARTUP_S} s:\n{log.read_text()[-3000:]}")


def workers(service: subprocess.Popen[bytes]) -> list[int]:
    """Process ids of the uvicorn workers of ``service`` (its spawned children)."""
    children = psutil.Process(service.pid).children()
    return sorted(c.pid for c in children if "spawn_main" in " ".join(c.cmdline()))


def stop(service: subprocess.Popen[bytes]) -> None:
    """Stop ``recsys serve`` (SIGTERM, then SIGKILL of it and its workers if it hangs)."""
    if service.poll() is not None:
        return
    try:
        children = psutil.Process(service.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    service.terminate()
    try:
        service.wait(timeout=60)
    except subprocess.TimeoutExpired:
        service.kill()
        service.wait(timeout=10)
    for child in children:
        if child.is_running():
            child.kill()


class Load:
    """Client threads asking for recommendations until stopped; what they saw."""

    def __init__(self, port: int, clients: int = 4, timeout_s: float = 30.0) -> None:
        self.url = f"http://127.0.0.1:{port}/v1/clients/c{{:03d}}/recommendations"
        self.clients = clients
        self.timeout_s = timeout_s
        self.stop = threading.Event()
        self.sent = 0
        self.versions: list[str] = []
        #: Answers with a status other than 200.
        self.failures: list[str] = []
        #: Requests that got no answer (the connection broke or timed out).
        self.broken: list[str] = []
        self._count = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(n,)) for n in range(clients)]

    def start(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()

    @property
    def server_errors(self) -> list[str]:
        return [f for f in self.failures if f.startswith("5")]

    def _run(self, offset: int) -> None:
        n = offset
        # a connection per request: the kernel spreads connections over both workers
        # (SO_REUSEPORT), so the last answers come from each of them
        no_reuse = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(timeout=self.timeout_s, limits=no_reuse) as http:
            while not self.stop.is_set():
                with self._count:
                    self.sent += 1
                try:
                    response = http.get(self.url.format(n % 60), params={"k": 3})
                except httpx.HTTPError as exc:
                    self.broken.append(repr(exc))
                    continue
                n += self.clients
                if response.status_code != 200:
                    self.failures.append(f"{response.status_code}: {response.text[:200]}")
                else:
                    self.versions.append(response.json()["model_version"])

    def latest_all(self, version: str, count: int) -> bool:
        recent = self.versions[-count:]
        return len(recent) == count and all(v.endswith(f":{version}") for v in recent)
