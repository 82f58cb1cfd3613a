"""Quality benchmark on generated data: do personalized lists beat the uniform offer?

Generated clients (default 2,000, seed 7), global time split (last 20 % of events test),
top 5. Targets (exit 1 when missed): the best personalized model's NDCG@5 is at least 1.5x
global popularity's and above segment and industry popularity's, with personalization
>= 0.7. A miss means the generator's story lacks the signal: fix the story, not the threshold.

Model settings come from ``configs/synthetic/<model>.json``; ``--tune`` re-finds them with a
small grid on a time split of the train part (never on test) and rewrites those files.

    python benchmarks/quality_synthetic.py [--clients N] [--seed S] [--tune] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from recommender.evaluation.data import synthetic_dataset
from recommender.evaluation.evaluate import EvaluationResult, evaluate_split
from recommender.evaluation.splits import time_split
from recommender.evaluation.tuning import grid_search

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs" / "synthetic"
BASELINES = ("popularity", "segment_popularity", "industry_popularity")
PERSONALIZED = ("als", "bpr", "lightfm", "lightfm_bpr", "ease")
GRIDS: dict[str, dict[str, list[Any]]] = {
    "ease": {"l2": [10.0, 50.0, 200.0, 800.0]},
    "als": {"factors": [16, 64], "regularization": [0.1, 5.0], "alpha": [1.0, 10.0]},
    "bpr": {"factors": [32], "learning_rate": [0.01, 0.05], "iterations": [100, 300]},
    "lightfm": {"no_components": [16, 32], "epochs": [20, 50]},
    "lightfm_bpr": {"no_components": [16, 32], "epochs": [20, 50]},
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=7, help="generator seed")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--quantile", type=float, default=0.8, help="time split quantile")
    parser.add_argument("--tune", action="store_true", help="re-tune and rewrite the configs")
    parser.add_argument("--configs", type=Path, default=CONFIG_DIR)
    parser.add_argument("--out", type=Path, default=None, help="also write a report here")
    args = parser.parse_args(argv)
    dataset = synthetic_dataset(args.clients, seed=args.seed)
    train, test = time_split(dataset, quantile=args.quantile)
    if args.tune:
        fit, valid = time_split(train, quantile=args.quantile)
        args.configs.mkdir(parents=True, exist_ok=True)
        for model, grid in GRIDS.items():
            config, score = grid_search(fit, valid, model, grid, k=args.k, log=print)
            print(f"best {model}: {config} (validation NDCG@{args.k} {score:.4f})", flush=True)
            (args.configs / f"{model}.json").write_text(json.dumps(config, indent=2) + "\n")
    configs = {p.stem: json.loads(p.read_text()) for p in sorted(args.configs.glob("*.json"))}
    result = evaluate_split(
        train,
        test,
        (*BASELINES, *PERSONALIZED),
        k=args.k,
        configs=configs,
        split_name="time",
        group_column="industry",
    )
    print_table(result, args.clients, args.seed)
    if args.out is not None:
        from recommender.evaluation.report import write_report

        write_report(result, args.out)
        print(f"report written to {args.out}")
    return check_targets(result)


def print_table(result: EvaluationResult, n_clients: int, seed: int) -> None:
    k = result.k
    print(
        f"Synthetic data ({n_clients} clients, seed {seed}), time split, k={k}, "
        f"{len(result.clients)} test clients"
    )
    columns = ("ndcg", "precision", "recall", "map", "coverage", "personalization", "novelty")
    print(f"{'model':<22}" + "".join(f"{c[:10]:>11}" for c in columns) + f"{'fit s':>9}")
    for name, evaluation in result.models.items():
        m = evaluation.metrics
        cells = "".join(f"{m[c]:>11.4f}" for c in columns)
        print(f"{name:<22}{cells}{evaluation.fit_seconds:>9.2f}")


def check_targets(result: EvaluationResult) -> int:
    ndcg = {name: e.metrics["ndcg"] for name, e in result.models.items()}
    best = max(PERSONALIZED, key=lambda name: ndcg[name])
    personalization = result.models[best].metrics["personalization"]
    targets = [
        (
            f"best personalized ({best}) NDCG@{result.k} {ndcg[best]:.4f} >= 1.5 x popularity "
            f"{ndcg['popularity']:.4f}",
            ndcg[best] >= 1.5 * ndcg["popularity"],
        ),
        (
            f"{best} above segment ({ndcg['segment_popularity']:.4f}) and industry "
            f"({ndcg['industry_popularity']:.4f}) popularity",
            ndcg[best] > max(ndcg["segment_popularity"], ndcg["industry_popularity"]),
        ),
        (f"{best} personalization {personalization:.3f} >= 0.7", personalization >= 0.7),
    ]
    print("\nTargets:")
    for what, ok in targets:
        print(f"  [{'ok' if ok else 'MISSED'}] {what}")
    return 0 if all(ok for _, ok in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
