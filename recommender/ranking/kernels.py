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

Arguments are few on purpose (each array argument costs the numba dispatcher type resolution
and unboxing on every call, about 0.1 us each): the catalog comes as one int64 table with a row
per item (columns ``ITEM_*``) plus the prerequisite indices, and the rules as one int64
``params`` array (``PARAM_*``, then one allowed flag per kind code); ``prepared.KernelPlan``
builds and caches them.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from recommender.ranking.heaps import INF, drain, helper, lowest_threshold, sift_down, sift_up

# columns of the per-item table
ITEM_KIND = 0  # kind code
ITEM_ELIGIBILITY = 1  # eligibility bits
ITEM_TARIFF_FAMILY = 2  # family of a tariff, -1 for anything else (one-tariff-per-family rule)
ITEM_PREREQ_START = 3  # prerequisites: prereq_indices[start:end]
ITEM_PREREQ_END = 4
N_ITEM_COLUMNS = 5

# entries of ``params``
PARAM_K = 0
PARAM_MAX_PER_KIND = 1  # 0: no quota
PARAM_BITS = 2  # eligibility bits an offer must carry (single client; the batch passes its own)
PARAM_EXCLUDE_OWNED = 3
PARAM_CHECK_PREREQUISITES = 4
PARAM_ONE_TARIFF_PER_FAMILY = 5
PARAM_KIND_OK = 6  # then one allowed flag per kind code, to the end of the array

#: Items whose dot products are computed at a time, into a buffer that stays in L1.
DOT_BLOCK = 256

# Helpers (here and in ``heaps``) are plain jitted functions, which LLVM inlines. Not numba's
# ``inline="always"``: inlining at the numba level turns the helper's array parameters into
# local variables with their own reference counting (atomic NRT_incref/NRT_decref calls that
# LLVM cannot remove across the helper's loops), which made each item that passes the threshold
# cost ~5x more; a call between jitted functions borrows its array arguments instead.


@njit(nogil=True, cache=True, fastmath={"reassoc", "contract", "nsz"})
def dot_rows(
    factors: np.ndarray, vector: np.ndarray, start: int, stop: int, out: np.ndarray
) -> None:
    """``out[i - start] = factors[i] @ vector`` for ``start <= i < stop``.

    The only fast-math code: reassociation lets LLVM vectorize each row's sum over its
    contiguous factors, and four rows at a time share the loads of ``vector`` and amortize the
    horizontal reductions (about 2x over one row at a time). No-NaN/no-inf flags stay off, so a
    NaN or infinite factor still gives a non-finite total that the ranking drops.
    """
    dim = vector.shape[0]
    i = start
    while i + 4 <= stop:
        t0 = t1 = t2 = t3 = np.float32(0.0)
        for j in range(dim):
            x = vector[j]
            t0 += factors[i, j] * x
            t1 += factors[i + 1, j] * x
            t2 += factors[i + 2, j] * x
            t3 += factors[i + 3, j] * x
        out[i - start] = t0
        out[i + 1 - start] = t1
        out[i + 2 - start] = t2
        out[i + 3 - start] = t3
        i += 4
    while i < stop:
        total = np.float32(0.0)
        for j in range(dim):
            total += factors[i, j] * vector[j]
        out[i - start] = total
        i += 1


@helper
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


@helper
def _insert_sorted(values: np.ndarray, count: int, value: int) -> None:
    """Insert into the sorted ``values[:count]`` (insertion sort: numba's np.sort costs far
    more than this on the handful of offers a client owns)."""
    pos = count
    while pos > 0 and values[pos - 1] > value:
        values[pos] = values[pos - 1]
        pos -= 1
    values[pos] = value


