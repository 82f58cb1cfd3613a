"""The churn-risk model as serving holds it: loaded at start-up, reloaded when its alias moves.

Where it comes from (``churn_source``):

* ``RECSYS_CHURN_MODEL_DIR``: a bundle folder (``ChurnModel.save`` + ``ScoreTable.save``, what
  ``recsys churn train`` logs as the ``bundle`` artifact), e.g. in tests or air-gapped installs;
* else, when the recommender itself comes from the MLflow registry, the registered model
  ``RECSYS_CHURN_MODEL_NAME`` (default ``churn-risk``) at ``RECSYS_CHURN_MODEL_ALIAS``
  (default ``champion``);
* else (a recommender from a directory and no churn folder): none.

The bundle holds every client's score as of the end of the training data, so a request looks a
client up (``ScoreTable.facts``): no features are built on the request path. A service without a
churn model works as before; what asks for risk gets ``ChurnModelMissingError`` ("churn model
not loaded", with the reason). A version that fails to load is logged and the running one kept,
as the recommender's holder does; ``poll`` checks the alias on the recommender's poll interval.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol

from starlette.concurrency import run_in_threadpool

from recommender.churn.model import ChurnModel
from recommender.churn.scoring import SCORES_FILE, ScoreTable
from serving.settings import ServingSettings

log = logging.getLogger("serving.churn")

NOT_LOADED = "churn model not loaded"
ReloadOutcome = Literal["unchanged", "loaded", "refused"]


class ChurnModelMissingError(LookupError):
    """Risk was asked and no churn model is loaded; the message says why."""


class ChurnSourceError(RuntimeError):
    """The source cannot say which version is current, or cannot load it."""


@dataclass(frozen=True, eq=False)
class LoadedChurn:
    """One churn-model version: the model (horizon, metadata) and every client's score."""

    model: ChurnModel
    scores: ScoreTable
    version: str
    name: str
    loaded_at: datetime

    @property
    def label(self) -> str:
        """``name:version``, what every risk answer carries."""
        return f"{self.name}:{self.version}"

    @property
    def horizon_days(self) -> int:
        return self.model.horizon_days


class ChurnSource(Protocol):
    description: str
    name: str

    def version(self) -> str:
        """The version the source points at now (cheap: polled)."""
        ...

    def load(self) -> tuple[ChurnModel, ScoreTable, str]:
        """The model, its score table and the version."""
        ...


def load_bundle(folder: Path) -> tuple[ChurnModel, ScoreTable]:
    """A churn bundle folder: ``ChurnSourceError`` naming what is wrong with it."""
    try:
        model = ChurnModel.load(folder)
        scores = ScoreTable.load(folder)
    except (OSError, ValueError, KeyError) as exc:
        raise ChurnSourceError(f"{folder}: not a churn-risk bundle ({exc})") from exc
    if scores.features.shape[1:] != (len(model.feature_names),):
        raise ChurnSourceError(
            f"{folder / SCORES_FILE}: {scores.features.shape[1:]} feature columns, the model "
            f"reads {len(model.feature_names)}"
        )
    return model, scores


class ChurnDirectorySource:
    """A bundle folder; its version is a digest of the manifest and the arrays."""

    name = "churn-risk"

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.description = f"directory {self.directory}"

    def version(self) -> str:
        digest = hashlib.sha256()
        for file in ("manifest.json", "arrays.npz", SCORES_FILE):
            try:
                digest.update((self.directory / file).read_bytes())
            except OSError as exc:
                raise ChurnSourceError(f"{self.directory / file}: cannot read ({exc})") from exc
        return f"sha-{digest.hexdigest()[:12]}"

    def load(self) -> tuple[ChurnModel, ScoreTable, str]:
        version = self.version()
        model, scores = load_bundle(self.directory)
        return model, scores, version


