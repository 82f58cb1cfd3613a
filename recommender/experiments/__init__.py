"""A/B testing: experiment definitions, deterministic assignment, statistics, reports, replay.

Framework-free: serving calls ``assign``/``assign_first`` with experiments from an
``ExperimentRegistry``; ``training.cli.ab`` builds reports from the event log.
"""

from recommender.experiments.assignment import Assignment, assign, assign_first, unit_draw
from recommender.experiments.config import (
    HOLDOUT_VARIANT,
    Experiment,
    ExperimentConfigError,
    Targeting,
    Variant,
    load_experiments,
)
from recommender.experiments.registry import ExperimentRegistry

__all__ = [
    "HOLDOUT_VARIANT",
    "Assignment",
    "Experiment",
    "ExperimentConfigError",
    "ExperimentRegistry",
    "Targeting",
    "Variant",
    "assign",
    "assign_first",
    "load_experiments",
    "unit_draw",
]
