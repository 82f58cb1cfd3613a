"""The numba kernels against the numpy reference: hand-built rules, then hypothesis."""

from __future__ import annotations

import threading
from typing import Any, NamedTuple

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recommender.catalog import KIND_NAMES
from recommender.ranking import RankingRules, rank_reference
from recommender.ranking.kernels import SORTED_TOP_K
from recommender.ranking.prepared import kernel_catalog
from recommender.ranking.select import select_block
from recommender.ranking.warmup import warm_up
from recommender.scoring.kernels import add_owned_pairs, dot_block
from recommender.servable import CatalogArrays

TARIFF, COURSE, ADDON = 0, 1, 2


def make_catalog(
    kind: list[int],
    family: list[int],
    eligibility: list[int],
    prerequisites: list[list[int]],
) -> CatalogArrays:
    indptr = np.cumsum([0] + [len(p) for p in prerequisites]).astype(np.int64)
    indices = np.array([i for p in prerequisites for i in sorted(p)], dtype=np.int64)
    n = len(kind)
    return CatalogArrays(
        kind=np.array(kind, dtype=np.int8),
        kind_names=KIND_NAMES,
        family=np.array(family, dtype=np.int32),
        family_names=tuple(f"f{i}" for i in range(max(family, default=-1) + 1)),
        eligibility=np.array(eligibility, dtype=np.int8),
        prereq_indptr=indptr,
        prereq_indices=indices,
        price=np.zeros(n, dtype=np.float32),
        margin=np.zeros(n, dtype=np.float32),
    )


# 0 tariff basic (family 0), 1 tariff pro (family 0), 2 course intro, 3 course advanced
# (needs 2), 4 add-on for B2B only, 5 add-on for both
SIX = make_catalog(
    kind=[TARIFF, TARIFF, COURSE, COURSE, ADDON, ADDON],
    family=[0, 0, -1, -1, -1, -1],
    eligibility=[3, 3, 3, 3, 1, 3],
    prerequisites=[[], [], [], [2], [], []],
)
SIX_SCORES = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4], dtype=np.float32)


