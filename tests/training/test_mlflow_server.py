"""Train, promote and load against a real ``mlflow server`` process on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from typer.testing import CliRunner

from training.cli.main import app
from training.registry import load_servable
from training.tracking import resolve, use

STARTUP_WAIT_S = 120.0
NAME = "offers-recommender"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_WAIT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"mlflow server exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"mlflow server not healthy after {STARTUP_WAIT_S}s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("server")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = root / "server.log"
    command = [
        str(Path(sys.executable).with_name("mlflow")),
        "server",
        "--host", "127.0.0.1",
        "--port", str(port),
        "--workers", "1",
        "--backend-store-uri", f"sqlite:///{root / 'server.db'}",
        "--artifacts-destination", str(root / "artifacts"),
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env)
    try:
        wait_healthy(url, process, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


@pytest.mark.slow
def test_train_promote_load_against_a_server(
    server: str, store_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    runner = CliRunner()
    result = runner.invoke(app, ["train", "--model", "popularity", "--data-dir", str(store_dir)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["promote", NAME, "--version", "1", "--alias", "champion"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["models", NAME], terminal_width=200)
    assert "champion" in result.output
    assert not (store_dir / "mlflow").exists()  # nothing went to the embedded store

    servable, version = load_servable(NAME, "champion", None)
    assert (servable.name, version) == ("popularity", "1")
    use(resolve(tracking_uri=server))
    out = mlflow.pyfunc.load_model(f"models:/{NAME}@champion").predict(
        pd.DataFrame({"client_id": ["c003"]}), params={"k": 3}
    )
    assert out["rank"].tolist() == [1, 2, 3]
