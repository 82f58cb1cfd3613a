"""An accepted event waits for a replica (``feature_store.replica_ack``): policy, errors, cost.

The kill-under-load tests (``test_cluster.py``, ``test_sentinel.py``) show what it buys; these
show the parts: the policy per topology, the count of replicas in sync, the refusal when too
few confirm (a clear 503 with Retry-After), and what the wait costs per event on a single Redis
(nothing: no WAIT is sent) and on a cluster (one replica round trip).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from pydantic import ValidationError
from redis.crc import key_slot

from feature_store.embedded import open_store
from feature_store.events import EventIn, EventLog
from feature_store.materialize import materialize
from feature_store.redis_store import RedisOnlineStore
from feature_store.replica_ack import (
    CHECK_S,
    EventNotReplicatedError,
    ReplicaPolicy,
    ReplicaWaiter,
    online_replicas,
)
from feature_store.settings import OnlineStoreSettings
from serving.app import create_app
from tests.feature_store.conftest import settings_for
from tests.feature_store.redis_server import RedisServer
from tests.feature_store.redis_topologies import LocalCluster
from tests.feature_store.test_cluster import _offline
from tests.serving.conftest import ITEMS, admin, fit_bundle, load_store, make_settings

CLUSTER_URL = "redis+cluster://127.0.0.1:7000,127.0.0.1:7001"
SENTINEL_URL = "redis+sentinel://127.0.0.1:26379/recsys"


# ---- the policy ------------------------------------------------------------------------------


def test_only_replicas_in_sync_count() -> None:
    replication = {
        "role": "master",
        "connected_slaves": 3,
        "slave0": {"ip": "10.0.0.2", "port": 6379, "state": "online", "offset": 10, "lag": 0},
        "slave1": {"ip": "10.0.0.3", "port": 6379, "state": "wait_bgsave", "offset": 0},
        "slave2": {"ip": "10.0.0.4", "port": 6379, "state": "online", "offset": 9, "lag": 1},
        "master_repl_offset": 10,
    }
    assert online_replicas(replication) == 2
    assert online_replicas({"role": "master", "connected_slaves": 0}) == 0


def test_unset_means_none_on_a_single_redis_and_one_when_online_elsewhere(tmp_path: Path) -> None:
    def policy(url: str, **extra: object) -> ReplicaPolicy:
        values = {"redis_url": url, "data_dir": tmp_path, **extra}
        return OnlineStoreSettings.model_validate(values).replica_policy

    assert policy("redis://127.0.0.1:6379/0") == ReplicaPolicy(0, 250)
    assert OnlineStoreSettings(data_dir=tmp_path).replica_policy.min_replicas == 0  # embedded
    assert policy(CLUSTER_URL).min_replicas is None  # auto: 1 when a replica is online
    assert policy(SENTINEL_URL).min_replicas is None
    assert policy(CLUSTER_URL, event_min_replicas="auto").min_replicas is None
    assert policy(CLUSTER_URL, event_min_replicas="").min_replicas is None
    assert policy("redis://127.0.0.1:6379/0", event_min_replicas=2) == ReplicaPolicy(2, 250)
    assert policy(CLUSTER_URL, event_min_replicas=0).enabled is False


def test_a_wait_longer_than_the_socket_timeout_is_refused_by_name(tmp_path: Path) -> None:
    values = {"data_dir": tmp_path, "socket_timeout_s": 0.2, "event_replica_timeout_ms": 250}
    with pytest.raises(ValidationError, match=r"RECSYS_EVENT_REPLICA_TIMEOUT_MS \(250\) must be"):
        OnlineStoreSettings.model_validate({**values, "redis_url": CLUSTER_URL})
    # a single Redis does not wait (unless told to), so its socket timeout may be shorter
    OnlineStoreSettings.model_validate({**values, "redis_url": "redis://127.0.0.1:6379/0"})


def test_auto_asks_each_master_once_per_interval_and_again_after_a_shortfall() -> None:
    now = [0.0]
    asked: list[str] = []
    online = {"a": 1, "b": 0}
    waiter = ReplicaWaiter(ReplicaPolicy(None, 100), clock=lambda: now[0])

    def count(master: str) -> int:
        asked.append(master)
        return online[master]

    def required(master: str) -> int:
        return waiter.required(master, lambda: count(master))

    assert [required("a"), required("a"), required("b")] == [1, 1, 0]
    assert asked == ["a", "b"]
    now[0] += CHECK_S
    online["b"] = 2
    assert required("b") == 1  # one is enough in auto mode
    with pytest.raises(EventNotReplicatedError, match="0 of the 1 replica"):
        waiter.check("a", required=1, acknowledged=0)
    online["a"] = 0
    assert required("a") == 0  # asked again at once: its replica is gone
    assert asked == ["a", "b", "b", "a"]
    strict = ReplicaWaiter(ReplicaPolicy(2, 100))
    assert strict.required("a", lambda: pytest.fail("a fixed count asks nobody")) == 2


# ---- a lone server ---------------------------------------------------------------------------


def _click(client_id: str = "c1") -> EventIn:
    return EventIn(client_id=client_id, item_ids=["backup"], event_type="click")


def test_a_lone_server_asked_for_a_replica_refuses_clearly_but_keeps_the_write(
    settings: OnlineStoreSettings, store: RedisOnlineStore
) -> None:
    materialize(store, _offline(settings.data_dir))
    assert store.replicas.enabled is False  # a single Redis: no WAIT is sent
    EventLog(store).append([_click()])
    strict = open_store(
        settings.model_copy(update={"event_min_replicas": 1, "event_replica_timeout_ms": 20})
    )
    with pytest.raises(EventNotReplicatedError) as refused:
        EventLog(strict).append([_click()])
    assert (refused.value.required, refused.value.acknowledged) == (1, 0)
    assert "retry with the same event_id" in str(refused.value)
    assert EventLog(store).length() == 2  # on the master, so a retry must be a repeat


def test_the_api_answers_503_with_retry_after_when_no_replica_confirms(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with RedisServer(tmp_path / "redis") as server:
        load_store(server.url, tmp_path).redis.close()
        monkeypatch.setenv("RECSYS_EVENT_MIN_REPLICAS", "1")
        monkeypatch.setenv("RECSYS_EVENT_REPLICA_TIMEOUT_MS", "20")
        settings = make_settings(fit_bundle(tmp_path / "model"), server.url, tmp_path)
        item = str(ITEMS["item_id"].iloc[0])
        event = {"event_id": "e-1", "client_id": "c001", "item_ids": [item], "event_type": "click"}
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            refused = client.post("/v1/events", json=event, headers=admin())
            assert refused.status_code == 503
            assert refused.headers["Retry-After"] == "1"
            body = refused.json()
            assert "0 of the 1 replica(s)" in body["detail"]
            assert "retry with the same event_id" in body["detail"]
            assert body["request_id"]
            # the master answered: reads do not degrade for a missing replica
            answer = client.get("/v1/clients/c001/recommendations").json()
            assert answer["degraded"] is False


# ---- a cluster -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with_cluster = LocalCluster().start()
    yield with_cluster
    with_cluster.close()


def _cluster_store(cluster: LocalCluster, data_dir: Path, **policy: object) -> RedisOnlineStore:
    settings = settings_for(cluster.url, data_dir).model_copy(update=policy)
    store = open_store(settings)
    materialize(store, _offline(data_dir))
    return store


def _on_replica(cluster: LocalCluster, store: RedisOnlineStore) -> int:
    """Entries of the event stream as the stream master's replica has them."""
    master = cluster.master_of(key_slot(store.keys.events.encode()))
    replica = redis.Redis(port=cluster.replica_of(master).port)
    replica.execute_command("READONLY")
    return int(replica.xlen(store.keys.events))


