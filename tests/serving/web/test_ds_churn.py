"""/ds shows the churn model's backtest and calibration next to the recommenders': the churn
model trained for real (``train_churn`` on a generated offline store) and registered in a real
(SQLite) MLflow registry, the recommender registered beside it; real Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from fastapi.testclient import TestClient
from mlflow import MlflowClient

from recommender.synthetic import SyntheticConfig, generate
from serving.app import create_app
from tests.feature_store.redis_server import RedisServer
from tests.serving.conftest import admin, load_store, make_settings
from tests.serving.live import register
from training.churn import ChurnTrainSettings, train_churn
from training.cli.data_import import import_files
from training.tracking import resolve


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    root = tmp_path_factory.mktemp("ds-churn")
    files = generate(SyntheticConfig(n_clients=3_000, seed=5)).write(root / "sample", "parquet")
    import_files(files, data_dir=root)
    train_churn(ChurnTrainSettings(), root, alias="champion")
    uri = resolve(root).tracking_uri
    version = register(uri, root / "artifacts", "offers", 7)
    MlflowClient(uri, uri).set_registered_model_alias("offers", "champion", version)
    yield root, uri
    mlflow.set_tracking_uri(None)  # type: ignore[arg-type]


def test_ds_shows_the_churn_backtest_and_reliability(
    trained: tuple[Path, str], redis_server: RedisServer, tmp_path: Path
) -> None:
    root, uri = trained
    load_store(redis_server.url, tmp_path).redis.close()
    settings = make_settings(tmp_path, redis_server.url, root).model_copy(
        update={"model_dir": None, "mlflow_tracking_uri": uri, "model_name": "offers"}
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        page = client.get("/ds", headers={**admin(), "Accept-Language": "en"})
        assert page.status_code == 200
        text = page.text
        assert "Churn-risk model" in text and "churn-risk:1" in text
        assert 'id="churn-backtest"' in text and 'id="churn-reliability"' in text
        for score in ("model", "base_rate", "rule", "one_service", "control"):
            assert f'data-score="{score}"' in text
        reliability = text.split('id="churn-reliability"')[1].split("</table>")[0]
        assert reliability.count("<tr>") == 1 + 10  # header + deciles
        russian = client.get("/ds", headers=admin()).text
        assert "Модель риска ухода" in russian and "Калибровка" in russian


def test_ds_without_a_churn_model_says_why(client: TestClient) -> None:
    page = client.get("/ds", headers={**admin(), "Accept-Language": "en"})
    assert page.status_code == 200
    assert "Churn risk is not shown" in page.text
