"""Deterministic assignment of clients to variants: same (salt, client id), same variant.

The unit draw is the first 8 bytes of ``sha256("<salt>:<client_id>")`` read as an unsigned
integer and divided by 2**64: uniform on [0, 1), identical on every process, worker and restart
(no ``hash()``, no random state). Holdout uses its own draw (salt ``"<salt>:holdout"``), so
changing the holdout fraction never moves clients between variants, and a client's variant
is the weight interval its draw falls in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from recommender.experiments.config import HOLDOUT_VARIANT, Experiment

_SCALE = float(2**64)


@dataclass(frozen=True)
class Assignment:
    """Which experiment and variant a client is in, and the registry target that serves it."""

    experiment: str
    variant: str
    target: str
    in_holdout: bool = False


def unit_draw(salt: str, client_id: str) -> float:
    """A uniform number in [0, 1) determined by ``salt`` and ``client_id`` alone."""
    digest = hashlib.sha256(f"{salt}:{client_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def variant_index(draws: npt.ArrayLike, weights: Sequence[float]) -> npt.NDArray[np.intp]:
    """Index of the weight interval each draw falls in (weights need not sum to one)."""
    edges = np.cumsum(np.asarray(weights, dtype=np.float64))
    edges /= edges[-1]
    index = np.searchsorted(edges, np.asarray(draws, dtype=np.float64), side="right")
    return np.minimum(index, len(edges) - 1)


def holdout_salt(experiment: Experiment) -> str:
    return f"{experiment.salt}:{HOLDOUT_VARIANT}"


def assign(
    experiment: Experiment,
    client_id: str,
    *,
    segment: str | None = None,
    industry: str | None = None,
    risk_band: str | None = None,
    at: datetime | None = None,
) -> Assignment | None:
    """The client's assignment, or ``None`` when the experiment is not running or excludes it.

    ``at`` defaults to now; a targeted experiment needs the client's ``segment``/``industry``
    / churn ``risk_band``.
    """
    if not experiment.is_active(at or datetime.now(UTC)):
        return None
    if not experiment.targeting.admits(segment, industry, risk_band):
        return None
    if experiment.holdout > 0 and unit_draw(holdout_salt(experiment), client_id) < (
        experiment.holdout
    ):
        return Assignment(experiment.name, HOLDOUT_VARIANT, experiment.holdout_target, True)
    index = int(variant_index([unit_draw(experiment.salt, client_id)], experiment.weights)[0])
    variant = experiment.variants[index]
    return Assignment(experiment.name, variant.name, variant.target)


def assign_first(
    experiments: Iterable[Experiment],
    client_id: str,
    *,
    segment: str | None = None,
    industry: str | None = None,
    risk_band: str | None = None,
    at: datetime | None = None,
) -> Assignment | None:
    """The assignment in the first experiment (in file order) that takes the client."""
    for experiment in experiments:
        found = assign(
            experiment, client_id, segment=segment, industry=industry, risk_band=risk_band, at=at
        )
        if found is not None:
            return found
    return None
