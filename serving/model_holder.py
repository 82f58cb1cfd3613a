"""The models being served, swapped atomically on reload.

Request handlers read ``holder.current`` once and use that ``LoadedModel`` for the whole
request, so a swap in the middle never mixes two versions. A reload loads and checks the new
bundle aside (checksum, shapes, a canary ranking), then replaces one reference; a bundle that
fails any check is refused with a logged reason and the running version keeps serving.

Besides the configured aliases, the holder loads experiment targets on demand (an alias such as
``challenger`` or a version such as ``3``): ``want`` loads one in a background thread, so no
request waits for it, and a refused target is tried again at most every ``RETRY_EXTRA_S``.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from recommender.catalog import KIND_NAMES
from recommender.ranking import ClientBlock, RankingModel, RankingPolicy
from recommender.ranking.prepared import kernel_catalog
from recommender.scoring import SCORERS, Scorer
from recommender.servable import ServableModel
from serving.model_source import ModelSource

log = logging.getLogger("serving.models")

RETRY_EXTRA_S = 60.0


class ModelRefusedError(RuntimeError):
    """A model version that was not swapped in; the message says why."""


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """One served model version and what requests derive from it, computed once."""

    servable: ServableModel
    version: str
    alias: str
    loaded_at: datetime
    ranking: RankingModel = field(init=False)
    scorer: Scorer = field(init=False)
    item_index: dict[str, int] = field(init=False)
    client_index: dict[str, int] = field(init=False)
    row_index: dict[str, int] = field(init=False)
    #: Lazily derived per-model values (e.g. the item arrays the answers read).
    cache: dict[str, Any] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        model = self.servable
        ranking = RankingModel(model)
        object.__setattr__(self, "ranking", ranking)
        object.__setattr__(self, "scorer", ranking.scorer)
        object.__setattr__(self, "item_index", ranking.item_index)
        object.__setattr__(self, "client_index", ranking.client_index)
        object.__setattr__(self, "row_index", {r: n for n, r in enumerate(model.segment_names)})

    @property
    def name(self) -> str:
        return self.servable.name

    @property
    def label(self) -> str:
        """``name:version``, what every response carries."""
        return f"{self.servable.name}:{self.version}"


def check_servable(model: ServableModel) -> None:
    """Refuse a bundle serving cannot use: unknown mode, bad catalog, non-finite scores."""
    if model.mode not in SCORERS:
        raise ModelRefusedError(f"unsupported scoring mode {model.mode!r}")
    if model.n_items == 0:
        raise ModelRefusedError("the model has no items")
    if tuple(model.catalog.kind_names) != KIND_NAMES:
        # the API's ``kind`` filter, the quotas and the one-tariff rule index kinds by these
        raise ModelRefusedError(
            f"catalog kinds {tuple(model.catalog.kind_names)} differ from the served {KIND_NAMES}"
        )
    try:
        kernel_catalog(model.catalog)
    except ValueError as exc:
        raise ModelRefusedError(f"catalog arrays unusable: {exc}") from exc
    ranking = RankingModel(model)
    nobody = ClientBlock.one(None, None, np.empty(0, dtype=np.int64), {})
    canaries = [nobody]
    if len(model.client_ids):
        canaries.append(ClientBlock.one(None, 0, np.empty(0, dtype=np.int64), {}))
    for block in canaries:
        scores = ranking.scorer.score(block).scores
        if scores.shape != (1, model.n_items) or not np.all(np.isfinite(scores)):
            raise ModelRefusedError("canary scoring returned a wrong shape or non-finite values")
        RankingPolicy(1).rank(ranking, block)


class ModelHolder:
    """The served model per alias; the first alias answers requests."""

    def __init__(self, source: ModelSource, aliases: tuple[str, ...]) -> None:
        if not aliases:
            raise ValueError("at least one alias is needed")
        self.source = source
        self.aliases = aliases
        self._models: dict[str, LoadedModel] = {}
        self._lock = threading.Lock()
        self._reload_lock = threading.Lock()
        #: Loaded on demand (experiment targets), after the configured aliases.
        self._extra: tuple[str, ...] = ()
        self._loading: set[str] = set()
        self._tried: dict[str, float] = {}

    @property
    def served_aliases(self) -> tuple[str, ...]:
        """The configured aliases, then the targets loaded on demand."""
        return self.aliases + tuple(a for a in self._extra if a not in self.aliases)

    def get(self, alias: str) -> LoadedModel | None:
        """The loaded model of ``alias`` (or version), ``None`` when it is not loaded."""
        return self._models.get(alias)

    def load_extra(self, alias: str) -> LoadedModel | None:
        """Load a target that is not configured, now; ``None`` (reason logged) when refused."""
        loaded = self._models.get(alias)
        if loaded is not None:
            return loaded
        with self._lock:
            if alias not in self.served_aliases:
                self._extra = (*self._extra, alias)
        try:
            return self.reload(alias)
        except ModelRefusedError:
            with self._lock:
                if alias not in self._models:
                    self._extra = tuple(a for a in self._extra if a != alias)
            return None

    def want(self, alias: str) -> None:
        """Load ``alias`` in the background unless it is loaded, loading or was just refused."""
        now = time.monotonic()
        with self._lock:
            if (
                alias in self._models
                or alias in self._loading
                or now - self._tried.get(alias, -RETRY_EXTRA_S) < RETRY_EXTRA_S
            ):
                return
            self._loading.add(alias)
            self._tried[alias] = now

        def load() -> None:
            try:
                self.load_extra(alias)
            finally:
                with self._lock:
                    self._loading.discard(alias)

        threading.Thread(target=load, name=f"load-model-{alias}", daemon=True).start()

    @property
    def serving_alias(self) -> str:
        return self.aliases[0]

    @property
    def current(self) -> LoadedModel:
        """The model that answers requests (raises ``LookupError`` before the first load)."""
        try:
            return self._models[self.serving_alias]
        except KeyError:
            raise LookupError("no model is loaded yet") from None

    @property
    def ready(self) -> bool:
        return self.serving_alias in self._models

    def models(self) -> list[LoadedModel]:
        """Loaded models in alias order."""
        snapshot = self._models
        return [snapshot[a] for a in self.served_aliases if a in snapshot]

    def load_all(self) -> None:
        """Load every alias: the serving one must load, the others are best effort."""
        for alias in self.aliases:
            try:
                self.reload(alias)
            except ModelRefusedError:
                if alias == self.serving_alias:
                    raise

    def reload(self, alias: str | None = None, *, only_if_changed: bool = False) -> LoadedModel:
        """Load ``alias`` afresh and swap it in, or raise ``ModelRefusedError`` and keep the old.

        With ``only_if_changed`` the bundle is fetched only when the alias points elsewhere.
        """
        alias = alias or self.serving_alias
        if alias not in self.served_aliases:
            raise ModelRefusedError(
                f"alias {alias!r} is not served (serving {self.served_aliases})"
            )
        # one load at a time; the state lock is held only for the swap, so requests (which
        # read ``_models`` without it, and ``want`` which takes it) never wait for a load
        with self._reload_lock:
            old = self._models.get(alias)
            try:
                if (
                    only_if_changed
                    and old is not None
                    and self.source.version(alias) == old.version
                ):
                    return old
                servable, version = self.source.load(alias)
                check_servable(servable)
            except Exception as exc:  # any failure means: keep serving what we have
                reason = f"{type(exc).__name__}: {exc}"
                kept = f"; still serving {old.label}" if old is not None else ""
                log.error(
                    "refused model %s from %s: %s%s", alias, self.source.description, reason, kept
                )
                raise ModelRefusedError(reason) from exc
            loaded = LoadedModel(servable, version, alias, datetime.now(UTC))
            with self._lock:
                self._models = {**self._models, alias: loaded}
        log.info("serving %s as %s (was %s)", loaded.label, alias, old.label if old else "nothing")
        return loaded
