"""Score every client as of a day: probability, at-risk flag and features (for the drivers).

``score_clients`` builds the features of all clients in one pass and walks the trees over the
block; a ``ScoreTable`` is saved next to the model (``scores.npz``, no pickle) so the API answers
one client's risk by a lookup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from recommender.atomic import atomic_output
from recommender.churn.drivers import Driver, driver_facts, drivers
from recommender.churn.events import EventLog, from_day
from recommender.churn.features import feature_matrix
from recommender.churn.holdings import holdings_at
from recommender.churn.model import ChurnModel

SCORES_FILE = "scores.npz"


@dataclass(frozen=True, eq=False)
class ScoreTable:
    """Per client: id, at risk (holds a tariff), churn probability (NaN if not at risk)."""

    client_ids: np.ndarray
    at_risk: np.ndarray
    probability: np.ndarray
    features: np.ndarray
    as_of: str = ""
    _extra: dict[str, str] = field(default_factory=dict)

    @cached_property
    def row_of(self) -> dict[str, int]:
        return {str(c): i for i, c in enumerate(self.client_ids.tolist())}

    def lookup(self, client_id: str) -> tuple[float | None, list[str]] | None:
        """(probability or None when not at risk, drivers); None for an unknown client."""
        row = self.row_of.get(client_id)
        if row is None:
            return None
        if not self.at_risk[row]:
            return None, []
        return float(self.probability[row]), drivers(self.features[row])

    def facts(self, client_id: str) -> tuple[float | None, list[Driver]] | None:
        """``lookup`` with the drivers as facts, to be said in any language."""
        row = self.row_of.get(client_id)
        if row is None:
            return None
        if not self.at_risk[row]:
            return None, []
        return float(self.probability[row]), driver_facts(self.features[row])

    def probability_of(self, client_id: str) -> float:
        """One client's probability (NaN: unknown, or not at risk); the request path's look-up."""
        row = self.row_of.get(client_id)
        if row is None or not self.at_risk[row]:
            return float("nan")
        return float(self.probability[row])

    def probabilities(self, client_ids: list[str]) -> np.ndarray:
        """The probability of each client (NaN: unknown, or not at risk), in the given order."""
        rows = np.fromiter((self.row_of.get(c, -1) for c in client_ids), np.int64, len(client_ids))
        out = np.full(len(client_ids), np.nan)
        known = rows >= 0
        out[known] = np.where(self.at_risk[rows[known]], self.probability[rows[known]], np.nan)
        return out

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / SCORES_FILE
        with atomic_output(path) as stream:
            np.savez(
                stream,
                client_ids=self.client_ids.astype(str),
                at_risk=self.at_risk,
                probability=self.probability,
                features=self.features,
                as_of=np.array(self.as_of),
            )
        return path

    @classmethod
    def load(cls, directory: str | Path) -> ScoreTable:
        with np.load(Path(directory) / SCORES_FILE, allow_pickle=False) as npz:
            return cls(
                npz["client_ids"],
                npz["at_risk"],
                npz["probability"],
                npz["features"],
                str(npz["as_of"]),
            )


def score_clients(model: ChurnModel, log: EventLog, as_of: float) -> ScoreTable:
    """Every client of ``log`` as of ``as_of`` (events before it)."""
    features = feature_matrix(log, as_of, model.vocab)
    at_risk = holdings_at(log, as_of).tariffs > 0
    probability = np.full(log.n_clients, np.nan)
    if at_risk.any():
        probability[at_risk] = model.probability(np.ascontiguousarray(features[at_risk]))
    return ScoreTable(log.client_ids, at_risk, probability, features, str(from_day(as_of)))
