"""The data-scientist page: models per alias, experiments with their report and PNG chart."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from feature_store.offline import OfflineStore
from recommender.experiments.config import Experiment
from recommender.experiments.registry import ExperimentRegistry
from serving.app import create_app
from serving.settings import ServingSettings
from tests.recommender.experiments.simulate import START, ab_events
from tests.serving.conftest import admin, manager


def test_ds_page_needs_the_admin_key(client: TestClient) -> None:
    assert client.get("/ds", follow_redirects=False).status_code == 303
    assert client.get("/ds", headers=manager("m001")).status_code == 403


def test_models_per_alias_without_registry_metrics(client: TestClient) -> None:
    page = client.get("/ds", headers={**admin(), "Accept-Language": "en"})
    assert page.status_code == 200
    assert "champion" in page.text
    assert "als:" in page.text  # the served label
    assert "not available" in page.text  # a directory bundle has no MLflow run
    assert "No experiment is running." in page.text
    russian = client.get("/ds", headers=admin()).text  # the default language
    assert "Экспериментов нет." in russian and "Офлайн-метрик нет" in russian


@pytest.fixture
def with_experiment(settings: ServingSettings, tmp_path: Path) -> ServingSettings:
    events = ab_events([400, 400], (0.10, 0.2), experiment="nbo-test", seed=3)
    events["event_id"] = [f"e{i}" for i in range(len(events))]
    events["item_id"] = "backup"
    OfflineStore(settings.data_dir).append_events(events)
    experiment = Experiment.model_validate(
        {
            "name": "nbo-test",
            "salt": "s",
            "start": START.isoformat(),
            "end": datetime(2099, 1, 1, tzinfo=UTC).isoformat(),
            "variants": [
                {"name": "control", "target": "champion"},
                {"name": "treatment", "target": "challenger"},
            ],
        }
    )
    ExperimentRegistry.in_data_dir(settings.data_dir).add(experiment)
    return settings


def test_running_experiment_shows_report_and_png(with_experiment: ServingSettings) -> None:
    with TestClient(create_app(with_experiment)) as client:
        page = client.get("/ds", headers=admin())
        assert page.status_code == 200
        assert 'id="experiment-nbo-test"' in page.text
        assert "treatment" in page.text
        assert "относительный прирост" in page.text
        png = client.get("/ds/experiments/nbo-test/uplift.png", headers=admin())
        assert png.status_code == 200
        assert png.headers["content-type"] == "image/png"
        assert png.content[:8] == b"\x89PNG\r\n\x1a\n"
        missing = client.get("/ds/experiments/other/uplift.png", headers=admin())
        assert missing.status_code == 404


def test_registry_aliases_compare_overall_metrics(tmp_path) -> None:
    """Champion and challenger come from a real MLflow registry; per-industry metrics stay out."""
    from mlflow.tracking import MlflowClient

    from serving.model_source import RegistrySource
    from serving.web.ds import _registry_aliases

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("t", artifact_location=str(tmp_path / "artifacts"))
    client.create_registered_model("offers")
    for alias, ndcg in (("champion", 0.4), ("challenger", 0.5)):
        run = client.create_run(experiment)
        client.log_metric(run.info.run_id, "ndcg_at_10", ndcg)
        client.log_metric(run.info.run_id, "industry/it/ndcg_at_10", ndcg / 2)
        client.set_terminated(run.info.run_id)
        version = client.create_model_version("offers", str(tmp_path), run_id=run.info.run_id)
        client.set_registered_model_alias("offers", alias, version.version)

    versions, metrics = _registry_aliases(RegistrySource("offers", uri))
    assert versions == {"challenger": "2", "champion": "1"}
    assert metrics["champion"] == {"ndcg_at_10": 0.4}
    assert metrics["challenger"] == {"ndcg_at_10": 0.5}
