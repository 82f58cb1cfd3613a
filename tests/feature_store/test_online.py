"""The Redis online store: per-key status reads, blobs, prefixes, and surviving a Redis restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from feature_store.embedded import open_store
from feature_store.materialize import write_snapshot
from feature_store.offline import OfflineStore
from feature_store.online import Lookup, OwnedChange, Status, StoreUnavailableError
from feature_store.redis_store import RedisOnlineStore
from feature_store.settings import DEFAULT_KEY_PREFIX, OnlineStoreSettings
from recommender.feedback import owned_pairs
from tests.feature_store.conftest import (
    settings_for,
    tiny_clients,
    tiny_interactions,
    tiny_items,
)
from tests.feature_store.redis_server import RedisServer


def _fill(store: RedisOnlineStore) -> None:
    write_snapshot(store, tiny_clients(), tiny_items(), owned_pairs(tiny_interactions()))


def test_reads_report_present_and_missing_per_key(store: RedisOnlineStore) -> None:
    _fill(store)
    profiles = store.get_profiles(["c1", "nobody", "c5"])
    assert profiles["nobody"] == Lookup(Status.MISSING)
    assert profiles["c1"].status is Status.PRESENT
    assert profiles["c1"].value == {
        "industry": "finance",
        "segment": "B2B",
        "size_band": "small",
        "region": "77",
        "manager_id": "m1",
        "loyalty_tier": "gold",
        "signup_date": "2021-01-05",
    }
    assert profiles["c5"].value is not None
    assert profiles["c5"].value["signup_date"] is None

    owned = store.get_owned(["c1", "c4", "nobody"])
    assert owned["c1"].value == frozenset({"t-basic"})  # backup was cancelled later
    assert owned["c4"] == Lookup(Status.PRESENT, frozenset())  # known client, owns nothing
    assert owned["nobody"].status is Status.MISSING

    items = store.get_items(["t-pro", "ghost"])
    assert items["t-pro"].value is not None
    assert items["t-pro"].value["family"] == "support"
    assert not items["ghost"].present
    assert store.catalog()["backup"]["prerequisites"] == ["t-basic"]
    assert store.clients_of_manager("m2") == frozenset({"c3", "c5"})
    assert store.clients_of_manager("m-unknown") == frozenset()
    assert store.missing_clients(["c2", "x", "y"]) == ["x", "y"]
    assert store.missing_items(["backup", "ghost"]) == ["ghost"]
    assert store.get_profiles([]) == {}
    assert store.get_owned([]) == {}


def test_blobs_round_trip_binary_data(store: RedisOnlineStore) -> None:
    payload = bytes(range(256)) * 10
    assert store.get_blob("ease/v3").status is Status.MISSING
    store.put_blob("ease/v3", payload)
    assert store.get_blob("ease/v3") == Lookup(Status.PRESENT, payload)


def test_apply_owned_adds_and_frees(store: RedisOnlineStore) -> None:
    _fill(store)
    store.apply_owned([OwnedChange("c1", "t-pro", True), OwnedChange("c1", "t-basic", False)])
    assert store.get_owned(["c1"])["c1"].value == frozenset({"t-pro"})


def test_prefixes_are_isolated(settings: OnlineStoreSettings) -> None:
    current = open_store(settings)
    other = open_store(settings.model_copy(update={"redis_key_prefix": "recsys:v9:"}))
    _fill(current)
    assert other.get_profiles(["c1"])["c1"].status is Status.MISSING
    keys = {k.decode() for k in current.redis.keys("*")}
    assert keys
    assert all(k.startswith(DEFAULT_KEY_PREFIX) for k in keys)


def test_unreachable_store_raises_then_recovers_without_rebuild(
    private_redis: RedisServer, tmp_path: Path
) -> None:
    store = open_store(settings_for(private_redis.url, tmp_path))
    _fill(store)
    assert store.ping()

    private_redis.stop()
    assert not store.ping()
    with pytest.raises(StoreUnavailableError, match=f"127.0.0.1:{private_redis.port}"):
        store.get_profiles(["c1"])
    with pytest.raises(StoreUnavailableError):
        store.get_owned(["c1"])
    with pytest.raises(StoreUnavailableError):
        _fill(store)

    private_redis.start()  # same port, empty data (no persistence in tests)
    assert store.ping()
    assert store.get_profiles(["c1"])["c1"].status is Status.MISSING
    _fill(store)
    assert store.get_owned(["c1"])["c1"].value == frozenset({"t-basic"})


def test_unavailable_message_masks_the_password(tmp_path: Path) -> None:
    with RedisServer(tmp_path / "r", password="s3cret-pw") as server:
        settings = settings_for(server.url, tmp_path)
        store = open_store(settings)
        assert store.ping()
        server.stop()
        with pytest.raises(StoreUnavailableError) as caught:
            store.metadata()
        assert "s3cret-pw" not in str(caught.value)
        assert ":***@127.0.0.1" in str(caught.value)
        assert "s3cret-pw" not in repr(store)


def test_materialize_reports_offline_empty(store: RedisOnlineStore, tmp_path: Path) -> None:
    from feature_store.errors import OfflineStoreEmptyError
    from feature_store.materialize import materialize

    with pytest.raises(OfflineStoreEmptyError, match="recsys data"):
        materialize(store, OfflineStore(tmp_path / "empty"))
    assert store.redis.dbsize() == 0
