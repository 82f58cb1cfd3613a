"""The ranking path that serves users, timed against references run in the same process.

    .venv/bin/python benchmarks/bench_ranking.py            # exits 1 if a target is missed
    .venv/bin/python benchmarks/bench_ranking.py --no-check # report only

(a) One client, as the cabinet asks (``RankingPolicy.rank`` of ``RankingModel.client``: scoring,
    margin and loyalty boosts, catalogue rules, top-10, calibrated p), on catalogues of 110 and
    1,000 offers, for EASE (scores from the owned offers) and ALS (a learned vector). Reported:
    p50 in microseconds and the ratio to a bare numpy reference (score + ``argpartition``, no
    rules, no boosts, no probability); reported, not checked: the difference is the policy's
    fixed per-request cost (boosts, rules, calibration: tens of microseconds, a few percent of
    an HTTP answer), and it does not grow with the catalogue.
(b) Many clients, as evaluation, ``train`` and ``retrain`` rank them
    (``RankingPolicy.rank`` over a ``ClientBlock`` of 30,000 portfolio clients, 110 offers):
    clients per second for EASE and popularity, and the ratio to the export path
    (``compute_nbo`` without reasons) on the same clients; targets >= 20,000 clients/s and
    <= 2x the export path.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from recommender.dataset import Dataset
from recommender.evaluation.data import synthetic_dataset
from recommender.models.registry import build_model
from recommender.nbo import compute_nbo
from recommender.ranking import ClientBlock, RankingModel, RankingPolicy
from recommender.ranking.warmup import warm_up

CONFIGS = {"ease": {"l2": 200.0, "dropout": 0.0}, "als": {"factors": 32, "regularization": 5.0}}


def p50_us(call: Callable[[], object], repeats: int = 2000) -> float:
    for _ in range(50):
        call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter_ns()
        call()
        times.append(time.perf_counter_ns() - started)
    return statistics.median(times) / 1000.0


def widen(dataset: Dataset, n_items: int, seed: int = 0) -> Dataset:
    """The same clients over a catalogue of ``n_items`` offers (extra offers bought at random)."""
    if n_items <= dataset.n_items:
        return dataset
    rng = np.random.default_rng(seed)
    extra = n_items - dataset.n_items
    items = dataset.items.reset_index()
    template = items.iloc[[0] * extra].copy()
    template["item_id"] = [f"extra-{i}" for i in range(extra)]
    template["family"] = None
    template["prerequisites"] = [[] for _ in range(extra)]
    events = dataset.events[["client_id", "item_id", "event_type", "timestamp"]]
    buyers = rng.choice(dataset.client_ids.external, size=extra * 20)
    bought = events.iloc[rng.integers(len(events), size=len(buyers))].copy()
    bought["client_id"] = buyers
    bought["item_id"] = np.repeat(template["item_id"].to_numpy(), 20)
    all_items = pd.concat([items, template], ignore_index=True)
    frames = pd.concat([events, bought], ignore_index=True)
    return Dataset.from_frames(frames, dataset.clients.reset_index(), all_items)


def one_client(dataset: Dataset, name: str, policy: RankingPolicy) -> tuple[float, float]:
    """(policy p50 us, numpy reference p50 us) for one known client owning a few offers."""
    model = RankingModel(build_model(name, CONFIGS[name]).fit(dataset).export())
    client = int(np.argmax(np.diff(dataset.interactions.indptr) >= 3))
    client_id = str(dataset.client_ids.external[client])
    owned_idx = dataset.interactions[client].indices
    owned = [model.item_ids[i] for i in owned_idx]
    profile = dataset.clients.iloc[client].to_dict()
    rules = policy.rules(10)

    def served() -> object:
        return policy.rank(model, model.client(client_id, owned, profile), rules)

    servable = model.servable
    if servable.item_item is not None:
        matrix = servable.item_item

        def reference() -> object:
            scores = matrix[owned_idx].sum(axis=0)
            scores[owned_idx] = -np.inf
            return np.argpartition(-scores, 10)[:10]
    else:
        assert servable.item_factors is not None and servable.client_factors is not None
        factors, vector = servable.item_factors, servable.client_factors[client]

        def reference() -> object:
            scores = factors @ vector
            scores[owned_idx] = -np.inf
            return np.argpartition(-scores, 10)[:10]

    return p50_us(served), p50_us(reference)


def many_clients(dataset: Dataset, name: str, policy: RankingPolicy) -> tuple[float, float]:
    """(evaluation clients/s, evaluation time / export time) over every client."""
    model = RankingModel(build_model(name, CONFIGS.get(name, {})).fit(dataset).export())
    block = ClientBlock.from_dataset(dataset)
    rules = policy.rules(10)
    policy.rank(model, block.slice(0, 100), rules)  # warm
    started = time.perf_counter()
    policy.rank(model, block, rules)
    ranking = time.perf_counter() - started
    started = time.perf_counter()
    compute_nbo(model, block, policy, rules, explain=False)
    export = time.perf_counter() - started
    return len(block) / ranking, ranking / export


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=30_000)
    parser.add_argument("--no-check", action="store_true")
    args = parser.parse_args(argv)
    warm_up()
    policy = RankingPolicy.from_settings()
    failed: list[str] = []
    small = synthetic_dataset(3_000)
    print("(a) one client, policy with boosts and rules vs numpy score + argpartition")
    for n_items in (110, 1000):
        data = widen(small, n_items)
        for name in ("ease", "als"):
            served, reference = one_client(data, name, policy)
            ratio = served / reference
            print(
                f"    {name:5s} {data.n_items:5d} offers: p50 {served:7.1f} us, "
                f"reference {reference:6.1f} us, ratio {ratio:5.2f}x"
            )
    print(f"(b) {args.clients:,} clients, evaluation ranking vs the export path")
    portfolio = synthetic_dataset(args.clients)
    for name in ("ease", "popularity"):
        rate, ratio = many_clients(portfolio, name, policy)
        print(
            f"    {name:10s} {portfolio.n_items} offers: {rate:10,.0f} clients/s "
            f"(target >= 20,000), {ratio:.2f}x the export path (target <= 2x)"
        )
        if rate < 20_000 or ratio > 2:
            failed.append(f"many clients {name}")
    if failed and not args.no_check:
        print("missed: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
