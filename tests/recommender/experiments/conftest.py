"""Experiment definitions shared by the experiment tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from recommender.experiments.config import Experiment

START = datetime(2024, 3, 1, tzinfo=UTC)


def experiment_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "tariffs-q2",
        "salt": "s1",
        "start": START.isoformat(),
        "variants": [
            {"name": "control", "target": "champion", "weight": 0.5},
            {"name": "ease", "target": "3", "weight": 0.3},
            {"name": "popular", "target": "baseline:segment_popularity", "weight": 0.2},
        ],
    }
    data.update(overrides)
    return data


@pytest.fixture
def experiment() -> Experiment:
    return Experiment.model_validate(experiment_data())
