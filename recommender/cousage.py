"""Co-usage statistics: which offers clients really use together, for the reason
"often used together with Backup, which you have".

For an offer ``i`` to explain and an offer ``o`` the client has, counted over the clients of
the training data (``recommender.usage``):
- ``count``: clients using both;
- ``share``: ``count / users(o)``, how many of ``o``'s users also use ``i``;
- ``lift``: ``share / (users(i) / n_clients)``, how much more often than the average client.
A pair is kept only when the data backs it: at least ``MIN_SUPPORT`` co-users, ``share`` at
least ``MIN_TOGETHER_SHARE`` and ``lift`` at least ``MIN_LIFT`` (``recommender.explain``); of
those, the ``MAX_PARTNERS`` highest-lift partners per offer. Items are processed a block at a
time, so a large catalog never holds its full item x item matrix.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recommender.dataset import Dataset
from recommender.explain import MAX_PARTNERS, MIN_LIFT, MIN_SUPPORT, MIN_TOGETHER_SHARE
from recommender.servable import CoUsageArrays
from recommender.usage import usage_matrix

#: Item x item cells computed at once (bounds the memory of one block's product).
_BLOCK_CELLS = 1 << 22


def co_usage_arrays(dataset: Dataset) -> CoUsageArrays:
    """The co-usage table of a dataset's training data, with the reason thresholds."""
    return co_usage_from_matrix(usage_matrix(dataset))


def co_usage_thresholds() -> dict[str, float | int]:
    """The thresholds ``co_usage_arrays`` applies (what a bundle's metadata records)."""
    return {
        "min_support": MIN_SUPPORT,
        "min_together_share": MIN_TOGETHER_SHARE,
        "min_lift": MIN_LIFT,
        "max_partners": MAX_PARTNERS,
    }


def co_usage_from_matrix(
    used: sp.csr_matrix,
    *,
    min_support: int = MIN_SUPPORT,
    min_share: float = MIN_TOGETHER_SHARE,
    min_lift: float = MIN_LIFT,
    max_partners: int = MAX_PARTNERS,
) -> CoUsageArrays:
    """Co-usage of a binary clients x items matrix (1 where the client uses the offer)."""
    used = sp.csr_matrix(used, dtype=np.int64)
    used.data[:] = 1
    n_clients, n_items = used.shape
    users = np.asarray(used.sum(axis=0), dtype=np.int64).ravel()
    by_item = used.T.tocsr()
    step = max(1, _BLOCK_CELLS // max(n_items, 1))
    counts = np.zeros(n_items, dtype=np.int64)
    parts: list[tuple[np.ndarray, ...]] = []
    for start in range(0, n_items, step):
        block = (by_item[start : start + step] @ used).tocoo()
        item = block.row.astype(np.int64) + start
        partner = block.col.astype(np.int64)
        together = block.data.astype(np.int64)
        share = together / np.maximum(users[partner], 1)
        lift = share * n_clients / np.maximum(users[item], 1)
        keep = (
            (item != partner)
            & (together >= min_support)
            & (share >= min_share)
            & (lift >= min_lift)
        )
        item, partner, together = item[keep], partner[keep], together[keep]
        share, lift = share[keep], lift[keep]
        # strongest first within each item: highest lift, then most co-users, then lowest id
        order = np.lexsort((partner, -together, -lift, item))
        item, partner, together = item[order], partner[order], together[order]
        share, lift = share[order], lift[order]
        first = np.searchsorted(item, item, side="left")
        top = np.arange(len(item)) - first < max_partners
        np.add.at(counts, item[top], 1)
        parts.append((partner[top], together[top], share[top], lift[top]))
    columns = [np.concatenate([p[n] for p in parts]) if parts else np.empty(0) for n in range(4)]
    return CoUsageArrays(
        indptr=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        partner=columns[0].astype(np.int32),
        count=columns[1].astype(np.int32),
        share=columns[2].astype(np.float32),
        lift=columns[3].astype(np.float32),
    )
