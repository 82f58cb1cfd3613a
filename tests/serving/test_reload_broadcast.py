"""A reload reaches every worker: two apps (as two uvicorn workers) share Redis and a bundle."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from serving.app import create_app
from serving.settings import ServingSettings
from tests.serving.conftest import admin, eventually, fit_bundle


def _version(client: TestClient) -> str:
    return str(client.get("/v1/clients/c001/recommendations").json()["model_version"])


def reload_reaches_the_other(first: TestClient, second: TestClient, bundle: Path) -> None:
    """Both serve v1; v2 reloaded on ``first`` is announced and reaches ``second``."""
    for client in (first, second):
        assert client.app.state.reload_listener.wait_subscribed(10)  # type: ignore[attr-defined]
    assert _version(first) == _version(second) == "als:v1"
    fit_bundle(bundle, seed=11, version="v2")
    swapped = first.post("/v1/admin/reload", headers=admin())
    assert swapped.status_code == 200, swapped.text
    assert swapped.json()["announced"] is True
    assert _version(first) == "als:v2"
    assert eventually(lambda: _version(second) == "als:v2")
    metrics = second.get("/metrics").text
    assert 'recsys_model_reloads_total{outcome="swapped"} 1.0' in metrics


def test_reload_on_one_worker_reaches_the_other(settings: ServingSettings, tmp_path: Path) -> None:
    bundle = fit_bundle(tmp_path / "bundle", version="v1")
    live = settings.model_copy(update={"model_dir": bundle, "reload_poll_s": 0})  # no polling
    with (
        TestClient(create_app(live), raise_server_exceptions=False) as first,
        TestClient(create_app(live), raise_server_exceptions=False) as second,
    ):
        reload_reaches_the_other(first, second, bundle)
        # a bundle the second worker refuses: it keeps serving v2 and counts the refusal
        fit_bundle(bundle, seed=12, version="v3")
        (bundle / "arrays.npz").write_bytes(b"corrupted")
        second.app.state.reload_listener.handle(b"champion v3")  # type: ignore[attr-defined]
        assert _version(second) == "als:v2"
        assert 'recsys_model_reloads_total{outcome="refused"} 1.0' in second.get("/metrics").text
