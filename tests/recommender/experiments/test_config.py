"""Experiment definitions: validation, file loading and errors naming the file and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from recommender.experiments.config import (
    Experiment,
    ExperimentConfigError,
    load_experiments,
    target_kind,
)
from tests.recommender.experiments.conftest import experiment_data


def test_defaults_and_derived_fields() -> None:
    data = experiment_data()
    del data["salt"]
    experiment = Experiment.model_validate(data)
    assert experiment.salt == experiment.name
    assert experiment.control.name == "control"
    assert sum(experiment.weights) == pytest.approx(1.0)
    assert [v.target_kind for v in experiment.variants] == ["alias", "version", "baseline"]
    assert experiment.start.tzinfo is not None


def test_yaml_and_json_files_load_alike(tmp_path: Path) -> None:
    as_yaml, as_json = tmp_path / "e.yaml", tmp_path / "e.json"
    as_yaml.write_text(yaml.safe_dump({"experiments": [experiment_data()]}))
    as_json.write_text(json.dumps([experiment_data()]))
    assert load_experiments(as_yaml) == load_experiments(as_json)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"variants": [{"name": "a", "target": "champion", "weight": -1}, {"name": "b",
          "target": "2"}]}, "experiments[0].variants[0].weight"),
        ({"colour": "red"}, "experiments[0].colour"),
        ({"variants": [{"name": "a", "target": "champion"}, {"name": "b",
          "target": "base:x"}]}, "experiments[0].variants[1].target"),
        ({"holdout": 1.5}, "experiments[0].holdout"),
        ({"targeting": {"segments": ["B2C"]}}, "experiments[0].targeting.segments[0]"),
    ],
)  # fmt: skip
def test_errors_name_file_and_field(tmp_path: Path, change: dict, field: str) -> None:
    path = tmp_path / "experiments.yaml"
    path.write_text(yaml.safe_dump([experiment_data(**change)]))
    with pytest.raises(ExperimentConfigError) as caught:
        load_experiments(path)
    assert str(path) in str(caught.value)
    assert field in str(caught.value)


def test_consistency_errors(tmp_path: Path) -> None:
    path = tmp_path / "e.json"
    twice = [{"name": "a", "target": "champion"}, {"name": "a", "target": "2"}]
    path.write_text(json.dumps([experiment_data(variants=twice)]))
    with pytest.raises(ExperimentConfigError, match="unique"):
        load_experiments(path)
    path.write_text(json.dumps([experiment_data(end="2020-01-01T00:00:00Z")]))
    with pytest.raises(ExperimentConfigError, match="after start"):
        load_experiments(path)
    path.write_text(json.dumps([experiment_data(), experiment_data()]))
    with pytest.raises(ExperimentConfigError, match="more than once"):
        load_experiments(path)


def test_unreadable_files_name_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "bad.yaml"
    broken.write_text("experiments: [unclosed")
    with pytest.raises(ExperimentConfigError, match=r"bad\.yaml"):
        load_experiments(broken)
    with pytest.raises(ExperimentConfigError, match=r"missing\.json"):
        load_experiments(tmp_path / "missing.json")
    scalar = tmp_path / "scalar.json"
    scalar.write_text("42")
    with pytest.raises(ExperimentConfigError, match="expected a list"):
        load_experiments(scalar)


def test_target_kind() -> None:
    assert target_kind("champion") == "alias"
    assert target_kind("12") == "version"
    assert target_kind("baseline:segment_popularity") == "baseline"


def test_the_example_file_in_configs_loads() -> None:
    from pathlib import Path

    from recommender.experiments.config import load_experiments

    example = Path(__file__).resolve().parents[3] / "configs" / "experiments.example.yaml"
    experiments = load_experiments(example)
    assert [e.name for e in experiments] == ["ease-vs-als-2026q4", "healthcare-tariffs"]
    assert experiments[0].variants[2].target_kind == "baseline"
    assert experiments[1].salt == "healthcare-tariffs"
