"""Turn a catalog and ``RankingRules`` into the few arrays the kernels take.

The catalog part (a compact int32 per-item table and the prerequisite indices, see
``kernels.ITEM_*``) is checked and built once per ``CatalogArrays`` object (cached weakly, so a
reloaded model's catalog is prepared afresh and the old one can be collected); the rules part is
one small int64 array per distinct rule set, cached.
"""

from __future__ import annotations

import weakref
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from recommender.catalog import ELIGIBLE_B2B, ELIGIBLE_B2G
from recommender.domain import Segment
from recommender.ranking import kernels
from recommender.ranking.rules import TARIFF_CODE, RankingRules
from recommender.servable import CatalogArrays

_SEGMENT_BITS = {Segment.B2B.value: ELIGIBLE_B2B, Segment.B2G.value: ELIGIBLE_B2G}
_ANY_SEGMENT = ELIGIBLE_B2B | ELIGIBLE_B2G


class KernelCatalog(NamedTuple):
    """The catalog in the layout the kernels are compiled for."""

    items: np.ndarray  # int32 (n_items + 1, kernels.N_ITEM_COLUMNS): the last row a sentinel
    prereq_indices: np.ndarray  # int64
    kind_names: tuple[str, ...]

    @property
    def n_items(self) -> int:
        return int(self.items.shape[0]) - 1


_CATALOGS: weakref.WeakKeyDictionary[CatalogArrays, KernelCatalog] = weakref.WeakKeyDictionary()


def kernel_catalog(catalog: CatalogArrays) -> KernelCatalog:
    """The checked kernel view of ``catalog``, computed once per catalog object.

    Raises ``ValueError`` for a malformed catalog (the kernels do not bounds-check).
    """
    prepared = _CATALOGS.get(catalog)
    if prepared is None:
        prepared = _prepare_catalog(catalog)
        _CATALOGS[catalog] = prepared
    return prepared


def _prepare_catalog(catalog: CatalogArrays) -> KernelCatalog:
    n_items = len(catalog.kind)
    kind = np.asarray(catalog.kind, dtype=np.int64).reshape(-1)
    family = np.asarray(catalog.family, dtype=np.int64).reshape(-1)
    eligibility = np.asarray(catalog.eligibility, dtype=np.int64).reshape(-1)
    indptr = np.asarray(catalog.prereq_indptr, dtype=np.int64).reshape(-1)
    indices = np.array(catalog.prereq_indices, dtype=np.int64).reshape(-1)  # a writable copy
    # the kernels do not bounds-check, so a malformed catalog must fail here, loudly
    if n_items and (kind.min() < 0 or kind.max() >= len(catalog.kind_names)):
        raise ValueError("catalog.kind: codes outside kind_names")
    if len(family) != n_items or len(eligibility) != n_items:
        raise ValueError("catalog.family / catalog.eligibility: length differs from kind")
    if indptr.shape != (n_items + 1,) or indptr[0] != 0 or np.any(np.diff(indptr) < 0):
        raise ValueError("catalog.prereq_indptr: not a CSR pointer array over the items")
    if indptr[-1] != len(indices) or (
        len(indices) and (indices.min() < 0 or indices.max() >= n_items)
    ):
        raise ValueError("catalog.prereq_indices: length or item indices out of range")
    if len(catalog.kind_names) > np.iinfo(np.int32).max or len(indices) > np.iinfo(np.int32).max:
        raise ValueError("catalog: too many kinds or prerequisites for the kernels' int32 table")
    # one 16-byte row per item, plus a sentinel row that closes the last prerequisite range
    items = np.zeros((n_items + 1, kernels.N_ITEM_COLUMNS), dtype=np.int32)
    items[:n_items, kernels.ITEM_KIND] = kind
    items[:n_items, kernels.ITEM_ELIGIBILITY] = eligibility
    items[:n_items, kernels.ITEM_TARIFF_FAMILY] = np.where(
        (kind == TARIFF_CODE) & (family >= 0), family, -1
    )
    items[n_items, kernels.ITEM_TARIFF_FAMILY] = -1
    items[:, kernels.ITEM_PREREQ_START] = indptr
    return KernelCatalog(items=items, prereq_indices=indices, kind_names=tuple(catalog.kind_names))


@lru_cache(maxsize=1024)
def kernel_params(rules: RankingRules, kind_names: tuple[str, ...], bits: int) -> np.ndarray:
    """The kernels' ``params`` for a rule set and the segment's eligibility bits.

    Cached and shared between calls: writable only because numba compiles read-only arrays as
    a separate signature; nothing may modify it.
    """
    kind_ok = np.ones(len(kind_names), dtype=np.int64)
    if rules.kinds is not None:
        kind_ok[:] = 0
        for name in rules.kinds:
            kind_ok[kind_names.index(name)] = 1
    head = np.zeros(kernels.PARAM_KIND_OK, dtype=np.int64)
    head[kernels.PARAM_K] = rules.k
    head[kernels.PARAM_MAX_PER_KIND] = rules.max_per_kind
    head[kernels.PARAM_BITS] = bits
    head[kernels.PARAM_EXCLUDE_OWNED] = rules.exclude_owned
    head[kernels.PARAM_CHECK_PREREQUISITES] = rules.check_prerequisites
    head[kernels.PARAM_ONE_TARIFF_PER_FAMILY] = rules.one_tariff_per_family
    return np.concatenate([head, kind_ok])


def segment_bits(segment: str | None, rules: RankingRules) -> int:
    """Eligibility bits an offer must carry for this segment (0 when eligibility is off).

    As in ``allowed_mask``: an unknown or missing segment needs offers open to both.
    """
    if not rules.check_eligibility:
        return 0
    return _SEGMENT_BITS.get(str(segment), _ANY_SEGMENT)


# writable on purpose: numba types read-only arrays apart
NO_BOOST = np.empty(0, dtype=np.float32)
