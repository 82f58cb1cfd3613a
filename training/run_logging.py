"""What a training run records in MLflow, one helper per kind of record.

Metric names: ``<metric>_at_<k>`` overall (``ndcg_at_10``) and
``<group column>/<group>/<metric>_at_<k>`` per group (``industry/finance/ndcg_at_10``), so the
MLflow UI folds the per-industry ones together. The model is logged as code (no pickle) with
the ``ServableModel`` bundle and the client table as artifact folders, before the metrics:
metrics logged with its ``model_id`` belong to the run and to the logged model at once (logged
before it, MLflow would copy every one of them to the model, one query per metric).
"""

from __future__ import annotations

import json
import platform
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import mlflow
from mlflow.entities import Metric
from mlflow.models.model import ModelInfo

from recommender.dataset import Dataset
from recommender.evaluation.evaluate import EvaluationResult
from recommender.servable import ServableModel
from training.model_env import requirement_check_skipped
from training.pyfunc import CODE_PATH, ClientTable, input_example, pip_requirements, signature
from training.tracking import finite_metrics, flatten, metric_key

PROJECT_ROOT = Path(__file__).resolve().parents[1]
ENV_PACKAGES: tuple[str, ...] = (
    "numpy",
    "scipy",
    "pandas",
    "implicit",
    "rectools-lightfm",
    "mlflow",
    "optuna",
)


def metric_name(metric: str, k: int) -> str:
    """``ndcg`` at 10 -> ``ndcg_at_10``; counts and timings keep their plain name."""
    if metric in {"n_clients", "fit_seconds"}:
        return metric
    return metric_key(metric if "@" in metric else f"{metric}@{k}")


def evaluation_metrics(result: EvaluationResult, model: str) -> dict[str, float]:
    """Overall and per-group metrics of one evaluated model, with MLflow-safe names."""
    evaluation = result.models[model]
    out = {metric_name(m, result.k): v for m, v in evaluation.metrics.items()}
    out |= {f"model_only_{metric_name(m, result.k)}": v for m, v in evaluation.model_only.items()}
    out["fit_seconds"] = evaluation.fit_seconds
    if evaluation.calibration is not None:
        quality = dict(evaluation.calibration.calibration.quality)
        out |= {f"calibration_{name}": value for name, value in quality.items()}
    column = result.group_column or "group"
    for group, values in evaluation.by_group.items():
        for m, v in values.items():
            out[f"{column}/{group}/{metric_name(m, result.k)}"] = v
    return finite_metrics(out)


def environment() -> dict[str, str]:
    """Python and library versions, as ``env.<name>`` tags."""
    tags = {"env.python": platform.python_version(), "env.platform": platform.platform()}
    for package in ENV_PACKAGES:
        try:
            tags[f"env.{package}"] = version(package)
        except PackageNotFoundError:
            tags[f"env.{package}"] = "absent"
    return tags


def git_commit(root: Path = PROJECT_ROOT) -> str | None:
    """The commit of the working tree, or None outside a git checkout."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def log_context(config: dict[str, Any], fingerprint: dict[str, Any], tags: dict[str, str]) -> None:
    """Params (flattened config + data fingerprint), tags (data, env, git) and fingerprint JSON."""
    data = {f"data.{k}": v for k, v in fingerprint.items()}
    mlflow.log_params(flatten(config) | flatten(data))
    commit = git_commit()
    git = {"git_commit": commit, "mlflow.source.git.commit": commit} if commit else {}
    mlflow.set_tags({**tags, **environment(), **git, **{k: str(v) for k, v in data.items()}})
    mlflow.log_dict(fingerprint, "data/fingerprint.json")


def log_metrics(metrics: Mapping[str, float], model_id: str | None = None) -> None:
    """One batch of run metrics, also attached to the logged model ``model_id`` when given."""
    mlflow.log_metrics(dict(metrics), model_id=model_id)


def timing_metrics(timings: Mapping[str, float]) -> list[Metric]:
    """``seconds_<n>_<step>`` of each timed step, in order, as one batch for ``log_batch``."""
    now = int(time.time() * 1000)
    return [
        Metric(f"seconds_{n}_{metric_key(label).replace(' ', '_')}", float(seconds), now, 0)
        for n, (label, seconds) in enumerate(timings.items())
    ]


def log_report(
    result: EvaluationResult, model: str, step: Callable[[str], None] | None = None
) -> None:
    """The report of ``model`` (JSON, top-k CSV, PNG charts) under ``evaluation/``; ``step``
    is told the name of each part as it starts (a progress bar's ``advance``)."""
    started = step or (lambda label: None)
    started("drawing the report charts")
    from recommender.evaluation.report import write_report  # matplotlib: only when drawing

    with tempfile.TemporaryDirectory(prefix="recsys-report-") as tmp:
        write_report(result, tmp, models=[model])
        started("logging the report artifacts")
        mlflow.log_artifacts(tmp, "evaluation")


def log_offers_model(servable: ServableModel, dataset: Dataset, name: str = "model") -> ModelInfo:
    """Log the pyfunc model (models from code) with the bundle and client table artifacts."""
    with tempfile.TemporaryDirectory(prefix="recsys-model-") as tmp:
        bundle = servable.save(Path(tmp) / "bundle")
        clients = ClientTable.from_dataset(dataset).save(Path(tmp) / "clients")
        with requirement_check_skipped():  # the pins are this environment's own
            return mlflow.pyfunc.log_model(
                name=name,
                python_model=str(CODE_PATH),
                artifacts={"bundle": str(bundle), "clients": str(clients)},
                signature=signature(),
                input_example=input_example(servable),
                pip_requirements=pip_requirements(),
                metadata={"recsys_model": servable.name},
            )


def write_json(path: Path, payload: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str))
    return path
