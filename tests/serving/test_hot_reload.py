"""Hot reload: a swap under load fails no request; broken bundles are refused, old one serves."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from fastapi.testclient import TestClient

from serving.app import create_app
from serving.settings import ServingSettings
from tests.serving.conftest import admin, fit_bundle


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


def test_swap_under_load_and_refusals(settings: ServingSettings, tmp_path: Path) -> None:
    bundle = fit_bundle(tmp_path / "bundle", version="v1")
    live = settings.model_copy(update={"model_dir": bundle})
    with TestClient(create_app(live), raise_server_exceptions=False) as client:
        stop, seen, failures = threading.Event(), [], []
        worker = threading.Thread(target=_hammer, args=(client, stop, seen, failures))
        worker.start()
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
            count = len(seen)
            while len(seen) < count + 10 and worker.is_alive():
                stop.wait(0.01)
        finally:
            stop.set()
            worker.join()
        assert failures == []
        assert set(seen) == {"als:v1", "als:v2"}
        assert seen[-1] == "als:v2"
        models = client.get("/v1/models", headers=admin()).json()
        assert [m["version"] for m in models["models"]] == ["v2"]
        metrics = client.get("/metrics").text
        assert 'recsys_model_reloads_total{outcome="refused"} 2.0' in metrics
        assert 'recsys_model_info{alias="champion",name="als",version="v2"} 1.0' in metrics
