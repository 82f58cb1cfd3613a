"""Offline evaluation: splits, metrics, running models on a split, and the report."""

from recommender.evaluation.evaluate import (
    EvaluationResult,
    ModelEvaluation,
    evaluate,
    evaluate_split,
)
from recommender.evaluation.metrics import ALL_METRICS, compute_metrics, metrics_by_group
from recommender.evaluation.splits import SPLIT_NAMES, relevance, split_dataset

__all__ = [
    "ALL_METRICS",
    "SPLIT_NAMES",
    "EvaluationResult",
    "ModelEvaluation",
    "compute_metrics",
    "evaluate",
    "evaluate_split",
    "metrics_by_group",
    "relevance",
    "split_dataset",
]
