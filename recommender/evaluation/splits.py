"""Train/test splits of a ``Dataset`` and the test ground truth.

Every split returns ``(train, test)`` built with ``Dataset.with_events``, so both share the id
maps of the full dataset: a client held out of train keeps its row (empty) and its features,
which is what cold-start evaluation needs. Ground truth is derived with ``relevance``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recommender.dataset import Dataset
from recommender.feedback import event_weights

SPLIT_NAMES: tuple[str, ...] = ("auto", "time", "snapshot", "leave_last", "stratified", "cold")


def time_split(
    dataset: Dataset,
    *,
    quantile: float = 0.8,
    cutoff: datetime | pd.Timestamp | None = None,
    known_clients_only: bool = True,
) -> tuple[Dataset, Dataset]:
    """Events before the cutoff train, events at or after it test.

    The cutoff is ``cutoff`` when given, else the ``quantile`` of event timestamps. With
    ``known_clients_only`` the test keeps only clients that have at least one train event (the
    question a time split asks is "what does a known client buy next").
    """
    events = dataset.events
    timestamps = pd.to_datetime(events["timestamp"], utc=True)
    if cutoff is None:
        if not 0.0 < quantile < 1.0:
            raise ValueError(f"quantile must be in (0, 1), got {quantile}")
        middle: Any = timestamps.quantile(quantile)  # type: ignore[misc]  # stubs: numbers only
        cut = pd.Timestamp(middle)
    else:
        cut = pd.Timestamp(cutoff)
        cut = cut.tz_localize("UTC") if cut.tzinfo is None else cut.tz_convert("UTC")
    in_train = np.asarray(timestamps < cut, dtype=bool)
    in_test = ~in_train
    if known_clients_only:
        known = np.unique(events["client_idx"].to_numpy()[in_train])
        in_test &= np.isin(events["client_idx"].to_numpy(), known)
    return _pair(dataset, in_train, in_test)


def leave_last_out(dataset: Dataset) -> tuple[Dataset, Dataset]:
    """Per client, the item of its latest positive event goes to test, the rest to train.

    All events of that client-item pair move to test (so an earlier purchase of the same item
    does not sit in train and make the pair "seen"). Clients with fewer than two distinct
    positive items stay entirely in train: leaving their only item out teaches nothing.
    """
    events = dataset.events
    positive = event_weights(events, dataset.feedback) > 0
    frame = pd.DataFrame(
        {
            "client": events["client_idx"].to_numpy(),
            "item": events["item_idx"].to_numpy(),
            "ts": pd.to_datetime(events["timestamp"], utc=True).to_numpy(),
            "row": np.arange(len(events)),
        }
    )[positive]
    n_items = frame.groupby("client")["item"].nunique()
    eligible = n_items.index[n_items.to_numpy() >= 2]
    frame = frame[frame["client"].isin(eligible)]
    # Latest event per client; ties on the timestamp go to the later row.
    last = frame.sort_values(["client", "ts", "row"], kind="stable").groupby("client").tail(1)
    held = pd.MultiIndex.from_arrays([last["client"].to_numpy(), last["item"].to_numpy()])
    pairs = pd.MultiIndex.from_arrays(
        [events["client_idx"].to_numpy(), events["item_idx"].to_numpy()]
    )
    in_test = pairs.isin(held)
    return _pair(dataset, ~in_test, in_test)


def stratified_split(
    dataset: Dataset, *, ratio: float = 0.75, seed: int = 42
) -> tuple[Dataset, Dataset]:
    """Per-client random split of client-item pairs, as Microsoft Recommenders does it.

    Replicates ``python_stratified_split``: ``np.random.seed(seed)``, one uniform number per
    pair in data order, pairs sorted by client then that number, and a pair trains when
    ``rank / count <= ratio`` (so a client with 10 pairs trains on 7). Pairs, not rows, are
    split so that repeated events of one pair never straddle train and test; on data with one
    row per pair (MovieLens) this is exactly their split.
    """
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"ratio must be in (0, 1), got {ratio}")
    events = dataset.events
    codes = events["client_idx"].to_numpy() * np.int64(dataset.n_items) + events["item_idx"]
    unique_codes, first_row, inverse = np.unique(codes, return_index=True, return_inverse=True)
    order = np.argsort(first_row, kind="stable")  # pairs in first-seen (data) order
    pairs = pd.DataFrame({"code": unique_codes[order]})
    pairs["client"] = pairs["code"] // dataset.n_items
    np.random.seed(seed)  # noqa: NPY002 - the legacy global generator is what the protocol uses
    pairs["random"] = np.random.rand(len(pairs))  # noqa: NPY002
    pairs = pairs.sort_values(["client", "random"])
    groups = pairs.groupby("client")
    rank = (groups.cumcount() + 1) / groups["client"].transform("count")
    train_codes = pairs.loc[rank <= ratio, "code"].to_numpy()
    in_train = np.isin(unique_codes, train_codes)[inverse]
    return _pair(dataset, in_train, ~in_train)


def snapshot_split(dataset: Dataset, *, seed: int = 42) -> tuple[Dataset, Dataset]:
    """Portfolio snapshots: one owned offer of every client with two or more goes to test.

    The evaluation protocol for data without a usable time order (a CRM export of who owns
    what): per client, in client order, one of its distinct positive items is drawn with
    ``numpy.random.default_rng(seed)`` (items in internal-id order) and all events of that
    client-item pair move to test. Clients with fewer than two positive items stay in train.
    """
    events = dataset.events
    positive = event_weights(events, dataset.feedback) > 0
    clients = events["client_idx"].to_numpy()[positive].astype(np.int64)
    codes = np.unique(clients * dataset.n_items + events["item_idx"].to_numpy()[positive])
    pair_client = codes // dataset.n_items
    starts = np.flatnonzero(np.r_[True, pair_client[1:] != pair_client[:-1]])
    counts = np.diff(np.r_[starts, len(codes)])
    rng = np.random.default_rng(seed)
    held = [
        int(codes[start + rng.integers(count)])
        for start, count in zip(starts.tolist(), counts.tolist(), strict=True)
        if count >= 2
    ]
    event_codes = (
        events["client_idx"].to_numpy().astype(np.int64) * dataset.n_items
        + events["item_idx"].to_numpy()
    )
    in_test = np.isin(event_codes, np.asarray(held, dtype=np.int64))
    return _pair(dataset, ~in_test, in_test)


def cold_client_split(
    dataset: Dataset, *, fraction: float = 0.2, seed: int = 42
) -> tuple[Dataset, Dataset]:
    """A seeded ``fraction`` of the clients with events is held out: all their events test.

    Held-out clients keep their features and ids in the train dataset but have no
    interactions there, so models must recommend from features or fall back to popularity.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    client_idx = dataset.events["client_idx"].to_numpy()
    active = np.unique(client_idx)
    n_held = max(1, round(fraction * len(active)))
    held = np.random.default_rng(seed).choice(active, size=n_held, replace=False)
    in_test = np.isin(client_idx, held)
    return _pair(dataset, ~in_test, in_test)


