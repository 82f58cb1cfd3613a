"""Numba kernels: score -> mask -> boost -> per-kind quota -> top-k, without a full sort.

Semantics are those of ``reference.rank_reference``. Instead of sorting every candidate, the
kernels keep one bounded min-heap per offer kind (one list in all when there is no quota: kept
sorted by insertion when short, ``SORTED_TOP_K``, else a heap):
greedy quota selection over the sorted order takes exactly the first k items of the union of
each kind's top ``min(max_per_kind, k)`` candidates, so those heaps hold every item that can be
chosen. One pass over the items, with a running threshold: an item costs a load of its score
the add of the boost when
there is one and one comparison; only an item that beats the threshold (about k log(n/k) of
them on typical scores) is checked against the rules and pushed. That makes a pass
O(n + h log k) for h heap insertions.

Items are scanned in increasing index order, so an item that only ties a heap's worst entry is
worse than it (ties go to the lower index) and is rejected: a strict ``>`` is the tie rule.

No allocation on the common path: without a quota the list or heap lives in the caller's
output arrays (a heap is heap-sorted there at the end). The client's owned offers, which are
few, are searched in place (linearly when few, by binary search when sorted); only a long
unsorted list is sorted into a copy. A quota allocates its per-kind heaps.

Arguments are few on purpose (each array argument costs the numba dispatcher type resolution
and unboxing on every call, about 0.1 us each): the catalog comes as one small int32 table with
a row per item (columns ``ITEM_*``, 16 bytes) plus a sentinel row, and the prerequisite
indices; the rules as one int64 ``params`` array (``PARAM_*``, then one allowed flag per kind
code); ``recommender.ranking.prepared`` builds and caches them. Only items that beat the
threshold read the table.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from recommender.ranking.heaps import INF, helper, lowest_threshold, sift_down, sift_up, worse

# columns of the per-item int32 table; it has one more row than there are items, whose
# ITEM_PREREQ_START closes the last item's prerequisites (a CSR pointer spread over the rows)
ITEM_KIND = 0  # kind code
ITEM_ELIGIBILITY = 1  # eligibility bits
ITEM_TARIFF_FAMILY = 2  # family of a tariff, -1 for anything else (one-tariff-per-family rule)
ITEM_PREREQ_START = 3  # prerequisites: prereq_indices[start : next row's start]
N_ITEM_COLUMNS = 4

# entries of ``params``
PARAM_K = 0
PARAM_MAX_PER_KIND = 1  # 0: no quota
PARAM_BITS = 2  # eligibility bits an offer must carry (single client; the batch passes its own)
PARAM_EXCLUDE_OWNED = 3
PARAM_CHECK_PREREQUISITES = 4
PARAM_ONE_TARIFF_PER_FAMILY = 5
PARAM_KIND_OK = 6  # then one allowed flag per kind code, to the end of the array

#: Lists up to this long (without a quota) are kept sorted by insertion rather than in a heap.
SORTED_TOP_K = 32

#: Owned offers up to this many are searched linearly when they are not sorted.
LINEAR_OWNED = 16

# Helpers (here and in ``heaps``) are plain jitted functions, which LLVM inlines. Not numba's
# ``inline="always"``: inlining at the numba level turns the helper's array parameters into
# local variables with their own reference counting (atomic NRT_incref/NRT_decref calls that
# LLVM cannot remove across the helper's loops), which made each item that passes the threshold
# cost ~5x more; a call between jitted functions borrows its array arguments instead.


@helper
def _contains(values: np.ndarray, value: int, ordered: bool) -> bool:
    """Whether ``value`` is in ``values``: binary search when ``ordered``, else a scan."""
    if not ordered:
        for t in range(values.shape[0]):  # noqa: SIM110 (no generators in numba)
            if values[t] == value:
                return True
        return False
    lo, hi = 0, values.shape[0]
    while lo < hi:
        mid = (lo + hi) >> 1
        if values[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    return bool(lo < values.shape[0] and values[lo] == value)


@helper
def _owned_ordered(owned: np.ndarray, n_items: int) -> bool:
    """Range-check the owned indices (nothing downstream bounds-checks); whether sorted."""
    ordered, previous = True, -1
    for t in range(owned.shape[0]):
        item = owned[t]
        if item < 0 or item >= n_items:
            raise IndexError("owned item index out of range for the catalog")
        if item < previous:
            ordered = False
        previous = item
    return ordered


@helper
def _held_families(owned: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Sorted families of the tariffs among ``owned`` (for long owned lists only)."""
    held = np.empty(owned.shape[0], dtype=np.int64)
    count = 0
    for t in range(owned.shape[0]):
        family = items[owned[t], ITEM_TARIFF_FAMILY]
        if family >= 0:
            held[count] = family
            count += 1
    return np.sort(held[:count])


