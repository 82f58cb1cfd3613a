"""Impressions of answers reach the event stream, survive a Redis outage, and are never lost
silently."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from feature_store.embedded import open_store
from feature_store.redis_store import RedisOnlineStore
from feature_store.settings import OnlineStoreSettings
from serving.app import create_app
from serving.settings import ServingSettings
from tests.feature_store.redis_server import RedisServer
from tests.serving.ab import experiment, impressions
from tests.serving.conftest import admin, load_store, make_settings

AB = experiment("ab", ("control", "champion", 1.0), ("treatment", "challenger", 1.0))


def test_impressions_carry_the_request_experiment_variant_and_propensity(
    client: TestClient, store: RedisOnlineStore
) -> None:
    assert client.post("/v1/experiments", json=AB, headers=admin()).status_code == 201
    answers = {}
    for n in range(1, 10):
        client_id = f"c{n:03d}"
        response = client.get(
            f"/v1/clients/{client_id}/recommendations",
            params={"k": 5},
            headers={"X-Request-ID": f"req-{n}"},
        )
        answers[f"req-{n}"] = response.json()
    expected = sum(len(a["items"]) for a in answers.values())
    logged = impressions(store, expected)
    assert len(logged) == expected
    for request_id, answer in answers.items():
        rows = sorted((r for r in logged if r.request_id == request_id), key=lambda r: r.position)
        assert [r.item_id for r in rows] == [i["item_id"] for i in answer["items"]]
        assert [r.position for r in rows] == list(range(len(rows)))
        assert {(r.client_id, r.experiment, r.variant) for r in rows} == {
            (answer["client_id"], "ab", answer["variant"])
        }
        assert [r.propensity for r in rows] == [1 / len(rows)] * len(rows)  # epsilon = 0
    assert len({r.event_id for r in logged}) == expected


def test_only_answers_in_an_experiment_are_logged_unless_all_are(
    settings: ServingSettings, store: RedisOnlineStore
) -> None:
    with TestClient(create_app(settings)) as client:
        assert client.get("/v1/clients/c001/recommendations").json()["experiment"] is None
    assert impressions(store, 1, timeout_s=0) == []  # the lifespan's end wrote what was queued

    every = settings.model_copy(update={"log_all_exposures": True})
    with TestClient(create_app(every)) as client:
        body = client.get("/v1/clients/c001/recommendations").json()
        cold = client.post("/v1/recommendations", json={"client_id": "new", "owned": ["backup"]})
        anonymous = client.post("/v1/recommendations", json={"owned": ["backup"]})
        assert cold.status_code == anonymous.status_code == 200
    logged = impressions(store, len(body["items"]) + len(cold.json()["items"]))
    assert {(r.client_id, r.experiment, r.variant) for r in logged} == {
        ("c001", None, None),
        ("new", None, None),
    }


@pytest.fixture
def server() -> Iterator[RedisServer]:
    with RedisServer() as own:  # a private server: these tests stop it
        yield own


def _counter(client: TestClient, name: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not exported")


def test_impressions_wait_out_a_redis_outage(
    server: RedisServer, model_dir: Path, tmp_path: Path
) -> None:
    load_store(server.url, tmp_path).redis.close()
    settings = make_settings(model_dir, server.url, tmp_path)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        assert client.post("/v1/experiments", json=AB, headers=admin()).status_code == 201
        server.stop()
        shown = 0
        for n in range(5):
            body = client.get(f"/v1/clients/c{n:03d}/recommendations").json()
            assert body["degraded"] is True and body["experiment"] == "ab"
            shown += len(body["items"])
        deadline = time.monotonic() + 10
        while _counter(client, "recsys_exposure_write_failures_total") < 1:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert _counter(client, "recsys_exposures_pending") == shown

        server.start()  # empty, but the stream needs nothing else
        store = open_store(OnlineStoreSettings(redis_url=server.url, data_dir=tmp_path))
        logged = impressions(store, shown)
        assert len(logged) == shown
        assert {r.experiment for r in logged} == {"ab"}
        assert _counter(client, "recsys_exposures_not_logged_total") == 0
        assert _counter(client, "recsys_exposures_logged_total") == shown
        store.redis.close()


def test_impressions_that_do_not_fit_are_counted_and_reported(
    server: RedisServer, model_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    load_store(server.url, tmp_path).redis.close()
    settings = make_settings(
        model_dir, server.url, tmp_path, exposure_buffer=5, log_all_exposures=True
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        server.stop()
        with caplog.at_level(logging.ERROR, logger="serving.exposures"):
            for _ in range(3):
                assert client.get("/v1/clients/c001/recommendations", params={"k": 5}).is_success
        assert _counter(client, "recsys_exposures_not_logged_total") == 10
        assert any("buffer of 5 impressions is full" in r.getMessage() for r in caplog.records)
    # at shutdown, Redis still down: the 5 queued ones are reported too
    assert any("still pending at shutdown" in r.getMessage() for r in caplog.records)
