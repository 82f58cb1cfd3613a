"""Turn a catalog, a segment and ``RankingRules`` into the plain arrays the kernels take.

The catalog part is checked and converted once per ``CatalogArrays`` object (cached weakly,
so a reloaded model's catalog is prepared afresh and the old one can be collected); the rules
part is a few tiny arrays cached per distinct rule set. What remains per request is O(owned).
"""

from __future__ import annotations

import weakref
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from recommender.catalog import ELIGIBLE_B2B, ELIGIBLE_B2G
from recommender.domain import Segment
from recommender.ranking.rules import RankingRules
from recommender.servable import CatalogArrays

_SEGMENT_BITS = {Segment.B2B.value: ELIGIBLE_B2B, Segment.B2G.value: ELIGIBLE_B2G}
_ANY_SEGMENT = ELIGIBLE_B2B | ELIGIBLE_B2G


class KernelCatalog(NamedTuple):
    """Catalog arrays in the dtypes and layout the kernels are compiled for."""

    kind: np.ndarray  # int8
    family: np.ndarray  # int64
    eligibility: np.ndarray  # int64
    prereq_indptr: np.ndarray  # int64, n + 1
    prereq_indices: np.ndarray  # int64
    kind_names: tuple[str, ...]

    @property
    def n_items(self) -> int:
        return int(self.kind.shape[0])


class KernelRules(NamedTuple):
    """Per-rule-set arrays: allowed kind codes and the three exclusion switches."""

    kind_ok: np.ndarray  # bool, one per kind code
    flags: np.ndarray  # bool: exclude owned, check prerequisites, one tariff per family
    k: int
    max_per_kind: int
    check_eligibility: bool


_CATALOGS: weakref.WeakKeyDictionary[CatalogArrays, KernelCatalog] = weakref.WeakKeyDictionary()


def kernel_catalog(catalog: CatalogArrays) -> KernelCatalog:
    """The checked kernel view of ``catalog``, computed once per catalog object."""
    prepared = _CATALOGS.get(catalog)
    if prepared is None:
        prepared = _prepare_catalog(catalog)
        _CATALOGS[catalog] = prepared
    return prepared


def _prepare_catalog(catalog: CatalogArrays) -> KernelCatalog:
    n_items = len(catalog.kind)
    kind = _writable(catalog.kind, np.int8)
    indptr = _writable(catalog.prereq_indptr, np.int64)
    indices = _writable(catalog.prereq_indices, np.int64)
    # the kernels do not bounds-check, so a malformed catalog must fail here, loudly
    if n_items and (kind.min() < 0 or kind.max() >= len(catalog.kind_names)):
        raise ValueError("catalog.kind: codes outside kind_names")
    if len(catalog.family) != n_items or len(catalog.eligibility) != n_items:
        raise ValueError("catalog.family / catalog.eligibility: length differs from kind")
    if indptr.shape != (n_items + 1,) or indptr[0] != 0 or np.any(np.diff(indptr) < 0):
        raise ValueError("catalog.prereq_indptr: not a CSR pointer array over the items")
    if indptr[-1] != len(indices) or (
        len(indices) and (indices.min() < 0 or indices.max() >= n_items)
    ):
        raise ValueError("catalog.prereq_indices: length or item indices out of range")
    return KernelCatalog(
        kind=kind,
        family=_writable(catalog.family, np.int64),
        eligibility=_writable(catalog.eligibility, np.int64),
        prereq_indptr=indptr,
        prereq_indices=indices,
        kind_names=tuple(catalog.kind_names),
    )


def _writable(values: np.ndarray, dtype: type[np.generic]) -> np.ndarray:
    """A contiguous array of ``dtype``; copied when read-only (numba types those apart)."""
    array = np.ascontiguousarray(values, dtype=dtype)
    return array if array.flags.writeable else array.copy()


@lru_cache(maxsize=256)
def kernel_rules(rules: RankingRules, kind_names: tuple[str, ...]) -> KernelRules:
    """The kernel arrays for a rule set (rules are frozen, so this is cached)."""
    kind_ok = np.ones(len(kind_names), dtype=np.bool_)
    if rules.kinds is not None:
        kind_ok[:] = False
        for name in rules.kinds:
            kind_ok[kind_names.index(name)] = True
    flags = np.array(
        [rules.exclude_owned, rules.check_prerequisites, rules.one_tariff_per_family],
        dtype=np.bool_,
    )
    return KernelRules(kind_ok, flags, rules.k, rules.max_per_kind, rules.check_eligibility)


def segment_bits(segment: str | None, rules: RankingRules | KernelRules) -> int:
    """Eligibility bits an offer must carry for this segment (0 when eligibility is off).

    As in ``allowed_mask``: an unknown or missing segment needs offers open to both.
    """
    if not rules.check_eligibility:
        return 0
    return _SEGMENT_BITS.get(str(segment), _ANY_SEGMENT)


def owned_array(owned: np.ndarray) -> np.ndarray:
    """Owned item indices as contiguous int64 (the kernels range-check them, for speed)."""
    return np.ascontiguousarray(owned, dtype=np.int64).reshape(-1)


def boost_array(boost: np.ndarray | None, n_items: int) -> np.ndarray:
    """The boost as contiguous float32 of length ``n_items``, or an empty array for none."""
    if boost is None:
        return _NO_BOOST
    array = np.ascontiguousarray(boost, dtype=np.float32).reshape(-1)
    if array.shape[0] != n_items:
        raise ValueError(f"boost has {array.shape[0]} values for {n_items} items")
    return array


# writable on purpose: numba compiles read-only arrays as a separate signature
_NO_BOOST = np.empty(0, dtype=np.float32)
