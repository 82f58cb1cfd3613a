"""The second-stage ranker's serving cost, against EASE (its own first stage) in the same process.

    .venv/bin/python benchmarks/bench_ranker.py            # exits 1 if a target is missed
    .venv/bin/python benchmarks/bench_ranker.py --no-check # report only

One client at a time, as the cabinet asks, on generated portfolios cut to catalogues of 22
offers (COIL 2000's size) and ~110 offers (the generator's catalogue):

(a) the request, what the cabinet waits for (``RankingPolicy.rank`` of
    ``RankingModel.client``: the client's row, scoring, rules, boosts, top-10, probability):
    p50 in microseconds for the ranker and for EASE (``item_item``) and their ratio; target:
    the ranker within ``--target`` (3x) of EASE;
(b) ``Scorer.score`` of a block of one (first stage, candidate rows, trees) alone: reported,
    not checked. It compares the tree walks (candidates x trees, ~20 ns each) with an EASE
    call of a few microseconds that is mostly call overhead, so it grows with the trees that
    validation keeps (the rounds are capped by ``max_tree_walks``).

Both models are fitted on the same data; the ranker with its defaults (rounds chosen on
validation), so its size is what training produces. Numba kernels are compiled (or loaded from
the cache) before timing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from functools import partial

import numpy as np

from recommender.dataset import Dataset
from recommender.evaluation.data import synthetic_dataset
from recommender.models.registry import build_model
from recommender.ranking import ClientBlock, RankingModel, RankingPolicy
from recommender.ranking.warmup import warm_up

EASE = {"l2": 10.0, "dropout": 0.5}
RANKER = {"l2": 10.0, "dropout": 0.5}


def p50_us(calls: list[Callable[[], object]], repeats: int = 20) -> float:
    """Median time of one call, cycling through ``calls`` (different clients)."""
    for call in calls[:20]:
        call()
    times = []
    for _ in range(repeats):
        for call in calls:
            started = time.perf_counter_ns()
            call()
            times.append(time.perf_counter_ns() - started)
    return statistics.median(times) / 1000.0


def most_owned(dataset: Dataset, n_items: int) -> Dataset:
    """The same clients over the ``n_items`` most owned offers."""
    if n_items >= dataset.n_items:
        return dataset
    owners = np.bincount(dataset.interactions.indices, minlength=dataset.n_items)
    keep = set(dataset.item_ids.to_external(np.argsort(-owners, kind="stable")[:n_items]))
    events = dataset.events.drop(columns=["client_idx", "item_idx"])
    items = dataset.items.reset_index()
    return Dataset.from_frames(
        events[events["item_id"].isin(keep)],
        dataset.clients.reset_index(),
        items[items["item_id"].isin(keep)],
    )


def one_model(
    dataset: Dataset, name: str, config: Mapping[str, object], owners: np.ndarray
) -> tuple[float, float]:
    """(scorer p50 us, request p50 us) of one model over the clients ``owners``."""
    policy = RankingPolicy.from_settings()
    rules = policy.rules(10)
    model = RankingModel(build_model(name, dict(config)).fit(dataset).export())
    scorer = model.scorer
    blocks = [ClientBlock.from_dataset(dataset, np.array([c])) for c in owners]
    requests = [
        (
            str(dataset.client_ids.external[c]),
            [str(i) for i in dataset.item_ids.to_external(dataset.interactions[c].indices)],
            dataset.clients.iloc[c].to_dict(),
        )
        for c in owners.tolist()
    ]

    def request(client_id: str, owned: list[str], profile: dict[str, object]) -> object:
        return policy.rank(model, model.client(client_id, owned, profile), rules)

    if name == "ranker":
        parts = scorer.parts  # type: ignore[attr-defined]
        print(
            f"  ranker on {dataset.n_items} offers: {parts.ensemble.n_trees} trees, "
            f"{parts.ensemble.n_leaves} leaves, {parts.spec.n_features} features, "
            f"client features {model.servable.metadata['config']['use_client_features']}"
        )
    return (
        p50_us([partial(scorer.score, b) for b in blocks]),
        p50_us([partial(request, *r) for r in requests]),
    )


def timings(
    dataset: Dataset, ranker: Mapping[str, object], clients: int = 100
) -> dict[str, tuple[float, float]]:
    """Per model: (scorer p50 us, request p50 us) for a block of one known client."""
    owners = np.flatnonzero(np.diff(dataset.interactions.indptr) > 0)[:clients]
    return {
        "ease": one_model(dataset, "ease", EASE, owners),
        "ranker": one_model(dataset, "ranker", {**RANKER, **ranker}, owners),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=3_000)
    parser.add_argument("--target", type=float, default=3.0)
    parser.add_argument("--ranker", type=json.loads, default={}, help="config overrides (JSON)")
    parser.add_argument("--no-check", action="store_true")
    args = parser.parse_args(argv)
    warm_up()
    data = synthetic_dataset(args.clients)
    failed = []
    for n_items in (22, data.n_items):
        cut = most_owned(data, n_items)
        found = timings(cut, args.ranker)
        (ease_score, ease_request), (ranker_score, ranker_request) = found["ease"], found["ranker"]
        ratio = ranker_request / ease_request
        print(
            f"{cut.n_items:4d} offers  (a) request p50: ranker {ranker_request:7.1f} us, "
            f"ease {ease_request:6.1f} us, ratio {ratio:5.2f}x (target <= {args.target:g}x)\n"
            f"            (b) score p50: ranker {ranker_score:7.1f} us, "
            f"ease {ease_score:6.1f} us, ratio {ranker_score / ease_score:5.2f}x"
        )
        if ratio > args.target:
            failed.append(f"{cut.n_items} offers")
    if failed and not args.no_check:
        print("missed: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
