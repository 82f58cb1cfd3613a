"""The churn model as data: saved without pickle, scored by the flat trees like LightGBM."""

import json
from pathlib import Path

import numpy as np
import pytest

from recommender.churn import ChurnDefinition, ChurnModel, EventLog, score_clients
from recommender.churn.drivers import drivers
from recommender.churn.features import COLUMN, FEATURES, Vocabularies
from recommender.churn.model import fit_churn_model
from recommender.churn.rows import training_rows


@pytest.fixture(scope="module")
def model(log_small: EventLog) -> ChurnModel:
    vocab = Vocabularies.of(log_small)
    rows = training_rows(log_small, log_small.last_day, ChurnDefinition(), vocab)
    return fit_churn_model(rows.features, rows.churned, rows.client, vocab, 90)


def test_round_trip_gives_the_same_probabilities(
    model: ChurnModel, log_small, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    table = score_clients(model, log_small, log_small.last_day + 1e-5)
    folder = model.save(tmp_path / "bundle")
    table.save(folder)
    back = ChurnModel.load(folder)
    with np.load(folder / "arrays.npz", allow_pickle=False) as npz:  # no object arrays
        assert "trees_leaf_value" in npz.files
    risk = table.at_risk
    np.testing.assert_array_equal(back.probability(table.features[risk]), table.probability[risk])
    assert np.all((table.probability[risk] >= 0) & (table.probability[risk] <= 1))
    assert np.isnan(table.probability[~risk]).all()
    assert back.feature_names == FEATURES and back.horizon_days == 90


def test_a_bundle_of_another_format_is_refused(model: ChurnModel, tmp_path: Path) -> None:
    folder = model.save(tmp_path / "bundle")
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps(manifest | {"format": "other/9"}))
    with pytest.raises(ValueError, match=r"manifest\.json: format 'other/9'"):
        ChurnModel.load(folder)


def test_flat_trees_match_lightgbm(log_small: EventLog) -> None:
    import lightgbm

    from recommender.trees import TreeEnsemble, predict_raw

    vocab = Vocabularies.of(log_small)
    rows = training_rows(log_small, log_small.last_day, ChurnDefinition(), vocab, count=2)
    booster = lightgbm.train(
        {"objective": "binary", "verbose": -1, "num_threads": 1, "min_child_samples": 50},
        lightgbm.Dataset(rows.features, rows.churned.astype(float), categorical_feature=[24, 25]),
        num_boost_round=20,
    )
    flat = predict_raw(TreeEnsemble.from_booster(booster), rows.features)
    np.testing.assert_allclose(flat, booster.predict(rows.features, raw_score=True), rtol=1e-9)


def test_drivers_name_the_reasons() -> None:
    row = np.full(len(FEATURES), np.nan, dtype=np.float32)
    row[COLUMN["services"]] = 1
    row[COLUMN["usage_change"]] = -0.4
    row[COLUMN["completions_365"]] = 0
    row[COLUMN["days_since_view"]] = 10
    row[COLUMN["tenure_days"]] = 900
    assert drivers(row) == [
        "one active service",
        "usage down 40 % over 90 days",
        "no course in 12 months",
    ]
    row[COLUMN["services"]] = 4
    row[COLUMN["usage_change"]] = 0.1
    row[COLUMN["completions_365"]] = 2
    assert drivers(row) == []
