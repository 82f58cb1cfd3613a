"""What churn means here, and who churned after a cut-off.

The clients at risk at a cut-off are those holding at least one active tariff then (a client
with no tariff has nothing to cancel). Such a client *churns* within the horizon when, at
``cut-off + horizon``, it holds no tariff any more: it cancelled them all and took none back
(a tier move is not churn). With ``silence=True``, a client that records no event at all within
the horizon (it stopped all use) churns too; meant for logs without cancellations, where it is
the only trace of leaving (usage reports must then be regular, or silence is only chance).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recommender.churn.events import TYPE, ChurnDataError, EventLog, from_day
from recommender.churn.holdings import holdings_at

DEFAULT_HORIZON_DAYS = 90


@dataclass(frozen=True)
class ChurnDefinition:
    """The horizon (days after the cut-off) and whether silence counts as leaving."""

    horizon_days: int = DEFAULT_HORIZON_DAYS
    silence: bool = False

    def __post_init__(self) -> None:
        if self.horizon_days < 1:
            raise ValueError(f"horizon_days must be >= 1, got {self.horizon_days}")

    def describe(self) -> str:
        tail = " or records no event" if self.silence else ""
        return f"cancels all its tariffs{tail} within {self.horizon_days} days"


@dataclass(frozen=True, eq=False)
class Outcomes:
    """Per client of the log: at risk at the cut-off, and churned within the horizon."""

    cutoff: float
    at_risk: np.ndarray  # bool (n_clients,)
    churned: np.ndarray  # bool (n_clients,), False where not at risk


def at_risk(log: EventLog, cutoff: float) -> np.ndarray:
    """Clients holding an active tariff just before ``cutoff``."""
    return holdings_at(log, cutoff).tariffs > 0


def outcomes(log: EventLog, cutoff: float, definition: ChurnDefinition) -> Outcomes:
    """Who is at risk at ``cutoff`` and who of them churned within the horizon.

    ``ChurnDataError`` when the log ends before the horizon does (the outcome is unknown) or
    holds no cancellation while ``silence`` is off (nothing could ever count as churn).
    """
    end = cutoff + definition.horizon_days
    if not len(log.day) or log.last_day < end - 1.0:
        last = from_day(log.last_day).date() if len(log.day) else "no events"
        raise ChurnDataError(
            f"the events end at {last}, before the horizon of the cut-off "
            f"{from_day(cutoff).date()} (+{definition.horizon_days} days): choose an earlier "
            "cut-off or a shorter horizon"
        )
    if not definition.silence and not np.any(log.type == TYPE["cancellation"]):
        raise ChurnDataError(
            "the events hold no cancellation, so no client can be seen to churn; import "
            "cancellations, or count silence as churn (--silence)"
        )
    risk = at_risk(log, cutoff)
    gone = holdings_at(log, end).tariffs == 0
    if definition.silence:
        lo, hi = np.searchsorted(log.day, [cutoff, end], side="left")
        active = np.bincount(log.client[lo:hi], minlength=log.n_clients) > 0
        gone |= ~active
    return Outcomes(cutoff, risk, risk & gone)
