"""The models being served, swapped atomically on reload.

Request handlers read ``holder.current`` once and use that ``LoadedModel`` for the whole
request, so a swap in the middle never mixes two versions. A reload loads and checks the new
bundle aside (checksum, shapes, a canary ranking), then replaces one reference; a bundle that
fails any check is refused with a logged reason and the running version keeps serving.

Besides the configured aliases, the holder loads experiment targets on demand (an alias such as
``challenger`` or a version such as ``3``): ``want`` loads one in a background thread, so no
request waits for it, and a refused target is tried again at most every ``RETRY_EXTRA_S``.

A version refused for what it is (a corrupted or incompatible bundle, a failed check) is
remembered: the alias poll and the reload announcements do not fetch it again, a new version at
the alias is tried (an explicit ``/v1/admin/reload`` always tries). While an alias points at a
version this worker does not serve, ``behind(alias)`` says which and why (``/readyz`` shows it).

With a ``LastGoodStore`` the holder keeps a copy of each version of the serving alias that
loads; a worker that cannot load the alias at start-up serves that copy (``load_all``) instead
of failing, which with ``--workers N`` would stop every worker.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NoReturn

import numpy as np

from recommender.catalog import KIND_NAMES
from recommender.ranking import ClientBlock, RankingModel, RankingPolicy
from recommender.ranking.prepared import kernel_catalog
from recommender.scoring import SCORERS, Scorer
from recommender.servable import ArtifactError, ServableModel
from serving.last_good import LastGoodStore, NoLastGoodError
from serving.model_source import ModelSource

log = logging.getLogger("serving.models")

RETRY_EXTRA_S = 60.0


class ModelRefusedError(RuntimeError):
    """A model version that was not swapped in; the message says why."""


#: Failures that are about the version itself, so fetching it again cannot help.
VERSION_FAULTS = (ArtifactError, ModelRefusedError)


@dataclass(frozen=True)
class Behind:
    """An alias points at a version this worker does not serve, because it was refused."""

    #: The version the alias points at; ``None`` when the source could not say.
    version: str | None
    reason: str


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """One served model version and what requests derive from it, computed once."""

    servable: ServableModel
    version: str
    alias: str
    loaded_at: datetime
    #: Loaded from the last good copy on local disk, not from the source.
    from_last_good: bool = False
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

    def __init__(
        self,
        source: ModelSource,
        aliases: tuple[str, ...],
        last_good: LastGoodStore | None = None,
    ) -> None:
        if not aliases:
            raise ValueError("at least one alias is needed")
        self.source = source
        self.aliases = aliases
        #: Where the serving alias's last version that loaded is kept (None: not kept).
        self.last_good = last_good
        #: Versions refused for what they are -> why; not fetched again by the poll.
        self._refused: dict[str, str] = {}
        self._behind: dict[str, Behind] = {}
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

    def behind(self, alias: str | None = None) -> Behind | None:
        """Whether ``alias`` (default: the serving one) points at a version refused here."""
        return self._behind.get(alias or self.serving_alias)

    def degraded_reason(self) -> str | None:
        """Why the serving alias's own version is not served, in words; ``None`` when it is."""
        behind = self.behind()
        if behind is None:
            return None
        pointed = f"version {behind.version}" if behind.version else "an unknown version"
        try:
            served = self.current
        except LookupError:
            return f"{self.serving_alias} points at {pointed}, refused: {behind.reason}"
        where = "the last good copy on local disk" if served.from_last_good else "kept in memory"
        return (
            f"{self.serving_alias} points at {pointed}, refused: {behind.reason}; "
            f"serving version {served.version} ({where})"
        )

    def load_all(self) -> None:
        """Load every alias: the serving one must load, else its last good copy is served
        (``ModelRefusedError`` when there is none); the others are best effort."""
        for alias in self.aliases:
            try:
                self.reload(alias)
            except ModelRefusedError as exc:
                if alias == self.serving_alias:
                    self._start_on_last_good(alias, str(exc))

    def _start_on_last_good(self, alias: str, reason: str) -> None:
        """Serve the kept copy of ``alias``, or raise ``ModelRefusedError`` saying what to do."""
        try:
            if self.last_good is None:
                raise NoLastGoodError("no last good copy is kept (no data directory given)")
            kept = self.last_good.load()
            check_servable(kept.servable)
        except (NoLastGoodError, ModelRefusedError) as exc:
            message = (
                f"cannot start: {alias} of {self.source.description} cannot be served "
                f"({reason}) and no last good version can stand in: {exc}. Point {alias} at a "
                f"version that loads (recsys promote <model> --version <n> --alias {alias})"
            )
            log.error("%s", message)
            raise ModelRefusedError(message) from None
        loaded = LoadedModel(
            kept.servable, kept.version, alias, datetime.now(UTC), from_last_good=True
        )
        with self._lock:
            self._models = {**self._models, alias: loaded}
            if alias not in self._behind:
                self._behind[alias] = Behind(None, reason)
        version = self._behind[alias].version
        pointed = f"version {version}" if version else "an unknown version"
        log.error(
            "%s of %s points at %s, which cannot be served (%s): serving the last good version "
            "%s kept in %s (saved %s) until %s points at a version that loads",
            alias,
            self.source.description,
            pointed,
            reason,
            loaded.label,
            kept.path,
            kept.saved_at,
            alias,
        )

    def reload(self, alias: str | None = None, *, only_if_changed: bool = False) -> LoadedModel:
        """Load ``alias`` afresh and swap it in, or raise ``ModelRefusedError`` and keep the old.

        With ``only_if_changed`` the bundle is fetched only when the alias points elsewhere,
        and not at a version refused before.
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
            pointed: str | None = None
            try:
                if only_if_changed and old is not None:
                    pointed = self.source.version(alias)
                    if pointed == old.version:
                        self._behind.pop(alias, None)  # e.g. the alias moved back
                        return old
                    if pointed in self._refused:
                        return old  # refused before: not fetched again
                servable, version = self.source.load(alias)
                check_servable(servable)
            except Exception as exc:  # any failure means: keep serving what we have
                self._refuse(alias, old, pointed, exc)
            loaded = LoadedModel(servable, version, alias, datetime.now(UTC))
            with self._lock:
                self._models = {**self._models, alias: loaded}
                self._behind.pop(alias, None)
                self._refused.pop(version, None)
            if alias == self.serving_alias:
                self._keep(loaded)
        log.info("serving %s as %s (was %s)", loaded.label, alias, old.label if old else "nothing")
        return loaded

    def _refuse(
        self, alias: str, old: LoadedModel | None, pointed: str | None, exc: Exception
    ) -> NoReturn:
        """Log a refusal, remember it, raise ``ModelRefusedError``."""
        reason = f"{type(exc).__name__}: {exc}"
        # the version refused: what the alias points at now, unless it moved during the load
        now_pointed = self._pointed(alias)
        version = now_pointed if pointed in (None, now_pointed) else None
        remembered = ""
        if version is not None and (old is None or version != old.version):
            self._behind[alias] = Behind(version, reason)
            if isinstance(exc, VERSION_FAULTS):
                self._refused[version] = reason
                remembered = f"; version {version} is not fetched again until {alias} moves"
        kept = f"; still serving {old.label}" if old is not None else ""
        log.error(
            "refused model %s from %s: %s%s%s",
            alias,
            self.source.description,
            reason,
            kept,
            remembered,
        )
        raise ModelRefusedError(reason) from exc

    def _pointed(self, alias: str) -> str | None:
        """The version ``alias`` points at, ``None`` when the source cannot say."""
        try:
            return self.source.version(alias)
        except Exception:  # the load's own failure is the one reported
            return None

    def _keep(self, loaded: LoadedModel) -> None:
        """Keep ``loaded`` as the last good version on disk; a failure is only logged."""
        if self.last_good is None or loaded.from_last_good:
            return
        try:
            if self.last_good.keep(loaded.servable, loaded.version):
                log.info("kept %s as the last good version in %s", loaded.label, self.last_good)
        except Exception as exc:  # serving goes on; only a later fallback is missing
            log.warning(
                "could not keep %s as the last good version in %s: %s: %s",
                loaded.label,
                self.last_good,
                type(exc).__name__,
                exc,
            )
