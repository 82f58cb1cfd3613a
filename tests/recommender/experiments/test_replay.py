"""Offline replay on simulated logs where the candidate's true click rate is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recommender.experiments.replay import candidate_from_top_k, replay

N_CLIENTS, N_ITEMS, SHOWN, TOP_K = 1500, 12, 5, 3
REPLICATES = 40
MIN_COVERAGE = 0.85


def _world(seed: int) -> tuple[pd.DataFrame, dict[str, list[str]], float]:
    """Logs of a stochastic softmax policy, a top-k candidate and the candidate's true CTR."""
    rng = np.random.default_rng(seed)
    click = 1 / (1 + np.exp(-(rng.normal(-2.2, 0.6, (N_CLIENTS, 1))
                              + rng.normal(0, 0.8, (1, N_ITEMS)))))  # fmt: skip
    scores = rng.normal(0, 0.7, (N_CLIENTS, N_ITEMS))
    policy = np.exp(scores) / np.exp(scores).sum(1, keepdims=True)
    cumulative = policy.cumsum(1)
    draws = rng.random((N_CLIENTS, SHOWN))
    shown = np.minimum((draws[:, :, None] > cumulative[:, None, :]).sum(2), N_ITEMS - 1)
    rows = np.repeat(np.arange(N_CLIENTS), SHOWN)
    items = shown.ravel()
    logs = pd.DataFrame(
        {
            "client_id": [f"c{r}" for r in rows],
            "item_id": [f"i{i}" for i in items],
            "position": np.tile(np.arange(SHOWN), N_CLIENTS),
            "propensity": policy[rows, items],
            "clicked": (rng.random(rows.size) < click[rows, items]).astype(int),
        }
    )
    guess = click + rng.normal(0, 0.05, click.shape)
    top = np.argsort(-guess, axis=1)[:, :TOP_K]
    lists = {f"c{c}": [f"i{i}" for i in top[c]] for c in range(N_CLIENTS)}
    truth = float(np.take_along_axis(click, top, axis=1).mean())
    return logs, lists, truth


def test_intervals_cover_the_true_click_rate() -> None:
    covered_ips, covered_snips = [], []
    for seed in range(REPLICATES):
        logs, lists, truth = _world(seed)
        estimate = replay(logs, lists, n_bootstrap=300, seed=seed)
        covered_ips.append(estimate.ips_low <= truth <= estimate.ips_high)
        covered_snips.append(estimate.snips_low <= truth <= estimate.snips_high)
    assert np.mean(covered_ips) >= MIN_COVERAGE
    assert np.mean(covered_snips) >= MIN_COVERAGE


def test_estimates_beat_the_logging_policy_when_the_candidate_is_better() -> None:
    logs, lists, truth = _world(99)
    estimate = replay(logs, lists, n_bootstrap=300)
    logged_rate = float(logs["clicked"].mean())
    assert truth > logged_rate
    assert estimate.ips_low > logged_rate
    assert estimate.snips == pytest.approx(truth, rel=0.2)
    assert estimate.clients == N_CLIENTS
    assert 0 < estimate.matched < len(logs)
    assert 0 < estimate.effective_sample_size < len(logs)


def test_the_logging_policy_replayed_on_itself_gives_the_logged_rate() -> None:
    logs, _, _ = _world(5)
    own = logs.assign(probability=logs["propensity"])[["client_id", "item_id", "probability"]]
    estimate = replay(logs, own.drop_duplicates(["client_id", "item_id"]), n_bootstrap=100)
    assert estimate.snips == pytest.approx(logs["clicked"].mean())
    assert estimate.ips == pytest.approx(logs["clicked"].mean())


def test_top_k_probabilities_and_bad_logs() -> None:
    table = candidate_from_top_k({"a": ["x", "y"], "b": ["z", "z"], "c": []})
    assert table.groupby("client_id")["probability"].sum().to_dict() == {"a": 1.0, "b": 1.0}
    logs, lists, _ = _world(1)
    with pytest.raises(ValueError, match="propensity"):
        replay(logs.assign(propensity=0.0), lists)
    with pytest.raises(ValueError, match="clicked"):
        replay(logs.drop(columns="clicked"), lists)
