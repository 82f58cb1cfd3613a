"""Run models on a split and compute the metrics table: the offline comparison.

``evaluate`` splits a dataset (``auto`` by default: see ``split_choice``) and calls
``evaluate_split``; benchmarks that need one split for many runs (or a validation split of a
train part) call ``evaluate_split`` directly. Every model is fitted on the train dataset, then
its test clients (those with at least one relevant, unseen positive item) are ranked through the
one ranking policy twice: **as served** (boosts, quota, rules: the lists users would see; the
headline metrics, what ``retrain`` decides on) and **model only** (no boosts, no quota). The
listed offers' outcomes also fit the model's probability calibration (``calibration``).

A split with more test clients than ``max_clients`` (default ``MAX_EVAL_CLIENTS``) is scored on
a seeded sample of that many of them (``numpy.random.default_rng(seed)``, ids kept in order):
the metrics' standard error at that size is far below any difference worth acting on, and the
ranked lists, ground truth and calibration rows no longer grow with the portfolio. Splits under
the cap are scored on every test client, as before; a sampled one says so in ``split_reason``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from recommender.catalog import KIND_NAMES, catalog_arrays
from recommender.dataset import Dataset
from recommender.evaluation.calibration import CalibrationFit, fit_calibration, listed_outcomes
from recommender.evaluation.metrics import (
    ALL_METRICS,
    compute_metrics,
    item_popularity,
    metrics_by_group,
)
from recommender.evaluation.splits import evaluated_clients, relevance, split_dataset
from recommender.ranking import ClientBlock, RankingPolicy, RankingRules

#: Cut-offs below k reported next to the metrics at k (HR@1, HR@3, NDCG@5 ...).
CUTOFFS: tuple[int, ...] = (1, 3, 5)
#: Most test clients an evaluation scores by default; beyond, a seeded sample of this many.
MAX_EVAL_CLIENTS = 200_000

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class ModelEvaluation:
    """One model's outcome: metrics as served and model only, per group, timings, lists."""

    name: str
    config: dict[str, Any]
    fit_seconds: float
    recommend_seconds: float
    #: As served (policy with boosts and quota): the headline figures.
    metrics: dict[str, float]
    by_group: dict[str, dict[str, float]]
    #: (n_test_clients, k) internal item ids as served, rows aligned with ``clients``.
    recommendations: np.ndarray
    #: The model alone (no boosts, no quota).
    model_only: dict[str, float] = field(default_factory=dict)
    calibration: CalibrationFit | None = None
    #: How unset config fields were chosen on validation (``Recommender.auto_choice``).
    auto_choice: dict[str, Any] | None = None


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
    #: Why this split (``auto`` explains its choice), and what a probability refers to.
    split_reason: str = ""
    horizon: str = ""
    #: Test clients with an unseen positive item before sampling (``len(clients)`` unless the
    #: split had more than ``max_clients``).
    n_evaluable_clients: int = 0

    @property
    def sampled(self) -> bool:
        """Were the metrics computed on a sample of the evaluable test clients?"""
        return self.n_evaluable_clients > len(self.clients)

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
    split: str = "auto",
    k: int = 10,
    configs: Mapping[str, Mapping[str, Any]] | None = None,
    seed: int = 42,
    *,
    group_column: str | None = "industry",
    rules: RankingRules | None = None,
    policy: RankingPolicy | None = None,
    max_clients: int | None = MAX_EVAL_CLIENTS,
) -> EvaluationResult:
    """Split ``dataset`` (``auto``, ``time``, ``snapshot``, ``leave_last``, ``stratified`` or
    ``cold``), then evaluate every model on it (at most ``max_clients`` test clients)."""
    split_name, reason = split, ""
    if split == "auto":
        from recommender.evaluation.split_choice import auto_split

        train, test, choice = auto_split(dataset, seed=seed)
        split_name, reason = choice.name, choice.reason
    else:
        train, test = split_dataset(dataset, split, seed=seed)
    return evaluate_split(
        train,
        test,
        models,
        k=k,
        configs=configs,
        seed=seed,
        split_name=split_name,
        split_reason=reason,
        group_column=group_column,
        rules=rules,
        policy=policy,
        max_clients=max_clients,
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
    split_reason: str = "",
    group_column: str | None = "industry",
    rules: RankingRules | None = None,
    policy: RankingPolicy | None = None,
    max_clients: int | None = MAX_EVAL_CLIENTS,
) -> EvaluationResult:
    """Fit each model on ``train`` and score its top-k against ``test`` (seen items removed).

    ``models`` are registry names, or a mapping label -> registry name to compare one model
    under several configs; ``configs`` maps a label to its config overrides. ``policy`` is the
    served policy (default: ``RankingPolicy.from_settings()``, the service's settings);
    ``rules`` overrides its rules (e.g. catalog rules off). ``group_column`` names the client
    attribute the metrics are broken down by (skipped when the clients lack it).
    ``max_clients`` (None: no cap) bounds the test clients scored (see the module).
    """
    from recommender.models.registry import build_model  # the models import heavy libraries

    served_policy = policy if policy is not None else RankingPolicy.from_settings()
    plain_policy = served_policy.model_only()
    chosen_rules = rules or served_policy.rules(k)
    plain_rules = rules or plain_policy.rules(k)
    truth_all = relevance(train, test)
    clients = evaluated_clients(truth_all)
    n_evaluable = len(clients)
    clients = sample_clients(clients, max_clients, seed)
    if len(clients) < n_evaluable:
        note = (
            f"scored on a seeded sample of {len(clients):,} of the {n_evaluable:,} test clients "
            f"(seed {seed}, cap {max_clients:,})"
        )
        log.warning("evaluation %s", note)
        split_reason = f"{split_reason}; {note}" if split_reason else note
    truth = truth_all[clients]
    del truth_all
    if group_column is not None and group_column in train.clients:
        groups = train.clients[group_column].iloc[clients].astype(object).fillna("unknown")
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
    horizon = describe_horizon(split_name, train, test)
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
        split_reason=split_reason,
        horizon=horizon,
        n_evaluable_clients=n_evaluable,
    )
    block = ClientBlock.from_dataset(train, clients)
    labels = dict(models) if isinstance(models, Mapping) else {name: name for name in models}
    for name, registry_name in labels.items():
        model = build_model(registry_name, dict((configs or {}).get(name, {})))
        started = time.perf_counter()
        model.fit(train)
        fit_seconds = time.perf_counter() - started
        ranking_model = model.ranking_model()
        started = time.perf_counter()
        served = served_policy.rank(ranking_model, block, chosen_rules)
        recommend_seconds = time.perf_counter() - started
        plain = plain_policy.rank(ranking_model, block, plain_rules)
        z, taken = listed_outcomes(served, truth)
        result.models[name] = ModelEvaluation(
            name=name,
            config=model.config.model_dump(mode="json"),
            fit_seconds=fit_seconds,
            recommend_seconds=recommend_seconds,
            metrics=compute_metrics(served.items, truth, k, cutoffs=CUTOFFS, **metric_args),
            by_group=(
                metrics_by_group(served.items, truth, client_groups, k, **metric_args)
                if group_column is not None
                else {}
            ),
            recommendations=served.items,
            model_only=compute_metrics(plain.items, truth, k, cutoffs=CUTOFFS, **metric_args),
            calibration=fit_calibration(z, taken, horizon=horizon, seed=seed),
            auto_choice=model.auto_choice,
        )
    return result


