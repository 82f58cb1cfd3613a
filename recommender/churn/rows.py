"""Training and test rows: clients at risk at a cut-off, their features then, their outcome after.

One row per (cut-off, client at risk). Several cut-offs a month apart give a model more rows
than one snapshot would, all with fully observed outcomes: a cut-off is only used when its
horizon ends before ``until`` (the test cut-off of a backtest, or the end of the data).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recommender.churn.events import ChurnDataError, EventLog, from_day
from recommender.churn.features import Vocabularies, feature_matrix
from recommender.churn.labels import ChurnDefinition, outcomes

#: Features need some history: a cut-off this close to the first event is not used.
MIN_HISTORY_DAYS = 180.0


@dataclass(frozen=True, eq=False)
class Rows:
    features: np.ndarray  # float32 (n, n_features)
    churned: np.ndarray  # bool (n,)
    client: np.ndarray  # int64 client numbers of the log
    cutoff: np.ndarray  # float64 cut-off day of each row

    def __len__(self) -> int:
        return len(self.churned)


def rows_at(log: EventLog, cutoff: float, definition: ChurnDefinition, vocab: Vocabularies) -> Rows:
    """The clients at risk at ``cutoff``: features as of it, outcome within the horizon."""
    outcome = outcomes(log, cutoff, definition)
    client = np.flatnonzero(outcome.at_risk)
    features = feature_matrix(log, cutoff, vocab)[client]
    return Rows(features, outcome.churned[client], client, np.full(len(client), cutoff))


def training_cutoffs(
    log: EventLog, until: float, definition: ChurnDefinition, count: int, step_days: float
) -> list[float]:
    """Up to ``count`` cut-offs ``step_days`` apart whose horizon ends by ``until``."""
    latest = until - definition.horizon_days
    found = [
        latest - k * step_days
        for k in range(count)
        if latest - k * step_days >= log.first_day + MIN_HISTORY_DAYS
    ]
    if not found:
        raise ChurnDataError(
            f"the events ({from_day(log.first_day).date()} .. {from_day(log.last_day).date()}) "
            f"are too short for a {definition.horizon_days}-day horizon: a cut-off needs "
            f"{MIN_HISTORY_DAYS:.0f} days of history before it and its horizon after it"
        )
    return found


def stack(parts: list[Rows]) -> Rows:
    return Rows(
        np.concatenate([p.features for p in parts]),
        np.concatenate([p.churned for p in parts]),
        np.concatenate([p.client for p in parts]),
        np.concatenate([p.cutoff for p in parts]),
    )


def training_rows(
    log: EventLog,
    until: float,
    definition: ChurnDefinition,
    vocab: Vocabularies,
    count: int = 6,
    step_days: float = 30.0,
) -> Rows:
    """Rows of every training cut-off (see ``training_cutoffs``)."""
    cutoffs = training_cutoffs(log, until, definition, count, step_days)
    return stack([rows_at(log, c, definition, vocab) for c in cutoffs])
