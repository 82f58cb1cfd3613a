"""The scaled-out topology as real processes on loopback: ``mlflow server``, ``recsys serve``
instances sharing one redis-server, and Debian's HAProxy with the repository's config in front.

Each piece is a small class with ``start()`` and ``stop()``; ``Instance.kill()`` takes a whole
instance away at once (SIGKILL to its process group), as when its host dies.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import mlflow
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from recommender.dataset import Dataset
from recommender.models.registry import build_model
from tests.feature_store.redis_server import free_port
from tests.serving.conftest import ADMIN_KEY, ITEMS, MANAGER_KEYS, make_frames
from training.run_logging import log_offers_model

ROOT = Path(__file__).resolve().parents[2]
HAPROXY_CFG = ROOT / "configs" / "haproxy.cfg"
BIN = Path(sys.executable).parent
#: How long a process may take to become healthy (imports, numba warm-up, model download)
#: on a loaded 2-core machine.
STARTUP_S = 240.0


def haproxy_binary() -> str | None:
    """Debian's haproxy (``apt-get install haproxy``; /usr/sbin may be off a user's PATH)."""
    return shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")


def _wait(
    what: str, ready: Callable[[], bool], process: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{what} exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        if ready():
            return
        time.sleep(0.25)
    pytest.fail(f"{what} not ready in {STARTUP_S:.0f} s:\n{log.read_text()[-3000:]}")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _end(process: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM the process group, SIGKILL it if it lingers."""
    if process is None or process.poll() is not None:
        return
    with _no_such_process():
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        with _no_such_process():
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


class _no_such_process:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> bool:
        return kind is ProcessLookupError


class MlflowServer:
    """``mlflow server`` with a SQLite backend and proxied artifacts, in ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = root / "mlflow.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> MlflowServer:
        command = [
            str(BIN / "mlflow"), "server",
            "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
            "--backend-store-uri", f"sqlite:///{self.root / 'mlflow.db'}",
            "--artifacts-destination", str(self.root / "artifacts"),
        ]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(
                command, stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        _wait("mlflow server", lambda: _answers(f"{self.url}/health"), self.process, self.log)
        return self

    def register(self, name: str, seed: int) -> str:
        """Fit the serving tests' ALS (``seed``), log it as ``recsys train`` does, register
        it under ``name``; its version. Artifacts go through the server."""
        clients, events = make_frames(seed=seed)
        events["timestamp"] = pd.Timestamp("2024-01-01", tz="UTC")
        dataset = Dataset.from_frames(events, clients, ITEMS)
        servable = build_model("als", {"factors": 8, "iterations": 5, "seed": seed}).fit(dataset)
        mlflow.set_tracking_uri(self.url)
        mlflow.set_registry_uri(self.url)
        try:
            mlflow.set_experiment("load-balancer")
            with mlflow.start_run():
                info = log_offers_model(servable.export(), dataset)
            return str(mlflow.register_model(info.model_uri, name).version)
        finally:
            mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
            mlflow.set_registry_uri(None)  # type: ignore[arg-type]

    def stop(self) -> None:
        _end(self.process)


class Instance:
    """One ``recsys serve`` on its own port and data directory; Redis and MLflow shared."""

    def __init__(
        self, name: str, root: Path, mlflow_url: str, redis_url: str, model: str, poll_s: float
    ) -> None:
        self.name = name
        self.data_dir = root / name
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = root / f"{name}.log"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "RECSYS_"))},
            "MLFLOW_TRACKING_URI": mlflow_url,
            "REDIS_URL": redis_url,
            "RECSYS_MODEL_NAME": model,
            "RECSYS_DATA_DIR": str(self.data_dir),
            "RECSYS_RELOAD_POLL_S": str(poll_s),
            "RECSYS_ADMIN_KEY": ADMIN_KEY,
            "RECSYS_MANAGER_KEYS": json.dumps(MANAGER_KEYS),
            # one worker per instance: two instances already take this 2-core machine
            "RECSYS_WORKERS": "1",
        }
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def launch(self) -> Instance:
        """Start it without waiting (``wait_ready`` waits)."""
        command = [str(BIN / "recsys"), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(
                command, stdout=sink, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
            )
        return self

    def wait_ready(self) -> Instance:
        assert self.process is not None, f"{self.name} was not launched"
        _wait(self.name, lambda: _answers(f"{self.url}/readyz"), self.process, self.log)
        return self

    def start(self) -> Instance:
        return self.launch().wait_ready()

    def readiness(self) -> dict[str, object]:
        """Its own /readyz answer (straight to the instance, not through the balancer)."""
        return dict(httpx.get(f"{self.url}/readyz", timeout=5).json())

    def serving_version(self) -> str | None:
        try:
            return str(self.readiness()["serving_version"])
        except (httpx.HTTPError, KeyError, ValueError):
            return None

    def readiness_checks(self) -> float:
        """How many GET /readyz this instance answered with 200 (its Prometheus counter)."""
        text = httpx.get(f"{self.url}/metrics", timeout=5).text
        wanted = {"route": "/readyz", "method": "GET", "status": "200"}
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "recsys_http_requests_total" and sample.labels == wanted
        )

    def kill(self) -> None:
        """SIGKILL the whole instance at once (its process group), as a dying host would."""
        assert self.process is not None, f"{self.name} was not launched"
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        _end(self.process)


class Haproxy:
    """HAProxy in the foreground on ``configs/haproxy.cfg``, balancing ``instances``."""

    def __init__(self, binary: str, root: Path, instances: list[Instance]) -> None:
        self.binary = binary
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.socket = root / "haproxy.sock"
        self.log = root / "haproxy.log"
        self.env = {
            **os.environ,
            "HAPROXY_BIND": f"127.0.0.1:{self.port}",
            "HAPROXY_STATS_SOCKET": str(self.socket),
            **{f"API{n}_ADDR": i.address for n, i in enumerate(instances, start=1)},
        }
        self.process: subprocess.Popen[bytes] | None = None

    def check_config(self) -> subprocess.CompletedProcess[str]:
        command = [self.binary, "-c", "-f", str(HAPROXY_CFG)]
        return subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=60)

    def start(self) -> Haproxy:
        command = [self.binary, "-db", "-f", str(HAPROXY_CFG)]
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(
                command, stdout=sink, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
            )
        _wait("haproxy", self._answers, self.process, self.log)
        return self

    def _answers(self) -> bool:
        """Its runtime API answers (it binds the frontend before it opens that socket)."""
        try:
            return bool(self.servers())
        except OSError:
            return False

    def servers(self) -> dict[str, dict[str, str]]:
        """``show stat`` of the backend's servers: name -> its row (status, check_status,
        stot: requests sent to it, hrsp_5xx, ...)."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(str(self.socket))
            sock.sendall(b"show stat\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        text = b"".join(chunks).decode().removeprefix("# ")
        rows = csv.DictReader(text.splitlines())
        return {
            row["svname"]: row
            for row in rows
            if row["pxname"] == "recsys" and row["svname"] not in ("BACKEND", "FRONTEND")
        }

    def status(self, server: str) -> str:
        return self.servers()[server]["status"]

    def stop(self) -> None:
        _end(self.process)