@helper
def _family_held(
    family: int, owned: np.ndarray, items: np.ndarray, held: np.ndarray, use_held: bool
) -> bool:
    """Whether the client owns a tariff of ``family``."""
    if use_held:
        return _contains(held, family, True)
    for t in range(owned.shape[0]):  # noqa: SIM110 (no generators in numba)
        if items[owned[t], ITEM_TARIFF_FAMILY] == family:
            return True
    return False


@helper
def _prerequisites_owned(
    prereq_indices: np.ndarray, start: int, end: int, owned: np.ndarray, ordered: bool
) -> bool:
    """Whether the client owns every prerequisite ``prereq_indices[start:end]``."""
    for j in range(start, end):  # noqa: SIM110 (no generators in numba)
        if not _contains(owned, prereq_indices[j], ordered):
            return False
    return True


@helper
def _insert_sorted(
    scores: np.ndarray, items: np.ndarray, size: int, k: int, total: np.float32, item: int
) -> int:
    """Insert (total, item) into the best-first list ``scores/items[:size]`` of at most ``k``
    entries (the last drops out when full); returns the new size.

    Only for an item that beats the list's last total when full, with items scanned in
    increasing index order: the newcomer's index is the highest, so on equal totals it goes
    after, and comparing totals alone keeps the tie rule. For a short list this costs a few
    shifts and one branch miss where a heap's sift costs several.
    """
    pos = size if size < k else k - 1
    while pos > 0 and scores[pos - 1] < total:
        scores[pos] = scores[pos - 1]
        items[pos] = items[pos - 1]
        pos -= 1
    scores[pos] = total
    items[pos] = item
    return size + 1 if size < k else size


@helper
def _heapsort(heap_scores: np.ndarray, heap_items: np.ndarray, size: int) -> None:
    """Sort a min-heap (worst entry at the root) in place, best first."""
    for end in range(size - 1, 0, -1):
        heap_scores[0], heap_scores[end] = heap_scores[end], heap_scores[0]
        heap_items[0], heap_items[end] = heap_items[end], heap_items[0]
        sift_down(heap_scores, heap_items, 0, end)


@helper
def _merge(
    heap_scores: np.ndarray,
    heap_items: np.ndarray,
    sizes: np.ndarray,
    capacity: int,
    k: int,
    out_items: np.ndarray,
    out_scores: np.ndarray,
) -> int:
    """The best k entries of all per-kind heaps into ``out_*``, best first; returns how many."""
    count = 0
    for h in range(sizes.shape[0]):
        for e in range(h * capacity, h * capacity + sizes[h]):
            s, it = heap_scores[e], heap_items[e]
            if count == k and not worse(out_scores[k - 1], out_items[k - 1], s, it):
                continue
            # insertion into the bounded best-first list
            pos = min(count, k - 1)
            while pos > 0 and worse(out_scores[pos - 1], out_items[pos - 1], s, it):
                out_scores[pos] = out_scores[pos - 1]
                out_items[pos] = out_items[pos - 1]
                pos -= 1
            out_scores[pos] = s
            out_items[pos] = it
            count = min(count + 1, k)
    return count


