"""The evaluation's cap on test clients: a seeded sample above it, every client under it."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.dataset import Dataset
from recommender.evaluation.evaluate import (
    MAX_EVAL_CLIENTS,
    EvaluationResult,
    evaluate_split,
    sample_clients,
)
from recommender.evaluation.splits import split_dataset

pytest.importorskip("recommender.models.registry")
pytest.importorskip("recommender.synthetic")


@pytest.fixture(scope="module")
def parts() -> tuple[Dataset, Dataset]:
    from recommender.synthetic import SyntheticConfig, generate

    data = generate(SyntheticConfig(n_clients=300, seed=5))
    dataset = Dataset.from_frames(data.interactions, data.clients, data.items)
    return split_dataset(dataset, "snapshot", seed=1)


def _run(parts: tuple[Dataset, Dataset], cap: int | None, seed: int = 1) -> EvaluationResult:
    train, test = parts
    return evaluate_split(
        train, test, ["popularity"], k=5, seed=seed, split_reason="why", max_clients=cap
    )


@pytest.fixture(scope="module")
def everyone(parts: tuple[Dataset, Dataset]) -> EvaluationResult:
    return _run(parts, None)


def test_over_the_cap_scores_a_seeded_sample(
    parts: tuple[Dataset, Dataset], everyone: EvaluationResult
) -> None:
    cap = len(everyone.clients) // 3
    sampled = _run(parts, cap)
    assert len(sampled.clients) == cap and sampled.sampled
    assert sampled.n_evaluable_clients == len(everyone.clients)
    assert np.all(np.diff(sampled.clients) > 0)  # in client order
    assert set(sampled.clients) <= set(everyone.clients)
    assert sampled.models["popularity"].recommendations.shape == (cap, 5)
    assert f"sample of {cap:,} of the {len(everyone.clients):,}" in sampled.split_reason
    assert sampled.split_reason.startswith("why; ")
    again = _run(parts, cap)
    np.testing.assert_array_equal(again.clients, sampled.clients)
    assert again.models["popularity"].metrics == sampled.models["popularity"].metrics
    other = _run(parts, cap, seed=2)
    assert not np.array_equal(other.clients, sampled.clients)


def test_under_the_cap_is_unchanged(
    parts: tuple[Dataset, Dataset], everyone: EvaluationResult
) -> None:
    for cap in (len(everyone.clients), MAX_EVAL_CLIENTS):
        same = _run(parts, cap)
        assert not same.sampled and same.split_reason == "why"
        np.testing.assert_array_equal(same.clients, everyone.clients)
        before, after = everyone.models["popularity"], same.models["popularity"]
        np.testing.assert_array_equal(after.recommendations, before.recommendations)
        assert after.metrics == before.metrics and after.by_group == before.by_group
        assert after.model_only == before.model_only


def test_sample_clients_bounds() -> None:
    clients = np.arange(10, 20)
    assert sample_clients(clients, None, 0) is clients
    assert sample_clients(clients, 10, 0) is clients
    np.testing.assert_array_equal(sample_clients(clients, 4, 0), sample_clients(clients, 4, 0))
    assert len(sample_clients(clients, 4, 0)) == 4
    with pytest.raises(ValueError, match="at least 1"):
        sample_clients(clients, 0, 0)
