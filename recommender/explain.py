"""Why an offer is on a list: facts read from a ``ServableModel``'s own arrays, for one client
or many at once.

Three kinds of fact (``Reason``), said in words by ``recommender.phrases.Speaker``:
- a prerequisite the client owns: "next step after course Linux 1";
- the strongest co-usage partner of the offer (``ServableModel.co_usage``, counted from the
  training data whatever the model) that the client owns: "often used together with Backup";
- the first usage row (industry, segment, all) where at least ``SHARE_FLOOR`` of the clients
  own the offer (``ServableModel.usage``): "used by 63 % of healthcare clients".
The same array operations explain one client per request and 100,000 clients in an export, so
both always say the same. A bundle without ``co_usage`` or ``usage`` (written before they
existed) gives no such reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from recommender.phrases import Speaker
from recommender.servable import ServableModel

#: Usage shares below this are not worth a reason.
SHARE_FLOOR = 0.05
#: "Often used together" needs at least this many clients using both offers in the training
#: data, ...
MIN_SUPPORT = 5
#: ... at least this share of the owned offer's users also using the offered one, ...
MIN_TOGETHER_SHARE = 0.2
#: ... and that share at least this many times the share of all clients using the offer.
MIN_LIFT = 1.5
#: Co-usage partners kept per offer (the strongest), so bundles grow with the catalog only.
MAX_PARTNERS = 20
MAX_REASONS = 3
_BLOCK = 8192


def partner_table(model: ServableModel) -> np.ndarray:
    """(n_items, width) co-usage partners per offer, strongest first, padded with -1."""
    co = model.co_usage
    if co is None or len(co.partner) == 0:
        return np.full((model.n_items, 0), -1, dtype=np.int64)
    lengths = np.diff(co.indptr)
    table = np.full((model.n_items, int(lengths.max())), -1, dtype=np.int64)
    rows = np.repeat(np.arange(model.n_items), lengths)
    table[rows, np.arange(len(co.partner)) - co.indptr[rows]] = co.partner
    return table


class Reason(NamedTuple):
    """One fact behind an offer; ``recommender.phrases.Speaker`` says it in words."""

    #: "prerequisite", "together" or "usage"
    code: str
    #: The owned offer it refers to (prerequisite, together); -1 for usage.
    item: int = -1
    #: The usage row ("industry=healthcare", "segment=B2G", "all") and the share of its
    #: clients who own the offer (usage only).
    row: str = ""
    share: float = 0.0


class Explainer:
    """Explains top-k lists of one model; build once, call per block of clients."""

    def __init__(self, model: ServableModel) -> None:
        self.model = model
        self.partners = partner_table(model)
        self.rows = {name: i for i, name in enumerate(model.segment_names)}
        catalog = model.catalog
        #: The kind name of every offer, by index.
        self.kinds = tuple(catalog.kind_names[int(k)] for k in catalog.kind)
        self.prereqs = {
            item: catalog.prereq_indices[
                catalog.prereq_indptr[item] : catalog.prereq_indptr[item + 1]
            ]
            for item in range(model.n_items)
            if catalog.prereq_indptr[item + 1] > catalog.prereq_indptr[item]
        }

    def _prerequisite(self, items: np.ndarray, owned: np.ndarray) -> np.ndarray:
        found = np.full(items.shape, -1, dtype=np.int64)
        for item in np.intersect1d(np.unique(items), list(self.prereqs)):
            for prereq in self.prereqs[int(item)].tolist():
                hit = (items == item) & (found < 0) & owned[:, prereq][:, None]
                found[hit] = prereq
        return found

    def _together(self, items: np.ndarray, owned: np.ndarray) -> np.ndarray:
        """The strongest co-usage partner of each offer that the client owns, or -1."""
        found = np.full(items.shape, -1, dtype=np.int64)
        if self.partners.shape[1] == 0:
            return found
        clients = np.arange(len(items))[:, None]
        for j in range(items.shape[1]):
            partners = self.partners[np.maximum(items[:, j], 0)]
            has = (partners >= 0) & owned[clients, np.maximum(partners, 0)]
            first = np.argmax(has, axis=1)
            ok = (items[:, j] >= 0) & has[np.arange(len(items)), first]
            found[ok, j] = partners[ok, first[ok]]
        return found

    def _popular(self, items: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row index or -1, share) of the first usage row worth a reason."""
        chosen = np.full(items.shape, -1, dtype=np.int64)
        share = np.zeros(items.shape, dtype=np.float64)
        table = self.model.usage
        if table is None:
            return chosen, share
        for r in range(rows.shape[1]):
            row = rows[:, r][:, None]
            values = np.where(row >= 0, table[np.maximum(row, 0), np.maximum(items, 0)], 0.0)
            take = (chosen < 0) & (values >= SHARE_FLOOR) & (items >= 0)
            chosen[take] = np.broadcast_to(row, items.shape)[take]
            share[take] = values[take]
        return chosen, share

    def popularity_row_indices(self, rows: Sequence[Sequence[str]]) -> np.ndarray:
        """(n, 3) indices of each client's popularity rows (-1 where the model has none)."""
        out = np.full((len(rows), 3), -1, dtype=np.int64)
        for i, names in enumerate(rows):
            for r, name in enumerate(names[:3]):
                out[i, r] = self.rows.get(name, -1)
        return out

    def explain(
        self, items: np.ndarray, owned: np.ndarray, rows: np.ndarray
    ) -> list[list[tuple[Reason, ...]]]:
        """Reasons per client and offer; ``items`` (n, k) ranked offers (-1 pads), ``owned`` a
        dense (n, n_items) bool matrix, ``rows`` from ``popularity_row_indices``."""
        out: list[list[tuple[Reason, ...]]] = []
        segment_names = self.model.segment_names
        for start in range(0, len(items), _BLOCK):
            block = slice(start, start + _BLOCK)
            its, own = items[block], owned[block]
            prereq = self._prerequisite(its, own)
            together = self._together(its, own)
            row, share = self._popular(its, rows[block])
            for i in range(len(its)):
                client: list[tuple[Reason, ...]] = []
                for j in range(its.shape[1]):
                    if its[i, j] < 0:
                        break
                    reasons = []
                    if prereq[i, j] >= 0:
                        reasons.append(Reason("prerequisite", int(prereq[i, j])))
                    if together[i, j] >= 0:
                        reasons.append(Reason("together", int(together[i, j])))
                    if row[i, j] >= 0:
                        name = segment_names[int(row[i, j])]
                        reasons.append(Reason("usage", row=name, share=float(share[i, j])))
                    client.append(tuple(reasons[:MAX_REASONS]))
                out.append(client)
        return out

    def explain_one(
        self, items: Sequence[int], owned: np.ndarray, rows: Sequence[str]
    ) -> list[tuple[Reason, ...]]:
        """Reasons for one client's ranked ``items``; ``owned`` holds its offer indices."""
        if not len(items):
            return []
        dense = np.zeros((1, self.model.n_items), dtype=bool)
        dense[0, owned] = True
        ranked = np.asarray(items, dtype=np.int64)[None, :]
        return self.explain(ranked, dense, self.popularity_row_indices([rows]))[0]

    def say(
        self,
        reasons: list[list[tuple[Reason, ...]]],
        name_of: Callable[[int], str],
        speaker: Speaker,
    ) -> list[list[tuple[str, ...]]]:
        """``reasons`` in words (offers named by ``name_of``)."""
        kinds = self.kinds
        return [
            [tuple(speaker.say(r, name_of, kinds) for r in offer) for offer in client]
            for client in reasons
        ]
