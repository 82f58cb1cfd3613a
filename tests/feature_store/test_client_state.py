"""``get_client_state(s)``: profile and owned offers in one round trip, as two reads give them."""

from __future__ import annotations

from pathlib import Path

import pytest

from feature_store.embedded import open_store
from feature_store.materialize import write_snapshot
from feature_store.online import Lookup, Status, StoreUnavailableError
from feature_store.redis_store import RedisOnlineStore
from recommender.feedback import owned_pairs
from tests.feature_store.conftest import settings_for, tiny_clients, tiny_interactions, tiny_items
from tests.feature_store.redis_server import RedisServer


def _fill(store: RedisOnlineStore) -> None:
    write_snapshot(store, tiny_clients(), tiny_items(), owned_pairs(tiny_interactions()))


def test_client_state_matches_the_separate_reads(store: RedisOnlineStore) -> None:
    _fill(store)
    ids = ["c1", "c4", "nobody", "c1", "c5"]
    states = store.get_client_states(ids)
    assert list(states) == ["c1", "c4", "nobody", "c5"]
    profiles, owned = store.get_profiles(ids), store.get_owned(ids)
    for client_id, (profile, held) in states.items():
        assert profile == profiles[client_id]
        assert held == owned[client_id]
    assert states["c4"][1] == Lookup(Status.PRESENT, frozenset())  # known, owns nothing
    assert states["nobody"] == (Lookup(Status.MISSING), Lookup(Status.MISSING))
    assert store.get_client_state("c1") == states["c1"]
    assert store.get_client_states([]) == {}


def test_odd_client_ids_are_sent_verbatim(store: RedisOnlineStore) -> None:
    _fill(store)
    for odd in ("a b", "ü\r\n*2", "$-1", ""):
        assert store.get_client_state(odd) == (Lookup(Status.MISSING), Lookup(Status.MISSING))
    assert store.get_client_state("c1")[0].present  # the connection is still in step


def test_a_failed_read_leaves_no_half_read_connection(store: RedisOnlineStore) -> None:
    _fill(store)
    store.redis.set(store.keys.owned("c2"), "not a set")  # SMEMBERS answers WRONGTYPE
    with pytest.raises(Exception, match="WRONGTYPE"):
        store.get_client_states(["c2", "c1"])
    assert store.get_client_state("c1")[0].present
    assert store.get_client_state("c3")[0].present


def test_client_state_fails_cleanly_and_recovers(
    private_redis: RedisServer, tmp_path: Path
) -> None:
    store = open_store(settings_for(private_redis.url, tmp_path))
    _fill(store)
    assert store.get_client_state("c1")[0].present
    private_redis.stop()
    with pytest.raises(StoreUnavailableError):
        store.get_client_state("c1")
    private_redis.start()  # same port, empty data
    assert store.get_client_state("c1")[0].status is Status.MISSING
    _fill(store)
    assert store.get_client_state("c1")[1].value == frozenset({"t-basic"})
