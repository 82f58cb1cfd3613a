"""Hyper-parameter search with Optuna, each trial a nested MLflow run.

Tuning never sees the test part: the data is split as ``train`` would split it, the test part
is dropped, and the train part is split again (same rule) into fit / validation. Trials are
scored on validation, so the metric ``recsys train`` later reports stays an unbiased estimate.
The search is seeded (TPE sampler), so the same data and seed give the same trials.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import optuna

from recommender.evaluation.evaluate import evaluate_split
from recommender.evaluation.metrics import ALL_METRICS
from recommender.evaluation.split_choice import auto_split
from recommender.evaluation.splits import split_dataset
from recommender.models.prior import WEIGHTS
from recommender.models.registry import MODELS, build_model
from training.progress import steps
from training.run_logging import metric_name, write_json
from training.tracking import DEFAULT_EXPERIMENT, connect, finite_metrics, flatten, metric_key
from training.train import TrainingDataError, load_training_data

Space = Callable[[optuna.Trial], dict[str, Any]]


def _ease_space(t: optuna.Trial) -> dict[str, Any]:
    config: dict[str, Any] = {
        "l2": t.suggest_float("l2", 1.0, 5000.0, log=True),
        "dropout": t.suggest_float("dropout", 0.0, 0.9),
        "binary": t.suggest_categorical("binary", [True, False]),
        "client_weighting": t.suggest_float("client_weighting", 0.0, 1.0),
        # First-order EASE: each trial would otherwise also try pair inputs (see EASEModel).
        "pairs": False,
        # The low-rank part (0: none); its weight only where there is one.
        "low_rank": t.suggest_categorical("low_rank", [0, 8, 16, 32]),
    }
    if config["low_rank"]:
        config["low_rank_weight"] = t.suggest_float("low_rank_weight", 0.1, 1.5)
    return config


#: Search space per model; models without one (popularity) have nothing to tune.
SEARCH_SPACES: dict[str, Space] = {
    "als": lambda t: {
        "factors": t.suggest_int("factors", 8, 128, log=True),
        "regularization": t.suggest_float("regularization", 1e-4, 1.0, log=True),
        "alpha": t.suggest_float("alpha", 0.5, 50.0, log=True),
        "iterations": t.suggest_int("iterations", 5, 30),
        "popularity_weight": t.suggest_categorical("popularity_weight", list(WEIGHTS)),
    },
    "bpr": lambda t: {
        "factors": t.suggest_int("factors", 8, 128, log=True),
        "learning_rate": t.suggest_float("learning_rate", 1e-3, 0.1, log=True),
        "regularization": t.suggest_float("regularization", 1e-4, 0.1, log=True),
        "iterations": t.suggest_int("iterations", 20, 200, log=True),
        "popularity_weight": t.suggest_categorical("popularity_weight", list(WEIGHTS)),
    },
    "ease": _ease_space,
    "lightfm": lambda t: {
        "no_components": t.suggest_int("no_components", 8, 64, log=True),
        "epochs": t.suggest_int("epochs", 5, 40),
        "learning_rate": t.suggest_float("learning_rate", 0.005, 0.1, log=True),
        "item_alpha": t.suggest_float("item_alpha", 1e-8, 1e-3, log=True),
        "user_alpha": t.suggest_float("user_alpha", 1e-8, 1e-3, log=True),
        "popularity_weight": t.suggest_categorical("popularity_weight", list(WEIGHTS)),
    },
}
SEARCH_SPACES["lightfm_bpr"] = SEARCH_SPACES["lightfm"]

_METRIC = re.compile(r"^(?P<name>[a-z_]+?)(?:@|_at_)(?P<k>\d+)$")


def parse_metric(metric: str) -> tuple[str, int]:
    """``ndcg@10`` or ``ndcg_at_10`` -> (``ndcg``, 10); ``ValueError`` naming the choices."""
    match = _METRIC.match(metric.strip().lower())
    if not match or match["name"] not in ALL_METRICS or int(match["k"]) < 1:
        raise ValueError(
            f"unknown metric {metric!r}: use <metric>@<k> with metric one of "
            f"{', '.join(ALL_METRICS)} (e.g. ndcg@10)"
        )
    return match["name"], int(match["k"])


@dataclass(frozen=True)
class TuneResult:
    best_config: dict[str, Any]
    best_value: float
    metric: str
    n_trials: int
    run_id: str
    out: Path


def tune(
    model: str,
    n_trials: int,
    out: Path,
    *,
    metric: str = "ndcg@10",
    split: str = "auto",
    seed: int = 42,
    base_config: dict[str, Any] | None = None,
    data_dir: Path | None = None,
    tracking_uri: str | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
    show_progress: bool = True,
) -> TuneResult:
    """Search ``model``'s space for ``n_trials``; write the best full config to ``out``."""
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; known models: {', '.join(MODELS)}")
    if model not in SEARCH_SPACES:
        raise ValueError(
            f"model {model!r} has no search space; tunable: {', '.join(SEARCH_SPACES)}"
        )
    if n_trials < 1:
        raise ValueError(f"--trials must be >= 1, got {n_trials}")
    name, k = parse_metric(metric)
    base = dict(base_config or {})
    build_model(model, base)  # an unknown config key fails before any work
    _, experiment_id = connect(data_dir, tracking_uri, experiment)
    dataset, fingerprint = load_training_data(data_dir)
    if split == "auto":  # choose on the whole data, then split its train part the same way
        train, _test, choice = auto_split(dataset, seed=seed)
        split = choice.name
    else:
        train, _test = split_dataset(dataset, split, seed=seed)
    fit, valid = split_dataset(train, split, seed=seed)
    if valid.interactions.nnz == 0:
        raise TrainingDataError(f"the {split!r} split of the train part left no validation data")
    key = metric_key(f"{name}@{k}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=seed)
    study = optuna.create_study(direction="maximize", sampler=sampler)

    with (
        mlflow.start_run(experiment_id=experiment_id, run_name=f"tune-{model}") as parent,
        steps(f"tune {model}", total=n_trials, enabled=show_progress) as bar,
    ):
        mlflow.set_tags({"job": "tune", "model": model, "metric": key, "split": split})
        sizes = {"fit_events": len(fit.events), "validation_events": len(valid.events)}
        mlflow.log_params(flatten({"model": model, "n_trials": n_trials, "seed": seed, **sizes}))
        mlflow.log_dict(fingerprint, "data/fingerprint.json")

        def objective(trial: optuna.Trial) -> float:
            config = {**base, **SEARCH_SPACES[model](trial)}
            with mlflow.start_run(
                experiment_id=experiment_id, run_name=f"trial-{trial.number}", nested=True
            ):
                result = evaluate_split(
                    fit, valid, [model], k=k, configs={model: config}, seed=seed,
                    split_name=f"{split}-validation",
                )  # fmt: skip
                metrics = result.models[model].metrics
                mlflow.log_params(flatten(config))
                mlflow.log_metrics(
                    finite_metrics({metric_name(m, k): v for m, v in metrics.items()})
                )
            bar.advance(f"trial {trial.number}")
            value = metrics.get(name, float("nan"))
            return value if value == value else 0.0  # NaN (no validation client) scores 0

        study.optimize(objective, n_trials=n_trials)
        best = build_model(model, {**base, **study.best_params}).config.model_dump(mode="json")
        mlflow.log_metric(f"best_{key}", study.best_value)
        mlflow.log_dict(best, "best_config.json")
    write_json(out, best)
    return TuneResult(best, float(study.best_value), key, n_trials, parent.info.run_id, out)
