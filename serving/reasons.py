"""Short, data-backed reasons for an offer (one client per request).

``recommender.explain`` computes the same reasons for many clients at once (exports); the
thresholds and labels live there so both always agree.

Each reason is read from the served model's own arrays, so it is as true as the model:
- prerequisites the client owns: "next step after course Linux 1";
- the owned offer most similar to this one (EASE weights, or cosine of item factors above
  ``SIMILARITY_FLOOR``): "often used together with Backup, which you have";
- the popularity table (share of clients of the industry / segment / everyone who use it):
  "used by 63 % of healthcare clients".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from recommender.explain import MAX_REASONS, SHARE_FLOOR, SIMILARITY_FLOOR, group_label
from serving.model_holder import LoadedModel


def _unit_factors(model: LoadedModel) -> np.ndarray | None:
    factors = model.servable.item_factors
    if factors is None:
        return None
    cached = model.cache.get("unit_factors")
    if cached is None:
        body = np.asarray(factors[:, :-1], dtype=np.float32)
        norms = np.linalg.norm(body, axis=1, keepdims=True)
        cached = body / np.where(norms > 0, norms, 1.0)
        model.cache["unit_factors"] = cached
    return cached


def _together(model: LoadedModel, item: int, owned: np.ndarray) -> int | None:
    """The owned offer most associated with ``item``, if the association is strong."""
    if not len(owned):
        return None
    servable = model.servable
    if servable.mode == "item_item" and servable.item_item is not None:
        weights = np.asarray(servable.item_item[owned, item], dtype=np.float32)
        best = int(np.argmax(weights))
        return int(owned[best]) if weights[best] > 0 else None
    unit = _unit_factors(model)
    if unit is None or servable.mode != "factors":
        return None
    similarity = unit[owned] @ unit[item]
    best = int(np.argmax(similarity))
    return int(owned[best]) if similarity[best] >= SIMILARITY_FLOOR else None


def _popularity(model: LoadedModel, item: int, rows: Sequence[str]) -> str | None:
    for row in rows:
        index = model.row_index.get(row)
        if index is None:
            continue
        share = float(model.servable.popularity[index, item])
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
    popular = _popularity(model, item, popularity_rows)
    if popular is not None:
        reasons.append(popular)
    return reasons[:MAX_REASONS]