def rank_batch(
    scores: np.ndarray,
    owned_indptr: np.ndarray,
    owned_indices: np.ndarray,
    catalog: CatalogArrays,
    segments: list[str | None],
    rules: RankingRules,
    boost: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``select_block`` over score rows (plus a per-offer boost), as the policy calls it."""
    totals = np.asarray(scores, dtype=np.float32)
    if boost is not None:
        totals = (totals + boost[None, :]).astype(np.float32)
    return select_block(
        np.ascontiguousarray(totals),
        np.asarray(owned_indptr, dtype=np.int64),
        np.asarray(owned_indices, dtype=np.int64),
        segments,
        kernel_catalog(catalog),
        rules,
    )


def rank_scores(
    scores: np.ndarray,
    owned: np.ndarray,
    catalog: CatalogArrays,
    segment: str | None,
    rules: RankingRules,
    boost: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One client's list (padding removed)."""
    owned = np.asarray(owned, dtype=np.int64)
    items, totals = rank_batch(
        scores[None, :], np.array([0, len(owned)]), owned, catalog, [segment], rules, boost
    )
    taken = int((items[0] >= 0).sum())
    return items[0, :taken], totals[0, :taken]


def dot(vectors: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """The scorers' deterministic dot products, (clients, offers)."""
    out = np.empty((len(vectors), len(factors)), dtype=np.float32)
    dot_block(vectors, factors, np.arange(len(vectors), dtype=np.int64), out)
    return out


def rank_factors(
    vector: np.ndarray,
    factors: np.ndarray,
    owned: np.ndarray,
    catalog: CatalogArrays,
    segment: str | None,
    rules: RankingRules,
    boost: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    return rank_scores(dot(vector[None, :], factors)[0], owned, catalog, segment, rules, boost)


def assert_same(got: tuple[np.ndarray, np.ndarray], want: tuple[np.ndarray, np.ndarray]) -> None:
    assert got[0].dtype == np.int64
    assert got[1].dtype == np.float32
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def six(owned: list[int], segment: str | None = "B2B", **rules: Any) -> list[int]:
    """Rank the six-offer catalog; also checks the reference agrees."""
    params = RankingRules(**{"k": 6, **rules})
    result = rank_scores(SIX_SCORES, np.array(owned), SIX, segment, params)
    assert_same(result, rank_reference(SIX_SCORES, np.array(owned), SIX, segment, params))
    return list(result[0].tolist())


def test_nothing_owned_everything_but_the_course_missing_its_prerequisite() -> None:
    assert six([]) == [0, 1, 2, 4, 5]


def test_owned_offer_is_excluded_and_unlocks_the_next_course() -> None:
    assert six([2]) == [0, 1, 3, 4, 5]


def test_an_owned_tariff_excludes_the_rest_of_its_family() -> None:
    assert six([0]) == [2, 4, 5]


def test_b2b_only_offer_is_excluded_for_b2g_and_unknown_segments() -> None:
    assert six([], "B2G") == [0, 1, 2, 5]
    assert six([], None) == [0, 1, 2, 5]


def test_quota_of_one_per_kind() -> None:
    assert six([], max_per_kind=1) == [0, 2, 4]


def test_kind_filter() -> None:
    assert six([2], kinds=frozenset({"course", "addon"}), k=2) == [3, 4]


def test_switched_off_rules_let_everything_through() -> None:
    off = {"exclude_owned": False, "check_prerequisites": False, "one_tariff_per_family": False}
    assert six([0], "B2G", check_eligibility=False, **off) == [0, 1, 2, 3, 4, 5]


def test_ties_go_to_the_lower_index_and_non_finite_scores_are_dropped() -> None:
    scores = np.array([1.0, 2.0, 1.0, np.nan, 2.0, np.inf], dtype=np.float32)
    rules = RankingRules(k=6, check_prerequisites=False, check_eligibility=False)
    got = rank_scores(scores, np.array([], dtype=np.int64), SIX, "B2B", rules)
    assert got[0].tolist() == [1, 4, 0, 2]
    assert_same(got, rank_reference(scores, np.array([], dtype=np.int64), SIX, "B2B", rules))


def test_boost_is_added_before_ranking() -> None:
    boost = np.array([0, 0, 0, 0, 0, 1], dtype=np.float32)
    got = rank_scores(SIX_SCORES, np.array([]), SIX, "B2B", RankingRules(k=2), boost)
    assert got[0].tolist() == [5, 0]
    assert got[1][0] == np.float32(0.4) + np.float32(1.0)


def test_bad_inputs_fail_before_the_kernel() -> None:
    with pytest.raises(ValueError, match="out of range"):
        rank_scores(SIX_SCORES, np.array([6]), SIX, "B2B", RankingRules())
    with pytest.raises(ValueError, match="items"):
        rank_scores(SIX_SCORES[:5], np.array([]), SIX, "B2B", RankingRules())


def test_warm_up_and_batch_from_a_plain_thread() -> None:
    warm_up()
    assert add_owned_pairs.signatures, "the pair kernel of higher-order EASE is compiled too"
    vectors = np.eye(2, dtype=np.float32)
    factors = np.array([[1, 0], [0, 1], [1, 1], [0, 0], [2, 0], [0, 2]], dtype=np.float32)
    results: list[tuple[np.ndarray, np.ndarray]] = []
    thread = threading.Thread(
        target=lambda: results.append(
            rank_batch(
                dot(vectors, factors),
                np.array([0, 1, 1]),
                np.array([2]),
                SIX,
                ["B2B", "B2G"],
                RankingRules(k=3),
            )
        )
    )
    thread.start()
    thread.join()
    items, _ = results[0]
    # client 0 owns course 2, which unlocks course 3, but tariff 1 wins the tie at 0.0
    assert items.tolist() == [[4, 0, 1], [5, 1, 2]]


# -- property tests against the reference ----------------------------------------------------

SCORE_VALUES = [-2.0, -0.5, 0.0, 0.25, 0.5, 1.0, 3.0, float("-inf"), float("nan"), float("inf")]
FACTOR_VALUES = [-1.0, -0.5, 0.0, 0.25, 0.5, 1.0, 2.0]


@st.composite
def catalogs(draw: st.DrawFn) -> CatalogArrays:
    n = draw(st.integers(1, 24))
    kind = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    family = draw(st.lists(st.integers(-1, 2), min_size=n, max_size=n))
    eligibility = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    prereqs = [
        draw(st.lists(st.integers(0, n - 1), max_size=2, unique=True))
        if draw(st.booleans())
        else []
        for _ in range(n)
    ]
    return make_catalog(kind, family, eligibility, prereqs)


@st.composite
def rule_sets(draw: st.DrawFn) -> RankingRules:
    kinds = draw(st.none() | st.frozensets(st.sampled_from(KIND_NAMES), min_size=1))
    return RankingRules(
        # beyond kernels.SORTED_TOP_K too: long lists use the heap instead of a sorted list
        k=draw(st.integers(1, 12) | st.integers(SORTED_TOP_K - 2, SORTED_TOP_K + 3)),
        kinds=kinds,
        max_per_kind=draw(st.integers(0, 3)),
        exclude_owned=draw(st.booleans()),
        check_eligibility=draw(st.booleans()),
        check_prerequisites=draw(st.booleans()),
        one_tariff_per_family=draw(st.booleans()),
    )


class Request(NamedTuple):
    """One ranking request: everything but the scores."""

    catalog: CatalogArrays
    owned: np.ndarray
    segment: str | None
    rules: RankingRules
    boost: list[float] | None

    @property
    def n(self) -> int:
        return len(self.catalog.kind)


@st.composite
def requests(draw: st.DrawFn) -> Request:
    catalog = draw(catalogs())
    n = len(catalog.kind)
    return Request(
        catalog=catalog,
        owned=np.array(draw(st.lists(st.integers(0, n - 1), max_size=5)), dtype=np.int64),
        segment=draw(st.sampled_from(["B2B", "B2G", None, "other"])),
        rules=draw(rule_sets()),
        boost=draw(st.none() | st.lists(st.sampled_from([0.0, 0.5, 1.0]), min_size=n, max_size=n)),
    )


PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _boost(request: Request) -> np.ndarray | None:
    boost = request.boost
    return None if boost is None else np.array(boost, dtype=np.float32)


@PROPERTY
@given(requests(), st.data())
def test_rank_scores_matches_the_reference(request: Request, data: st.DataObject) -> None:
    n = request.n
    scores = np.array(
        data.draw(st.lists(st.sampled_from(SCORE_VALUES), min_size=n, max_size=n)), dtype=np.float32
    )
    args = (
        request.owned,
        request.catalog,
        request.segment,
        request.rules,
        _boost(request),
    )
    assert_same(rank_scores(scores, *args), rank_reference(scores, *args))


@PROPERTY
@given(requests(), st.data())
def test_rank_factors_matches_the_reference(request: Request, data: st.DataObject) -> None:
    n, d = request.n, data.draw(st.integers(1, 6))
    values = st.lists(st.sampled_from(FACTOR_VALUES), min_size=n * d, max_size=n * d)
    factors = np.array(data.draw(values), dtype=np.float32).reshape(n, d)
    vector = np.array(
        data.draw(st.lists(st.sampled_from(FACTOR_VALUES), min_size=d, max_size=d)),
        dtype=np.float32,
    )
    args = (
        request.owned,
        request.catalog,
        request.segment,
        request.rules,
        _boost(request),
    )
    assert_same(rank_factors(vector, factors, *args), rank_reference(factors @ vector, *args))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests(), st.data())
def test_rank_batch_rows_match_single_clients(request: Request, data: st.DataObject) -> None:
    n, d = request.n, 3
    n_clients = data.draw(st.integers(1, 5))
    values = st.lists(
        st.sampled_from(FACTOR_VALUES), min_size=(n + n_clients) * d, max_size=(n + n_clients) * d
    )
    matrix = np.array(data.draw(values), dtype=np.float32).reshape(n + n_clients, d)
    factors, vectors = matrix[:n], matrix[n:]
    owned = [data.draw(st.lists(st.integers(0, n - 1), max_size=4)) for _ in range(n_clients)]
    indptr = np.cumsum([0] + [len(o) for o in owned])
    indices = np.array([i for o in owned for i in o], dtype=np.int64)
    segments = data.draw(
        st.lists(st.sampled_from(["B2B", "B2G", None]), min_size=n_clients, max_size=n_clients)
    )
    catalog, rules, boost = request.catalog, request.rules, _boost(request)
    items, scores = rank_batch(
        dot(vectors, factors), indptr, indices, catalog, segments, rules, boost
    )
    assert items.shape == scores.shape == (n_clients, rules.k)
    for i in range(n_clients):
        want = rank_reference(
            factors @ vectors[i],
            np.array(owned[i], dtype=np.int64),
            catalog,
            segments[i],
            rules,
            boost,
        )
        taken = len(want[0])
        assert_same((items[i, :taken], scores[i, :taken]), want)
        assert (items[i, taken:] == -1).all()
        assert (scores[i, taken:] == -np.inf).all()


def test_non_finite_factors_drop_the_item_despite_fast_math_dot_products() -> None:
    factors = np.ones((6, 9), dtype=np.float32)  # 9: two blocks of four rows' lanes and a tail
    factors[1, 3] = np.nan
    factors[2, 8] = np.inf
    factors[4] = np.arange(9, dtype=np.float32)
    vector = np.full(9, 0.5, dtype=np.float32)
    rules = RankingRules(k=6, check_prerequisites=False, check_eligibility=False)
    owned = np.array([], dtype=np.int64)
    got = rank_factors(vector, factors, owned, SIX, "B2B", rules)
    assert got[0].tolist() == [4, 0, 3, 5]
    assert_same(got, rank_reference(factors @ vector, owned, SIX, "B2B", rules))


def test_kernel_catalogs_are_cached_per_catalog_object() -> None:
    assert kernel_catalog(SIX) is kernel_catalog(SIX)
    # a collected catalog's id is often reused at once: its entry must not serve the new one
    for n in range(40):
        size = n % 5 + 1
        catalog = make_catalog([ADDON] * size, [-1] * size, [3] * size, [[]] * size)
        assert kernel_catalog(catalog).n_items == size
        del catalog


@PROPERTY
@given(requests(), st.data())
def test_long_and_unsorted_owned_lists_match_the_reference(
    request: Request, data: st.DataObject
) -> None:
    # past kernels.LINEAR_OWNED the kernels sort a copy of the owned offers and of the families
    # they hold; below it they search the list as given, sorted or not, duplicates included
    n = request.n
    owned = np.array(data.draw(st.lists(st.integers(0, n - 1), max_size=40)), dtype=np.int64)
    if data.draw(st.booleans()):
        owned = np.sort(owned)
    scores = np.array(
        data.draw(st.lists(st.sampled_from(SCORE_VALUES), min_size=n, max_size=n)), dtype=np.float32
    )
    args = (owned, request.catalog, request.segment, request.rules, _boost(request))
    assert_same(rank_scores(scores, *args), rank_reference(scores, *args))
    factors = np.array(
        data.draw(st.lists(st.sampled_from(FACTOR_VALUES), min_size=2 * n, max_size=2 * n)),
        dtype=np.float32,
    ).reshape(n, 2)
    vector = np.array([0.5, -1.0], dtype=np.float32)
    assert_same(rank_factors(vector, factors, *args), rank_reference(factors @ vector, *args))
    items, totals = rank_batch(
        dot(vector[None, :], factors),
        np.array([0, len(owned)]),
        owned,
        request.catalog,
        [request.segment],
        request.rules,
        _boost(request),
    )
    want = rank_reference(factors @ vector, *args)
    assert_same((items[0, : len(want[0])], totals[0, : len(want[0])]), want)


def test_a_catalog_longer_than_a_dot_block_with_a_quota() -> None:
    rng = np.random.default_rng(7)
    n = 700  # three blocks of dot products, the last one partial
    catalog = make_catalog(
        kind=rng.integers(0, 3, n).tolist(),
        family=rng.integers(-1, 20, n).tolist(),
        eligibility=rng.integers(1, 4, n).tolist(),
        prerequisites=[
            rng.choice(n, 2, replace=False).tolist() if i % 7 == 0 else [] for i in range(n)
        ],
    )
    # exact sums (as in the property tests): the fused dot products may round differently
    factors = rng.choice(FACTOR_VALUES, (n, 5)).astype(np.float32)
    vector = rng.choice(FACTOR_VALUES, 5).astype(np.float32)
    owned = rng.choice(n, 30, replace=False)
    boost = rng.choice([0.0, 0.5, 1.0], n).astype(np.float32)
    rule_sets = (
        RankingRules(k=25),
        RankingRules(k=25, max_per_kind=4),
        RankingRules(k=SORTED_TOP_K + 8),  # a heap that fills and keeps replacing its root
    )
    for rules in rule_sets:
        for extra in (None, boost):
            want = rank_reference(factors @ vector, owned, catalog, "B2G", rules, extra)
            assert_same(rank_factors(vector, factors, owned, catalog, "B2G", rules, extra), want)
