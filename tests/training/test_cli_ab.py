"""``recsys ab``: report (file or offline store, MLflow logging), power, list and end."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from feature_store.offline import OfflineStore
from recommender.experiments.power import sample_size_proportions
from tests.recommender.experiments.conftest import experiment_data
from tests.recommender.experiments.simulate import ab_events
from training.cli.main import app

runner = CliRunner()


@pytest.fixture(scope="module")
def events() -> pd.DataFrame:
    return ab_events([3000, 3000], (0.10, 0.14), seed=4)


def test_report_from_csv_logs_to_mlflow(events: pd.DataFrame, tmp_path: Path) -> None:
    source, out = tmp_path / "events.csv", tmp_path / "out"
    events.to_csv(source, index=False)
    result = runner.invoke(
        app,
        [
            "ab", "report", "exp", "--events", str(source), "--data-dir", str(tmp_path / "data"),
            "--json", str(out / "report.json"), "--png", str(out / "uplift.png"), "--mlflow",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "mSPRT" in result.output
    assert "not in" in result.output  # no experiments file: equal weights assumed
    report = json.loads((out / "report.json").read_text())
    assert [v["variant"] for v in report["variants"]] == ["control", "treatment"]
    assert (out / "uplift.png").stat().st_size > 0
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'data' / 'mlflow' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("ab-tests")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.data.tags["ab.experiment"] == "exp"
    uplift = next(u for u in report["uplifts"] if u["metric"] == "conversion")
    assert run.data.metrics["treatment/conversion/p_value"] == pytest.approx(uplift["p_value"])
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"ab_report.json", "uplift.png"} <= artifacts


def test_report_from_the_offline_store_with_the_experiments_file(
    events: pd.DataFrame, tmp_path: Path
) -> None:
    stored = events.assign(item_id="i01", event_id=[f"e{i}" for i in range(len(events))])
    OfflineStore(tmp_path).append_events(stored)
    definition = experiment_data(
        name="exp",
        variants=[
            {"name": "control", "target": "champion", "weight": 1},
            {"name": "treatment", "target": "4", "weight": 1},
        ],
    )
    (tmp_path / "experiments.yaml").write_text(yaml.safe_dump([definition]))
    result = runner.invoke(app, ["ab", "report", "exp", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "not in" not in result.output
    assert "treatment" in result.output

    listed = runner.invoke(app, ["ab", "list", "--data-dir", str(tmp_path)])
    assert listed.exit_code == 0, listed.output
    assert "running" in listed.output
    ended = runner.invoke(app, ["ab", "end", "exp", "--data-dir", str(tmp_path)])
    assert ended.exit_code == 0, ended.output
    assert "ended" in runner.invoke(app, ["ab", "list", "--data-dir", str(tmp_path)]).output


def test_power_prints_clients_per_variant() -> None:
    result = runner.invoke(app, ["ab", "power", "--baseline", "0.05", "--mde", "0.1"])
    assert result.exit_code == 0, result.output
    expected = sample_size_proportions(0.05, 0.1).n_per_variant
    assert f"{expected:,}" in result.output
    back = runner.invoke(app, ["ab", "power", "--baseline", "0.05", "--clients", str(expected)])
    assert back.exit_code == 0, back.output
    assert "+10.00% relative" in back.output


@pytest.mark.parametrize(
    "args",
    [
        ["ab", "power", "--baseline", "1.5", "--mde", "0.1"],
        ["ab", "report", "missing", "--events", "EVENTS"],
        ["ab", "end", "nope", "--file", "FILE"],
    ],
)
def test_expected_errors_exit_2(args: list[str], events: pd.DataFrame, tmp_path: Path) -> None:
    source = tmp_path / "events.parquet"
    events.to_parquet(source)
    filled = [str(source) if a == "EVENTS" else str(tmp_path / "e.json") if a == "FILE" else a
              for a in args]  # fmt: skip
    result = runner.invoke(
        app, [*filled, "--data-dir", str(tmp_path)] if "report" in args else filled
    )
    assert result.exit_code == 2, result.output
    assert "error" in result.output
