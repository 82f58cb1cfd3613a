"""Kernel benchmarks of issue 6 item 8, measured as ratios against references in one process.

    .venv/bin/python benchmarks/bench_kernels.py            # exits 1 if a target is missed
    .venv/bin/python benchmarks/bench_kernels.py --no-check # report only

(a) p50 of one ``rank_factors`` call, top-10 over 1,000 offers x 64 factors, back to back
    (target <= 20 us); also between calls of the numpy reference, with caches disturbed;
(b) ``rank_factors`` over 100,000 items x 64 / one BLAS matvec (target <= 2x);
(c) implicit's ``recommend`` for one user with the same filtering / ``rank_factors`` (>= 10x),
    with the bound no exact kernel can beat: implicit / one numba call that only reads every
    factor once (the memory traffic plus numba's dispatch, without any scoring or selection);
(d) ``rank_batch`` 100,000 clients x 1,000 offers top-10 / (BLAS matmul + argpartition), <= 2x.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from numba import njit
from threadpoolctl import threadpool_info, threadpool_limits

from recommender.catalog import KIND_NAMES
from recommender.ranking import (
    RankingRules,
    candidate_mask,
    rank_batch,
    rank_factors,
    rank_reference,
    warm_up,
)
from recommender.servable import CatalogArrays

DIM, K, OWNED = 64, 10, 5


def make_catalog(n_items: int, rng: np.random.Generator) -> CatalogArrays:
    """A catalog shaped like the integrator's: a third each of tariffs, courses, add-ons."""
    kind = rng.integers(0, 3, n_items).astype(np.int8)
    family = np.where(kind == 0, rng.integers(0, max(1, n_items // 20), n_items), -1)
    has_prereq = (kind == 1) & (rng.random(n_items) < 0.3)
    indptr = np.concatenate([[0], np.cumsum(has_prereq)]).astype(np.int64)
    indices = rng.integers(0, n_items, int(has_prereq.sum())).astype(np.int64)
    return CatalogArrays(
        kind=kind,
        kind_names=KIND_NAMES,
        family=family.astype(np.int32),
        family_names=tuple(f"family-{i}" for i in range(max(1, n_items // 20))),
        eligibility=rng.choice(np.array([1, 2, 3], dtype=np.int8), n_items, p=[0.1, 0.1, 0.8]),
        prereq_indptr=indptr,
        prereq_indices=indices,
        price=np.ones(n_items, dtype=np.float32),
        margin=np.full(n_items, 0.3, dtype=np.float32),
    )


def factors(rows: int, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal((rows, DIM), dtype=np.float32)


@njit(nogil=True, cache=True, fastmath=True)
def read_every_factor(factors: np.ndarray) -> float:
    """Sum of all factors: what touching each factor once costs, the floor of any exact kernel."""
    flat = factors.reshape(factors.size)
    total = np.float32(0.0)
    for i in range(flat.shape[0]):
        total += flat[i]
    return float(total)


def timed(call: Callable[[], object]) -> int:
    start = time.perf_counter_ns()
    call()
    return time.perf_counter_ns() - start


def medians(calls: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median ns per call of each callable, interleaved so drift hits all of them alike."""
    samples: dict[str, list[int]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            samples[name].append(timed(call))
    return {name: statistics.median(values) for name, values in samples.items()}


def bench_latency(rng: np.random.Generator, repeats: int) -> dict[str, float]:
    catalog, items = make_catalog(1_000, rng), factors(1_000, rng)
    vector, owned = factors(1, rng)[0], rng.choice(1_000, OWNED, replace=False)
    rules = RankingRules(k=K)
    got = rank_factors(vector, items, owned, catalog, "B2B", rules)
    want = rank_reference(items @ vector, owned, catalog, "B2B", rules)
    assert np.array_equal(got[0], want[0]), "kernel and reference disagree"
    ours = lambda: rank_factors(vector, items, owned, catalog, "B2B", rules)  # noqa: E731
    matvec = lambda: items @ vector  # noqa: E731
    # the p50 of back-to-back calls (what the target is about), each timed on its own
    timings = {"rank_factors": medians({"r": ours}, repeats)["r"]}
    timings["matvec"] = medians({"m": matvec}, repeats)["m"]
    # and between calls of the numpy reference, whose allocations push the factors out of the
    # core's caches, as other work between requests does in a server
    mixed = medians(
        {
            "rank_factors": ours,
            "rank_reference": lambda: rank_reference(items @ vector, owned, catalog, "B2B", rules),
        },
        max(1, repeats // 10),
    )
    timings["rank_factors_disturbed"] = mixed["rank_factors"]
    timings["rank_reference"] = mixed["rank_reference"]
    return timings


def bench_large(rng: np.random.Generator, repeats: int) -> dict[str, float]:
    catalog, items = make_catalog(100_000, rng), factors(100_000, rng)
    vector, owned = factors(1, rng)[0], rng.choice(100_000, OWNED, replace=False)
    rules = RankingRules(k=K)
    timings = medians(
        {
            "rank_factors": lambda: rank_factors(vector, items, owned, catalog, "B2B", rules),
            "matvec": lambda: items @ vector,
        },
        repeats,
    )
    # the kernel runs on one core per request; as deployed (OPENBLAS_NUM_THREADS=1) so does BLAS
    with threadpool_limits(1, "blas"):
        timings["matvec_1_thread"] = medians({"m": lambda: items @ vector}, repeats)["m"]
    return timings


def bench_implicit(rng: np.random.Generator, repeats: int, n_items: int) -> dict[str, float]:
    from implicit.cpu.als import AlternatingLeastSquares

    catalog, items = make_catalog(n_items, rng), factors(n_items, rng)
    users = factors(4, rng)
    model = AlternatingLeastSquares(factors=DIM, random_state=0)
    model.user_factors, model.item_factors = users, items
    owned = np.sort(rng.choice(n_items, OWNED, replace=False))
    liked = sp.csr_matrix((np.ones(OWNED, dtype=np.float32), owned, [0, OWNED]), (1, n_items))
    rules = RankingRules(k=K)
    # implicit gets the items our rules exclude beyond the owned ones as filter_items
    blocked = ~candidate_mask(catalog, owned, "B2B", rules)
    blocked[owned] = False
    filter_items = np.flatnonzero(blocked)

    def ours() -> tuple[np.ndarray, np.ndarray]:
        return rank_factors(users[1], items, owned, catalog, "B2B", rules)

    def theirs() -> tuple[np.ndarray, np.ndarray]:
        ids, scores = model.recommend(1, liked, N=K, filter_items=filter_items)
        return ids, scores

    with threadpool_limits(1, "blas"):
        same = set(theirs()[0].tolist()) == set(ours()[0].tolist())
        assert same, "implicit and kernel disagree"
        read_every_factor(items)
        return medians(
            {
                "rank_factors": ours,
                "implicit": theirs,
                "read_every_factor": lambda: read_every_factor(items),
            },
            repeats,
        )


def bench_batch(rng: np.random.Generator, repeats: int, n_clients: int) -> dict[str, float]:
    n_items = 1_000
    catalog, items = make_catalog(n_items, rng), factors(n_items, rng)
    vectors = factors(n_clients, rng)
    indptr = np.arange(0, OWNED * (n_clients + 1), OWNED, dtype=np.int64)
    indices = rng.integers(0, n_items, OWNED * n_clients).astype(np.int64)
    segments = rng.choice(np.array([1, 2], dtype=np.int64), n_clients)
    rules = RankingRules(k=K)
    rows = max(1, (1 << 18) // n_items)  # the block size rank_batch uses

    def ours() -> object:
        return rank_batch(vectors, items, indptr, indices, catalog, segments, rules)

    def reference() -> object:
        top = np.empty((n_clients, K), dtype=np.int64)
        for start in range(0, n_clients, rows):
            block = vectors[start : start + rows] @ items.T
            top[start : start + rows] = np.argpartition(block, -K, axis=1)[:, -K:]
        return top

    return medians({"rank_batch": ours, "matmul+argpartition": reference}, repeats)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-check", action="store_true", help="report only, always exit 0")
    parser.add_argument("--repeats", type=int, default=20_000, help="calls for the p50 (a)")
    parser.add_argument("--clients", type=int, default=100_000, help="clients in the batch (d)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    warm_up()

    blas = [
        f"{i['internal_api']} {i.get('architecture')} x{i['num_threads']}"
        for i in threadpool_info()
        if i["user_api"] == "blas"
    ]
    env = {v: os.environ.get(v, "-") for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    print(f"BLAS: {', '.join(blas)}; {env}")

    a = bench_latency(rng, args.repeats)
    b = bench_large(rng, 60)
    c = bench_implicit(rng, 2_000, 1_000)
    c_small = bench_implicit(rng, 2_000, 110)
    c_large = bench_implicit(rng, 60, 100_000)
    d = bench_batch(rng, 3, args.clients)
    rows = [
        (
            "a: p50 rank_factors 1k x 64 (us)",
            a["rank_factors"] / 1e3,
            "<= 20",
            a["rank_factors"] / 1e3 <= 20,
        ),
        (
            "a: p50 rank_factors, caches disturbed (us)",
            a["rank_factors_disturbed"] / 1e3,
            "info",
            True,
        ),
        ("a: p50 rank_reference 1k x 64 (us)", a["rank_reference"] / 1e3, "info", True),
        ("a: p50 BLAS matvec 1k x 64 (us)", a["matvec"] / 1e3, "info", True),
        (
            "b: rank_factors / matvec, 100k x 64",
            b["rank_factors"] / b["matvec"],
            "<= 2",
            b["rank_factors"] <= 2 * b["matvec"],
        ),
        ("b: matvec 100k x 64 (us)", b["matvec"] / 1e3, "info", True),
        (
            "b: rank_factors / single-thread matvec",
            b["rank_factors"] / b["matvec_1_thread"],
            "info",
            True,
        ),
        (
            "c: implicit / rank_factors, 1k items",
            c["implicit"] / c["rank_factors"],
            ">= 10",
            c["implicit"] >= 10 * c["rank_factors"],
        ),
        (
            "c: bound: implicit / reading the factors, 1k",
            c["implicit"] / c["read_every_factor"],
            "info",
            True,
        ),
        ("c: implicit recommend, 1k items (us)", c["implicit"] / 1e3, "info", True),
        (
            "c: implicit / rank_factors, 110 items (our catalog)",
            c_small["implicit"] / c_small["rank_factors"],
            "info",
            True,
        ),
        (
            "c: implicit / rank_factors, 100k items",
            c_large["implicit"] / c_large["rank_factors"],
            "info",
            True,
        ),
        (
            f"d: rank_batch / (matmul+argpartition), {args.clients} x 1k",
            d["rank_batch"] / d["matmul+argpartition"],
            "<= 2",
            d["rank_batch"] <= 2 * d["matmul+argpartition"],
        ),
        ("d: rank_batch (ms)", d["rank_batch"] / 1e6, "info", True),
    ]
    print(f"{'measure':<52}{'value':>12}  {'target':<8}ok")
    for name, value, target, ok in rows:
        print(f"{name:<52}{value:>12.3f}  {target:<8}{'yes' if ok else 'NO'}")
    missed = [name for name, _, _, ok in rows if not ok]
    if missed and not args.no_check:
        print(f"missed: {', '.join(missed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
