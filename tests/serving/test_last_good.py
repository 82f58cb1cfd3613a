"""The last good version on local disk: kept atomically and verified, served at start-up when the
alias points at a version that cannot be served, shown in /readyz; without one, a clear error."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from recommender.servable import ServableModel
from serving.app import create_app
from serving.last_good import POINTER, LastGoodStore, NoLastGoodError, store_directory
from serving.model_holder import ModelHolder, ModelRefusedError
from serving.model_source import DirectorySource
from serving.settings import ServingSettings
from tests.serving.conftest import fit_bundle

pytestmark = pytest.mark.fault  # the fault-injection suite: pytest -m fault


def _break(bundle: Path, version: str) -> None:
    """Make ``bundle`` a version from an incompatible release (refused, named ``version``)."""
    fit_bundle(bundle, seed=11, version=version)
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["format_version"] = 99
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def test_a_kept_copy_loads_verified_and_replaces_the_older(tmp_path: Path) -> None:
    store = LastGoodStore(tmp_path / "kept")
    assert store.version() is None
    with pytest.raises(NoLastGoodError, match="no version has been kept"):
        store.load()
    v1 = ServableModel.load(fit_bundle(tmp_path / "b1", version="v1"))
    assert store.keep(v1, "v1")
    assert not store.keep(v1, "v1")  # the other worker already kept it
    kept = store.load()
    assert (kept.version, kept.servable.metadata["version"]) == ("v1", "v1")

    v2 = ServableModel.load(fit_bundle(tmp_path / "b2", seed=11, version="v2"))
    assert store.keep(v2, "v2")
    assert store.load().version == "v2"
    bundles = [p for p in (tmp_path / "kept").iterdir() if p.is_dir()]
    assert len(bundles) == 1  # the older copy is gone

    (bundles[0] / "arrays.npz").write_bytes(b"bit rot")
    with pytest.raises(NoLastGoodError, match="checksum mismatch"):
        store.load()
    (tmp_path / "kept" / POINTER).write_text("{not json")
    with pytest.raises(NoLastGoodError, match="unreadable"):
        store.load()


def test_workers_keeping_at_once_leave_one_whole_copy(tmp_path: Path) -> None:
    models = [
        ServableModel.load(fit_bundle(tmp_path / f"b{n}", seed=n, version=f"v{n}"))
        for n in range(4)
    ]
    store = LastGoodStore(tmp_path / "kept")
    errors: list[BaseException] = []

    def keep(n: int) -> None:
        try:
            for _ in range(5):
                LastGoodStore(store.directory).keep(models[n], f"v{n}")
                LastGoodStore(store.directory).load()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=keep, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    kept = store.load()
    assert kept.servable.metadata["version"] == kept.version
    assert len([p for p in store.directory.iterdir() if p.is_dir()]) == 1


def test_start_on_the_last_good_version_when_the_alias_is_broken(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bundle = fit_bundle(tmp_path / "bundle", version="v1")
    kept = LastGoodStore(tmp_path / "kept")
    first = ModelHolder(DirectorySource(bundle), ("champion",), kept)
    first.load_all()  # a worker that loaded v1 keeps it
    assert kept.version() == "v1"
    assert first.behind() is None and first.degraded_reason() is None

    _break(bundle, "v2")
    caplog.set_level(logging.ERROR, logger="serving.models")
    replacement = ModelHolder(DirectorySource(bundle), ("champion",), kept)
    replacement.load_all()
    assert replacement.current.version == "v1"
    assert replacement.current.from_last_good
    behind = replacement.behind()
    assert behind is not None and behind.version == "v2" and "format_version" in behind.reason
    reason = replacement.degraded_reason()
    assert reason is not None and "v2" in reason and "last good copy" in reason
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "serving the last good version" in logged and str(kept.directory) in logged

    # the alias moves to a version that loads: served, and kept in turn
    fit_bundle(bundle, seed=13, version="v3")
    assert replacement.reload("champion", only_if_changed=True).version == "v3"
    assert replacement.behind() is None
    assert kept.version() == "v3"


def test_without_a_last_good_copy_the_start_fails_saying_what_to_do(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    _break(bundle, "v2")
    holder = ModelHolder(DirectorySource(bundle), ("champion",), LastGoodStore(tmp_path / "k"))
    with pytest.raises(ModelRefusedError) as refused:
        holder.load_all()
    message = str(refused.value)
    assert message.startswith("cannot start: champion of directory")
    assert "format_version" in message  # why the alias's version was refused
    assert "no version has been kept" in message  # why nothing stands in
    assert "recsys promote" in message  # what to do
    assert not holder.ready


def test_readyz_says_which_version_serves_and_why(
    settings: ServingSettings, tmp_path: Path
) -> None:
    bundle = fit_bundle(tmp_path / "bundle", version="v1")
    live = settings.model_copy(update={"model_dir": bundle})
    with TestClient(create_app(live)) as client:
        ready = client.get("/readyz").json()
        assert ready["status"] == "ready" and ready["degraded"] is False
        assert ready["serving_version"] == "als:v1" and ready["champion_version"] == "v1"
        assert ready["degraded_reason"] is None
    kept = store_directory(live.data_dir, f"directory {bundle}", "champion")
    assert LastGoodStore(kept).version() == "v1"

    _break(bundle, "v2")
    with TestClient(create_app(live)) as client:  # a worker starting now
        ready = client.get("/readyz").json()
        assert ready["status"] == "degraded" and ready["degraded"] is True
        assert ready["store"] == "up"
        assert ready["serving_version"] == "als:v1" and ready["champion_version"] == "v2"
        assert "format_version" in ready["degraded_reason"]
        answer = client.get("/v1/clients/c001/recommendations")
        assert answer.status_code == 200 and answer.json()["model_version"] == "als:v1"
