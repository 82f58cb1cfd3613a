"""The online store, event stream and flusher behind Sentinel: a master, a replica, 3 Sentinels.

The API is given ``redis+sentinel://.../recsys``; the replica is stalled (the master's last
writes are on no replica), then the master is killed while it serves and records. The events
the replica did not confirm are refused with 503 (never 202); the Sentinels promote the
replica, the client asks them again and follows, every event answered 202 reaches Parquet once,
and the API recovers without a restart.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from feature_store.embedded import open_store
from feature_store.flush import Flusher
from feature_store.offline import OfflineStore
from serving.app import create_app
from tests.feature_store.conftest import settings_for
from tests.feature_store.failover_load import FailoverLoad, check_nothing_lost, stall_replication
from tests.feature_store.redis_topologies import LocalSentinel
from tests.serving.conftest import ITEMS, admin, fit_bundle, load_store, make_settings

pytestmark = pytest.mark.slow


@pytest.fixture
def sentinel() -> Iterator[LocalSentinel]:
    setup = LocalSentinel().start()
    yield setup
    setup.close()


@pytest.mark.fault
@pytest.mark.timeout(300)
def test_a_master_killed_under_load_fails_over_and_loses_no_accepted_event(
    sentinel: LocalSentinel, tmp_path: Path
) -> None:
    model_dir = fit_bundle(tmp_path / "model")
    store = load_store(sentinel.url, tmp_path)  # materialized through the Sentinels
    assert not store.cluster
    assert store.get_client_state("c001")[0].present
    offline = OfflineStore(tmp_path)
    clients = [f"c{n:03d}" for n in range(60)]
    settings = make_settings(model_dir, sentinel.url, tmp_path, store_retry_s=0.2)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        assert client.get("/v1/clients/c001/recommendations").json()["degraded"] is False
        flusher_store = open_store(settings_for(sentinel.url, tmp_path))
        items = list(ITEMS["item_id"][8:12])
        load = FailoverLoad(client, admin(), clients, items, flusher_store, offline).start()
        load.wait_until(lambda: len(load.counts.accepted) >= 30, "events before the kill", 60)

        load.hold_flusher()  # what comes next stays in Redis only, until the failover
        sentinel.replica.pause()
        stall_replication(sentinel.master.client, f"{store.keys.events}:filler")
        stalled_at = time.monotonic()
        load.wait_until(lambda: load.answered_since(stalled_at) >= 5, "events, replica stalled", 60)
        killed_at = time.monotonic()
        sentinel.master.kill()  # what it had not sent to its replica is gone
        sentinel.replica.resume()
        promoted = lambda: sentinel.current_master_port() == sentinel.replica.port  # noqa: E731
        took_over = load.wait_until(promoted, "the Sentinels to promote the replica", 60)
        load.release_flusher()
        load.wait_until(
            lambda: load.accepted_since(killed_at + took_over) >= 30, "events after", 60
        )
        counts = load.stop()

        final = Flusher(store, offline).run_once()
        figures = check_nothing_lost(counts, offline)
        summary = {**counts.summary(), **figures, "failover_s": round(took_over, 2)}
        print("sentinel master kill:", json.dumps(summary))
        assert summary["reads_5xx"] == 0
        assert set(counts.posts) <= {202, 503}
        assert counts.refusals["not replicated"] >= 1  # refused while the replica was stalled
        assert set(counts.refusals) <= {"not replicated", "store unavailable"}
        assert counts.refused_without_retry_after == 0
        assert final.lease_holder is None
        back = client.get("/v1/clients/c001/recommendations").json()
        assert back["degraded"] is False  # recovered without a restart
        assert client.get("/readyz").json()["status"] == "ready"
