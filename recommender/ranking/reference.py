"""Plain numpy ranking: the readable definition the numba kernels are tested against.

Order of operations: score -> mask -> boost -> diversity quota -> top-k. Ties are broken by
the lower item index so every implementation returns the same list.
"""

from __future__ import annotations

import numpy as np

from recommender.ranking.rules import TARIFF_CODE, RankingRules, allowed_mask
from recommender.servable import CatalogArrays


def candidate_mask(
    catalog: CatalogArrays,
    owned: np.ndarray,
    segment: str | None,
    rules: RankingRules,
) -> np.ndarray:
    """Items the client may be offered, given the indices of the offers it owns."""
    n_items = len(catalog.kind)
    owned_flag = np.zeros(n_items, dtype=np.bool_)
    owned_flag[np.asarray(owned, dtype=np.int64)] = True
    mask = allowed_mask(catalog, segment, rules)
    if rules.exclude_owned:
        mask &= ~owned_flag
    if rules.check_prerequisites:
        for item in range(n_items):
            start, end = catalog.prereq_indptr[item], catalog.prereq_indptr[item + 1]
            if end > start and not owned_flag[catalog.prereq_indices[start:end]].all():
                mask[item] = False
    if rules.one_tariff_per_family:
        is_tariff = catalog.kind == TARIFF_CODE
        held = np.unique(catalog.family[owned_flag & is_tariff & (catalog.family >= 0)])
        mask &= ~(is_tariff & np.isin(catalog.family, held))
    return mask


def rank_reference(
    scores: np.ndarray,
    owned: np.ndarray,
    catalog: CatalogArrays,
    segment: str | None,
    rules: RankingRules,
    boost: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k item indices and their boosted float32 scores for one client."""
    total = np.asarray(scores, dtype=np.float32).copy()
    if boost is not None:
        total += np.asarray(boost, dtype=np.float32)
    mask = candidate_mask(catalog, owned, segment, rules) & np.isfinite(total)
    candidates = np.flatnonzero(mask)
    order = candidates[np.lexsort((candidates, -total[candidates]))]
    chosen: list[int] = []
    per_kind: dict[int, int] = {}
    for item in order:
        kind = int(catalog.kind[item])
        if rules.max_per_kind and per_kind.get(kind, 0) >= rules.max_per_kind:
            continue
        per_kind[kind] = per_kind.get(kind, 0) + 1
        chosen.append(int(item))
        if len(chosen) == rules.k:
            break
    index = np.asarray(chosen, dtype=np.int64)
    return index, total[index]
