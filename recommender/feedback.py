"""Turn raw events into implicit-feedback weights, and events into the set of owned offers.

The weights are configuration (a ``FeedbackConfig``), never constants in model code: a
subscription says more than a page view, and how much more is a business decision.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from recommender.domain import OWNING_EVENTS, RELEASING_EVENTS, EventType

_DEFAULT_WEIGHTS: dict[EventType, float] = {
    EventType.PURCHASE: 4.0,
    EventType.SUBSCRIPTION_START: 4.0,
    EventType.RENEWAL: 3.0,
    EventType.ENROLMENT: 4.0,
    EventType.COMPLETION: 2.0,
    EventType.USAGE: 1.0,
    EventType.CLICK: 0.5,
    EventType.VIEW: 0.25,
    EventType.IMPRESSION: 0.0,
    EventType.CANCELLATION: 0.0,
}


class FeedbackConfig(BaseModel):
    """How events become the weights of the client x item interaction matrix.

    weight(client, item) = sum over its events of ``weights[event_type]``
    (times ``log1p(value)`` when ``use_value``), times ``0.5 ** (age / half_life_days)``
    when a half-life is set. Pairs whose total is <= ``min_weight`` are left out.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    weights: dict[EventType, float] = Field(default_factory=lambda: dict(_DEFAULT_WEIGHTS))
    use_value: bool = False
    half_life_days: float | None = Field(default=None, gt=0)
    min_weight: float = Field(default=0.0, ge=0)
    binary: bool = Field(default=False, description="Replace every kept weight by 1.")


def event_weights(events: pd.DataFrame, config: FeedbackConfig) -> np.ndarray:
    """Per-row weight of an interactions frame (columns event_type, value, timestamp)."""
    table = {str(k): float(v) for k, v in config.weights.items()}
    weights = _per_type(events, lambda name: table.get(name, 0.0), 0.0, np.float64)
    if config.use_value and "value" in events:
        weights = weights * np.log1p(events["value"].fillna(1.0).clip(lower=0).to_numpy(np.float64))
    if config.half_life_days is not None and len(events):
        ts = pd.to_datetime(events["timestamp"], utc=True)
        age_days = (ts.max() - ts).dt.total_seconds().to_numpy() / 86_400.0
        weights = weights * np.power(0.5, age_days / config.half_life_days)
    return weights


def owned_pairs(events: pd.DataFrame) -> pd.DataFrame:
    """Client-item pairs the client owns now, replaying events in time order.

    An owning event (purchase, subscription start, renewal, enrolment, completion) makes the
    client an owner; a later cancellation releases it. Returns columns client_id, item_id.
    """
    relevant = events[type_mask(events, {e.value for e in OWNING_EVENTS | RELEASING_EVENTS})]
    if relevant.empty:
        return pd.DataFrame({"client_id": pd.Series(dtype=str), "item_id": pd.Series(dtype=str)})
    ordered = relevant.sort_values("timestamp", kind="stable")
    last = ordered.groupby(["client_id", "item_id"], sort=False, observed=True).tail(1)
    owned = last[~type_mask(last, {EventType.CANCELLATION.value})]
    return owned[["client_id", "item_id"]].reset_index(drop=True)


def type_mask(events: pd.DataFrame, types: Collection[str]) -> np.ndarray:
    """Rows of ``events`` whose ``event_type`` (as text) is one of ``types``."""
    return _per_type(events, lambda name: name in types, False, np.bool_)


def _per_type(
    events: pd.DataFrame, value: Callable[[str], Any], missing: Any, dtype: type
) -> np.ndarray:
    """``value`` of each row's ``event_type`` as text, ``missing`` where it is missing: one
    call per distinct type, not per row (``astype(str)`` of a column is the slow part)."""
    codes, distinct = pd.factorize(events["event_type"])
    lookup: np.ndarray = np.array([value(str(t)) for t in distinct] + [missing], dtype=dtype)
    return lookup[codes]  # code -1 (missing) reads the trailing ``missing``
