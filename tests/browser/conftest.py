"""A real server for the browser tests: synthetic data in a real redis-server, an EASE bundle,
uvicorn in a subprocess on a free loopback port, and Debian's headless Chromium (playwright).

Skipped, with the reason, when ``/usr/bin/chromium`` is absent (``.ci/run`` installs it).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, sync_playwright

from feature_store.embedded import open_store
from feature_store.materialize import write_snapshot
from feature_store.settings import OnlineStoreSettings
from recommender.dataset import Dataset
from recommender.evaluation.evaluate import evaluate
from recommender.feedback import owned_pairs
from recommender.models.registry import build_model
from recommender.synthetic.generator import SyntheticConfig, generate
from tests.feature_store.redis_server import RedisServer, free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ADMIN_KEY = "browser-admin-key"

if not CHROMIUM.exists():
    pytest.skip(
        "no /usr/bin/chromium: install Debian's chromium (apt-get install chromium)",
        allow_module_level=True,
    )


@dataclass(frozen=True)
class Site:
    url: str
    manager_id: str
    manager_key: str
    item_names: frozenset[str]


def _manager_keys(managers: list[str]) -> str:
    return ",".join(f"{m}:key-{m}" for m in managers)


@pytest.fixture(scope="package")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("browser-site")
    data = generate(SyntheticConfig(n_clients=400, seed=11))
    owned = owned_pairs(data.interactions)
    dataset = Dataset.from_frames(data.interactions, data.clients, data.items)
    # calibrated as the train job does it: p fitted on the held-out part of the chosen split
    evaluation = evaluate(dataset, ["ease"], k=10)
    bundle = build_model("ease", {}).fit(dataset).export()
    calibration = evaluation.models["ease"].calibration
    assert calibration is not None
    bundle.metadata["calibration"] = calibration.calibration.to_metadata()
    bundle.save(root / "model")
    managers = sorted(data.clients["manager_id"].dropna().unique().tolist())
    busiest = str(data.clients["manager_id"].value_counts().idxmax())
    with RedisServer() as redis_server:
        store = open_store(OnlineStoreSettings(redis_url=redis_server.url, data_dir=root))
        write_snapshot(store, data.clients, data.items, owned)
        store.redis.close()
        port = free_port()
        env = {
            **os.environ,
            "RECSYS_MODEL_DIR": str(root / "model"),
            "RECSYS_DATA_DIR": str(root),
            "REDIS_URL": redis_server.url,
            "RECSYS_ADMIN_KEY": ADMIN_KEY,
            "RECSYS_MANAGER_KEYS": _manager_keys(managers),
            "RECSYS_RELOAD_POLL_S": "0",
        }
        app = ["serving.app:create_app", "--factory", "--log-level", "warning", "--host"]
        command = [sys.executable, "-m", "uvicorn", *app, "127.0.0.1", "--port", str(port)]
        server = subprocess.Popen(command, env=env, cwd=Path(__file__).parents[2])
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(url, server)
            names = frozenset(str(n) for n in data.items["name"])
            yield Site(url, busiest, f"key-{busiest}", names)
        finally:
            server.terminate()
            server.wait(timeout=60)


def _wait_ready(url: str, server: subprocess.Popen[bytes]) -> None:
    """Poll the login page until the server answers (startup compiles the kernels)."""
    for _ in range(1200):
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode}")
        try:
            if httpx.get(f"{url}/login", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not become ready")


# package scope: Playwright's sync API keeps an event loop running in the main thread until
# it stops, which would break asyncio.run() in the tests that come after this package.
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()
