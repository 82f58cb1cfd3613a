"""The model store: the read side of the MLflow tracking store and model registry.

Where runs and registered models live (``resolve``: ``MLFLOW_TRACKING_URI``, else the SQLite file
in the data directory), a fail-fast reachability check, and finding and loading a registered
version by alias or number. Serving loads its models through here and training writes them
(``training.tracking``, ``training.registry``), so neither package imports the other for it.

``load_servable`` gives the ``ServableModel`` of ``models:/<name>@<alias>`` without any training
library: it downloads the ``bundle`` artifact folder of the pyfunc model and loads it with
``ServableModel.load`` (numpy, ``allow_pickle=False``). MLflow is imported by this module only,
which commands import when they need the registry.
"""

from __future__ import annotations

import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import mlflow.artifacts
import yaml
from mlflow.entities.model_registry import ModelVersion, RegisteredModel
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from recommender import paths
from recommender.servable import ServableModel

TRACKING_URI_ENV = paths.TRACKING_URI_ENV
REGISTRY_URI_ENV = "MLFLOW_REGISTRY_URI"
REACHABILITY_TIMEOUT_S = 3.0


class TrackingError(RuntimeError):
    """The tracking store or registry cannot be used."""


class TrackingUnreachableError(TrackingError):
    """The configured tracking server does not answer; the message names its URI."""


class RegistryError(TrackingError):
    """A registered model, version or alias that does not exist."""


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


def missing(exc: MlflowException) -> bool:
    """The registry answered "no such model / version / alias"."""
    return exc.error_code in {"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "INVALID_PARAMETER_VALUE"}


def versions(client: MlflowClient, name: str) -> list[ModelVersion]:
    """All versions of ``name``, newest first; ``RegistryError`` when the model is unknown."""
    aliases_of(client, name)  # raises for an unknown model
    found = client.search_model_versions(f"name = '{name}'")
    return sorted(found, key=lambda v: int(v.version), reverse=True)


class RegistryReader(Protocol):
    """What reading the registry needs: ``MlflowClient`` or MLflow's registry-only client."""

    def get_registered_model(self, name: str) -> RegisteredModel: ...

    def search_registered_models(self) -> Any: ...

    def search_model_versions(self, filter_string: str | None = None) -> Any: ...


def aliases_of(client: RegistryReader, name: str) -> dict[str, str]:
    """Alias -> version of a registered model; ``RegistryError`` when the model is unknown."""
    try:
        model = client.get_registered_model(name)
    except MlflowException as exc:
        if missing(exc):
            raise RegistryError(f"no registered model named {name!r}") from exc
        raise
    return {alias: str(v) for alias, v in (model.aliases or {}).items()}


def resolve_version(client: MlflowClient, name: str, alias_or_version: str) -> ModelVersion:
    """The version a number or an alias points at; the error lists what does exist."""
    aliases = aliases_of(client, name)
    ref = str(alias_or_version)
    try:
        if ref.isdigit():
            return client.get_model_version(name, ref)
        if ref in aliases:
            return client.get_model_version_by_alias(name, ref)
    except MlflowException as exc:
        if not missing(exc):
            raise
    numbers = ", ".join(str(v.version) for v in versions(client, name)) or "none"
    what = f"version {ref}" if ref.isdigit() else f"alias {ref!r}"
    listed = ", ".join(f"{a}={v}" for a, v in sorted(aliases.items())) or "none"
    raise RegistryError(f"model {name!r} has no {what} (versions: {numbers}; aliases: {listed})")


def download_bundle(
    client: MlflowClient, mv: ModelVersion, destination: Path, tracking_uri: str
) -> Path:
    """Download the ``bundle`` artifact folder of a registered pyfunc model version."""
    root = client.get_model_version_download_uri(mv.name, mv.version).rstrip("/")
    mlmodel = Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=f"{root}/MLmodel", dst_path=str(destination), tracking_uri=tracking_uri
        )
    )
    flavor = yaml.safe_load(mlmodel.read_text()).get("flavors", {}).get("python_function", {})
    relative = flavor.get("artifacts", {}).get("bundle", {}).get("path")
    if not relative:
        raise RegistryError(f"model {mv.name!r} version {mv.version} has no 'bundle' artifact")
    return Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=f"{root}/{relative}", dst_path=str(destination), tracking_uri=tracking_uri
        )
    )


def load_servable(
    model_name: str, alias_or_version: str, tracking_uri: str | None = None
) -> tuple[ServableModel, str]:
    """The ``ServableModel`` of ``models:/<model_name>@<alias>`` (or a version) and its version.

    ``tracking_uri`` None means ``$MLFLOW_TRACKING_URI``, else the SQLite store of the data dir.
    """
    tracking = resolve(tracking_uri=tracking_uri)
    check_reachable(tracking)
    client = tracking.client()
    mv = resolve_version(client, model_name, alias_or_version)
    with tempfile.TemporaryDirectory(prefix="recsys-bundle-") as tmp:
        servable = ServableModel.load(download_bundle(client, mv, Path(tmp), tracking.tracking_uri))
    return servable, str(mv.version)
