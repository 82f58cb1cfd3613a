"""Where served models come from: a ``ServableModel`` directory or the MLflow registry.

A source answers two questions: ``version(alias)`` (cheap, polled to notice a promotion) and
``load(alias)`` (the verified bundle and its version). Both raise ``ArtifactError`` or
``ModelSourceError`` with a reason; the model holder logs it and keeps the running model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

from recommender.servable import ArtifactError, ServableModel


class ModelSourceError(RuntimeError):
    """The source cannot say which version an alias points to, or cannot fetch it."""


class ModelSource(Protocol):
    """Loads servable models by alias."""

    description: str

    def version(self, alias: str) -> str:
        """The version ``alias`` points to now."""
        ...

    def load(self, alias: str) -> tuple[ServableModel, str]:
        """The verified bundle ``alias`` points to, and its version."""
        ...


class DirectorySource:
    """One saved bundle directory serves every alias; its version is the array checksum.

    A bundle's ``metadata['version']``, when set, is used instead of the checksum.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.description = f"directory {self.directory}"

    def version(self, alias: str) -> str:
        manifest_path = self.directory / "manifest.json"
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ArtifactError(f"{manifest_path}: cannot read the manifest ({exc})") from exc
        if not isinstance(manifest, dict):
            raise ArtifactError(f"{manifest_path}: not a JSON object")
        metadata = manifest.get("metadata") or {}
        explicit = metadata.get("version") if isinstance(metadata, dict) else None
        if explicit:
            return str(explicit)
        return f"sha-{str(manifest.get('arrays_sha256', 'unknown'))[:12]}"

    def load(self, alias: str) -> tuple[ServableModel, str]:
        version = self.version(alias)
        return ServableModel.load(self.directory), version


class RegistrySource:
    """Registered versions of one MLflow model, looked up by alias."""

    def __init__(self, model_name: str, tracking_uri: str) -> None:
        self.model_name = model_name
        self.tracking_uri = tracking_uri
        self.description = f"MLflow model {model_name!r}"

    def version(self, alias: str) -> str:
        if alias.isdigit():  # a version named directly (an experiment's target)
            return alias
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        try:
            client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
            return str(client.get_model_version_by_alias(self.model_name, alias).version)
        except MlflowException as exc:
            raise ModelSourceError(
                f"MLflow model {self.model_name!r}: alias {alias!r} not found ({exc.message})"
            ) from exc

    def load(self, alias: str) -> tuple[ServableModel, str]:
        from feature_store.model_store import load_servable

        model, version = load_servable(self.model_name, alias, self.tracking_uri)
        return model, str(version)
