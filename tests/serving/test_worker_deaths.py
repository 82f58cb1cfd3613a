"""A dead worker while the champion is a refused version: the service keeps answering.

``recsys serve --workers 2`` as deployed (MLflow on SQLite, the embedded Redis of the data dir):
the champion is moved to a version whose bundle is corrupted, both workers refuse it and keep
serving the one they had; then one worker is SIGKILLed while client threads keep asking for
recommendations. The replacement cannot load the champion, so it starts on the last version
that loaded (kept on local disk), says so in /readyz, and joins without being killed by
uvicorn's health check; no request gets a 5xx. ``recsys serve`` started again from scratch
starts the same way, and once the alias points at a working version every worker serves it.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from mlflow import MlflowClient

from feature_store.embedded import open_store
from feature_store.materialize import write_snapshot
from feature_store.redis_store import RedisOnlineStore
from feature_store.settings import OnlineStoreSettings
from tests.feature_store.redis_server import free_port
from tests.serving.conftest import ITEMS, eventually, make_frames
from tests.serving.live import (
    STARTUP_S,
    Load,
    corrupt,
    serve,
    stop,
    three_versions,
    workers,
)
from training.registry import promote

pytestmark = pytest.mark.fault  # the fault-injection suite: pytest -m fault

NAME = "offers-deaths"


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[tuple[str, MlflowClient, list[str]]]:
    yield from three_versions(tmp_path, NAME)


@pytest.fixture
def embedded_store(tmp_path: Path) -> Iterator[RedisOnlineStore]:
    """The embedded Redis of ``tmp_path / 'data'`` with the test clients; stopped at the end."""
    store = open_store(OnlineStoreSettings(redis_url=None, data_dir=tmp_path / "data"))
    clients, events = make_frames()
    write_snapshot(store, clients, ITEMS, events[["client_id", "item_id"]])
    server_pid = getattr(store.redis, "pid", None)
    yield store
    store.redis.close()
    if server_pid and psutil.pid_exists(server_pid):  # the server this test started
        psutil.Process(server_pid).terminate()


def _readyz(port: int, times: int = 20) -> list[dict[str, object]]:
    """/readyz on ``times`` new connections (the kernel spreads them over the workers)."""
    return [httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=30).json() for _ in range(times)]


def _started(log: Path) -> int:
    return log.read_text().count("Application startup complete")


def test_a_killed_worker_comes_back_on_the_last_good_version(
    registry: tuple[str, MlflowClient, list[str]],
    embedded_store: RedisOnlineStore,
    tmp_path: Path,
) -> None:
    uri, client, (v1, v2, v3) = registry
    data_dir, port, log = tmp_path / "data", free_port(), tmp_path / "serve.log"
    service = serve(uri, NAME, data_dir, port, log)
    load = Load(port)
    try:
        assert eventually(lambda: _started(log) == 2, STARTUP_S)
        corrupt(client, NAME, v2)
        promote(client, NAME, v2, "champion")
        assert eventually(lambda: log.read_text().count("refused model champion") >= 2, 60)

        load.start()
        assert eventually(lambda: len(load.versions) >= 50, 60), load.failures[:3]
        before = workers(service)
        assert len(before) == 2
        os.kill(before[0], signal.SIGKILL)
        # the replacement starts on v1 (the alias still points at the broken v2) ...
        assert eventually(lambda: _started(log) == 3, STARTUP_S), log.read_text()[-3000:]
        # ... and takes its share of the load
        sent = load.sent
        assert eventually(lambda: load.sent >= sent + 400, 120)
    finally:
        load.finish()
    try:
        after = workers(service)
        output = log.read_text()
        restarts = output.count("died")
        print(
            f"\nkill test: requests sent {load.sent}, answered 200 {len(load.versions)}, "
            f"5xx {len(load.server_errors)}, other status {len(load.failures)}, "
            f"no answer {len(load.broken)}, worker restarts {restarts}; "
            f"no-answer kinds {sorted({b.split('(')[0] for b in load.broken})}"
        )
        assert service.poll() is None, output[-3000:]
        assert before[1] in after and len(after) == 2
        assert restarts == 1, output[-3000:]  # the SIGKILL only: no health-check kill
        assert load.failures == []
        # Only connections the killed worker held can break: the requests it was answering and
        # connections queued on its listening socket as the process died. Each client has one
        # connection at a time, but one CI run saw 5 resets for 4 clients (a client's reconnect
        # racing the dying socket is the likely second one), so the bound is two per client.
        assert len(load.broken) <= 2 * load.clients, load.broken
        assert set(load.versions) == {f"als:{v1}"}
        for ready in _readyz(port):
            assert ready["status"] == "degraded"
            assert ready["serving_version"] == f"als:{v1}"
            assert ready["champion_version"] == v2
            assert "checksum" in str(ready["degraded_reason"])
        assert "serving the last good version" in output
    finally:
        stop(service)

    # a fresh start while the champion is still broken: both workers start on v1
    service = serve(uri, NAME, data_dir, port, log)
    try:
        assert {r["serving_version"] for r in _readyz(port)} == {f"als:{v1}"}
        promote(client, NAME, v3, "champion")  # a working version: every worker takes it
        assert eventually(
            lambda: all(r["serving_version"] == f"als:{v3}" for r in _readyz(port)), 60
        )
        ready = _readyz(port)
        assert {r["status"] for r in ready} == {"ready"}
        assert {r["degraded_reason"] for r in ready} == {None}
    finally:
        stop(service)
