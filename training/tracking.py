"""Writing to MLflow: connecting a job to the tracking store, logging runs.

With ``MLFLOW_TRACKING_URI`` set, runs and the registry go to that server (production). With
nothing configured they go to a SQLite file and an artifact folder in the data directory
(``<data_dir>/mlflow/mlflow.db`` and ``<data_dir>/mlflow/artifacts``), so a laptop needs no
server. Jobs call ``connect`` first: an unreachable server is reported, with its URI, before
any data is loaded or any model is fitted. Resolving the store and reading the registry live in
``feature_store.model_store`` (serving reads models too); their names are re-exported here.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mlflow

from feature_store.model_store import REACHABILITY_TIMEOUT_S as REACHABILITY_TIMEOUT_S
from feature_store.model_store import REGISTRY_URI_ENV, TRACKING_URI_ENV, check_reachable, resolve
from feature_store.model_store import Tracking as Tracking
from feature_store.model_store import TrackingError as TrackingError
from feature_store.model_store import TrackingUnreachableError as TrackingUnreachableError

DEFAULT_EXPERIMENT = "offers-recommender"


def connect(
    data_dir: Path | None = None,
    tracking_uri: str | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
) -> tuple[Tracking, str]:
    """Resolve, check, point the ``mlflow`` module at the store; return it and the experiment id.

    The embedded default creates its folder and gives the experiment an artifact location
    inside the data directory (not ``./mlruns`` of whatever the working directory is).
    """
    tracking = resolve(data_dir, tracking_uri)
    check_reachable(tracking)
    if tracking.artifact_root is not None:
        Path(tracking.tracking_uri.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )
    use(tracking)
    client = tracking.client()
    found = client.get_experiment_by_name(experiment)
    if found is not None:
        return tracking, found.experiment_id
    location = None if tracking.artifact_root is None else f"{tracking.artifact_root}/{experiment}"
    return tracking, client.create_experiment(experiment, artifact_location=location)


def use(tracking: Tracking) -> None:
    """Point the ``mlflow`` module (fluent API) at ``tracking``, leaving the environment alone.

    ``mlflow.set_tracking_uri`` also exports ``MLFLOW_TRACKING_URI``; left there it would make
    the next ``resolve`` in this process ignore its data directory, so it is restored.
    """
    saved = {name: os.environ.get(name) for name in (TRACKING_URI_ENV, REGISTRY_URI_ENV)}
    mlflow.set_tracking_uri(tracking.tracking_uri)
    mlflow.set_registry_uri(tracking.registry_uri)
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


_UNSAFE = re.compile(r"[^A-Za-z0-9_\-. /:]")


def metric_key(name: str) -> str:
    """A name MLflow accepts: ``ndcg@10`` -> ``ndcg_at_10``; other odd characters -> ``_``."""
    return _UNSAFE.sub("_", name.replace("@", "_at_"))


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested config -> flat ``a.b`` keys with string values, as MLflow params are."""
    flat: dict[str, str] = {}
    for key, value in values.items():
        name = metric_key(f"{prefix}{key}")
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat


def finite_metrics(metrics: Mapping[str, float]) -> dict[str, float]:
    """Metrics with safe names; NaN and infinite values are dropped (MLflow rejects some)."""
    return {
        metric_key(k): float(v)
        for k, v in metrics.items()
        if isinstance(v, int | float) and math.isfinite(v)
    }
