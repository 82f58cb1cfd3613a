"""The ml-100k quality targets of benchmarks/quality_ml100k.py, kept as regression tests.

Same protocol (Microsoft Recommenders: stratified 75/25 per user, seed 42, seen items removed,
k=10) and the configs kept in configs/ml100k. Skipped when the data set is absent.
"""

import json
from pathlib import Path

import pytest

from benchmarks.quality_ml100k import load_configs
from recommender.evaluation.data import movielens_dataset
from recommender.evaluation.evaluate import evaluate_split
from recommender.evaluation.splits import cold_client_split, stratified_split
from recommender.movielens import default_ml100k_path

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "ml100k"
PATH = default_ml100k_path()

pytestmark = [
    pytest.mark.ml100k,
    pytest.mark.slow,
    pytest.mark.skipif(not (PATH / "u.data").is_file(), reason=f"MovieLens-100k not at {PATH}"),
]


def _config(name: str) -> dict:
    return json.loads((CONFIGS / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def dataset():
    return movielens_dataset(str(PATH))


def test_best_model_and_tuned_als_reach_the_targets(dataset) -> None:
    train, test = stratified_split(dataset, ratio=0.75, seed=42)
    ease = _config("ease")
    plain = {**ease, "low_rank": 0, "client_weighting": 0.0}
    result = evaluate_split(
        train,
        test,
        {"ease": "ease", "ease_plain": "ease", "als": "als", "popularity": "popularity"},
        k=10,
        configs={"ease": ease, "ease_plain": plain, "als": _config("als")},
        seed=42,
        group_column=None,
    )
    metrics = {name: e.metrics for name, e in result.models.items()}
    best = max(("ease", "als"), key=lambda m: metrics[m]["ndcg"])
    assert metrics[best]["ndcg"] >= 0.48
    assert metrics[best]["precision"] >= 0.41
    assert metrics["als"]["ndcg"] >= 0.40
    # EDLAE dropout, client weighting and the low-rank part chosen on validation
    # (configs/ml100k/ease.json): 0.49998; 0.4822 without the last two, 0.4844 with the
    # dropout alone tuned, 0.4809 with none of them.
    assert metrics["ease"]["ndcg"] >= 0.498
    assert metrics["ease"]["ndcg"] >= metrics["ease_plain"]["ndcg"] + 0.01
    assert metrics["popularity"]["ndcg"] < 0.3  # the uniform offer is far behind


def test_cold_users_gain_from_features(dataset) -> None:
    train, test = cold_client_split(dataset, fraction=0.2, seed=42)
    base = _config("lightfm")
    result = evaluate_split(
        train,
        test,
        {"popularity": "popularity", "with": "lightfm", "without": "lightfm"},
        k=10,
        configs={
            "with": {**base, "use_client_features": True, "use_item_features": True},
            "without": {**base, "use_client_features": False, "use_item_features": False},
        },
        seed=42,
        split_name="cold",
        group_column=None,
    )
    ndcg = {name: e.metrics["ndcg"] for name, e in result.models.items()}
    assert ndcg["with"] > ndcg["without"]
    assert ndcg["with"] > ndcg["popularity"]


def test_ranker_stays_near_its_first_stage(dataset) -> None:
    """The trees re-rank EASE's window (EASE's own weights, low-rank part included): on this
    protocol (a quarter of each user's items hidden, unlike the hide-one validation that
    chooses the rounds) they cost 0.017 nDCG (0.4831 against 0.49998); a ranker that learned
    from the wrong rows falls to 0.25."""
    train, test = stratified_split(dataset, ratio=0.75, seed=42)
    configs = load_configs(CONFIGS)
    result = evaluate_split(
        train,
        test,
        ["ease", "ranker"],
        k=10,
        configs={name: configs[name] for name in ("ease", "ranker")},
        seed=42,
        group_column=None,
    )
    ndcg = {name: e.metrics["ndcg"] for name, e in result.models.items()}
    assert ndcg["ranker"] >= ndcg["ease"] - 0.03
