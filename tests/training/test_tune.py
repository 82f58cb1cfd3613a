"""Optuna tuning: nested runs on a validation split, best config written and reusable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from feature_store.offline import OfflineStore
from recommender.evaluation.splits import split_dataset
from recommender.models.registry import build_model
from training.cli.main import app
from training.tracking import resolve
from training.tune import SEARCH_SPACES, parse_metric, tune


def test_tune_logs_nested_trials_and_writes_the_best_config(store_dir: Path) -> None:
    out = store_dir.parent / "best" / "ease.json"
    result = tune("ease", 3, out, metric="ndcg@5", data_dir=store_dir, show_progress=False)
    best = json.loads(out.read_text())
    assert best == result.best_config
    assert build_model("ease", best).config.model_dump(mode="json") == best
    assert result.metric == "ndcg_at_5"
    client = resolve(store_dir).client()
    experiment = client.get_experiment_by_name("offers-recommender")
    runs = client.search_runs([experiment.experiment_id])
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == result.run_id]
    assert len(children) == 3
    assert all("ndcg_at_5" in r.data.metrics for r in children)
    assert result.best_value == max(r.data.metrics["ndcg_at_5"] for r in children)
    parent = client.get_run(result.run_id)
    assert parent.data.metrics["best_ndcg_at_5"] == result.best_value
    assert all(r.data.metrics["n_clients"] > 0 for r in children)
    # Validation is carved from the train part of the split: the test part is never used.
    train_part, test_part = split_dataset(OfflineStore(store_dir).load_dataset(), "time")
    params = parent.data.params
    assert int(params["fit_events"]) + int(params["validation_events"]) == len(train_part.events)
    assert len(test_part.events) > 0


def test_tune_is_seeded(store_dir: Path) -> None:
    first = tune("ease", 2, store_dir / "a.json", data_dir=store_dir, show_progress=False)
    second = tune("ease", 2, store_dir / "b.json", data_dir=store_dir, show_progress=False)
    assert first.best_config == second.best_config
    assert first.best_value == second.best_value


def test_metric_names_and_errors(tmp_path: Path) -> None:
    assert parse_metric("ndcg@10") == ("ndcg", 10)
    assert parse_metric("hit_rate_at_5") == ("hit_rate", 5)
    with pytest.raises(ValueError, match="unknown metric 'auc@3'"):
        parse_metric("auc@3")
    assert {"als", "bpr", "ease", "lightfm"} <= set(SEARCH_SPACES)
    result = CliRunner().invoke(
        app, ["tune", "--model", "popularity", "--trials", "1", "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "no search space" in result.output
