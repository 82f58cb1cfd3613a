"""Experiments as serving sees them: the shared file, cached per worker, and who serves a client.

Experiments live in ``ExperimentRegistry.in_data_dir(settings.data_dir)``, one file every worker
reads. ``LiveExperiments`` keeps the parsed list and looks at the file (path, mtime, size,
inode) at most once per ``check_s``, re-reading it only when it changed, so the hot path costs
one clock read per request. A file that stops parsing is logged and the last good list kept.

``arm`` picks what answers a client: the first running experiment whose targeting admits the
client's segment and industry assigns a variant (``assign_first``, deterministic from the salt
and the client id); the variant's target is a model the holder has loaded (an alias such as
``challenger`` or a version, loaded on demand) or a popularity baseline of the serving model.
A target that is not loaded (yet) is served by the serving model under the variant name
``fallback``, with a warning logged at most once a minute per experiment and target.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from recommender.experiments.assignment import assign_first
from recommender.experiments.config import BASELINE_PREFIX, Experiment, ExperimentConfigError
from recommender.experiments.registry import ExperimentRegistry, default_path
from serving.model_holder import LoadedModel, ModelHolder

log = logging.getLogger("serving.experiments")

FALLBACK_VARIANT = "fallback"
#: Baseline targets and the popularity rows they rank by (``{segment}``: the client's).
BASELINES: dict[str, str] = {
    f"{BASELINE_PREFIX}segment_popularity": "segment={segment}",
    f"{BASELINE_PREFIX}popularity": "all",
}
_WARN_EVERY_S = 60.0

FileKey = tuple[Path, int, int, int] | None


@dataclass(frozen=True)
class Arm:
    """What answers one request: the model, baseline rows if any, and the assignment."""

    model: LoadedModel
    baseline_rows: tuple[str, ...] | None = None
    experiment: str | None = None
    variant: str | None = None


def model_targets(experiments: list[Experiment]) -> list[str]:
    """Aliases and versions the experiments' variants (and holdouts) are served by."""
    targets = [v.target for e in experiments for v in e.variants]
    targets += [e.holdout_target for e in experiments if e.holdout > 0]
    return [t for t in dict.fromkeys(targets) if not t.startswith(BASELINE_PREFIX)]


class LiveExperiments:
    """The experiments file of the data directory, re-read when it changes."""

    def __init__(
        self,
        data_dir: Path,
        check_s: float = 1.0,
        on_change: Callable[[list[Experiment]], None] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.check_s = check_s
        self.on_change = on_change
        self._experiments: list[Experiment] = []
        self._key: FileKey = None
        self._next_check = 0.0
        self._lock = threading.Lock()
        self._warned: dict[tuple[str, str], float] = {}

    @property
    def registry(self) -> ExperimentRegistry:
        """The registry of the data directory (its file may appear after startup)."""
        return ExperimentRegistry(default_path(self.data_dir))

    def experiments(self) -> list[Experiment]:
        """All experiments, from the file as of at most ``check_s`` ago."""
        now = time.monotonic()
        if now >= self._next_check:
            self._refresh(now)
        return self._experiments

    def refresh(self) -> list[Experiment]:
        """Look at the file now (after this worker changed it, say)."""
        self._refresh(time.monotonic())
        return self._experiments

    def _refresh(self, now: float) -> None:
        with self._lock:
            self._next_check = now + self.check_s
            path = default_path(self.data_dir)
            try:
                info = path.stat()
            except OSError:
                key: FileKey = None
            else:
                key = (path, info.st_mtime_ns, info.st_size, info.st_ino)
            if key == self._key:
                return
            try:
                experiments = ExperimentRegistry(path).experiments() if key else []
            except ExperimentConfigError as exc:
                log.error("experiments file unusable, keeping the last good one: %s", exc)
                self._key = key
                return
            self._key = key
            self._experiments = experiments
        log.info("experiments: %s", ", ".join(e.name for e in experiments) or "none")
        if self.on_change is not None:
            self.on_change(experiments)

    def arm(
        self,
        holder: ModelHolder,
        serving: LoadedModel,
        client_id: str | None,
        segment: str | None,
        industry: str | None,
        risk_band: str | None = None,
    ) -> Arm:
        """Who answers ``client_id`` (the serving model outside every experiment);
        ``risk_band``: the client's churn-risk band, for experiments that target bands."""
        experiments = self.experiments()
        if not experiments or client_id is None:
            return Arm(serving)
        found = assign_first(
            experiments,
            client_id,
            segment=segment,
            industry=industry,
            risk_band=risk_band,
            at=datetime.now(UTC),
        )
        if found is None:
            return Arm(serving)
        target = found.target
        baseline = BASELINES.get(target)
        if baseline is not None:
            row = baseline.format(segment=segment) if segment else "all"
            return Arm(serving, (row,), found.experiment, found.variant)
        if not target.startswith(BASELINE_PREFIX):
            model = serving if target == holder.serving_alias else holder.get(target)
            if model is not None:
                return Arm(model, None, found.experiment, found.variant)
            holder.want(target)
        self._warn_fallback(found.experiment, target, serving)
        return Arm(serving, None, found.experiment, FALLBACK_VARIANT)

    def _warn_fallback(self, experiment: str, target: str, serving: LoadedModel) -> None:
        now = time.monotonic()
        if now - self._warned.get((experiment, target), -_WARN_EVERY_S) < _WARN_EVERY_S:
            return
        self._warned[(experiment, target)] = now
        log.warning(
            "experiment %s: target %r is not loaded (yet), serving %s as variant %r",
            experiment,
            target,
            serving.label,
            FALLBACK_VARIANT,
        )
