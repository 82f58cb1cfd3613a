"""Which split evaluates a data set when the user names none (``--split auto``, the default).

Time split where timestamps spread (the question "what does a known client take next" has an
answer), else the snapshot split (most CRM exports are portfolio snapshots: one date per client),
else a clear error naming what is missing. The choice and its reason are printed by the CLI and
logged with the run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from recommender.dataset import Dataset
from recommender.evaluation.splits import (
    evaluated_clients,
    relevance,
    snapshot_split,
    time_split,
)
from recommender.feedback import event_weights

#: A split must leave at least this many test clients with an unseen positive item.
MIN_TEST_CLIENTS = 5
#: The time split is chosen only when it tests at least this share of the clients the snapshot
#: split would (those with two or more offers): a CRM export dated by each client's join date
#: has a handful of clients with two dates, too few to judge a model by.
MIN_TIME_SHARE = 0.05


class NoUsableSplitError(ValueError):
    """Neither a time split nor a snapshot split has anything to test on this data."""


@dataclass(frozen=True)
class SplitChoice:
    name: str
    reason: str
    n_test_clients: int


def auto_split(dataset: Dataset, *, seed: int = 42) -> tuple[Dataset, Dataset, SplitChoice]:
    """(train, test, choice): the time split when it works, else the snapshot split."""
    timestamps = pd.to_datetime(dataset.events["timestamp"], utc=True)
    span = _span(timestamps)
    multi = _clients_with_two_offers(dataset)
    if timestamps.nunique() >= 2:
        train, test = time_split(dataset)
        n_time = len(evaluated_clients(relevance(train, test)))
        if n_time >= max(MIN_TEST_CLIENTS, MIN_TIME_SHARE * multi):
            cut = pd.to_datetime(train.events["timestamp"], utc=True).max()
            reason = (
                f"time split: events span {span}, and {n_time} clients take offers they did not "
                f"have before the cutoff (last train event {cut:%Y-%m-%d})"
            )
            return train, test, SplitChoice("time", reason, n_time)
    else:
        n_time = 0
    why_not_time = (
        f"all {len(timestamps)} events are at one moment ({span})"
        if timestamps.nunique() < 2
        else f"the time split leaves {n_time} test clients with a new offer after the cutoff "
        f"(events span {span}; {multi} clients own two or more)"
    )
    if multi >= MIN_TEST_CLIENTS:
        train, test = snapshot_split(dataset, seed=seed)
        n_snapshot = len(evaluated_clients(relevance(train, test)))
        reason = (
            f"snapshot split: {why_not_time}, so one owned offer of each of the {multi} clients "
            f"with two or more is hidden (seed {seed}) and the models must find it"
        )
        return train, test, SplitChoice("snapshot", reason, n_snapshot)
    raise NoUsableSplitError(
        f"no split can evaluate this data: {why_not_time}, and only {multi} clients have two or "
        f"more offers (a snapshot split needs at least {MIN_TEST_CLIENTS}). Import interactions "
        "with timestamps that spread over time, or more clients' portfolios."
    )


def _span(timestamps: pd.Series) -> str:
    if timestamps.empty:
        return "no events"
    first, last = timestamps.min(), timestamps.max()
    return f"{first:%Y-%m-%d} to {last:%Y-%m-%d}" if first != last else f"{first:%Y-%m-%d}"


def _clients_with_two_offers(dataset: Dataset) -> int:
    events = dataset.events
    positive = event_weights(events, dataset.feedback) > 0
    pairs = events.loc[positive, ["client_idx", "item_idx"]].drop_duplicates()
    counts = np.bincount(pairs["client_idx"].to_numpy(), minlength=dataset.n_clients)
    return int((counts >= 2).sum())