def split_dataset(dataset: Dataset, name: str, *, seed: int = 42) -> tuple[Dataset, Dataset]:
    """Dispatch on a split name (see ``SPLIT_NAMES``; ``auto`` picks with ``choose_split``)."""
    if name == "auto":
        from recommender.evaluation.split_choice import auto_split

        train, test, _ = auto_split(dataset, seed=seed)
        return train, test
    splitters: dict[str, Callable[[], tuple[Dataset, Dataset]]] = {
        "time": lambda: time_split(dataset),
        "snapshot": lambda: snapshot_split(dataset, seed=seed),
        "leave_last": lambda: leave_last_out(dataset),
        "stratified": lambda: stratified_split(dataset, seed=seed),
        "cold": lambda: cold_client_split(dataset, seed=seed),
    }
    if name not in splitters:
        raise ValueError(f"unknown split {name!r}; choose one of {', '.join(SPLIT_NAMES)}")
    return splitters[name]()


def relevance(train: Dataset, test: Dataset) -> sp.csr_matrix:
    """Boolean clients x items matrix of test ground truth, seen items removed.

    An item is relevant to a client when the client's test feedback on it has a positive
    weight (a nonzero of ``test.interactions``) and the client has no train interaction with
    it (models never recommend what the client already has, so it could never be a hit).
    """
    truth = (test.interactions > 0).astype(np.float32).tocsr()
    seen = (train.interactions != 0).astype(np.float32).tocsr()
    result = (truth - truth.multiply(seen)).tocsr()
    result.eliminate_zeros()
    result.sort_indices()
    return result.astype(bool)


def evaluated_clients(truth: sp.csr_matrix) -> np.ndarray:
    """Internal ids of clients with at least one relevant item: those the metrics average."""
    return np.flatnonzero(np.diff(truth.indptr) > 0).astype(np.int64)


def _pair(dataset: Dataset, in_train: np.ndarray, in_test: np.ndarray) -> tuple[Dataset, Dataset]:
    events = dataset.events
    return dataset.with_events(events[in_train]), dataset.with_events(events[in_test])
