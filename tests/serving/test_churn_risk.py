"""``GET /v1/clients/{id}/churn-risk`` on the real app, real Redis, a real churn bundle; the
churn model from a directory and from a real (SQLite) MLflow registry, reloaded on the poll."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import mlflow
import pytest
from fastapi.testclient import TestClient
from mlflow import MlflowClient

from recommender.experiments.config import Experiment
from recommender.experiments.registry import ExperimentRegistry
from serving.app import create_app
from serving.settings import ServingSettings
from tests.feature_store.redis_server import RedisServer
from tests.serving.churn_bundle import fit_churn_bundle
from tests.serving.conftest import admin, eventually, make_settings, manager
from tests.serving.live import register
from training.churn import CODE_PATH, _signature

RU = {"Accept-Language": "ru"}
EN = {"Accept-Language": "en-GB,en;q=0.9"}


def test_admin_gets_probability_band_drivers_and_version(risk_client: TestClient) -> None:
    response = risk_client.get("/v1/clients/c000/churn-risk", headers=admin())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["client_id"] == "c000" and body["scored"] and body["at_risk"]
    assert body["band"] == "high" and 0.25 <= body["probability"] <= 1
    assert body["horizon_days"] == 90
    assert body["model_version"].startswith("churn-risk:sha-")
    assert body["language"] == "ru"  # the default
    assert body["drivers"], "a high-risk client has drivers"
    assert all(any("а" <= ch <= "я" for ch in d) for d in body["drivers"])

    bands = {
        c: risk_client.get(f"/v1/clients/{c}/churn-risk", headers=admin()).json()["band"]
        for c in ("c001", "c002")
    }
    assert bands == {"c001": "medium", "c002": "low"}


def test_drivers_follow_accept_language(risk_client: TestClient) -> None:
    ru = risk_client.get("/v1/clients/c000/churn-risk", headers={**admin(), **RU}).json()
    en = risk_client.get("/v1/clients/c000/churn-risk", headers={**admin(), **EN}).json()
    assert en["language"] == "en" and len(en["drivers"]) == len(ru["drivers"])
    assert en["drivers"] != ru["drivers"]
    assert all(d.isascii() for d in en["drivers"])


def test_a_manager_sees_its_own_clients_only(risk_client: TestClient) -> None:
    own = risk_client.get("/v1/clients/c000/churn-risk", headers=manager("m001"))
    assert own.status_code == 200
    foreign = risk_client.get("/v1/clients/c001/churn-risk", headers=manager("m001"))
    unknown = risk_client.get("/v1/clients/nobody/churn-risk", headers=manager("m001"))
    assert foreign.status_code == unknown.status_code == 403  # no probing which clients exist
    assert risk_client.get("/v1/clients/c000/churn-risk").status_code == 401


def test_unknown_client_is_404_for_the_admin(risk_client: TestClient) -> None:
    response = risk_client.get("/v1/clients/nobody/churn-risk", headers=admin())
    assert response.status_code == 404
    assert "nobody" in response.json()["detail"]


def test_no_tariff_and_not_scored_clients(risk_client: TestClient) -> None:
    no_tariff = risk_client.get("/v1/clients/c003/churn-risk", headers=admin()).json()
    assert no_tariff["scored"] and not no_tariff["at_risk"]
    assert no_tariff["probability"] is None and no_tariff["band"] is None
    newer = risk_client.get("/v1/clients/c059/churn-risk", headers=admin())
    assert newer.status_code == 200  # the store knows it, the model's data did not
    assert newer.json()["scored"] is False and newer.json()["probability"] is None


def test_without_a_churn_model_the_service_works_and_says_so(client: TestClient) -> None:
    recommendations = client.get("/v1/clients/c000/recommendations?k=3")
    assert recommendations.status_code == 200
    response = client.get("/v1/clients/c000/churn-risk", headers=admin())
    assert response.status_code == 503
    assert "churn model not loaded" in response.json()["detail"]


def test_a_broken_bundle_does_not_stop_the_service(
    settings: ServingSettings, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "manifest.json").write_text("{}")
    with TestClient(
        create_app(settings.model_copy(update={"churn_model_dir": broken})),
        raise_server_exceptions=False,
    ) as test_client:
        assert test_client.get("/v1/clients/c000/recommendations").status_code == 200
        response = test_client.get("/v1/clients/c000/churn-risk", headers=admin())
        assert response.status_code == 503
        assert "churn model not loaded" in response.json()["detail"]
        assert str(broken) in response.json()["detail"]


def test_a_replaced_directory_bundle_is_picked_up_by_the_poll(
    settings: ServingSettings, tmp_path: Path
) -> None:
    folder = fit_churn_bundle(tmp_path / "bundle")
    live = settings.model_copy(update={"churn_model_dir": folder, "reload_poll_s": 0.2})
    with TestClient(create_app(live), raise_server_exceptions=False) as test_client:

        def risk() -> dict:
            return test_client.get("/v1/clients/c002/churn-risk", headers=admin()).json()

        before = risk()
        fit_churn_bundle(folder, shift=0.3)
        assert eventually(lambda: risk()["model_version"] != before["model_version"])
        assert risk()["probability"] == pytest.approx(before["probability"] + 0.3, abs=1e-6)


# ----------------------------------------------------------------------------- the registry
def _register_churn(uri: str, bundle: Path, alias: str = "champion") -> str:
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    mlflow.set_experiment("churn-risk")
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(CODE_PATH),
            artifacts={"bundle": str(bundle)},
            signature=_signature(),
        )
    version = str(mlflow.register_model(info.model_uri, "churn-risk").version)
    MlflowClient(uri, uri).set_registered_model_alias("churn-risk", alias, version)
    return version


def test_the_champion_comes_from_mlflow_and_a_promotion_is_polled(
    redis_server: RedisServer, tmp_path: Path, store: object
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    version = register(uri, tmp_path / "artifacts", "offers", 7)
    MlflowClient(uri, uri).set_registered_model_alias("offers", "champion", version)
    _register_churn(uri, fit_churn_bundle(tmp_path / "v1"))
    settings = make_settings(
        tmp_path / "unused", redis_server.url, tmp_path, reload_poll_s=0.3
    ).model_copy(update={"model_dir": None, "mlflow_tracking_uri": uri, "model_name": "offers"})
    try:
        with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:

            def risk() -> dict:
                return test_client.get("/v1/clients/c002/churn-risk", headers=admin()).json()

            first = risk()
            assert first["model_version"] == "churn-risk:1"
            _register_churn(uri, fit_churn_bundle(tmp_path / "v2", shift=0.3))
            assert eventually(lambda: risk()["model_version"] == "churn-risk:2", timeout=30)
            assert risk()["probability"] == pytest.approx(first["probability"] + 0.3, abs=1e-6)
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]


# ------------------------------------------------------------------------ A/B by risk band
def test_an_experiment_targeting_high_risk_takes_only_high_risk_clients(
    settings: ServingSettings, churn_dir: Path
) -> None:
    experiment = Experiment.model_validate(
        {
            "name": "retention-first",
            "variants": [
                {"name": "control", "target": "champion"},
                {"name": "popular", "target": "baseline:popularity"},
            ],
            "start": datetime.now(UTC) - timedelta(hours=1),
            "targeting": {"risk_bands": ["high"]},
        }
    )
    ExperimentRegistry.in_data_dir(settings.data_dir).add(experiment)
    with_churn = settings.model_copy(update={"churn_model_dir": churn_dir})
    with TestClient(create_app(with_churn), raise_server_exceptions=False) as test_client:
        high = test_client.get("/v1/clients/c000/recommendations").json()
        low = test_client.get("/v1/clients/c002/recommendations").json()
    assert high["experiment"] == "retention-first" and high["variant"] in ("control", "popular")
    assert low.get("experiment") is None
    with TestClient(create_app(settings), raise_server_exceptions=False) as no_churn:
        unknown = no_churn.get("/v1/clients/c000/recommendations").json()
    assert unknown.get("experiment") is None  # no band without a churn model: not admitted
