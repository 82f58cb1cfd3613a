"""Promotion under load, as deployed: ``recsys serve --workers 2`` on an MLflow registry.

Two versions are registered in a real (SQLite) MLflow registry and the champion alias is moved
while client threads keep asking for recommendations over loopback HTTP. Every request must
succeed, and both workers must end on the new version: the first by its alias poll, the second
through the reload announcement over Redis (or its own poll). Then a corrupted version is
promoted: it is refused with a logged reason, once per worker (the refusal is remembered, the
alias poll does not fetch it again), and the workers keep serving.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient

from feature_store.redis_store import RedisOnlineStore
from tests.feature_store.redis_server import RedisServer, free_port
from tests.serving.conftest import ADMIN_KEY, eventually
from tests.serving.live import Load, corrupt, serve, stop, three_versions
from training.registry import promote

pytestmark = pytest.mark.fault  # the fault-injection suite: pytest -m fault

NAME = "offers-live"
POLL_S = 1.0  # RECSYS_RELOAD_POLL_S of tests.serving.live.serve


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[tuple[str, MlflowClient, list[str]]]:
    yield from three_versions(tmp_path, NAME)


def test_promotion_under_load_on_two_workers(
    registry: tuple[str, MlflowClient, list[str]],
    redis_server: RedisServer,
    store: RedisOnlineStore,
    tmp_path: Path,
) -> None:
    uri, client, (v1, v2, v3) = registry
    port, log = free_port(), tmp_path / "serve.log"
    service = serve(uri, NAME, tmp_path, port, log, redis_url=redis_server.url)
    load = Load(port)
    try:
        load.start()
        assert eventually(lambda: len(load.versions) >= 50, 60), load.failures[:3]
        assert set(load.versions) == {f"als:{v1}"}

        promote(client, NAME, v2, "champion")
        # both workers (requests land on either) serve v2: the last 100 answers all say so
        assert eventually(lambda: load.latest_all(v2, 100), 60), load.versions[-10:]

        # a broken version: its bundle is corrupted in the artifact store, then promoted
        corrupt(client, NAME, v3)
        promote(client, NAME, v3, "champion")
        # each worker's poll tries it, refuses it and logs why; v2 keeps answering meanwhile
        assert eventually(lambda: log.read_text().count("refused model champion") >= 2, 60)
        time.sleep(5 * POLL_S)  # five alias polls per worker: none fetches it again
        count = len(load.versions)
        assert eventually(lambda: len(load.versions) >= count + 100, 60)
        assert load.latest_all(v2, 100)
    finally:
        load.finish()
        stop(service)
    assert load.failures == []
    assert load.broken == []
    output = log.read_text()
    refusals = [line for line in output.splitlines() if "refused model champion" in line]
    assert len(refusals) == 2, refusals  # one per worker, not one per poll
    assert all("checksum" in line and "still serving als:" + v2 in line for line in refusals)
    assert ADMIN_KEY not in output