class ChurnRegistrySource:
    """The registered churn model at one alias (or a version number)."""

    def __init__(self, name: str, alias: str, tracking_uri: str) -> None:
        self.name = name
        self.alias = alias
        self.tracking_uri = tracking_uri
        self.description = f"MLflow model {name!r} at {alias}"

    def version(self) -> str:
        from feature_store.model_store import resolve, resolve_version

        try:
            client = resolve(tracking_uri=self.tracking_uri).client()
            return str(resolve_version(client, self.name, self.alias).version)
        except Exception as exc:  # unknown model or alias, unreachable server
            raise ChurnSourceError(f"{self.description}: {exc}") from exc

    def load(self) -> tuple[ChurnModel, ScoreTable, str]:
        from feature_store.model_store import download_bundle, resolve, resolve_version

        try:
            tracking = resolve(tracking_uri=self.tracking_uri)
            client = tracking.client()
            mv = resolve_version(client, self.name, self.alias)
            with tempfile.TemporaryDirectory(prefix="recsys-churn-") as tmp:
                folder = download_bundle(client, mv, Path(tmp), tracking.tracking_uri)
                model, scores = load_bundle(folder)
        except ChurnSourceError:
            raise
        except Exception as exc:  # unknown model or alias, unreachable server
            raise ChurnSourceError(f"{self.description}: {exc}") from exc
        return model, scores, str(mv.version)


def churn_source(settings: ServingSettings) -> ChurnSource | None:
    """Where this service's churn model comes from (``None``: it runs without one)."""
    if settings.churn_model_dir is not None:
        return ChurnDirectorySource(settings.churn_model_dir)
    if settings.model_dir is not None:
        return None
    return ChurnRegistrySource(
        settings.churn_model_name, settings.churn_model_alias, settings.tracking_uri
    )


class ChurnRiskHolder:
    """The loaded churn model (or none, and why); swapped atomically on reload."""

    def __init__(self, source: ChurnSource | None) -> None:
        self.source = source
        self._current: LoadedChurn | None = None
        self._problem = "no churn model is configured" if source is None else "not loaded yet"
        self._lock = threading.Lock()

    @property
    def current(self) -> LoadedChurn | None:
        return self._current

    @property
    def problem(self) -> str | None:
        """Why no churn model serves (``None`` while one does)."""
        return None if self._current is not None else self._problem

    def require(self) -> LoadedChurn:
        """The loaded model, or ``ChurnModelMissingError`` saying why there is none."""
        loaded = self._current
        if loaded is None:
            raise ChurnModelMissingError(f"{NOT_LOADED}: {self._problem}")
        return loaded

    def load(self) -> ReloadOutcome:
        """Load the source's current version now; a failure is logged, never raised."""
        return self._reload(only_if_changed=False)

    def reload_if_changed(self) -> ReloadOutcome:
        """Load the source's version when it differs from the one served."""
        return self._reload(only_if_changed=True)

    def _reload(self, *, only_if_changed: bool) -> ReloadOutcome:
        source = self.source
        if source is None:
            return "unchanged"
        with self._lock:
            old = self._current
            try:
                if only_if_changed and old is not None and source.version() == old.version:
                    return "unchanged"
                model, scores, version = source.load()
            except Exception as exc:  # any failure: keep what is served
                reason = f"{type(exc).__name__}: {exc}"
                changed = reason != self._problem
                self._problem = reason
                if old is not None:
                    log.error("churn model from %s refused (%s); still serving %s",
                              source.description, reason, old.label)  # fmt: skip
                elif changed:  # a missing model is logged once, not on every poll
                    log.warning("%s: %s", NOT_LOADED, reason)
                return "refused"
            loaded = LoadedChurn(model, scores, version, source.name, datetime.now(UTC))
            self._current = loaded
        log.info(
            "churn model %s from %s: %d clients scored as of %s",
            loaded.label,
            source.description,
            len(scores.client_ids),
            scores.as_of,
        )
        return "loaded"


async def poll(holder: ChurnRiskHolder, interval: float) -> None:
    """Pick up a promoted churn model, on the recommender's poll interval."""
    while True:
        await asyncio.sleep(interval)
        await run_in_threadpool(holder.reload_if_changed)
