"""Redis goes away and comes back: answers keep coming (degraded), events are refused, recovery."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from tests.feature_store.redis_server import RedisServer
from tests.serving.conftest import load_store, make_settings

pytestmark = pytest.mark.fault  # the fault-injection suite: pytest -m fault

EVENT = {"client_id": "c001", "item_ids": ["backup"], "event_type": "click"}


@pytest.fixture
def server() -> Iterator[RedisServer]:
    with RedisServer() as own:  # a private server: this test stops it
        yield own


def test_outage_serves_degraded_and_recovers(
    server: RedisServer, model_dir: Path, tmp_path: Path
) -> None:
    load_store(server.url, tmp_path).redis.close()
    settings = make_settings(model_dir, server.url, tmp_path, store_retry_s=0.2)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        healthy = client.get("/v1/clients/c001/recommendations").json()
        assert healthy["degraded"] is False

        server.stop()
        known = client.get("/v1/clients/c001/recommendations")
        assert known.status_code == 200
        assert known.json()["degraded"] is True
        assert known.json()["source"] == "personal"  # the model still knows the client
        assert known.json()["items"]
        unknown = client.get("/v1/clients/somebody-new/recommendations")
        assert unknown.status_code == 200
        assert unknown.json()["degraded"] is True
        assert unknown.json()["source"] == "popularity"
        cold = client.post("/v1/recommendations", json={"owned": ["backup"]})
        assert cold.status_code == 200
        refused = client.post("/v1/events", json=EVENT, headers=_admin())
        assert refused.status_code == 503
        assert "retry shortly (a posted event with the same event_id" in refused.json()["detail"]
        assert client.get("/v1/managers/m001/next-best-offers", headers=_admin()).status_code == 503
        ready = client.get("/readyz").json()
        assert ready["status"] == "degraded"
        assert ready["store"] == "down"
        assert "recsys_degraded 1.0" in client.get("/metrics").text

        server.start()  # an empty server: the data comes back with materialize
        load_store(server.url, tmp_path).redis.close()
        time.sleep(0.3)  # past the retry window
        back = client.get("/v1/clients/c001/recommendations").json()
        assert back["degraded"] is False
        assert client.post("/v1/events", json=EVENT, headers=_admin()).status_code == 202
        assert client.get("/readyz").json()["status"] == "ready"


def _admin() -> dict[str, str]:
    from tests.serving.conftest import admin

    return admin()
