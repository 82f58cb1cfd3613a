"""``recsys churn``: backtest and train on a real offline store, registered in a real (SQLite)
MLflow store, loaded back as a pyfunc."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from recommender.synthetic import SyntheticConfig, generate
from training.churn import CHURN_MODEL_NAME
from training.churn_pyfunc import pip_requirements
from training.cli.data_import import import_files
from training.cli.main import app
from training.tracking import resolve, use


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("churn")
    files = generate(SyntheticConfig(n_clients=3_000, seed=5)).write(root / "sample", "parquet")
    import_files(files, data_dir=root)
    return root


def test_backtest_prints_the_figures_and_the_targets(data_dir: Path) -> None:
    result = CliRunner().invoke(app, ["churn", "backtest", "--data-dir", str(data_dir), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["model"]["roc_auc"] > report["best_rule"]["roc_auc"]
    assert abs(report["control"]["roc_auc"] - 0.5) < 0.1
    assert report["targets"]["brier_below_base_rate"] is True
    assert len(report["reliability"]) == 10
    plot = data_dir / "reports" / "churn" / "reliability.png"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # the reliability plot


def test_train_registers_a_version_that_scores_clients(data_dir: Path) -> None:
    runner = CliRunner()
    args = ["churn", "train", "--data-dir", str(data_dir), "--alias", "champion"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "registered version 1" in result.output

    tracking = resolve(data_dir)
    client = MlflowClient(tracking.tracking_uri, tracking.registry_uri)
    version = client.get_model_version_by_alias(CHURN_MODEL_NAME, "champion")
    run = client.get_run(version.run_id)
    assert run.data.metrics["model_roc_auc"] > run.data.metrics["rule_roc_auc"]
    assert "control_roc_auc" in run.data.metrics
    assert "industry/government/roc_auc" in run.data.metrics
    assert run.data.params["data.offline_sha256"]  # the data fingerprint
    assert run.data.tags["target.brier_below_base_rate"] == "true"
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "evaluation")}
    assert {"evaluation/reliability.png", "evaluation/reliability.json"} <= artifacts

    use(tracking)
    uri = f"models:/{CHURN_MODEL_NAME}@champion"
    declared = Path(mlflow.pyfunc.get_model_dependencies(uri)).read_text().split()
    assert declared == pip_requirements()  # pinned, not inferred by MLflow
    model = mlflow.pyfunc.load_model(uri)
    clients = pd.read_parquet(data_dir / "sample" / "clients.parquet")["client_id"]
    out = model.predict(pd.DataFrame({"client_id": [*clients.head(200), "nobody"]}))
    risky = out[out["at_risk"]]
    assert len(risky) > 20
    assert risky["churn_probability"].between(0, 1).all()
    assert not bool(out.iloc[-1]["at_risk"])


def test_an_empty_store_is_one_clear_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["churn", "backtest", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "recsys data generate" in result.output
