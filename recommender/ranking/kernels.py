"""Numba kernels: score -> mask -> boost -> per-kind quota -> top-k, without a full sort.

Semantics are those of ``reference.rank_reference``. Instead of sorting every candidate, the
kernels keep one bounded min-heap per offer kind (one heap in all when there is no quota):
greedy quota selection over the sorted order takes exactly the first k items of the union of
each kind's top ``min(max_per_kind, k)`` candidates, so those heaps hold every item that can be
chosen. An item whose total does not beat its heap's worst entry is rejected by one comparison,
before the per-item rule checks; this makes a pass O(n + h log k) for h heap insertions.

Items are scanned in increasing index order, so an item that only ties a heap's worst entry is
worse than it (ties go to the lower index) and is rejected: a strict ``>`` is the tie rule.

Request-specific exclusions come from the client's owned offers, which are few: the kernels sort
them and test membership by binary search instead of building O(n) masks, and only for items
that pass the threshold.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from recommender.ranking.heaps import INF, drain, lowest_threshold, sift_down, sift_up

TARIFF_CODE = 0
# Helpers (here and in ``heaps``) are inlined at the numba level: a call between jitted
# functions increments and decrements the reference count of its array arguments (atomic
# operations), which can cost more than the work of the hot loop itself.
_inline = njit(inline="always", nogil=True, cache=True)
# Reassociation lets LLVM vectorize the dot products; no-NaN/no-inf flags stay off because the
# finiteness test is part of the semantics.
_FAST = {"reassoc", "contract", "nsz"}


@_inline
def _contains(sorted_values: np.ndarray, value: int) -> bool:
    """Binary search in a small sorted array."""
    lo, hi = 0, sorted_values.shape[0]
    while lo < hi:
        mid = (lo + hi) >> 1
        if sorted_values[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    return bool(lo < sorted_values.shape[0] and sorted_values[lo] == value)


@_inline
def _insert_sorted(values: np.ndarray, count: int, value: int) -> None:
    """Insert into the sorted ``values[:count]`` (insertion sort: numba's np.sort costs far
    more than this on the handful of offers a client owns)."""
    pos = count
    while pos > 0 and values[pos - 1] > value:
        values[pos] = values[pos - 1]
        pos -= 1
    values[pos] = value


@_inline
def _sorted_owned(owned: np.ndarray, n_items: int) -> np.ndarray:
    """The owned indices sorted, after checking them (nothing downstream bounds-checks)."""
    result = np.empty(owned.shape[0], dtype=np.int64)
    for t in range(owned.shape[0]):
        if owned[t] < 0 or owned[t] >= n_items:
            raise IndexError("owned item index out of range for the catalog")
        _insert_sorted(result, t, owned[t])
    return result


@_inline
def _held_families(owned: np.ndarray, kind: np.ndarray, family: np.ndarray) -> np.ndarray:
    """Sorted families of the tariffs the client owns (the one-per-family rule)."""
    held = np.empty(owned.shape[0], dtype=np.int64)
    count = 0
    for t in range(owned.shape[0]):
        item = owned[t]
        if kind[item] == TARIFF_CODE and family[item] >= 0:
            _insert_sorted(held, count, family[item])
            count += 1
    return held[:count]


@_inline
def _prerequisites_owned(
    indptr: np.ndarray, indices: np.ndarray, item: int, owned_sorted: np.ndarray
) -> bool:
    """Whether the client owns every prerequisite of ``item``."""
    for j in range(indptr[item], indptr[item + 1]):  # noqa: SIM110 (no generators in numba)
        if not _contains(owned_sorted, indices[j]):
            return False
    return True


@njit(nogil=True, cache=True, fastmath=_FAST)
def _select(
    scores: np.ndarray,
    vector: np.ndarray,
    factors: np.ndarray,
    use_factors: bool,
    boost: np.ndarray,
    kind: np.ndarray,
    family: np.ndarray,
    eligibility: np.ndarray,
    prereq_indptr: np.ndarray,
    prereq_indices: np.ndarray,
    kind_ok: np.ndarray,
    bits: int,
    owned: np.ndarray,
    flags: np.ndarray,
    k: int,
    max_per_kind: int,
    out_items: np.ndarray,
    out_scores: np.ndarray,
) -> int:
    """One client's top-k into ``out_*``; totals are ``scores`` or ``factors @ vector``.

    ``boost`` is empty for none. Returns the number of items written.
    """
    n_items, dim = kind.shape[0], vector.shape[0]
    owned_sorted = _sorted_owned(owned, n_items)
    held = _held_families(owned_sorted, kind, family)
    quota = max_per_kind > 0
    n_heaps = kind_ok.shape[0] if quota else 1
    capacity = min(max_per_kind, k) if quota else k
    heap_scores = np.empty(n_heaps * capacity, dtype=np.float32)
    heap_items = np.empty(n_heaps * capacity, dtype=np.int64)
    sizes = np.zeros(n_heaps, dtype=np.int64)
    # what a total must beat to enter each heap: -inf until the heap is full, then its root;
    # ``floor`` is the lowest over heaps that can fill, kept in a register for the hot test
    thresholds = np.full(n_heaps, -INF, dtype=np.float32)
    floor = -INF
    has_boost = boost.shape[0] > 0
    for item in range(n_items):
        if use_factors:
            total = np.float32(0.0)
            for j in range(dim):
                total += factors[item, j] * vector[j]
        else:
            total = scores[item]
        if has_boost:
            total += boost[item]
        # NaN and -inf fail the first test; +inf is not finite either
        if not total > floor or total == INF:
            continue
        heap = int(kind[item]) if quota else 0
        if not total > thresholds[heap]:
            continue
        # the rules of candidate_mask, written out here rather than in a helper: a call with
        # this many array arguments costs its reference counting on every item that gets here
        if not kind_ok[kind[item]] or (eligibility[item] & bits) != bits:
            continue
        if flags[0] and _contains(owned_sorted, item):
            continue
        if flags[1] and not _prerequisites_owned(prereq_indptr, prereq_indices, item, owned_sorted):
            continue
        tariff_in_family = flags[2] and kind[item] == TARIFF_CODE and family[item] >= 0
        if tariff_in_family and _contains(held, family[item]):
            continue
        base, size = heap * capacity, sizes[heap]
        if size < capacity:
            heap_scores[base + size] = total
            heap_items[base + size] = item
            sift_up(heap_scores, heap_items, base, size)
            sizes[heap] = size + 1
            if size + 1 == capacity:
                thresholds[heap] = heap_scores[base]
                floor = lowest_threshold(thresholds, kind_ok, quota)
        else:
            heap_scores[base] = total
            heap_items[base] = item
            sift_down(heap_scores, heap_items, base, size)
            thresholds[heap] = heap_scores[base]
            floor = lowest_threshold(thresholds, kind_ok, quota)
    return drain(heap_scores, heap_items, sizes, capacity, k, out_items, out_scores)


@njit(nogil=True, cache=True)
def select_rows(
    block_scores: np.ndarray,
    row_offset: int,
    boost: np.ndarray,
    kind: np.ndarray,
    family: np.ndarray,
    eligibility: np.ndarray,
    prereq_indptr: np.ndarray,
    prereq_indices: np.ndarray,
    kind_ok: np.ndarray,
    bits: np.ndarray,
    owned_indptr: np.ndarray,
    owned_indices: np.ndarray,
    flags: np.ndarray,
    k: int,
    max_per_kind: int,
    out_items: np.ndarray,
    out_scores: np.ndarray,
) -> None:
    """Batch path: top-k of each row of a score block (clients ``row_offset + r``).

    ``out_*`` rows must be pre-filled with the padding (-1, -inf). Sequential on purpose: the
    BLAS product between blocks already uses every core, and a parallel region here made its
    threads and BLAS's spin against each other (6x slower than sequential on 2 cores).
    """
    empty = np.empty((0, 0), dtype=np.float32)
    no_vector = np.empty(0, dtype=np.float32)
    for r in range(block_scores.shape[0]):
        client = row_offset + r
        owned = owned_indices[owned_indptr[client] : owned_indptr[client + 1]]
        _select(
            block_scores[r],
            no_vector,
            empty,
            False,
            boost,
            kind,
            family,
            eligibility,
            prereq_indptr,
            prereq_indices,
            kind_ok,
            bits[client],
            owned,
            flags,
            k,
            max_per_kind,
            out_items[client],
            out_scores[client],
        )


@njit(nogil=True, cache=True)
def select_scores(
    scores: np.ndarray,
    boost: np.ndarray,
    kind: np.ndarray,
    family: np.ndarray,
    eligibility: np.ndarray,
    prereq_indptr: np.ndarray,
    prereq_indices: np.ndarray,
    kind_ok: np.ndarray,
    bits: int,
    owned: np.ndarray,
    flags: np.ndarray,
    k: int,
    max_per_kind: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Single client, precomputed float32 scores: (item indices, totals), best first."""
    out_items = np.empty(k, dtype=np.int64)
    out_scores = np.empty(k, dtype=np.float32)
    taken = _select(
        scores,
        np.empty(0, dtype=np.float32),
        np.empty((0, 0), dtype=np.float32),
        False,
        boost,
        kind,
        family,
        eligibility,
        prereq_indptr,
        prereq_indices,
        kind_ok,
        bits,
        owned,
        flags,
        k,
        max_per_kind,
        out_items,
        out_scores,
    )
    return out_items[:taken], out_scores[:taken]


@njit(nogil=True, cache=True)
def select_factors(
    vector: np.ndarray,
    factors: np.ndarray,
    boost: np.ndarray,
    kind: np.ndarray,
    family: np.ndarray,
    eligibility: np.ndarray,
    prereq_indptr: np.ndarray,
    prereq_indices: np.ndarray,
    kind_ok: np.ndarray,
    bits: int,
    owned: np.ndarray,
    flags: np.ndarray,
    k: int,
    max_per_kind: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Single client, fused ``factors @ vector`` + rules + top-k: (item indices, totals)."""
    out_items = np.empty(k, dtype=np.int64)
    out_scores = np.empty(k, dtype=np.float32)
    taken = _select(
        np.empty(0, dtype=np.float32),
        vector,
        factors,
        True,
        boost,
        kind,
        family,
        eligibility,
        prereq_indptr,
        prereq_indices,
        kind_ok,
        bits,
        owned,
        flags,
        k,
        max_per_kind,
        out_items,
        out_scores,
    )
    return out_items[:taken], out_scores[:taken]