def sample_clients(clients: np.ndarray, max_clients: int | None, seed: int) -> np.ndarray:
    """``clients`` when at most ``max_clients`` (or no cap), else a seeded sample of that many,
    in their original (ascending) order."""
    if max_clients is None or len(clients) <= max_clients:
        return clients
    if max_clients < 1:
        raise ValueError(f"max_clients must be at least 1, got {max_clients}")
    chosen = np.random.default_rng(seed).choice(clients, max_clients, replace=False)
    return np.sort(chosen)


def describe_horizon(split: str, train: Dataset, test: Dataset) -> str:
    """What "the client takes the offer" means on this split, for the probability's label."""
    if split in {"time", "time-validation"} and len(test.events) and len(train.events):
        start = pd.to_datetime(train.events["timestamp"], utc=True).max()
        end = pd.to_datetime(test.events["timestamp"], utc=True).max()
        days = max(1, int(np.ceil((end - start) / pd.Timedelta(days=1))))
        return f"taken within {days} days"
    if split.startswith("snapshot"):
        return "a held-out offer of the client's portfolio"
    return "taken in the held-out part"


def _item_labels(dataset: Dataset) -> np.ndarray:
    ids = np.asarray(dataset.item_ids.external, dtype=object)
    if "name" not in dataset.items:
        return ids
    names = dataset.items["name"].astype(object).to_numpy()
    return np.asarray(
        [str(n) if isinstance(n, str) and n else i for n, i in zip(names, ids, strict=True)],
        dtype=object,
    )
