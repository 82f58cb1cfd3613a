"""A popularity prior for factor models, weighed on validation.

On a small catalogue a factor model with the few factors the data supports ranks by taste
alone and can lose to plain popularity (COIL 2000, 5 folds of clients, one fold: ALS HR@1
0.61, popularity 0.64). Adding log-popularity to its scores ranks the widely owned offers
first and lets the factors reorder them (0.75 at weight 10).

The prior of an offer is ``weight x spread x log1p(owners) / max log1p(owners)``: ``spread`` is
the standard deviation of the model's own scores over its trained clients, so that a weight
means the same for every model and catalogue. It is added to the item-bias column of the
exported factors (``ServableModel`` convention: client vectors end with a constant 1), so known
clients, folded-in ones and those scored from their features all get it, at no serving cost.
Left unset, the weight is chosen on validation among ``WEIGHTS`` (0: the model alone) without
refitting the factors (``Recommender.scoring_fields``).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from recommender.models.base import ModelConfig
from recommender.ranker_features import log_popularity

#: Candidate weights, the model alone first (the fallback without enough validation clients).
WEIGHTS = (0.0, 1.0, 3.0, 10.0, 30.0)
#: Trained clients whose scores measure the spread (evenly spaced when there are more).
SPREAD_SAMPLE = 2000


class PriorConfig(ModelConfig):
    """The config field of a model that weighs the prior."""

    popularity_weight: float | None = Field(
        default=None,
        ge=0,
        description="Log-popularity prior's weight (None: chosen on validation; 0: none).",
    )


def scaled_log_popularity(interactions: sp.csr_matrix) -> np.ndarray:
    """``log1p`` of each offer's number of owners, scaled to [0, 1] (all zeros when none)."""
    values = log_popularity(interactions).astype(np.float64)
    top = values.max() if len(values) else 0.0
    return values / top if top > 0 else values


def score_spread(client_factors: np.ndarray, item_factors: np.ndarray) -> float:
    """Standard deviation of the scores of (a sample of) the clients with a learned vector;
    1 when there are none or they all score alike."""
    known = np.flatnonzero(np.any(client_factors != 0, axis=1))
    if len(known) > SPREAD_SAMPLE:
        known = known[np.linspace(0, len(known) - 1, SPREAD_SAMPLE).astype(np.int64)]
    if not len(known):
        return 1.0
    spread = float((client_factors[known] @ item_factors.T).std())
    return spread if spread > 0 else 1.0


def with_popularity_prior(
    item_factors: np.ndarray,
    client_factors: np.ndarray,
    interactions: sp.csr_matrix,
    weight: float | None,
) -> np.ndarray:
    """``item_factors`` with the prior added to its last (bias) column; unchanged at weight 0
    (or unset)."""
    if not weight:
        return item_factors
    prior = (
        weight * score_spread(client_factors, item_factors) * scaled_log_popularity(interactions)
    )
    out = np.array(item_factors, dtype=np.float32, copy=True)
    out[:, -1] += prior.astype(np.float32)
    return out
