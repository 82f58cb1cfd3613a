"""What each client holds at a moment: the offers it owns, counted by kind.

An offer is held when the client's last owning or releasing event for it before the moment is
an owning one (purchase, subscription start, renewal, enrolment, completion), as
``recommender.feedback.owned_pairs`` replays them. A tariff is active while held; add-ons count
as services in use once bought (as do offers of unknown kind); courses are held once enrolled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recommender.churn.events import ADDON, COURSE, OWNING, TARIFF, TYPE, EventLog


@dataclass(frozen=True, eq=False)
class Holdings:
    """Per client (length ``n_clients``): active tariffs, add-ons, courses, yearly spend."""

    tariffs: np.ndarray
    addons: np.ndarray
    courses: np.ndarray
    spend: np.ndarray

    @property
    def services(self) -> np.ndarray:
        """Services in use: active tariffs and add-ons (the "Profi" programme counts these)."""
        return self.tariffs + self.addons


def held_pairs(log: EventLog, day: float) -> tuple[np.ndarray, np.ndarray]:
    """(client, item) numbers of the offers held just before ``day``."""
    end = int(np.searchsorted(log.day, day, side="left"))
    etype = log.type[:end]
    relevant = np.flatnonzero(np.isin(etype, OWNING) | (etype == TYPE["cancellation"]))
    if not len(relevant):
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    key = log.client[relevant] * log.n_items + log.item[relevant]
    # the last event of each pair: first occurrence in the reversed (time-descending) order
    _, first_reversed = np.unique(key[::-1], return_index=True)
    last = relevant[len(relevant) - 1 - first_reversed]
    kept = last[log.type[last] != TYPE["cancellation"]]
    return log.client[kept], log.item[kept]


def holdings_at(log: EventLog, day: float) -> Holdings:
    """Counts per client of what it holds just before ``day``."""
    client, item = held_pairs(log, day)
    kind = log.item_kind[item]
    n = log.n_clients

    def count(code: int) -> np.ndarray:
        return np.bincount(client[kind == code], minlength=n).astype(np.float64)

    spend = np.bincount(client, weights=log.item_price[item], minlength=n)
    # an offer of unknown kind (a catalog without kinds) counts as an add-on: a service in use
    return Holdings(count(TARIFF), count(ADDON) + count(-1), count(COURSE), spend)
