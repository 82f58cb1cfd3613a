"""Co-usage statistics against a plain numpy reference, and what counts as co-usage."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender import cousage
from recommender.cousage import co_usage_arrays, co_usage_from_matrix
from recommender.dataset import Dataset
from recommender.servable import CoUsageArrays


def _reference(
    used: np.ndarray, min_support: int, min_share: float, min_lift: float, max_partners: int
) -> list[list[tuple[int, int, float, float]]]:
    """Per offer, the kept (partner, count, share, lift), strongest first, pair by pair."""
    n_clients, n_items = used.shape
    users = used.sum(axis=0)
    out = []
    for i in range(n_items):
        kept = []
        for o in range(n_items):
            together = int((used[:, i] & used[:, o]).sum())
            if o == i or together == 0:
                continue
            share = together / users[o]
            lift = share * n_clients / users[i]
            if together >= min_support and share >= min_share and lift >= min_lift:
                kept.append((o, together, share, lift))
        kept.sort(key=lambda t: (-t[3], -t[1], t[0]))
        out.append(kept[:max_partners])
    return out


def _rows(co: CoUsageArrays) -> list[list[tuple[int, int, float, float]]]:
    return [
        [
            (int(co.partner[k]), int(co.count[k]), float(co.share[k]), float(co.lift[k]))
            for k in range(co.indptr[i], co.indptr[i + 1])
        ]
        for i in range(len(co.indptr) - 1)
    ]


def _assert_same(got: CoUsageArrays, expected: list[list[tuple[int, int, float, float]]]) -> None:
    rows = _rows(got)
    assert [[(o, c) for o, c, _, _ in r] for r in rows] == [
        [(o, c) for o, c, _, _ in r] for r in expected
    ]
    for got_row, want_row in zip(rows, expected, strict=True):
        for (_, _, share, lift), (_, _, want_share, want_lift) in zip(
            got_row, want_row, strict=True
        ):
            assert share == pytest.approx(want_share, rel=1e-6)
            assert lift == pytest.approx(want_lift, rel=1e-6)


@settings(max_examples=60, deadline=None)
@given(
    used=st.integers(1, 30).flatmap(
        lambda n: st.integers(1, 8).flatmap(
            lambda m: st.lists(
                st.lists(st.booleans(), min_size=m, max_size=m), min_size=n, max_size=n
            )
        )
    ),
    min_support=st.integers(1, 4),
    min_share=st.sampled_from([0.0, 0.2, 0.5]),
    min_lift=st.sampled_from([0.0, 1.0, 1.5]),
    max_partners=st.integers(1, 4),
)
def test_matches_the_pairwise_reference(
    used: list[list[bool]], min_support: int, min_share: float, min_lift: float, max_partners: int
) -> None:
    matrix = np.array(used, dtype=bool)
    got = co_usage_from_matrix(
        sp.csr_matrix(matrix.astype(np.int32)),
        min_support=min_support,
        min_share=min_share,
        min_lift=min_lift,
        max_partners=max_partners,
    )
    assert got.problems(matrix.shape[1]) == []
    _assert_same(got, _reference(matrix, min_support, min_share, min_lift, max_partners))


def test_blocks_of_items_give_the_same_table(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(4)
    used = rng.random((200, 37)) < 0.3
    whole = co_usage_from_matrix(sp.csr_matrix(used.astype(np.int32)), min_support=3)
    monkeypatch.setattr(cousage, "_BLOCK_CELLS", 37 * 5)  # five items per block
    blocked = co_usage_from_matrix(sp.csr_matrix(used.astype(np.int32)), min_support=3)
    for name in ("indptr", "partner", "count", "share", "lift"):
        np.testing.assert_array_equal(getattr(blocked, name), getattr(whole, name))
    _assert_same(whole, _reference(used, 3, cousage.MIN_TOGETHER_SHARE, cousage.MIN_LIFT, 20))


def _partners(co: CoUsageArrays, item: int) -> np.ndarray:
    """Partners of ``item``, strongest first."""
    return co.partner[co.indptr[item] : co.indptr[item + 1]]


def test_views_and_cancelled_offers_are_not_used_together() -> None:
    rows = []
    for n in range(8):  # eight clients own a and b: well backed
        rows += [(f"o{n}", "a", "purchase"), (f"o{n}", "b", "purchase")]
    for n in range(8):  # eight more own c and only viewed b, or cancelled d
        rows += [(f"v{n}", "c", "purchase"), (f"v{n}", "b", "view"), (f"v{n}", "b", "click")]
        rows += [(f"v{n}", "d", "subscription_start"), (f"v{n}", "d", "cancellation")]
    for n in range(8):  # and a few own nothing, so the base rates are below one
        rows.append((f"x{n}", "e", "purchase"))
    events = pd.DataFrame(rows, columns=["client_id", "item_id", "event_type"])
    events["timestamp"] = pd.date_range("2024-01-01", periods=len(events), freq="h", tz="UTC")
    ds = Dataset.from_frames(events)
    co = co_usage_arrays(ds)
    idx, name = ds.item_ids.to_internal, ds.item_ids.external
    assert [name[p] for p in _partners(co, idx("b"))] == ["a"]
    assert [name[p] for p in _partners(co, idx("a"))] == ["b"]
    for item in ("c", "d", "e"):
        assert len(_partners(co, idx(item))) == 0
    k = co.indptr[idx("b")]
    assert co.count[k] == 8 and co.share[k] == 1.0 and co.lift[k] == pytest.approx(3.0)
