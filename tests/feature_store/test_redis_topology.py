"""REDIS_URL forms pick the topology; version-1 events move into the version-2 stream."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from feature_store.events import EventLog
from feature_store.materialize import materialize
from feature_store.offline import OfflineStore
from feature_store.redis_store import RedisOnlineStore
from feature_store.redis_topology import Topology, parse
from feature_store.settings import OnlineStoreSettings, masked_url
from tests.feature_store.flushing import GOOD_FIELDS


def test_cluster_url_names_its_nodes_and_credentials() -> None:
    target = parse("redis+cluster://app:s3cret@10.0.0.1:7000,10.0.0.2:7001")
    assert target.topology is Topology.CLUSTER
    assert target.hosts == (("10.0.0.1", 7000), ("10.0.0.2", 7001))
    assert (target.username, target.password) == ("app", "s3cret")
    assert "s3cret" not in repr(target)


def test_sentinel_url_names_the_master_and_db() -> None:
    target = parse("redis+sentinel://:pw@s1:26379,s2:26379/recsys/2?sentinel_password=sp")
    assert target.topology is Topology.SENTINEL
    assert (target.master, target.db, target.password) == ("recsys", 2, "pw")
    assert target.sentinel_password == "sp"
    assert parse("redis://localhost:6379/0").topology is Topology.SINGLE


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis+sentinel://s1:26379", "master's name"),
        ("redis+cluster://n1:7000/3", "only database 0"),
        ("redis+cluster://n1", "not host:port"),
        ("memcached://x:1", "must start with one of"),
    ],
)
def test_bad_urls_are_refused_with_the_reason(url: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        OnlineStoreSettings(redis_url=url)


def test_passwords_of_multi_host_urls_are_masked() -> None:
    url = "redis+cluster://app:s3cret@n1:7000,n2:7001"
    assert masked_url(url) == "redis+cluster://app:***@n1:7000,n2:7001"
    settings = OnlineStoreSettings(redis_url=url)
    assert settings.topology is Topology.CLUSTER
    assert "s3cret" not in settings.display_url


def test_materialize_moves_version_1_events_into_the_new_stream(
    store: RedisOnlineStore, offline: OfflineStore
) -> None:
    assert store.keys.prefix == "recsys:v2:"
    for n in range(3):
        store.redis.xadd("recsys:v1:events", {**GOOD_FIELDS, "event_id": f"old-{n}"})
    store.redis.xadd("recsys:v1:events:dead", {"_entry_id": "1-0", "_error": "bad"})

    materialize(store, offline)

    moved = [record.event_id for _, record in EventLog(store).read_after()]
    assert moved == ["old-0", "old-1", "old-2"]
    assert store.redis.xlen(store.keys.dead_letters) == 1
    assert not store.redis.exists("recsys:v1:events", "recsys:v1:events:dead")
    materialize(store, offline)  # nothing left to move: a rerun changes nothing
    assert [r.event_id for _, r in EventLog(store).read_after()] == moved
