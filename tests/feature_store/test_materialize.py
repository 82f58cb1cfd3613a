"""Offline -> online: counts, idempotence, replace-not-merge, bad input, events in flight."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from feature_store.events import EventIn, EventLog
from feature_store.materialize import MaterializeError, materialize
from feature_store.offline import OfflineStore
from feature_store.redis_store import RedisOnlineStore
from feature_store.settings import OnlineStoreSettings
from tests.feature_store.conftest import tiny_clients, tiny_interactions


def _dump(store: RedisOnlineStore) -> dict[str, object]:
    """Every key and its value, to compare whole databases."""
    r, out = store.redis, {}
    for key in sorted(r.keys("*")):
        kind = r.type(key).decode()
        value: object = {
            "string": lambda k: r.get(k),
            "set": lambda k: sorted(r.smembers(k)),
            "hash": lambda k: sorted(r.hgetall(k).items()),
            "stream": lambda k: r.xlen(k),
        }[kind](key)
        out[key.decode()] = value
    return out


def test_materialize_writes_and_counts(store: RedisOnlineStore, offline: OfflineStore) -> None:
    seen: list[tuple[int, int]] = []
    report = materialize(store, offline, progress=lambda done, total: seen.append((done, total)))
    assert (report.clients, report.items, report.managers) == (5, 4, 2)
    assert report.owned_pairs == 2  # c1 t-basic, c2 course-1 (c1's backup was cancelled)
    assert seen[-1] == (5, 5)
    assert len(seen) == 2  # write_batch=3: two chunks
    assert store.get_owned(["c1", "c2"])["c2"].value == frozenset({"course-1"})
    assert store.metadata()["status"] == "complete"
    assert store.metadata()["clients"] == "5"


def test_rerun_is_idempotent(store: RedisOnlineStore, offline: OfflineStore) -> None:
    materialize(store, offline)
    first = {k: v for k, v in _dump(store).items() if not k.endswith(":meta")}
    materialize(store, offline)
    again = {k: v for k, v in _dump(store).items() if not k.endswith(":meta")}
    assert again == first


def test_changed_offline_data_replaces_rather_than_merges(
    store: RedisOnlineStore, offline: OfflineStore
) -> None:
    materialize(store, offline)
    clients = tiny_clients()
    clients = clients[clients["client_id"] != "c3"]  # c3 left
    clients.loc[clients["client_id"] == "c5", "manager_id"] = "m1"  # m2 has no clients left
    interactions = tiny_interactions()
    interactions = interactions[interactions["item_id"] != "t-basic"]  # c1 owns nothing now
    offline.write_snapshot({"clients": clients, "interactions": interactions}, replace=False)

    report = materialize(store, offline)
    assert report.stale_clients_removed == 1
    assert store.get_profiles(["c3"])["c3"].status.value == "missing"
    assert store.get_owned(["c3"])["c3"].status.value == "missing"
    assert store.get_owned(["c1"])["c1"].value == frozenset()
    assert store.clients_of_manager("m1") == frozenset({"c1", "c2", "c5"})
    assert store.clients_of_manager("m2") == frozenset()


@pytest.mark.parametrize(
    ("clients", "message"),
    [
        (tiny_clients().assign(client_id=["c1", None, "c3", "c4", "c5"]), "without client_id"),
        (tiny_clients().assign(client_id=["c1", "c1", "c3", "c4", "c5"]), "repeated client_id"),
        (tiny_clients().drop(columns="client_id"), "no 'client_id' column"),
        (tiny_clients().iloc[:0], "clients table is empty"),
    ],
)
def test_bad_input_writes_nothing(
    store: RedisOnlineStore, offline: OfflineStore, clients: pd.DataFrame, message: str
) -> None:
    materialize(store, offline)
    before = _dump(store)
    offline.write_snapshot({"clients": clients}, replace=False)
    with pytest.raises(MaterializeError, match=message):
        materialize(store, offline)
    assert _dump(store) == before


def test_events_not_yet_flushed_survive_materialize(
    store: RedisOnlineStore, offline: OfflineStore
) -> None:
    materialize(store, offline)
    EventLog(store).append([EventIn(client_id="c4", item_ids=["backup"], event_type="purchase")])
    report = materialize(store, offline)  # the offline store does not know this purchase yet
    assert store.get_owned(["c4"])["c4"].value == frozenset({"backup"})
    assert report.owned_pairs == 3


def test_unknown_pairs_are_counted_not_written(
    store: RedisOnlineStore, offline: OfflineStore
) -> None:
    interactions = pd.concat(
        [
            tiny_interactions(),
            tiny_interactions().iloc[:1].assign(client_id="ghost"),
            tiny_interactions().iloc[:1].assign(item_id="retired"),
        ]
    )
    offline.write_snapshot({"interactions": interactions}, replace=False)
    report = materialize(store, offline)
    assert report.owned_pairs_skipped == 2
    assert store.get_owned(["ghost"])["ghost"].status.value == "missing"


def test_cli_materialize_and_status(settings: OnlineStoreSettings, offline: OfflineStore) -> None:
    from training.cli.main import app

    assert settings.redis_url is not None
    env = {"REDIS_URL": settings.redis_url.get_secret_value()}
    runner = CliRunner()
    data_dir = str(settings.data_dir)
    result = runner.invoke(app, ["features", "materialize", "--data-dir", data_dir], env=env)
    assert result.exit_code == 0, result.output
    assert "materialized 5 clients, 4 items" in result.output
    status = runner.invoke(app, ["features", "status", "--data-dir", data_dir], env=env)
    assert status.exit_code == 0, status.output
    assert "clients: 5" in status.output


def test_cli_materialize_empty_store_tells_to_import(
    settings: OnlineStoreSettings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from training.cli.main import app

    assert settings.redis_url is not None
    empty = str(tmp_path_factory.mktemp("empty"))
    result = CliRunner().invoke(
        app,
        ["features", "materialize", "--data-dir", empty],
        env={"REDIS_URL": settings.redis_url.get_secret_value()},
    )
    assert result.exit_code == 1
    assert "recsys data" in result.output
