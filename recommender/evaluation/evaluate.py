"""Run models on a split and compute the metrics table: the offline comparison.

``evaluate`` splits a dataset and calls ``evaluate_split``; benchmarks that need one split for
many runs (or a validation split of a train part) call ``evaluate_split`` directly. Every model
is fitted on the train dataset and asked for the top-k of each test client with at least one
relevant (unseen, positive) test item, through the same ranking path serving uses.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from recommender.catalog import KIND_NAMES, catalog_arrays
from recommender.dataset import Dataset
from recommender.evaluation.metrics import (
    ALL_METRICS,
    compute_metrics,
    item_popularity,
    metrics_by_group,
)
from recommender.evaluation.splits import evaluated_clients, relevance, split_dataset
from recommender.ranking import RankingRules


@dataclass(frozen=True, eq=False)
class ModelEvaluation:
    """One model's outcome: metrics overall and per group, timings, and its top-k lists."""

    name: str
    config: dict[str, Any]
    fit_seconds: float
    recommend_seconds: float
    metrics: dict[str, float]
    by_group: dict[str, dict[str, float]]
    #: (n_test_clients, k) internal item ids, rows aligned with ``EvaluationResult.clients``.
    recommendations: np.ndarray


@dataclass(frozen=True, eq=False)
class EvaluationResult:
    """Every model evaluated on one split, plus what a report needs to name things."""

    split: str
    k: int
    seed: int
    group_column: str | None
    #: Internal ids of the evaluated (test) clients.
    clients: np.ndarray
    client_ids: np.ndarray
    client_groups: np.ndarray
    item_ids: np.ndarray
    item_kinds: np.ndarray
    #: Display name per item (the catalog's ``name``, else the id), for charts.
    item_labels: np.ndarray
    n_train_events: int
    n_test_events: int
    models: dict[str, ModelEvaluation] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """Models x (metrics, fit_seconds): the comparison table."""
        rows = {
            name: {**{m: result.metrics.get(m, np.nan) for m in ALL_METRICS}}
            | {"fit_seconds": result.fit_seconds}
            for name, result in self.models.items()
        }
        return pd.DataFrame.from_dict(rows, orient="index")

    def best(self, metric: str = "ndcg") -> str:
        """Name of the model with the highest ``metric``."""
        return max(self.models, key=lambda name: self.models[name].metrics.get(metric, -1.0))

    def top_k(self, model: str) -> pd.DataFrame:
        """Long frame client_id, group, rank (1-based), item_id of one model's lists."""
        recs = self.models[model].recommendations
        n, k = recs.shape
        valid = recs.ravel() >= 0
        return pd.DataFrame(
            {
                "client_id": np.repeat(self.client_ids, k)[valid],
                "group": np.repeat(self.client_groups, k)[valid],
                "rank": np.tile(np.arange(1, k + 1), n)[valid],
                "item_id": self.item_ids[recs.ravel()[valid]],
            }
        )


def evaluate(
    dataset: Dataset,
    models: Sequence[str] | Mapping[str, str],
    split: str = "time",
    k: int = 10,
    configs: Mapping[str, Mapping[str, Any]] | None = None,
    seed: int = 42,
    *,
    group_column: str | None = "industry",
    rules: RankingRules | None = None,
) -> EvaluationResult:
    """Split ``dataset`` (``time``, ``leave_last``, ``stratified`` or ``cold``), then evaluate."""
    train, test = split_dataset(dataset, split, seed=seed)
    return evaluate_split(
        train,
        test,
        models,
        k=k,
        configs=configs,
        seed=seed,
        split_name=split,
        group_column=group_column,
        rules=rules,
    )


def evaluate_split(
    train: Dataset,
    test: Dataset,
    models: Sequence[str] | Mapping[str, str],
    *,
    k: int = 10,
    configs: Mapping[str, Mapping[str, Any]] | None = None,
    seed: int = 42,
    split_name: str = "custom",
    group_column: str | None = "industry",
    rules: RankingRules | None = None,
) -> EvaluationResult:
    """Fit each model on ``train`` and score its top-k against ``test`` (seen items removed).

    ``models`` are registry names, or a mapping label -> registry name to compare one model
    under several configs; ``configs`` maps a label to its config overrides.
    ``group_column`` names the client attribute the metrics are broken down by (skipped when
    the clients lack it).
    """
    from recommender.models.registry import build_model  # the models import heavy libraries

    truth_all = relevance(train, test)
    clients = evaluated_clients(truth_all)
    truth = truth_all[clients]
    if group_column is not None and group_column in train.clients:
        groups = train.clients[group_column].astype(object).iloc[clients].fillna("unknown")
        client_groups = groups.astype(str).to_numpy(dtype=object)
    else:
        group_column = None
        client_groups = np.full(len(clients), "all", dtype=object)
    kinds = catalog_arrays(train).kind
    metric_args: dict[str, Any] = {
        "n_items": train.n_items,
        "item_kinds": kinds,
        "popularity": item_popularity(train.interactions),
        "seed": seed,
    }
    result = EvaluationResult(
        split=split_name,
        k=k,
        seed=seed,
        group_column=group_column,
        clients=clients,
        client_ids=train.client_ids.to_external(clients),
        client_groups=client_groups,
        item_ids=np.asarray(train.item_ids.external),
        item_kinds=np.asarray([KIND_NAMES[c] for c in kinds], dtype=object),
        item_labels=_item_labels(train),
        n_train_events=len(train.events),
        n_test_events=len(test.events),
    )
    labels = dict(models) if isinstance(models, Mapping) else {name: name for name in models}
    for name, registry_name in labels.items():
        model = build_model(registry_name, dict((configs or {}).get(name, {})))
        started = time.perf_counter()
        model.fit(train)
        fit_seconds = time.perf_counter() - started
        started = time.perf_counter()
        recs = model.recommend(train, clients, k=k, rules=rules)
        recommend_seconds = time.perf_counter() - started
        result.models[name] = ModelEvaluation(
            name=name,
            config=model.config.model_dump(mode="json"),
            fit_seconds=fit_seconds,
            recommend_seconds=recommend_seconds,
            metrics=compute_metrics(recs, truth, k, **metric_args),
            by_group=(
                metrics_by_group(recs, truth, client_groups, k, **metric_args)
                if group_column is not None
                else {}
            ),
            recommendations=recs,
        )
    return result


def _item_labels(dataset: Dataset) -> np.ndarray:
    ids = np.asarray(dataset.item_ids.external, dtype=object)
    if "name" not in dataset.items:
        return ids
    names = dataset.items["name"].astype(object).to_numpy()
    return np.asarray(
        [str(n) if isinstance(n, str) and n else i for n, i in zip(names, ids, strict=True)],
        dtype=object,
    )
