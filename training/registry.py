"""The model registry: versions, the ``champion`` / ``challenger`` aliases, loading a bundle.

Aliases only (stages are deprecated in MLflow). Serving calls ``load_servable`` to get the
``ServableModel`` of ``models:/<name>@<alias>`` (or a version number) without importing any
training library: it downloads the ``bundle`` artifact folder of the pyfunc model and loads
it with ``ServableModel.load`` (numpy, ``allow_pickle=False``).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import mlflow.artifacts
import yaml
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from recommender.servable import ServableModel
from training.tracking import TrackingError, check_reachable, resolve

CHAMPION, CHALLENGER = "champion", "challenger"


#: Model-version tags of the guardrail against the uniform offer (``training.guardrail``).
TAG_BEATS = "beats_uniform"
TAG_UPLIFT = "uplift_vs_uniform"
TAG_METRIC = "guardrail_metric"
TAG_FORCED = "forced_promotion"


class RegistryError(TrackingError):
    """A registered model, version or alias that does not exist."""


class LosesToUniformError(RegistryError):
    """A version that loses to the uniform offer was to become champion without ``--force``."""


@dataclass(frozen=True)
class VersionInfo:
    """One registered model version, as ``recsys models`` lists it."""

    name: str
    version: str
    aliases: tuple[str, ...]
    run_id: str | None
    created: datetime
    model: str
    description: str
    #: Uplift over the uniform offer on ``guard_metric`` (from the train run; "" if unknown).
    uplift: str = ""
    guard_metric: str = ""


def _missing(exc: MlflowException) -> bool:
    return exc.error_code in {"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "INVALID_PARAMETER_VALUE"}


def versions(client: MlflowClient, name: str) -> list[ModelVersion]:
    """All versions of ``name``, newest first; ``RegistryError`` when the model is unknown."""
    aliases_of(client, name)  # raises for an unknown model
    found = client.search_model_versions(f"name = '{name}'")
    return sorted(found, key=lambda v: int(v.version), reverse=True)


def aliases_of(client: MlflowClient, name: str) -> dict[str, str]:
    """Alias -> version of a registered model; ``RegistryError`` when the model is unknown."""
    try:
        model = client.get_registered_model(name)
    except MlflowException as exc:
        if _missing(exc):
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
        if not _missing(exc):
            raise
    numbers = ", ".join(str(v.version) for v in versions(client, name)) or "none"
    what = f"version {ref}" if ref.isdigit() else f"alias {ref!r}"
    listed = ", ".join(f"{a}={v}" for a, v in sorted(aliases.items())) or "none"
    raise RegistryError(f"model {name!r} has no {what} (versions: {numbers}; aliases: {listed})")


def promote(
    client: MlflowClient, name: str, version: str, alias: str, *, force: bool = False
) -> ModelVersion:
    """Point ``alias`` at ``version`` (it moves off whichever version had it).

    A version whose train run lost to the uniform offer (tag ``beats_uniform=false``) is not
    made ``champion`` unless ``force``; a forced promotion is tagged on the version.
    """
    if not alias or alias.isdigit():
        raise RegistryError(f"invalid alias {alias!r}: use a name such as {CHAMPION!r}")
    mv = resolve_version(client, name, str(version))
    tags = mv.tags or {}
    if alias == CHAMPION and tags.get(TAG_BEATS) == "false":
        metric, uplift = tags.get(TAG_METRIC, "?"), tags.get(TAG_UPLIFT, "?")
        if not force:
            raise LosesToUniformError(
                f"{name} version {mv.version} loses to the uniform offer on {metric} "
                f"(uplift {uplift}); refusing to make it {CHAMPION} - pass --force to override"
            )
        client.set_model_version_tag(
            name, str(mv.version), TAG_FORCED, f"promoted with --force (uplift {uplift})"
        )
    client.set_registered_model_alias(name, alias, str(mv.version))
    return client.get_model_version(name, str(mv.version))


def list_versions(client: MlflowClient, name: str | None = None) -> list[VersionInfo]:
    """Versions of one registered model, or of every registered model."""
    names = [name] if name else sorted(m.name for m in client.search_registered_models())
    out: list[VersionInfo] = []
    for model_name in names:
        aliases = aliases_of(client, model_name)
        for mv in versions(client, model_name):
            out.append(
                VersionInfo(
                    name=model_name,
                    version=str(mv.version),
                    aliases=tuple(sorted(a for a, v in aliases.items() if v == str(mv.version))),
                    run_id=mv.run_id,
                    created=datetime.fromtimestamp(mv.creation_timestamp / 1000, tz=UTC),
                    model=(mv.tags or {}).get("model", ""),
                    description=mv.description or "",
                    uplift=(mv.tags or {}).get(TAG_UPLIFT, ""),
                    guard_metric=(mv.tags or {}).get(TAG_METRIC, ""),
                )
            )
    return out


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
