"""A small grid search over model configs, scored on a validation split (never on test)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from recommender.dataset import Dataset
from recommender.evaluation.evaluate import evaluate_split


def grid_search(
    fit: Dataset,
    valid: Dataset,
    model: str,
    grid: Mapping[str, Sequence[Any]],
    *,
    k: int = 10,
    metric: str = "ndcg",
    seed: int = 42,
    base: Mapping[str, Any] | None = None,
    log: Callable[[str], None] | None = None,
) -> tuple[dict[str, Any], float]:
    """The config of ``grid`` (on top of ``base``) with the best validation ``metric``.

    Ties keep the first config in grid order, so the search is deterministic.
    """
    best_config: dict[str, Any] = dict(base or {})
    best_score = float("-inf")
    for values in itertools.product(*grid.values()):
        config = {**(base or {}), **dict(zip(grid, values, strict=True))}
        result = evaluate_split(
            fit, valid, [model], k=k, configs={model: config}, seed=seed, group_column=None
        )
        score = result.models[model].metrics[metric]
        if log is not None:
            log(f"  {model} {config}: validation {metric}@{k} {score:.4f}")
        if score > best_score:
            best_config, best_score = config, score
    return best_config, best_score
