"""The experiments file as a store: add, end, save; atomic writes in YAML or JSON."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from recommender.experiments.config import Experiment, ExperimentConfigError
from recommender.experiments.registry import ExperimentRegistry, default_path
from tests.recommender.experiments.conftest import START, experiment_data


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_add_get_end_round_trip(tmp_path: Path, suffix: str, experiment: Experiment) -> None:
    registry = ExperimentRegistry(tmp_path / f"experiments{suffix}")
    assert registry.experiments() == []
    registry.add(experiment)
    assert ExperimentRegistry(registry.path).get(experiment.name) == experiment
    with pytest.raises(ExperimentConfigError, match="already exists"):
        registry.add(experiment)
    at = START + timedelta(days=3)
    ended = registry.end(experiment.name, at=at)
    assert ended.end == at
    assert registry.get(experiment.name).status(at) == "ended"
    assert registry.active(at - timedelta(hours=1)) == [ended]
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []


def test_replace_and_unknown_names(tmp_path: Path, experiment: Experiment) -> None:
    registry = ExperimentRegistry(tmp_path / "experiments.json")
    registry.save([experiment])
    changed = Experiment.model_validate(experiment_data(holdout=0.2))
    registry.add(changed, replace=True)
    assert registry.experiments() == [changed]
    with pytest.raises(KeyError, match="nope"):
        registry.get("nope")
    with pytest.raises(KeyError, match="nope"):
        registry.end("nope")
    with pytest.raises(ExperimentConfigError, match="not started"):
        registry.end(experiment.name, at=START - timedelta(days=1))


def test_default_path_prefers_an_existing_yaml(tmp_path: Path) -> None:
    assert default_path(tmp_path) == tmp_path / "experiments.json"
    (tmp_path / "experiments.yaml").write_text("[]\n")
    assert default_path(tmp_path) == tmp_path / "experiments.yaml"
    assert ExperimentRegistry.in_data_dir(tmp_path).experiments() == []
