"""Hot reload: a swap under load fails no request; broken bundles are refused, old one serves."""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from recommender.servable import ServableModel
from serving.app import create_app
from serving.model_holder import ModelHolder, ModelRefusedError
from serving.model_source import DirectorySource
from serving.reload_broadcast import reload_if_changed
from serving.settings import ServingSettings
from tests.serving.conftest import admin, fit_bundle

HAMMERS = 3


def _hammer(
    client: TestClient, stop: threading.Event, seen: list[str], failures: list[str]
) -> None:
    n = 0
    while not stop.is_set():
        response = client.get(f"/v1/clients/c{n % 60:03d}/recommendations", params={"k": 3})
        n += 1
        if response.status_code != 200:
            failures.append(f"{response.status_code}: {response.text[:200]}")
        else:
            seen.append(response.json()["model_version"])


def test_swap_under_load_and_refusals(
    settings: ServingSettings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bundle = fit_bundle(tmp_path / "bundle", version="v1")
    live = settings.model_copy(update={"model_dir": bundle})
    caplog.set_level(logging.ERROR, logger="serving.models")
    with TestClient(create_app(live), raise_server_exceptions=False) as client:
        stop, seen, failures = threading.Event(), [], []
        workers = [
            threading.Thread(target=_hammer, args=(client, stop, seen, failures))
            for _ in range(HAMMERS)
        ]
        for thread in workers:
            thread.start()
        worker = workers[0]
        try:
            while len(seen) < 20 and worker.is_alive():
                stop.wait(0.01)
            fit_bundle(bundle, seed=11, version="v2")
            swapped = client.post("/v1/admin/reload", headers=admin())
            assert swapped.status_code == 200, swapped.text
            assert swapped.json()["previous_version"] == "v1"
            assert swapped.json()["model_version"] == "als:v2"
            count = len(seen)
            while len(seen) < count + 20 and worker.is_alive():
                stop.wait(0.01)

            (bundle / "arrays.npz").write_bytes(b"corrupted")  # checksum mismatch
            refused = client.post("/v1/admin/reload", headers=admin())
            assert refused.status_code == 409
            assert "checksum" in refused.json()["detail"]

            fit_bundle(bundle, seed=11, version="v3")
            manifest = json.loads((bundle / "manifest.json").read_text())
            manifest["format_version"] = 99  # a bundle from an incompatible release
            (bundle / "manifest.json").write_text(json.dumps(manifest))
            incompatible = client.post("/v1/admin/reload", headers=admin())
            assert incompatible.status_code == 409
            assert "format_version" in incompatible.json()["detail"]

            _rename_kinds(bundle, seed=11, version="v4")  # loads, but kinds mean other things
            renamed = client.post("/v1/admin/reload", headers=admin())
            assert renamed.status_code == 409
            assert "catalog kinds" in renamed.json()["detail"]
            count = len(seen)
            while len(seen) < count + 10 and worker.is_alive():
                stop.wait(0.01)
            addons = client.get("/v1/clients/c001/recommendations", params={"kind": "addon"})
            assert addons.status_code == 200
        finally:
            stop.set()
            for thread in workers:
                thread.join()
        assert failures == []
        assert set(seen) == {"als:v1", "als:v2"}
        assert seen[-1] == "als:v2"
        models = client.get("/v1/models", headers=admin()).json()
        assert [m["version"] for m in models["models"]] == ["v2"]
        metrics = client.get("/metrics").text
        assert 'recsys_model_reloads_total{outcome="refused"} 3.0' in metrics
        assert 'recsys_model_info{alias="champion",name="als",version="v2"} 1.0' in metrics
    refusals = [r.getMessage() for r in caplog.records if "refused model" in r.getMessage()]
    assert len(refusals) == 3
    assert all("still serving als:v2" in message for message in refusals)
    assert "checksum" in refusals[0]
    assert "format_version" in refusals[1]
    assert "catalog kinds" in refusals[2]


def _rename_kinds(bundle: Path, seed: int, version: str) -> None:
    fit_bundle(bundle, seed=seed, version=version)
    model = ServableModel.load(bundle)
    kinds = ("plan", "training", "extra")
    replace(model, catalog=replace(model.catalog, kind_names=kinds)).save(bundle)


class _SlowSource(DirectorySource):
    """A directory whose loads wait until ``release`` is set."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.release = threading.Event()

    def load(self, alias: str) -> tuple[ServableModel, str]:
        assert self.release.wait(10), "the test never released the load"
        return super().load(alias)


def test_a_slow_load_blocks_no_reader(tmp_path: Path) -> None:
    source = _SlowSource(fit_bundle(tmp_path / "bundle", version="v1"))
    source.release.set()
    holder = ModelHolder(source, ("champion",))
    holder.load_all()
    source.release.clear()
    loading = threading.Thread(target=holder.reload, args=("champion",))
    loading.start()
    try:
        time.sleep(0.05)  # the reload is now waiting inside the load
        started = time.monotonic()
        holder.want("challenger")  # what the experiment path calls on a request
        assert holder.current.version == "v1"
        assert [m.version for m in holder.models()] == ["v1"]
        assert time.monotonic() - started < 1.0  # not waiting for the load (10 s)
    finally:
        source.release.set()
        loading.join()
    assert holder.current.version == "v1"


class _CountingSource(DirectorySource):
    """A directory source that counts bundle fetches."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.loads = 0

    def load(self, alias: str) -> tuple[ServableModel, str]:
        self.loads += 1
        return super().load(alias)


def test_a_refused_version_is_not_fetched_again_by_the_poll(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bundle = fit_bundle(tmp_path / "bundle", version="v1")
    source = _CountingSource(bundle)
    holder = ModelHolder(source, ("champion",))
    holder.load_all()
    caplog.set_level(logging.ERROR, logger="serving.models")

    (bundle / "arrays.npz").write_bytes(b"corrupted")  # v1's arrays: the version in memory
    fit_bundle(bundle, seed=11, version="v2")
    (bundle / "arrays.npz").write_bytes(b"corrupted")  # v2 is promoted broken
    fetched = source.loads
    outcomes = [reload_if_changed(holder, "champion") for _ in range(5)]  # five polls
    assert outcomes == ["refused"] + ["unchanged"] * 4
    assert source.loads == fetched + 1  # fetched once, not at every poll
    assert holder.current.version == "v1"
    behind = holder.behind()
    assert behind is not None and behind.version == "v2" and "checksum" in behind.reason
    refusals = [r.getMessage() for r in caplog.records if "refused model" in r.getMessage()]
    assert len(refusals) == 1
    assert "version v2 is not fetched again until champion moves" in refusals[0]

    with pytest.raises(ModelRefusedError):  # an explicit reload always tries
        holder.reload("champion")
    assert source.loads == fetched + 2

    fit_bundle(bundle, seed=13, version="v3")  # a new version at the alias is tried
    assert reload_if_changed(holder, "champion") == "swapped"
    assert holder.current.version == "v3" and holder.behind() is None