@pytest.mark.slow
def test_on_a_cluster_the_stream_master_waits_for_its_replica(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    store = _cluster_store(cluster, tmp_path)
    assert store.replicas.policy.min_replicas is None  # auto
    log = EventLog(store)
    for n in range(20):
        log.append([_click(f"c{n % 5 + 1}")])
        assert _on_replica(cluster, store) == n + 1  # there before the call returned
    strict = _cluster_store(cluster, tmp_path / "strict", event_min_replicas=2)
    with pytest.raises(EventNotReplicatedError) as refused:
        EventLog(strict).append([_click()])
    assert (refused.value.required, refused.value.acknowledged) == (2, 1)  # it has one replica


def _append_ms(log: EventLog, n: int) -> list[float]:
    """Milliseconds of ``n`` single-event appends, one after the other (as POSTs arrive)."""
    took = []
    for k in range(n):
        started = time.perf_counter()
        log.append([_click(f"c{k % 5 + 1}")])
        took.append((time.perf_counter() - started) * 1000)
    return took


def _figures(took: list[float]) -> dict[str, float]:
    ordered = sorted(took)
    return {
        "median_ms": round(statistics.median(ordered), 3),
        "p99_ms": round(ordered[int(len(ordered) * 0.99)], 3),
    }


@pytest.mark.slow
def test_what_waiting_for_a_replica_costs(
    cluster: LocalCluster, settings: OnlineStoreSettings, store: RedisOnlineStore, tmp_path: Path
) -> None:
    """Figures for the README (printed; run with -s): one event per append, as one POST.

    The three set-ups take turns in rounds, so a noisy neighbour slows all of them alike.
    """
    materialize(store, _offline(settings.data_dir))
    logs = {
        "single redis (no replica, no WAIT)": EventLog(store),
        "cluster, RECSYS_EVENT_MIN_REPLICAS=0": EventLog(
            _cluster_store(cluster, tmp_path / "nowait", event_min_replicas=0)
        ),
        "cluster, unset (WAIT for 1 replica)": EventLog(_cluster_store(cluster, tmp_path / "w")),
    }
    took: dict[str, list[float]] = {name: [] for name in logs}
    for _ in range(8):
        for name, log in logs.items():
            took[name] += _append_ms(log, 50)
    print("event append cost:", json.dumps({name: _figures(t) for name, t in took.items()}))
    assert all(len(t) == 400 for t in took.values())
