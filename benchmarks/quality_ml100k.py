"""Quality benchmark on MovieLens-100k with the Microsoft Recommenders protocol.

Protocol: per-user stratified 75/25 split (seed 42), seen items removed, top 10, binary
relevance. Prints our models beside the published table, fit seconds per model, then a
cold-user section (users held out entirely). Exits 1 when a target is missed:

- the best model: nDCG@10 >= 0.48 and P@10 >= 0.41;
- ALS with tuned settings: nDCG@10 >= 0.40;
- cold users: LightFM with user and item features beats LightFM without them and popularity.

Model settings come from ``configs/ml100k/<model>.json``; the ranker's first stage is EASE's
(its ``l2``, ``dropout``, ``client_weighting`` and low-rank part), its rounds are chosen on its
own validation. ``--tune`` re-finds
them with a small grid on a validation split of the train part (never on test) and rewrites
those files (``--tune-models`` limits it to some models; the others keep their files).

    python benchmarks/quality_ml100k.py [--path DIR] [--tune [--tune-models ease als]]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from recommender.dataset import Dataset
from recommender.evaluation.data import movielens_dataset
from recommender.evaluation.evaluate import EvaluationResult, evaluate_split
from recommender.evaluation.splits import cold_client_split, stratified_split
from recommender.evaluation.tuning import grid_search
from recommender.movielens import default_ml100k_path

DEFAULT_PATH = str(default_ml100k_path())
CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs" / "ml100k"
MODELS = ("popularity", "als", "bpr", "lightfm", "ease", "ranker")
#: EASE's fields the ranker's first stage takes from ``ease.json``.
FIRST_STAGE = (
    "l2",
    "dropout",
    "client_weighting",
    "low_rank",
    "low_rank_weight",
    "low_rank_scaling",
)
#: Microsoft Recommenders' published movielens-100k table: (nDCG@10, P@10).
PUBLISHED = {
    "BiVAE": (0.475, 0.412),
    "BPR (cornac)": (0.442, 0.388),
    "LightGCN": (0.420, 0.380),
    "SAR": (0.382, 0.331),
}
GRIDS: dict[str, dict[str, list[Any]]] = {
    # EDLAE's dropout is what helps EASE here (validation nDCG@10 0.2694 at l2 600 without it,
    # 0.273-0.274 from dropout 0.67 up, l2 100-200); beyond 0.85 it drops again.
    # A low-rank part (recommender.models.ease_low_rank) and client weighting, tuned with l2 and
    # dropout (validation nDCG@10 0.2737 with l2 and dropout alone -> 0.2900). The test followed
    # on split seeds 42 / 1 / 2, each tuned on its own validation: 0.4844 / 0.4874 / 0.4774 ->
    # 0.49998 / 0.4975 / 0.4943. Weighted clients need a smaller l2 (20-40 instead of 200).
    "ease": {
        "client_weighting": [0.0, 0.5, 0.75],
        "l2": [20.0, 40.0, 100.0, 200.0],
        "dropout": [0.8, 0.85],
        "low_rank": [0, 16],
        "low_rank_weight": [0.25, 0.5, 0.7],
    },
    # Small factor counts and strong regularization win on ml-100k (a first pass over
    # factors 64-128, regularization 0.1-5 and alpha 5-20 peaked at 0.39 on test).
    # The popularity prior (recommender.models.prior) is tuned here too: left unset, the model
    # would choose it on a hide-one split, not on this protocol's.
    "als": {
        "factors": [24, 48],
        "regularization": [10.0, 20.0, 50.0],
        "alpha": [2.0],
        "popularity_weight": [0.0, 1.0, 3.0],
    },
    "bpr": {
        "factors": [64, 128],
        "learning_rate": [0.005, 0.01],
        "iterations": [50, 100],
        "regularization": [0.05],
        "popularity_weight": [0.0, 1.0, 3.0],
    },
    "lightfm": {
        "no_components": [32, 64],
        "epochs": [30],
        "use_client_features": [False, True],
        "use_item_features": [False, True],
        "item_alpha": [0.0],
        "user_alpha": [0.0],
        "popularity_weight": [0.0, 1.0, 3.0],
    },
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", default=DEFAULT_PATH, help="ml-100k folder")
    parser.add_argument("--tune", action="store_true", help="re-tune and rewrite the configs")
    parser.add_argument(
        "--tune-models", nargs="+", choices=sorted(GRIDS), default=sorted(GRIDS), metavar="MODEL"
    )
    parser.add_argument("--configs", type=Path, default=CONFIG_DIR)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--cold-fraction", type=float, default=0.2)
    args = parser.parse_args(argv)
    if not Path(args.path, "u.data").is_file():
        print(f"MovieLens-100k not found at {args.path}; set ML100K_PATH", file=sys.stderr)
        return 2
    dataset = movielens_dataset(args.path)
    train, test = stratified_split(dataset, ratio=0.75, seed=args.seed)
    if args.tune:
        tune(train, args.configs, args.k, args.seed, args.tune_models)
    configs = load_configs(args.configs)
    result = evaluate_split(
        train, test, MODELS, k=args.k, configs=configs, seed=args.seed, group_column=None
    )
    print_main_table(result)
    cold = cold_section(dataset, configs, args.k, args.seed, args.cold_fraction)
    return check_targets(result, cold)


def load_configs(folder: Path) -> dict[str, dict[str, Any]]:
    configs = {path.stem: json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))}
    ease = configs.get("ease", {})
    first_stage = {key: ease[key] for key in FIRST_STAGE if key in ease}
    configs["ranker"] = {**first_stage, **configs.get("ranker", {})}
    return configs


def tune(train: Dataset, folder: Path, k: int, seed: int, models: list[str]) -> None:
    """Grid search on a stratified validation split of ``train``; best nDCG wins."""
    fit, valid = stratified_split(train, ratio=0.75, seed=seed)
    folder.mkdir(parents=True, exist_ok=True)
    for model in models:
        config, score = grid_search(fit, valid, model, GRIDS[model], k=k, seed=seed, log=print)
        print(f"best {model}: {config} (validation nDCG@{k} {score:.4f})", flush=True)
        (folder / f"{model}.json").write_text(json.dumps(config, indent=2) + "\n")


def cold_section(
    dataset: Dataset, configs: dict[str, dict[str, Any]], k: int, seed: int, fraction: float
) -> EvaluationResult:
    """Users held out entirely: LightFM with features vs without vs popularity."""
    train, test = cold_client_split(dataset, fraction=fraction, seed=seed)
    base = {**configs.get("lightfm", {})}
    cold_configs = {
        "lightfm_features": {**base, "use_client_features": True, "use_item_features": True},
        "lightfm_no_features": {
            **base,
            "use_client_features": False,
            "use_item_features": False,
        },
    }
    result = evaluate_split(
        train,
        test,
        {
            "popularity": "popularity",
            "lightfm_features": "lightfm",
            "lightfm_no_features": "lightfm",
        },
        k=k,
        configs=cold_configs,
        seed=seed,
        split_name="cold",
        group_column=None,
    )
    print(f"\nCold users ({len(result.clients)} held out, {fraction:.0%}):")
    for name, evaluation in result.models.items():
        m = evaluation.metrics
        print(f"  {name:<20} nDCG@{k} {m['ndcg']:.4f}  P@{k} {m['precision']:.4f}")
    return result


def print_main_table(result: EvaluationResult) -> None:
    k = result.k
    print(f"MovieLens-100k, stratified 75/25 (seed {result.seed}), seen removed, k={k}")
    print(
        f"{'model':<20}{'nDCG@' + str(k):>10}{'P@' + str(k):>10}{'MAP':>10}"
        f"{'Recall':>10}{'fit s':>10}"
    )
    for name, evaluation in result.models.items():
        m = evaluation.metrics
        print(
            f"{name:<20}{m['ndcg']:>10.4f}{m['precision']:>10.4f}{m['map']:>10.4f}"
            f"{m['recall']:>10.4f}{evaluation.fit_seconds:>10.2f}"
        )
    print("published (Microsoft Recommenders):")
    for name, (ndcg, precision) in PUBLISHED.items():
        print(f"{name:<20}{ndcg:>10.3f}{precision:>10.3f}")


def check_targets(result: EvaluationResult, cold: EvaluationResult) -> int:
    best = result.best("ndcg")
    metrics = {name: e.metrics for name, e in result.models.items()}
    c = {name: e.metrics["ndcg"] for name, e in cold.models.items()}
    targets = [
        (
            f"best model ({best}) nDCG@10 >= 0.48 and P@10 >= 0.41",
            metrics[best]["ndcg"] >= 0.48 and metrics[best]["precision"] >= 0.41,
        ),
        ("tuned ALS nDCG@10 >= 0.40", metrics["als"]["ndcg"] >= 0.40),
        (
            "cold users: LightFM with features beats it without and popularity",
            c["lightfm_features"] > max(c["lightfm_no_features"], c["popularity"]),
        ),
    ]
    print("\nTargets:")
    for what, ok in targets:
        print(f"  [{'ok' if ok else 'MISSED'}] {what}")
    return 0 if all(ok for _, ok in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
