"""Retrain with a guardrail: a challenger replaces the champion only if it is clearly better.

1. The challenger (``--model``/config, default: the champion's model and config) is trained
   on the latest offline data by the train job and registered (tag ``job=retrain-challenger``;
   no alias moves unless it is promoted: an A/B test of a kept challenger is an explicit
   ``recsys promote --alias challenger``).
2. Both are scored on the same split of the same data. The challenger as the train job
   scores it (fitted on the train part). The champion *as it is served* (its registered
   bundle, ids mapped onto the current data; offers it does not know cannot be recommended)
   when its training data ended before the test period; otherwise the bundle has seen the
   test answers, so its recipe (model + config from the bundle) is refitted on the train
   part instead. The tag ``champion_scored_as`` says which.
3. The challenger becomes ``champion`` only if there is no champion or
   ``challenger > champion * (1 + margin)``, and only if it beats the uniform offer on the
   same split (``training.guardrail``; ``force=True`` overrides, tagged). The decision,
   both scores and both versions are recorded as an MLflow run (``job=retrain``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.tracking import MlflowClient

from recommender.catalog import catalog_arrays
from recommender.dataset import Dataset
from recommender.evaluation.evaluate import CUTOFFS, evaluate_split
from recommender.evaluation.metrics import compute_metrics, item_popularity
from recommender.evaluation.splits import evaluated_clients, relevance, split_dataset
from recommender.paths import DEFAULT_MODEL_NAME
from recommender.ranking import ClientBlock, RankingModel, RankingPolicy
from recommender.servable import ServableModel
from training import registry
from training.tracking import DEFAULT_EXPERIMENT, connect, metric_key
from training.train import TrainSettings, load_training_data, train
from training.tune import parse_metric


@dataclass(frozen=True)
class RetrainDecision:
    promoted: bool
    reason: str
    metric: str
    challenger_score: float
    champion_score: float | None
    challenger_version: str
    champion_version: str | None
    run_id: str


def score_servable(
    servable: ServableModel,
    train: Dataset,
    test: Dataset,
    k: int,
    seed: int = 42,
    policy: RankingPolicy | None = None,
) -> dict[str, float]:
    """Metrics of a frozen bundle, ranked as served, on a split whose id maps may differ."""
    truth_all = relevance(train, test)
    clients = evaluated_clients(truth_all)
    model = RankingModel(servable)
    policy = policy if policy is not None else RankingPolicy.from_settings()
    ranked = policy.rank(model, bundle_block(model, train, clients), policy.rules(k))
    to_current = train.item_ids.to_internal_many(servable.item_ids)  # bundle item -> current
    recs = np.full((len(clients), k), -1, dtype=np.int64)
    for row in range(len(clients)):
        mapped = to_current[ranked.row(row)]
        mapped = mapped[mapped >= 0]
        recs[row, : len(mapped)] = mapped
    return compute_metrics(
        recs,
        truth_all[clients],
        k,
        n_items=train.n_items,
        item_kinds=catalog_arrays(train).kind,
        popularity=item_popularity(train.interactions),
        seed=seed,
        cutoffs=CUTOFFS,
    )


def bundle_block(model: RankingModel, data: Dataset, clients: np.ndarray) -> ClientBlock:
    """``data``'s clients described in a bundle's id maps (offers it does not know dropped)."""
    frame = data.clients.iloc[clients].copy()
    frame["client_id"] = [str(c) for c in data.client_ids.to_external(clients)]
    coo = data.interactions[clients].tocoo()
    owned = pd.DataFrame(
        {
            "client_id": frame["client_id"].to_numpy()[coo.row],
            "item_id": np.asarray(data.item_ids.to_external(coo.col)).astype(str),
        }
    )
    return ClientBlock.from_frames(frame, owned, model.item_ids, model.client_index)


def retrain(
    model: str | None = None,
    *,
    metric: str = "ndcg@10",
    margin: float = 0.01,
    config: dict[str, Any] | None = None,
    split: str = "auto",
    seed: int = 42,
    force: bool = False,
    registered_name: str = DEFAULT_MODEL_NAME,
    experiment: str = DEFAULT_EXPERIMENT,
    data_dir: Path | None = None,
    tracking_uri: str | None = None,
    show_progress: bool = True,
) -> RetrainDecision:
    """Train, compare, register as challenger, maybe promote; see the module docstring."""
    if margin < 0:
        raise ValueError(f"--margin must be >= 0, got {margin}")
    name, k = parse_metric(metric)
    key = metric_key(f"{name}@{k}")
    tracking, experiment_id = connect(data_dir, tracking_uri, experiment)
    client = tracking.client()
    champion_mv, champion = _champion(client, registered_name, tracking.tracking_uri)
    if model is None:
        if champion is None:
            raise ValueError("no champion to retrain: give --model")
        model = str(champion.metadata.get("model", champion.name))
    if config is None and champion is not None and champion.metadata.get("model") == model:
        config = dict(champion.metadata.get("config", {}))
    data = load_training_data(data_dir)
    settings = TrainSettings(
        model,
        dict(config or {}),
        split,
        k,
        seed,
        registered_name,
        experiment=experiment,
        guard_metric=name,
    )
    result = train(
        settings,
        data_dir,
        tracking.tracking_uri,
        alias=None,
        tags={"job": "retrain-challenger"},
        data=data,
        show_progress=show_progress,
    )
    challenger_score = float(result.metrics.get(key, 0.0))
    champion_score: float | None = None
    scored_as = "none"
    if champion is not None:
        train_part, test_part = split_dataset(data[0], split, seed=seed)
        if _saw_test(client, champion_mv, test_part):
            scored_as = "recipe_refit_on_train"
            recipe = str(champion.metadata.get("model", champion.name))
            configs = {recipe: dict(champion.metadata.get("config", {}))}
            evaluation = evaluate_split(
                train_part, test_part, [recipe], k=k, configs=configs, seed=seed
            )
            champion_score = float(evaluation.models[recipe].metrics[name])
        else:
            scored_as = "served_bundle"
            champion_score = float(score_servable(champion, train_part, test_part, k, seed)[name])
    promoted = champion_score is None or challenger_score > champion_score * (1.0 + margin)
    if champion_score is None:
        reason = "no champion yet"
    else:
        verdict = "beats" if promoted else "does not beat"
        reason = f"challenger {verdict} champion * (1 + {margin}) on {key}"
    guard = result.guardrail
    forced = False
    if promoted and guard is not None and not guard.passed:
        if force:
            forced = True
            reason += f"; forced although it {guard.describe()}"
        else:
            promoted = False
            reason = f"challenger {guard.describe()} (--force overrides)"
    if promoted:
        assert result.version is not None
        registry.promote(client, registered_name, result.version, registry.CHAMPION, force=forced)
    with mlflow.start_run(experiment_id=experiment_id, run_name="retrain-decision") as run:
        mlflow.set_tags(
            {
                "job": "retrain",
                "decision": "promoted" if promoted else "kept_champion",
                "reason": reason,
                "challenger_version": str(result.version),
                "champion_version": str(getattr(champion_mv, "version", "none")),
                "champion_scored_as": scored_as,
                "forced": str(forced).lower(),
                "guardrail": "" if guard is None else guard.describe(),
                "challenger_run_id": result.run_id,
            }
        )
        mlflow.log_params({"metric": key, "margin": margin, "model": model, "split": split})
        scores = {f"challenger_{key}": challenger_score}
        if champion_score is not None:
            scores[f"champion_{key}"] = champion_score
        mlflow.log_metrics(scores | {"promoted": float(promoted)})
    return RetrainDecision(
        promoted,
        reason,
        key,
        challenger_score,
        champion_score,
        str(result.version),
        None if champion_mv is None else str(champion_mv.version),
        run.info.run_id,
    )


def _champion(
    client: MlflowClient, name: str, tracking_uri: str
) -> tuple[ModelVersion | None, ServableModel | None]:
    try:
        mv = registry.resolve_version(client, name, registry.CHAMPION)
    except registry.RegistryError:
        return None, None
    servable, _ = registry.load_servable(name, str(mv.version), tracking_uri)
    return mv, servable


def _saw_test(client: MlflowClient, champion_mv: ModelVersion | None, test: Dataset) -> bool:
    """Whether the champion's training data reached into the test period (from its run)."""
    if champion_mv is None or not champion_mv.run_id or test.events.empty:
        return False
    params = client.get_run(champion_mv.run_id).data.params
    until = params.get("data.interactions_max_ts")
    if until is None:
        return False
    first_test = pd.to_datetime(test.events["timestamp"], utc=True).min()
    return bool(pd.Timestamp(until) >= first_test)
