"""``recsys nbo export`` carries each client's churn risk (a real churn bundle fitted on the
same synthetic data): churn_probability, churn_band and revenue_at_risk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from feature_store.offline import OfflineStore
from recommender.churn import BacktestSettings, EventLog, ScoreTable, fit_final, score_clients
from recommender.churn.bands import RiskBands
from recommender.dataset import Dataset
from recommender.models.registry import build_model
from recommender.synthetic.generator import SyntheticConfig, generate
from training.cli.main import app


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("nbo-churn")
    data = generate(SyntheticConfig(n_clients=2_000, seed=3))
    OfflineStore(root).write_snapshot(
        {"clients": data.clients, "items": data.items, "interactions": data.interactions}
    )
    dataset = Dataset.from_frames(data.interactions, data.clients, data.items)
    model_dir = build_model("ease", {}).fit(dataset).export().save(root / "model")
    log = EventLog.from_frames(data.interactions, data.clients, data.items)
    churn, as_of = fit_final(log, BacktestSettings())
    churn_dir = churn.save(root / "churn")
    score_clients(churn, log, as_of).save(churn_dir)
    return root, model_dir, churn_dir


def _export(root: Path, model_dir: Path, out: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        app,
        ["nbo", "export", "--all", "--out", str(out), "--k", "3", "--data-dir", str(root),
         "--model-dir", str(model_dir), *extra],
    )  # fmt: skip
    return result.exit_code, result.output


def test_the_export_carries_the_churn_risk(setup: tuple[Path, Path, Path], tmp_path: Path) -> None:
    root, model_dir, churn_dir = setup
    code, output = _export(root, model_dir, tmp_path / "all.csv", "--churn-dir", str(churn_dir))
    assert code == 0, output
    frame = pd.read_csv(tmp_path / "all.csv", dtype={"client_id": str})
    assert {"churn_probability", "churn_band", "revenue_at_risk"} <= set(frame.columns)
    scores = ScoreTable.load(churn_dir)
    expected = scores.probabilities(frame["client_id"].tolist())
    np.testing.assert_allclose(frame["churn_probability"], expected.round(4), atol=1e-9)
    scored = ~np.isnan(expected)
    assert scored.sum() > 100
    bands = RiskBands().bands(expected)
    assert (frame["churn_band"].fillna("").to_numpy() == bands).all()
    np.testing.assert_allclose(
        frame["revenue_at_risk"], (frame["spend"] * np.nan_to_num(expected)).round(2), atol=0.02
    )


def test_without_a_churn_model_the_export_is_as_before(
    setup: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    root, model_dir, _ = setup
    code, output = _export(root, model_dir, tmp_path / "plain.csv")
    assert code == 0, output
    assert "churn_probability" not in pd.read_csv(tmp_path / "plain.csv").columns
    code, output = _export(root, model_dir, tmp_path / "bad.csv", "--churn-dir", str(tmp_path))
    assert code == 2 and "--churn-dir" in output
