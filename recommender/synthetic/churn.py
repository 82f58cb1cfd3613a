"""Who leaves and when: the churn story of the synthetic data.

Each month a client that has not left yet leaves with a probability (a discrete-time hazard)
that rises with what the business sees in its accounts (``story.CHURN_*``):

* **few services** - a client using one service (tariff or add-on) leaves far more often than
  one using three or more (the "Profi" clients), and each extra service helps;
* **no training** - a client that has completed no course yet leaves more often;
* **low loyalty tier, small size, B2B, some industries** (retail, construction, IT);
* a personal **frailty** (lognormal), so two look-alike clients differ.

A client that leaves at day ``D`` cancels every tariff it holds within two weeks of ``D``,
adopts nothing after ``D``, drops out of courses not finished by ``D`` and stops viewing offers.
Most leavers (``CHURN_WARNING_P``) fade first: during the ``ramp`` days before ``D`` their usage
falls toward ``floor`` of normal, reports thin out and tariffs due for renewal are downgraded
more often. The rest leave abruptly, with no warning in the data. So that a fall in usage is
evidence, not proof, a share of the clients that stay (``DIP_P``) go through a temporary dip
(budget freeze, holidays, a migration) of the same depth, and recover.

The hazard uses the services and courses a client has *at that month*, so the data carry the
story the way a real event log would: the cause is visible before the effect, with noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recommender.synthetic import story
from recommender.synthetic.adoption import NEVER, Adoptions
from recommender.synthetic.clients import ClientChunk
from recommender.synthetic.offers import OfferArrays

MONTH_DAYS = 30.0
#: Days within which a leaver cancels each of its tariffs after deciding to leave.
CANCEL_SPREAD_DAYS = 14.0


@dataclass(frozen=True, eq=False)
class ChurnPlan:
    """Per client (days from the window start): when it leaves (``NEVER``: it stays), the
    warning ramp before that, and the temporary dip of some clients that stay."""

    churn_day: np.ndarray
    ramp_start: np.ndarray  # = churn_day for an abrupt leaver, NEVER for a stayer
    floor: np.ndarray  # usage multiplier reached at churn_day (or at the bottom of a dip)
    dip_start: np.ndarray  # NEVER: no dip
    dip_end: np.ndarray

    @classmethod
    def nobody(cls, n: int) -> ChurnPlan:
        never = np.full(n, NEVER)
        return cls(never, never.copy(), np.ones(n), never.copy(), never.copy())

    def usage_factor(self, row: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Multiplier (0..1] of normal usage of client ``row`` on ``day``."""
        with np.errstate(invalid="ignore"):  # NEVER - NEVER where there is no ramp or dip
            return self._factor(row, day)

    def _factor(self, row: np.ndarray, day: np.ndarray) -> np.ndarray:
        factor = np.ones(len(row))
        begin, end = self.ramp_start[row], self.churn_day[row]
        fading = (day >= begin) & (day < end) & (end > begin)
        share = np.where(fading, (day - begin) / np.where(end > begin, end - begin, 1.0), 0.0)
        factor = np.where(fading, 1.0 - share * (1.0 - self.floor[row]), factor)
        # a dip goes down and back up: a triangle with its bottom at the middle
        d0, d1 = self.dip_start[row], self.dip_end[row]
        dipping = (day >= d0) & (day < d1)
        middle = 0.5 * (d0 + d1)
        half = np.where(dipping, np.maximum(0.5 * (d1 - d0), 1.0), 1.0)
        depth = np.where(dipping, 1.0 - np.abs(day - middle) / half, 0.0)
        return np.where(dipping, 1.0 - depth * (1.0 - self.floor[row]), factor)

    def warned(self, row: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Whether client ``row`` is in its warning ramp (or a dip) on ``day``."""
        ramp = (day >= self.ramp_start[row]) & (day < self.churn_day[row])
        dip = (day >= self.dip_start[row]) & (day < self.dip_end[row])
        return ramp | dip


def hazard_logit(clients: ClientChunk, n_services: np.ndarray, trained: np.ndarray) -> np.ndarray:
    """Monthly log-odds of leaving, without the frailty (see the module docstring)."""
    logit = np.full(len(clients), story.CHURN_BASE_LOGIT)
    logit += np.where(n_services <= 1, story.CHURN_ONE_SERVICE, 0.0)
    logit += story.CHURN_PER_SERVICE * np.minimum(n_services, 6)
    logit += np.where(n_services >= 3, story.CHURN_PROFI, 0.0)
    logit += np.where(trained, 0.0, story.CHURN_NO_COURSE)
    logit += np.asarray(story.CHURN_LOYALTY)[clients.loyalty]
    logit += np.asarray(story.CHURN_SIZE)[clients.size]
    logit += np.where(clients.b2g, story.CHURN_B2G, 0.0)
    logit += np.asarray(story.CHURN_INDUSTRY)[clients.industry]
    return logit


def draw_churn(
    rng: np.random.Generator,
    clients: ClientChunk,
    offers: OfferArrays,
    adopted: Adoptions,
    window_days: float,
) -> ChurnPlan:
    """Draw each client's leaving day month by month; see the module docstring."""
    n = len(clients)
    frailty = rng.normal(0.0, story.CHURN_FRAILTY_SD, n)
    services = ~offers.is_course
    churn_day = np.full(n, NEVER)
    for month_start in np.arange(0.0, window_days, MONTH_DAYS):
        alive = ~np.isfinite(churn_day) & (clients.active_from <= month_start)
        if not alive.any():
            continue
        held = (adopted.start[:, services] <= month_start).sum(axis=1)
        trained = np.asarray((adopted.done <= month_start).any(axis=1))
        logit = hazard_logit(clients, held, trained) + frailty
        leave = alive & (held > 0) & (rng.random(n) < 1.0 / (1.0 + np.exp(-logit)))
        day = month_start + rng.uniform(0.0, MONTH_DAYS, n)
        churn_day = np.where(leave & (day < window_days), day, churn_day)

    leaver = np.isfinite(churn_day)
    warning = leaver & (rng.random(n) < story.CHURN_WARNING_P)
    ramp = rng.uniform(*story.CHURN_RAMP_DAYS, n)
    ramp_start = np.where(warning, churn_day - ramp, np.where(leaver, churn_day, NEVER))
    floor = rng.uniform(*story.CHURN_FLOOR, n)
    dip = ~leaver & (rng.random(n) < story.DIP_P)
    dip_length = rng.uniform(*story.DIP_DAYS, n)
    dip_start = np.where(
        dip, clients.active_from + rng.random(n) * (window_days - clients.active_from), NEVER
    )
    return ChurnPlan(churn_day, ramp_start, floor, dip_start, dip_start + dip_length)


def drop_after_churn(adopted: Adoptions, plan: ChurnPlan) -> None:
    """A leaver adopts nothing after its leaving day and finishes no course after it."""
    late = adopted.start > plan.churn_day[:, None]
    adopted.owned[late] = False
    adopted.start[late] = NEVER
    adopted.done[adopted.done > plan.churn_day[:, None]] = NEVER


def cancel_day(rng: np.random.Generator, plan: ChurnPlan, row: np.ndarray) -> np.ndarray:
    """When a leaver cancels one of its tariffs: within ``CANCEL_SPREAD_DAYS`` of leaving."""
    return plan.churn_day[row] + rng.uniform(0.0, CANCEL_SPREAD_DAYS, len(row))