@helper
def _sorted_owned_and_families(
    owned: np.ndarray, items: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The owned indices sorted (after checking them: nothing downstream bounds-checks), and
    the sorted families of the tariffs among them (the one-per-family rule); one allocation."""
    n_owned = owned.shape[0]
    work = np.empty(2 * n_owned, dtype=np.int64)
    owned_sorted, held = work[:n_owned], work[n_owned:]
    n_items, count = items.shape[0], 0
    for t in range(n_owned):
        item = owned[t]
        if item < 0 or item >= n_items:
            raise IndexError("owned item index out of range for the catalog")
        _insert_sorted(owned_sorted, t, item)
        family = items[item, ITEM_TARIFF_FAMILY]
        if family >= 0:
            _insert_sorted(held, count, family)
            count += 1
    return owned_sorted, held[:count]


@helper
def _prerequisites_owned(
    prereq_indices: np.ndarray, start: int, end: int, owned_sorted: np.ndarray
) -> bool:
    """Whether the client owns every prerequisite ``prereq_indices[start:end]``."""
    for j in range(start, end):  # noqa: SIM110 (no generators in numba)
        if not _contains(owned_sorted, prereq_indices[j]):
            return False
    return True


@njit(nogil=True, cache=True)
def _select(
    scores: np.ndarray,
    vector: np.ndarray,
    factors: np.ndarray,
    use_factors: bool,
    boost: np.ndarray,
    owned: np.ndarray,
    items: np.ndarray,
    prereq_indices: np.ndarray,
    params: np.ndarray,
    bits: int,
    out_items: np.ndarray,
    out_scores: np.ndarray,
) -> int:
    """One client's top-k into ``out_*``; totals are ``scores`` or ``factors @ vector``.

    ``boost`` is empty for none. Returns the number of items written.
    """
    n_items = items.shape[0]
    k, max_per_kind = params[PARAM_K], params[PARAM_MAX_PER_KIND]
    exclude_owned = params[PARAM_EXCLUDE_OWNED] != 0
    check_prerequisites = params[PARAM_CHECK_PREREQUISITES] != 0
    one_tariff_per_family = params[PARAM_ONE_TARIFF_PER_FAMILY] != 0
    kind_ok = params[PARAM_KIND_OK:]
    owned_sorted, held = _sorted_owned_and_families(owned, items)
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
    # totals[item - offset]: the scores in one pass, or blocks of fused dot products
    step = DOT_BLOCK if use_factors else max(n_items, 1)
    block = np.empty(min(step, n_items) if use_factors else 0, dtype=np.float32)
    totals, offset = scores, 0
    for start in range(0, n_items, step):
        stop = min(start + step, n_items)
        if use_factors:
            dot_rows(factors, vector, start, stop, block)
            totals, offset = block, start
        for item in range(start, stop):
            total = totals[item - offset]
            if has_boost:
                total += boost[item]
            # NaN and -inf fail the first test; +inf is not finite either
            if not total > floor or total == INF:
                continue
            kind = items[item, ITEM_KIND]
            heap = kind if quota else 0
            if not total > thresholds[heap]:
                continue
            # the rules of candidate_mask; the helpers with loops are calls LLVM may keep out
            # of line, so they are made only when there is something to search
            if not kind_ok[kind] or (items[item, ITEM_ELIGIBILITY] & bits) != bits:
                continue
            if exclude_owned and _contains(owned_sorted, item):
                continue
            first, last = items[item, ITEM_PREREQ_START], items[item, ITEM_PREREQ_END]
            if (
                check_prerequisites
                and first < last
                and not _prerequisites_owned(prereq_indices, first, last, owned_sorted)
            ):
                continue
            family = items[item, ITEM_TARIFF_FAMILY]
            if one_tariff_per_family and family >= 0 and _contains(held, family):
                continue
            base, size = heap * capacity, sizes[heap]
            if size < capacity:
                heap_scores[base + size] = total
                heap_items[base + size] = item
                sift_up(heap_scores, heap_items, base, size)
                sizes[heap] = size + 1
                if size + 1 == capacity:
                    thresholds[heap] = heap_scores[base]
                    floor = lowest_threshold(thresholds, kind_ok) if quota else thresholds[0]
            else:
                heap_scores[base] = total
                heap_items[base] = item
                sift_down(heap_scores, heap_items, base, size)
                thresholds[heap] = heap_scores[base]
                floor = lowest_threshold(thresholds, kind_ok) if quota else thresholds[0]
    return drain(heap_scores, heap_items, sizes, capacity, k, out_items, out_scores)


@njit(nogil=True, cache=True)
def select_rows(
    block_scores: np.ndarray,
    row_offset: int,
    boost: np.ndarray,
    items: np.ndarray,
    prereq_indices: np.ndarray,
    params: np.ndarray,
    bits: np.ndarray,
    owned_indptr: np.ndarray,
    owned_indices: np.ndarray,
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
            owned,
            items,
            prereq_indices,
            params,
            bits[client],
            out_items[client],
            out_scores[client],
        )


@njit(nogil=True, cache=True)
def select_scores(
    scores: np.ndarray,
    boost: np.ndarray,
    owned: np.ndarray,
    items: np.ndarray,
    prereq_indices: np.ndarray,
    params: np.ndarray,
    out_items: np.ndarray,
    out_scores: np.ndarray,
) -> int:
    """Single client, precomputed float32 scores: the top ``params[PARAM_K]`` item indices and
    totals, best first, into ``out_*``; returns how many were written.

    The caller allocates the outputs: numpy's allocation costs less than turning arrays
    allocated here into Python objects on return.
    """
    return _select(
        scores,
        np.empty(0, dtype=np.float32),
        np.empty((0, 0), dtype=np.float32),
        False,
        boost,
        owned,
        items,
        prereq_indices,
        params,
        params[PARAM_BITS],
        out_items,
        out_scores,
    )


@njit(nogil=True, cache=True)
def select_factors(
    vector: np.ndarray,
    factors: np.ndarray,
    boost: np.ndarray,
    owned: np.ndarray,
    items: np.ndarray,
    prereq_indices: np.ndarray,
    params: np.ndarray,
    out_items: np.ndarray,
    out_scores: np.ndarray,
) -> int:
    """Single client, fused ``factors @ vector`` + rules + top-k; as ``select_scores``."""
    return _select(
        np.empty(0, dtype=np.float32),
        vector,
        factors,
        True,
        boost,
        owned,
        items,
        prereq_indices,
        params,
        params[PARAM_BITS],
        out_items,
        out_scores,
    )
