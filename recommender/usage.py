"""Who uses which offer: the client x item matrix behind the "used by" and "used together" reasons.

A client uses an offer when it owns it now: an owning event (purchase, subscription start,
renewal, enrolment, completion) not followed by a cancellation, as ``feedback.owned_pairs``
replays them. Views, clicks and impressions never count, whatever weight they get in
``dataset.interactions``.

A data set that records no ownership at all (no owning or releasing event, as MovieLens, where
every rating is a ``usage`` event) counts a ``usage`` event as use instead. A data set with
neither has no users, so its models give no such reasons rather than invent them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recommender.dataset import Dataset
from recommender.domain import OWNING_EVENTS, RELEASING_EVENTS, EventType
from recommender.feedback import owned_pairs, type_mask

_OWNERSHIP = frozenset(e.value for e in OWNING_EVENTS | RELEASING_EVENTS)


def usage_pairs(events: pd.DataFrame) -> pd.DataFrame:
    """(client_id, item_id) pairs where the client uses the offer (see the module docstring)."""
    if type_mask(events, _OWNERSHIP).any():
        return owned_pairs(events)
    used = events.loc[type_mask(events, {EventType.USAGE.value}), ["client_id", "item_id"]]
    return used.drop_duplicates().reset_index(drop=True)


def usage_matrix(dataset: Dataset) -> sp.csr_matrix:
    """Clients x items CSR with a 1 (int32) where the client uses the offer."""
    pairs = usage_pairs(dataset.events)
    rows = dataset.client_ids.to_internal_many(pairs["client_id"])
    cols = dataset.item_ids.to_internal_many(pairs["item_id"])
    matrix = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.int32), (rows, cols)),
        shape=(dataset.n_clients, dataset.n_items),
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1
    matrix.sort_indices()
    return matrix
