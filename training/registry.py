"""The model registry: versions, the ``champion`` / ``challenger`` aliases, loading a bundle.

Aliases only (stages are deprecated in MLflow). The read side (finding a version, loading its
bundle: ``load_servable``) lives in ``feature_store.model_store``, which serving uses too; it is
re-exported here for the training jobs. Listing versions needs the registry alone:
``registry_reader`` opens no tracking store (``MlflowClient`` opens both, about half a second
more for ``recsys models``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from mlflow.entities.model_registry import ModelVersion
from mlflow.tracking import MlflowClient

from feature_store.model_store import RegistryError as RegistryError
from feature_store.model_store import RegistryReader as RegistryReader
from feature_store.model_store import Tracking, resolve_version
from feature_store.model_store import aliases_of as aliases_of
from feature_store.model_store import download_bundle as download_bundle
from feature_store.model_store import load_servable as load_servable

CHAMPION, CHALLENGER = "champion", "challenger"


#: Model-version tags of the guardrail against the uniform offer (``training.guardrail``).
TAG_BEATS = "beats_uniform"
TAG_UPLIFT = "uplift_vs_uniform"
TAG_METRIC = "guardrail_metric"
TAG_FORCED = "forced_promotion"


def registry_reader(tracking: Tracking) -> RegistryReader:
    """A reader of the model registry that opens no tracking store (the full client if this
    MLflow has no registry-only client)."""
    try:
        from mlflow.tracking._model_registry.client import ModelRegistryClient
    except ImportError:  # pragma: no cover - a MLflow that moved it
        return tracking.client()
    reader: RegistryReader = ModelRegistryClient(tracking.registry_uri, tracking.tracking_uri)
    return reader


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


def list_versions(client: RegistryReader, name: str | None = None) -> list[VersionInfo]:
    """Versions of one registered model, or of every registered model."""
    names = [name] if name else sorted(m.name for m in client.search_registered_models())
    out: list[VersionInfo] = []
    for model_name in names:
        aliases = aliases_of(client, model_name)
        found = client.search_model_versions(f"name = '{model_name}'")
        for mv in sorted(found, key=lambda v: int(v.version), reverse=True):
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
