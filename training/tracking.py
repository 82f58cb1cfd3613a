"""Where MLflow runs and registered models live, and a fail-fast check that it is reachable.

With ``MLFLOW_TRACKING_URI`` set, runs and the registry go to that server (production). With
nothing configured they go to a SQLite file and an artifact folder in the data directory
(``<data_dir>/mlflow/mlflow.db`` and ``<data_dir>/mlflow/artifacts``), so a laptop needs no
server. Jobs call ``connect`` first: an unreachable server is reported, with its URI, before
any data is loaded or any model is fitted.
"""

from __future__ import annotations

import math
import os
import re
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
from mlflow.tracking import MlflowClient

from recommender import paths

TRACKING_URI_ENV = paths.TRACKING_URI_ENV
REGISTRY_URI_ENV = "MLFLOW_REGISTRY_URI"
DEFAULT_EXPERIMENT = "offers-recommender"
REACHABILITY_TIMEOUT_S = 3.0


class TrackingError(RuntimeError):
    """The tracking store or registry cannot be used."""


class TrackingUnreachableError(TrackingError):
    """The configured tracking server does not answer; the message names its URI."""


@dataclass(frozen=True)
class Tracking:
    """Resolved tracking and registry URIs, and where new experiments keep artifacts.

    ``artifact_root`` is set only for the embedded SQLite default; a server decides its own
    artifact location (``--default-artifact-root`` / ``--artifacts-destination``).
    """

    tracking_uri: str
    registry_uri: str
    artifact_root: str | None = None

    @property
    def is_remote(self) -> bool:
        return self.tracking_uri.startswith(("http://", "https://"))

    def client(self) -> MlflowClient:
        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.registry_uri)


def resolve(data_dir: Path | None = None, tracking_uri: str | None = None) -> Tracking:
    """``tracking_uri``, else ``$MLFLOW_TRACKING_URI``, else SQLite in ``data_dir/mlflow``."""
    uri = paths.configured_tracking_uri(tracking_uri)
    if uri:
        return Tracking(tracking_uri=uri, registry_uri=os.environ.get(REGISTRY_URI_ENV) or uri)
    root = paths.data_dir(data_dir)
    sqlite_uri = paths.sqlite_tracking_uri(root)
    return Tracking(sqlite_uri, sqlite_uri, (paths.mlflow_dir(root) / "artifacts").as_uri())


def check_reachable(tracking: Tracking, timeout_s: float = REACHABILITY_TIMEOUT_S) -> None:
    """Raise ``TrackingUnreachableError`` naming the URI when a server does not answer."""
    if not tracking.is_remote:
        return
    url = tracking.tracking_uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            if response.status >= 400:
                raise TrackingUnreachableError(
                    f"MLflow tracking server {tracking.tracking_uri} answered HTTP "
                    f"{response.status} on /health"
                )
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TrackingUnreachableError(
            f"MLflow tracking server {tracking.tracking_uri} is unreachable ({reason}); start "
            f"it or unset {TRACKING_URI_ENV} to use the local SQLite store"
        ) from exc


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
