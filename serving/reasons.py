"""Short, data-backed reasons for an offer (one client per request).

``recommender.explain`` computes the same reasons for many clients at once (exports); the
thresholds and labels live there so both always agree.

Each reason is read from the served bundle's own arrays, counted from its training data:
- prerequisites the client owns: "next step after course Linux 1";
- the strongest co-usage partner of the offer that the client owns (``ServableModel.co_usage``,
  the same for every model mode): "often used together with Backup, which you have";
- the usage table (share of clients of the industry / segment / everyone who own the offer):
  "used by 63 % of healthcare clients".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from recommender.explain import MAX_REASONS, SHARE_FLOOR, group_label
from serving.model_holder import LoadedModel


def _together(model: LoadedModel, item: int, owned: np.ndarray) -> int | None:
    """The strongest co-usage partner of ``item`` that the client owns, if any."""
    co_usage = model.servable.co_usage
    if co_usage is None or not len(owned):
        return None
    partners = co_usage.partners_of(item)
    has = np.isin(partners, owned)
    return int(partners[int(np.argmax(has))]) if has.any() else None


def _usage(model: LoadedModel, item: int, rows: Sequence[str]) -> str | None:
    """The reason "used by N % of <group>" from the first of ``rows`` where enough clients
    own ``item``."""
    table = model.servable.usage
    if table is None:
        return None
    for row in rows:
        index = model.row_index.get(row)
        if index is None:
            continue
        share = float(table[index, item])
        if share >= SHARE_FLOOR:
            return f"used by {round(share * 100)} % of {group_label(row)}"
    return None


def reasons_for(
    model: LoadedModel,
    item: int,
    owned: np.ndarray,
    popularity_rows: Sequence[str],
    name_of: Callable[[int], str],
) -> list[str]:
    """Up to ``MAX_REASONS`` reasons for offering ``item`` to a client owning ``owned``."""
    reasons: list[str] = []
    catalog = model.servable.catalog
    start, end = int(catalog.prereq_indptr[item]), int(catalog.prereq_indptr[item + 1])
    owned_set = set(owned.tolist())
    for prereq in catalog.prereq_indices[start:end].tolist():
        if prereq in owned_set:
            kind = catalog.kind_names[int(catalog.kind[prereq])]
            reasons.append(f"next step after {kind} {name_of(int(prereq))}")
            break
    partner = _together(model, item, owned)
    if partner is not None:
        reasons.append(f"often used together with {name_of(partner)}, which you have")
    popular = _usage(model, item, popularity_rows)
    if popular is not None:
        reasons.append(popular)
    return reasons[:MAX_REASONS]
