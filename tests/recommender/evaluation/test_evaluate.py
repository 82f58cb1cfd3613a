"""Evaluate real models on a tiny generated data set and write the report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from recommender.dataset import Dataset
from recommender.evaluation.evaluate import EvaluationResult, evaluate
from recommender.evaluation.metrics import ALL_METRICS
from recommender.evaluation.report import offer_shares, write_report

pytest.importorskip("recommender.models.registry")
pytest.importorskip("recommender.synthetic")


@pytest.fixture(scope="module")
def tiny() -> Dataset:
    from recommender.synthetic import SyntheticConfig, generate

    data = generate(SyntheticConfig(n_clients=150, seed=3))
    return Dataset.from_frames(data.interactions, data.clients, data.items)


@pytest.fixture(scope="module")
def result(tiny: Dataset) -> EvaluationResult:
    return evaluate(tiny, ["popularity", "ease"], split="time", k=5, seed=1)


def test_result_has_metrics_groups_and_lists(result: EvaluationResult, tiny: Dataset) -> None:
    assert set(result.models) == {"popularity", "ease"}
    table = result.table()
    assert set(ALL_METRICS) <= set(table.columns)
    assert "fit_seconds" in table.columns
    for evaluation in result.models.values():
        assert evaluation.recommendations.shape == (len(result.clients), 5)
        assert 0.0 <= evaluation.metrics["ndcg"] <= 1.0
        assert evaluation.by_group, "industry breakdown missing"
        assert set(evaluation.by_group) <= set(tiny.clients["industry"].astype(str))
        sizes = sum(g["n_clients"] for g in evaluation.by_group.values())
        assert sizes == evaluation.metrics["n_clients"] == len(result.clients)
    # Seen items are never recommended, so lists never contain a train item of the client.
    lists = result.top_k("ease")
    assert set(lists["client_id"]) <= set(result.client_ids)
    assert result.best("ndcg") in result.models


def test_evaluate_is_deterministic(tiny: Dataset, result: EvaluationResult) -> None:
    again = evaluate(tiny, ["ease"], split="time", k=5, seed=1)
    np.testing.assert_array_equal(
        again.models["ease"].recommendations, result.models["ease"].recommendations
    )


def test_labels_let_one_model_run_under_two_configs(tiny: Dataset) -> None:
    out = evaluate(
        tiny,
        {"strong": "ease", "weak": "ease"},
        split="leave_last",
        k=5,
        configs={"strong": {"l2": 10.0}, "weak": {"l2": 1e6}},
    )
    assert out.models["strong"].config["l2"] == 10.0
    assert out.models["weak"].config["l2"] == 1e6


def test_report_files(result: EvaluationResult, tmp_path: Path) -> None:
    written = write_report(result, tmp_path)
    names = {p.name for p in written}
    for expected in (
        "report.json",
        "comparison.png",
        "metrics_ease.png",
        "heatmap_ease.png",
        "heatmap_popularity.png",
        "topk_popularity.csv",
    ):
        assert expected in names
        assert (tmp_path / expected).stat().st_size > 0
    assert (tmp_path / "comparison.png").read_bytes()[:4] == b"\x89PNG"
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["k"] == 5
    assert set(report["models"]["ease"]["metrics"]) >= set(ALL_METRICS) - {"kind_diversity"}
    assert report["models"]["ease"]["by_group"]


def test_offer_shares_are_fractions_of_each_group(result: EvaluationResult) -> None:
    shares = offer_shares(result, "popularity")
    assert ((shares.to_numpy() >= 0) & (shares.to_numpy() <= 1)).all()
    assert set(shares.index) <= set(result.client_groups)
