"""The churn-risk job: offline store -> time backtest -> final model -> one MLflow run.

Like the recommenders' train job: the run records the data fingerprint, the settings, every
backtest figure (model, base rate, best single-feature rule, "one active service", the
shuffled-window control, by industry) and the reliability table; the model that is logged and
registered (``churn-risk`` by default, an alias when asked) is then fitted on the latest
cut-offs the data fully observe, and every client is scored as of the end of the data
(``scores.npz`` in the bundle, read by the API).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd

from feature_store.errors import OfflineStoreEmptyError
from feature_store.offline import OfflineStore
from recommender.churn import (
    BacktestReport,
    BacktestSettings,
    ChurnDefinition,
    ChurnModelSettings,
    EventLog,
    fit_final,
    run_backtest,
    score_clients,
)
from recommender.churn.plots import reliability_chart
from recommender.domain import INTERACTION_COLUMNS
from training.model_env import requirement_check_skipped
from training.run_logging import log_context
from training.tracking import connect, finite_metrics

CHURN_MODEL_NAME = "churn-risk"
CHURN_EXPERIMENT = "churn-risk"
CODE_PATH = Path(__file__).with_name("churn_pyfunc_code.py")


class ChurnTrainingError(ValueError):
    """No usable data for the churn model (the message says what to do)."""


@dataclass(frozen=True)
class ChurnTrainSettings:
    horizon_days: int = 90
    silence: bool = False
    train_cutoffs: int = 6
    seed: int = 42
    registered_name: str = CHURN_MODEL_NAME
    experiment: str = CHURN_EXPERIMENT
    model: ChurnModelSettings = field(default_factory=ChurnModelSettings)

    def backtest(self) -> BacktestSettings:
        model = ChurnModelSettings(**{**self.model.__dict__, "seed": self.seed})
        return BacktestSettings(
            definition=ChurnDefinition(self.horizon_days, self.silence),
            model=model,
            train_cutoffs=self.train_cutoffs,
            seed=self.seed,
        )


@dataclass(frozen=True)
class ChurnTrainResult:
    run_id: str
    version: str
    report: BacktestReport
    scored_clients: int
    at_risk_clients: int


def load_log(data_dir: Path | None) -> tuple[EventLog, dict[str, Any]]:
    """The event log of the offline store (snapshot + flushed events) and its fingerprint."""
    store = OfflineStore(data_dir)
    try:
        interactions = store.read_table("interactions")
        fingerprint = store.fingerprint()
    except OfflineStoreEmptyError as exc:
        raise ChurnTrainingError(
            f"the offline store {store.root} is empty: run `recsys data generate` or "
            f"`recsys data import` first ({exc})"
        ) from exc
    present = store.tables()
    clients = store.read_table("clients") if "clients" in present else None
    items = store.read_table("items") if "items" in present else None
    events = store.read_events()
    if len(events):
        if "event_id" in interactions:
            events = events[~events["event_id"].isin(set(interactions["event_id"].dropna()))]
        interactions = pd.concat(
            [interactions, events[[c for c in INTERACTION_COLUMNS if c in events]]],
            ignore_index=True,
        )
    return EventLog.from_frames(interactions, clients, items), fingerprint


def backtest(settings: ChurnTrainSettings, data_dir: Path | None = None) -> BacktestReport:
    """The time backtest alone (no MLflow)."""
    log, _ = load_log(data_dir)
    return run_backtest(log, settings.backtest())


def train_churn(
    settings: ChurnTrainSettings,
    data_dir: Path | None = None,
    tracking_uri: str | None = None,
    *,
    alias: str | None = None,
) -> ChurnTrainResult:
    """Backtest, fit the final model, score every client, log and register one version."""
    tracking, experiment_id = connect(data_dir, tracking_uri, settings.experiment)
    log, fingerprint = load_log(data_dir)
    report = run_backtest(log, settings.backtest())
    model, as_of = fit_final(log, settings.backtest())
    scores = score_clients(model, log, as_of)
    targets = report.targets_met()
    with mlflow.start_run(experiment_id=experiment_id, run_name="churn-risk") as run:
        params = {
            "model": "lightgbm+isotonic",
            "definition": settings.backtest().definition.describe(),
            "horizon_days": settings.horizon_days,
            "silence": settings.silence,
            "train_cutoffs": settings.train_cutoffs,
            "seed": settings.seed,
            "lightgbm": settings.model.lightgbm_params()
            | {"n_estimators": settings.model.n_estimators},
        }
        tags = {
            "model": "churn-risk",
            "test_cutoff": report.test_cutoff,
            "best_rule": str(report.best_rule["rule"]),
            **{f"target.{k}": str(v).lower() for k, v in targets.items()},
        }
        log_context(params, fingerprint, tags)
        mlflow.log_metrics(finite_metrics(report.metrics()))
        mlflow.log_dict(report.to_dict(), "evaluation/backtest.json")
        mlflow.log_dict({"rows": report.reliability}, "evaluation/reliability.json")
        mlflow.log_figure(reliability_chart(report), "evaluation/reliability.png")
        with tempfile.TemporaryDirectory(prefix="recsys-churn-") as tmp:
            bundle = model.save(Path(tmp) / "bundle")
            scores.save(bundle)
            with requirement_check_skipped():
                info = mlflow.pyfunc.log_model(
                    name="model",
                    python_model=str(CODE_PATH),
                    artifacts={"bundle": str(bundle)},
                    signature=_signature(),
                    input_example=pd.DataFrame(
                        {"client_id": [str(c) for c in scores.client_ids[:2]]}
                    ),
                    pip_requirements=_pip_requirements(),
                    metadata={"recsys_model": "churn-risk"},
                )
        client = tracking.client()
        mv = mlflow.register_model(info.model_uri, settings.registered_name, tags=tags)
        if alias:
            client.set_registered_model_alias(settings.registered_name, alias, mv.version)
        mlflow.set_tag("registered_version", f"{settings.registered_name}/{mv.version}")
    return ChurnTrainResult(
        run_id=run.info.run_id,
        version=str(mv.version),
        report=report,
        scored_clients=len(scores.client_ids),
        at_risk_clients=int(scores.at_risk.sum()),
    )


def _signature():  # type: ignore[no-untyped-def]
    from training.churn_pyfunc import signature

    return signature()


def _pip_requirements() -> list[str]:
    from training.churn_pyfunc import pip_requirements

    return pip_requirements()
