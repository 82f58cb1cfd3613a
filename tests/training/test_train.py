"""The train job against a real SQLite MLflow store: what one run records, and errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from feature_store.offline import OfflineStore
from tests.training.conftest import make_tables
from training.cli.main import app
from training.registry import load_servable
from training.tracking import resolve, use
from training.train import STARTUP_STEP, TrainingDataError, TrainSettings, train

NAME = "offers-recommender"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One CLI training of EASE, promoted to champion; returns (data dir, run id)."""
    root = tmp_path_factory.mktemp("train") / "data"
    OfflineStore(root).write_snapshot(make_tables())
    config = root.parent / "ease.json"
    config.write_text(json.dumps({"l2": 50.0}))
    result = CliRunner().invoke(
        app, ["train", "--model", "ease", "--config", str(config), "--data-dir", str(root),
              "--alias", "champion"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    client = MlflowClient(f"sqlite:///{root / 'mlflow' / 'mlflow.db'}")
    run_id = client.get_model_version(NAME, "1").run_id
    assert run_id is not None
    return root, run_id


def test_run_records_params_metrics_data_and_environment(trained: tuple[Path, str]) -> None:
    root, run_id = trained
    run = MlflowClient(f"sqlite:///{root / 'mlflow' / 'mlflow.db'}").get_run(run_id)
    params, metrics, tags = run.data.params, run.data.metrics, run.data.tags
    assert params["config.l2"] == "50.0"
    assert params["model"] == "ease"
    assert params["data.rows_interactions"] == str(len(make_tables()["interactions"]))
    assert len(params["data.offline_sha256"]) == 64
    assert 0.0 < metrics["ndcg_at_10"] <= 1.0
    for industry in ("finance", "government", "education"):
        assert f"industry/{industry}/ndcg_at_10" in metrics
    assert tags["env.numpy"] == np.__version__
    assert "env.implicit" in tags
    assert tags["model"] == "ease"


def test_run_records_the_split_guardrail_calibration_and_step_timings(
    trained: tuple[Path, str],
) -> None:
    root, run_id = trained
    client = MlflowClient(f"sqlite:///{root / 'mlflow' / 'mlflow.db'}")
    run = client.get_run(run_id)
    metrics, tags = run.data.metrics, run.data.tags
    assert tags["split"] in {"time", "snapshot"} and tags["split_reason"]
    assert "uniform offer" in tags["guardrail"]
    assert {"uniform_ndcg_at_10", "uplift_vs_uniform_ndcg_at_10"} <= set(metrics)
    assert metrics["calibration_brier"] <= metrics["calibration_brier_uncalibrated"]
    timings = json.loads(Path(client.download_artifacts(run_id, "timings.json")).read_text())
    assert {"loading the offline store", "split, fit and evaluate"} <= set(timings)
    mlflow_steps = {
        "connecting to the tracking store", "logging params and tags", "logging the pyfunc model",
        "logging metrics", "drawing the report charts", "logging the report artifacts",
        "registering",
    }  # fmt: skip
    assert mlflow_steps <= set(timings)  # each MLflow step on its own
    assert STARTUP_STEP not in timings  # in-process (a test runner): no start-up of its own
    assert all(seconds >= 0 for seconds in timings.values())
    assert sum(1 for m in metrics if m.startswith("seconds_")) == len(timings)


def test_run_artifacts_hold_report_plots_fingerprint_and_no_pickle(
    trained: tuple[Path, str],
) -> None:
    root, _ = trained
    artifacts = root / "mlflow" / "artifacts"
    names = {p.name for p in artifacts.rglob("*") if p.is_file()}
    assert {"report.json", "comparison.png", "fingerprint.json", "arrays.npz"} <= names
    # the trained model's charts; the baselines are in report.json and the comparison only
    assert {"metrics_ease.png", "heatmap_ease.png", "topk_ease.csv"} <= names
    assert not [n for n in names if n.endswith("_popularity.png")]
    assert {"manifest.json", "clients.npz", "MLmodel"} <= names
    assert not [n for n in names if n.endswith((".pkl", ".pickle"))]
    mlmodel = next(artifacts.rglob("MLmodel")).read_text()
    assert "signature" in mlmodel
    assert "client_id" in mlmodel


def test_champion_pyfunc_predicts_ranked_unseen_offers(trained: tuple[Path, str]) -> None:
    root, _ = trained
    use(resolve(root))
    model = mlflow.pyfunc.load_model(f"models:/{NAME}@champion")
    out = model.predict(pd.DataFrame({"client_id": ["c000", "c001", "nobody"]}), params={"k": 4})
    assert list(out.columns) == ["client_id", "rank", "item_id", "score"]
    assert out.groupby("client_id")["rank"].apply(list).to_dict() == {
        c: [1, 2, 3, 4] for c in ("c000", "c001", "nobody")
    }
    for _, rows in out.groupby("client_id"):
        assert rows["score"].is_monotonic_decreasing
    interactions = make_tables()["interactions"]
    owned = set(interactions.loc[interactions["client_id"] == "c000", "item_id"])
    assert owned.isdisjoint(out.loc[out["client_id"] == "c000", "item_id"])
    default_k = model.predict(pd.DataFrame({"client_id": ["c002"]}))
    assert len(default_k) == 10


def test_a_command_start_up_leads_the_timings_of_run_and_result(store_dir: Path) -> None:
    result = train(
        TrainSettings(model="popularity"), store_dir, show_progress=False, startup_seconds=1.25
    )
    assert next(iter(result.timings.items())) == (STARTUP_STEP, 1.25)
    client = resolve(store_dir).client()
    logged = json.loads(Path(client.download_artifacts(result.run_id, "timings.json")).read_text())
    assert logged == result.timings
    metrics = client.get_run(result.run_id).data.metrics
    assert metrics["seconds_0_start-up_and_imports"] == 1.25


def test_same_data_config_and_seed_give_the_same_metrics(store_dir: Path) -> None:
    settings = TrainSettings(model="als", config={"factors": 4, "iterations": 2})
    first = train(settings, store_dir, show_progress=False)
    second = train(settings, store_dir, show_progress=False)
    drop = {k for k in first.metrics if "seconds" in k}
    assert {k: v for k, v in first.metrics.items() if k not in drop} == {
        k: v for k, v in second.metrics.items() if k not in drop
    }
    assert (first.version, second.version) == ("1", "2")


def test_unset_config_is_chosen_on_the_train_part_then_again_on_all_the_data(
    store_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import recommender.models.auto as auto

    calls: list[tuple[str, int]] = []
    real = auto.choose

    def counted(model: Any, dataset: Any, grid: Any) -> Any:
        calls.append((model.name, dataset.interactions.nnz))
        return real(model, dataset, grid)

    monkeypatch.setattr(auto, "choose", counted)
    result = train(TrainSettings(model="ease"), store_dir, show_progress=False)
    # the evaluated model chooses on the split's train part, the served one on all the data
    sizes = sorted({nnz for _, nnz in calls})
    assert len(sizes) == 2 and {name for name, _ in calls} == {"ease"}
    chosen = result.config
    assert chosen["l2"] is not None and chosen["dropout"] is not None
    servable = load_servable(NAME, result.version, resolve(store_dir).tracking_uri)[0]
    assert servable.metadata["config"] == chosen
    for key in ("auto_config", "evaluated_auto_config"):
        assert set(servable.metadata[key]["chosen"]) <= set(chosen)
    assert servable.metadata["auto_config"]["chosen"] == {
        k: chosen[k] for k in servable.metadata["auto_config"]["chosen"]
    }
    params = MlflowClient(resolve(store_dir).tracking_uri).get_run(result.run_id).data.params
    assert params["evaluated_config.l2"] and params["config.l2"] == str(chosen["l2"])

    calls.clear()
    split_only = train(
        TrainSettings(model="ease", refit_on_all=False), store_dir, show_progress=False
    )
    assert len({nnz for _, nnz in calls}) == 1  # the final model is the evaluated one
    assert split_only.config["l2"] is not None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "nope"], "unknown model 'nope'"),
        (["--model", "ease", "--config", "{config}"], "l3"),
        (["--model", "ease", "--split", "sideways"], "sideways"),
    ],
)
def test_clear_errors(store_dir: Path, args: list[str], message: str) -> None:
    config = store_dir.parent / "bad.json"
    config.write_text(json.dumps({"l3": 1.0}))
    args = [a.replace("{config}", str(config)) for a in args]
    result = CliRunner().invoke(app, ["train", *args, "--data-dir", str(store_dir)])
    assert result.exit_code == 2
    assert message in result.output


