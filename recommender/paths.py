"""Where the service keeps its files when nothing else is configured.

Everything lives under one data directory (``RECSYS_DATA_DIR``, default ``./data``):

    offline/   Parquet offline store (snapshots of items, clients, interactions; events by date)
    redis/     the embedded Redis database file (used when ``REDIS_URL`` is unset)
    mlflow/    MLflow SQLite tracking store and artifacts (used when no tracking URI is set)
    reports/   evaluation and A/B reports
    sample/    generated sample data
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "RECSYS_DATA_DIR"
TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
#: The registered model name training registers and serving, exports and the CLI load.
DEFAULT_MODEL_NAME = "offers-recommender"


def data_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The data directory: ``override``, else ``$RECSYS_DATA_DIR``, else ``./data``."""
    raw = override if override is not None else os.environ.get(DATA_DIR_ENV, "data")
    return Path(raw).expanduser().resolve()


def offline_dir(root: Path | None = None) -> Path:
    return (root or data_dir()) / "offline"


def redis_dir(root: Path | None = None) -> Path:
    return (root or data_dir()) / "redis"


def mlflow_dir(root: Path | None = None) -> Path:
    return (root or data_dir()) / "mlflow"


def sqlite_tracking_uri(root: Path | None = None) -> str:
    """The embedded MLflow store of a data directory (used when no tracking URI is set)."""
    return f"sqlite:///{mlflow_dir(root) / 'mlflow.db'}"


def configured_tracking_uri(override: str | None = None) -> str | None:
    """``override``, else ``$MLFLOW_TRACKING_URI``; None when neither is set."""
    return override or os.environ.get(TRACKING_URI_ENV) or None


def tracking_uri(override: str | None = None, root: Path | None = None) -> str:
    """The MLflow tracking URI every command and the server use: ``override``, else
    ``$MLFLOW_TRACKING_URI``, else the SQLite store in the data directory ``root``."""
    return configured_tracking_uri(override) or sqlite_tracking_uri(root)


def reports_dir(root: Path | None = None) -> Path:
    return (root or data_dir()) / "reports"


def sample_dir(root: Path | None = None) -> Path:
    return (root or data_dir()) / "sample"
