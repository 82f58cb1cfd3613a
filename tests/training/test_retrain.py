"""Retraining with a guardrail: promote only a challenger that beats the champion."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from feature_store.offline import OfflineStore
from tests.training.conftest import make_tables
from training import registry
from training.cli.main import app
from training.retrain import retrain
from training.tracking import resolve

NAME = "offers-recommender"


def aliases(data_dir: Path) -> dict[str, str]:
    return registry.aliases_of(resolve(data_dir).client(), NAME)


def test_first_retrain_promotes_then_a_high_margin_keeps_the_champion(store_dir: Path) -> None:
    first = retrain("popularity", data_dir=store_dir, show_progress=False)
    assert first.promoted
    assert first.champion_score is None
    assert aliases(store_dir) == {"champion": "1"}

    # A better model must still beat the champion by 1000 % to replace it: it does not.
    kept = retrain(
        "ease", config={"l2": 10.0}, margin=10.0, data_dir=store_dir, show_progress=False
    )
    assert not kept.promoted
    assert kept.champion_score is not None
    assert kept.champion_version == "1"
    assert aliases(store_dir) == {"champion": "1"}  # a kept challenger moves no alias

    # The champion bundle saw the test period, so its recipe was refitted on the train part.
    assert kept.champion_score == pytest.approx(first.challenger_score)
    decision = resolve(store_dir).client().get_run(kept.run_id).data
    assert decision.tags["decision"] == "kept_champion"
    assert decision.tags["champion_scored_as"] == "recipe_refit_on_train"
    assert decision.metrics["champion_ndcg_at_10"] == pytest.approx(kept.champion_score)
    assert decision.metrics["challenger_ndcg_at_10"] == pytest.approx(kept.challenger_score)
    assert decision.params["margin"] == "10.0"


def test_a_champion_on_older_data_is_scored_as_served_and_beaten(store_dir: Path) -> None:
    tables = make_tables()
    events = tables["interactions"]
    early = events[events["timestamp"] < events["timestamp"].quantile(0.5)]
    OfflineStore(store_dir).write_snapshot({**tables, "interactions": early})
    runner, data = CliRunner(), ["--data-dir", str(store_dir)]
    result = runner.invoke(app, ["retrain", "--model", "popularity", *data])
    assert result.exit_code == 0, result.output
    OfflineStore(store_dir).write_snapshot(tables)  # new data arrives
    # plain EASE (no dropout, no low-rank part) beats the popularity champion but loses to
    # industry popularity on these tables: the guardrail keeps the champion unless forced
    config = store_dir / "plain-ease.json"
    config.write_text('{"l2": 10.0, "dropout": 0.0, "low_rank": 0}')
    ease = ["retrain", "--model", "ease", "--config", str(config), "--margin", "0.05"]
    result = runner.invoke(app, [*ease, *data])
    assert result.exit_code == 0, result.output
    assert "kept the champion" in result.output
    assert "LOSES TO the uniform offer" in result.output
    assert aliases(store_dir)["champion"] == "1"
    result = runner.invoke(app, [*ease, "--force", *data])
    assert result.exit_code == 0, result.output
    assert "promoted" in result.output
    assert aliases(store_dir) == {"champion": "3"}
    assert registry.TAG_FORCED in resolve(store_dir).client().get_model_version(NAME, "3").tags
    client = resolve(store_dir).client()
    [decision] = client.search_runs(
        [client.get_experiment_by_name("offers-recommender").experiment_id],
        "tags.job = 'retrain' and tags.champion_version = '1' and tags.forced = 'true'",
    )
    assert decision.data.tags["champion_scored_as"] == "served_bundle"
    scores = decision.data.metrics
    assert scores["challenger_ndcg_at_10"] > scores["champion_ndcg_at_10"] * 1.05


def test_retrain_without_champion_needs_a_model(store_dir: Path) -> None:
    result = CliRunner().invoke(app, ["retrain", "--data-dir", str(store_dir)])
    assert result.exit_code == 2
    assert "give --model" in result.output