def test_empty_offline_store_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TrainingDataError, match=r"offline store .* is empty"):
        train(TrainSettings(model="popularity"), tmp_path / "empty", show_progress=False)
    result = CliRunner().invoke(
        app, ["train", "--model", "popularity", "--data-dir", str(tmp_path / "empty")]
    )
    assert result.exit_code == 2
    assert "recsys data" in result.output


def test_a_capped_evaluation_says_it_sampled_and_serves_every_client(store_dir: Path) -> None:
    settings = TrainSettings(model="popularity", max_eval_clients=5)
    result = train(settings, store_dir, show_progress=False)
    assert "seeded sample of 5 of the" in result.split_reason
    tracking_uri = resolve(store_dir).tracking_uri
    run = MlflowClient(tracking_uri).get_run(result.run_id)
    assert "seeded sample of 5" in run.data.tags["split_reason"]
    servable = load_servable(NAME, str(result.version), tracking_uri)[0]
    assert len(servable.client_ids) == len(make_tables()["clients"])


def test_cli_cap_default_is_the_evaluation_default() -> None:
    import inspect

    from recommender.evaluation.evaluate import MAX_EVAL_CLIENTS
    from training.cli.train import train_command

    default = inspect.signature(train_command).parameters["max_eval_clients"].default
    assert default == MAX_EVAL_CLIENTS == TrainSettings(model="ease").max_eval_clients
