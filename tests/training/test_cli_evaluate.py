"""``recsys evaluate`` through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from training.cli.main import app

pytest.importorskip("recommender.models.registry")
pytest.importorskip("recommender.synthetic")

runner = CliRunner()


def test_evaluate_synthetic_writes_report(tmp_path: Path) -> None:
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "ease.json").write_text(json.dumps({"l2": 50.0}))
    out = tmp_path / "report"
    result = runner.invoke(
        app,
        [
            "evaluate",
            "--models",
            "popularity,ease",
            "--split",
            "cold",
            "--k",
            "5",
            "--synthetic",
            "120",
            "--configs",
            str(configs),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "NDCG" in result.output
    assert "ease" in result.output
    report = json.loads((out / "report.json").read_text())
    assert report["split"] == "cold"
    assert report["models"]["ease"]["config"]["l2"] == 50.0
    assert (out / "heatmap_ease.png").is_file()


@pytest.mark.parametrize(("option", "value"), [("--split", "random"), ("--models", "ease,nope")])
def test_evaluate_rejects_bad_options(option: str, value: str, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["evaluate", option, value, "--synthetic", "50", "--out", str(tmp_path)]
    )
    assert result.exit_code != 0
    assert not (tmp_path / "report.json").exists()
