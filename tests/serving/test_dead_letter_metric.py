"""/metrics counts the events' dead letters, whichever process moved them there."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from feature_store.redis_store import RedisOnlineStore
from feature_store.settings import OnlineStoreSettings
from serving.app import create_app
from tests.feature_store.flushing import POISON_POSITION, raw_entry, start_cli
from tests.feature_store.redis_server import RedisServer
from tests.serving.conftest import load_store, make_settings

METRIC = "recsys_events_dead_letters"


def _gauge(client: TestClient) -> float | None:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f"{METRIC} "):
            return float(line.split()[1])
    return None


def test_dead_letters_moved_by_a_flusher_process_show_in_metrics(
    client: TestClient, store: RedisOnlineStore, redis_server: RedisServer, tmp_path: Path
) -> None:
    assert _gauge(client) == 0
    raw_entry(store, event_id="poison", client_id="c001", position=POISON_POSITION)
    raw_entry(store, event_id="nan", client_id="c001", value="nan")
    raw_entry(store, event_id="fine", client_id="c001")

    settings = OnlineStoreSettings(redis_url=redis_server.url, data_dir=tmp_path)
    flush = start_cli(settings, "events", "flush")
    output, _ = flush.communicate(timeout=120)
    assert flush.returncode == 0, output
    assert "flushed 1 events (0 duplicates skipped, 2 dead-lettered)" in output
    assert _gauge(client) == 2


def test_metrics_answer_without_the_gauge_while_redis_is_down(
    model_dir: Path, tmp_path: Path
) -> None:
    with RedisServer() as server:  # a private server: this test stops it
        load_store(server.url, tmp_path).redis.close()
        settings = make_settings(model_dir, server.url, tmp_path)
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            assert _gauge(client) == 0
            server.stop()
            response = client.get("/metrics")
            assert response.status_code == 200
            assert METRIC not in response.text
            assert "recsys_degraded" in response.text