# inlined into each entry point at numba's level: a call would pass a dozen arrays and count
# references to each (about 0.2 us per call, a tenth of a small catalog's ranking)
@njit(nogil=True, cache=True, inline="always")
def _select(
    scores: np.ndarray,
    boost: np.ndarray,
    owned: np.ndarray,
    items: np.ndarray,
    prereq_indices: np.ndarray,
    params: np.ndarray,
    bits: int,
    out_items: np.ndarray,
    out_scores: np.ndarray,
) -> int:
    """One client's top-k of ``scores`` (plus ``boost``) into ``out_*``.

    ``boost`` is empty for none. Returns the number of items written.
    """
    n_items = items.shape[0] - 1
    k, max_per_kind = params[PARAM_K], params[PARAM_MAX_PER_KIND]
    exclude_owned = params[PARAM_EXCLUDE_OWNED] != 0
    check_prerequisites = params[PARAM_CHECK_PREREQUISITES] != 0
    one_tariff_per_family = params[PARAM_ONE_TARIFF_PER_FAMILY] != 0
    kind_ok = params[PARAM_KIND_OK:]
    has_boost = boost.shape[0] > 0
    # the owned offers, searched in place unless a long unsorted list
    ordered = _owned_ordered(owned, n_items)
    lookup = owned
    if not ordered and owned.shape[0] > LINEAR_OWNED:
        lookup, ordered = np.sort(owned), True
    use_held = one_tariff_per_family and owned.shape[0] > LINEAR_OWNED
    held = _held_families(owned, items) if use_held else owned
    # heaps: without a quota, one heap in the output arrays (no allocation); with one, a heap
    # per kind, and what a total must beat to enter each: -inf until full, then its root
    quota = max_per_kind > 0
    # a short list without a quota is kept sorted instead (see _insert_sorted)
    sorted_list = not quota and k <= SORTED_TOP_K
    n_heaps = kind_ok.shape[0] if quota else 1
    capacity = min(max_per_kind, k) if quota else k
    if quota:
        heap_scores = np.empty(n_heaps * (capacity + 1), dtype=np.float32)
        heap_items = np.zeros(n_heaps * (capacity + 1), dtype=np.int64)
        thresholds = heap_scores[n_heaps * capacity :]
        thresholds[:] = -INF
        sizes = heap_items[n_heaps * capacity :]
    else:
        heap_scores, heap_items = out_scores, out_items
        thresholds, sizes = out_scores[:0], out_items[:0]
    size = 0  # of the single heap
    # ``floor``: the lowest threshold over heaps that can fill, kept in a register
    floor = -INF
    item, stop = 0, n_items  # one pass over the items, in index order
    while True:
        # the hot loop: skip to the next item whose total beats the floor (NaN and -inf
        # never do); nothing else lives in it, so it stays in registers
        if has_boost:
            while item < stop and not scores[item] + boost[item] > floor:
                item += 1
        else:
            while item < stop and not scores[item] > floor:
                item += 1
        if item >= stop:
            break
        candidate = item
        item += 1
        total = scores[candidate]
        if has_boost:
            total += boost[candidate]
        if total == INF:  # not finite either
            continue
        kind = items[candidate, ITEM_KIND]
        heap = kind if quota else 0
        if quota and not total > thresholds[heap]:
            continue
        # the rules of candidate_mask; the helpers with loops are calls LLVM may keep out
        # of line, so they are made only when there is something to search
        if not kind_ok[kind] or (items[candidate, ITEM_ELIGIBILITY] & bits) != bits:
            continue
        if exclude_owned and _contains(lookup, candidate, ordered):
            continue
        if check_prerequisites:
            first = items[candidate, ITEM_PREREQ_START]
            last = items[candidate + 1, ITEM_PREREQ_START]
            if first < last and not _prerequisites_owned(
                prereq_indices, first, last, lookup, ordered
            ):
                continue
        family = items[candidate, ITEM_TARIFF_FAMILY]
        if (
            one_tariff_per_family
            and family >= 0
            and _family_held(family, owned, items, held, use_held)
        ):
            continue
        if sorted_list:
            size = _insert_sorted(heap_scores, heap_items, size, capacity, total, candidate)
            if size == capacity:
                floor = heap_scores[capacity - 1]
            continue
        if not quota:
            if size < capacity:
                heap_scores[size] = total
                heap_items[size] = candidate
                sift_up(heap_scores, heap_items, 0, size)
                size += 1
                if size == capacity:
                    floor = heap_scores[0]
            else:
                heap_scores[0] = total
                heap_items[0] = candidate
                sift_down(heap_scores, heap_items, 0, size)
                floor = heap_scores[0]
            continue
        base, filled = heap * capacity, sizes[heap]
        if filled < capacity:
            heap_scores[base + filled] = total
            heap_items[base + filled] = candidate
            sift_up(heap_scores, heap_items, base, filled)
            sizes[heap] = filled + 1
            if filled + 1 == capacity:
                thresholds[heap] = heap_scores[base]
                floor = lowest_threshold(thresholds, kind_ok)
        else:
            heap_scores[base] = total
            heap_items[base] = candidate
            sift_down(heap_scores, heap_items, base, filled)
            thresholds[heap] = heap_scores[base]
            floor = lowest_threshold(thresholds, kind_ok)
    if not quota:
        if not sorted_list:
            _heapsort(heap_scores, heap_items, size)
        return size
    return _merge(heap_scores, heap_items, sizes, capacity, k, out_items, out_scores)


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
    for r in range(block_scores.shape[0]):
        client = row_offset + r
        owned = owned_indices[owned_indptr[client] : owned_indptr[client + 1]]
        row = block_scores[r]
        _select(
            row,
            boost,
            owned,
            items,
            prereq_indices,
            params,
            bits[client],
            out_items[client],
            out_scores[client],
        )
