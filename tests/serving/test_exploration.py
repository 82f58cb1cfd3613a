"""Exploration and logged propensities: the formula matches simulation, and offline replay of
the serving logs recovers the deterministic policy's click rate."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from feature_store.redis_store import RedisOnlineStore
from recommender.experiments.replay import replay
from serving.app import create_app
from serving.exploration import explore, inclusion
from serving.settings import ServingSettings
from tests.serving.ab import impressions

DRAWS = 20_000


@pytest.mark.parametrize(
    ("n", "c", "epsilon"), [(5, 9, 0.3), (5, 2, 0.5), (4, 1, 0.9), (3, 0, 0.4), (1, 5, 0.5)]
)
def test_logged_propensities_match_the_simulated_policy(n: int, c: int, epsilon: float) -> None:
    shown: Counter[int] = Counter()
    logged: dict[int, set[float]] = {}
    for draw in range(DRAWS):
        positions, propensities = explore(n + c, n, epsilon, f"request-{draw}")
        assert len(set(positions.tolist())) == n and positions[0] == 0
        for position, propensity in zip(positions.tolist(), propensities, strict=True):
            shown[position] += 1
            logged.setdefault(position, set()).add(round(propensity, 12))
    kept, drawn = inclusion(n, c, epsilon)
    assert sum(kept) + c * drawn == pytest.approx(n)
    for position in range(n + c):
        truth = kept[position] if position < n else drawn
        frequency = shown[position] / DRAWS
        assert abs(frequency - truth) <= 4 * np.sqrt(truth * (1 - truth) / DRAWS) + 1e-9
        if shown[position]:
            assert logged[position] == {round(truth / n, 12)}


def test_no_exploration_is_the_deterministic_list() -> None:
    positions, propensities = explore(10, 4, 0.0, "any")
    assert positions.tolist() == [0, 1, 2, 3]
    assert propensities == [0.25] * 4


@pytest.fixture
def exploring(settings: ServingSettings) -> ServingSettings:
    return settings.model_copy(update={"exploration_epsilon": 0.3, "log_all_exposures": True})


def test_explored_answers_are_reproducible_and_keep_the_rules(
    client: TestClient, exploring: ServingSettings
) -> None:
    full = client.get("/v1/clients/c001/recommendations", params={"k": 14}).json()["items"]
    ranked = [i["item_id"] for i in full]
    with TestClient(create_app(exploring)) as explorer:
        lists = []
        for n in range(40):
            headers = {"X-Request-ID": f"r{n}"}
            url = "/v1/clients/c001/recommendations"
            first = explorer.get(url, params={"k": 4}, headers=headers).json()["items"]
            again = explorer.get(url, params={"k": 4}, headers=headers).json()["items"]
            assert first == again
            lists.append([i["item_id"] for i in first])
    assert all(items[0] == ranked[0] for items in lists)
    assert all(len(set(items)) == len(items) == 4 and set(items) <= set(ranked) for items in lists)
    for items in lists:  # a slot shows its deterministic offer or one from beyond the top 4
        for slot, item in enumerate(items):
            assert item == ranked[slot] or ranked.index(item) >= 4
    assert any(items != ranked[:4] for items in lists)


def test_replaying_the_logs_recovers_the_deterministic_click_rate(
    client: TestClient, exploring: ServingSettings, store: RedisOnlineStore
) -> None:
    """Serve with exploration, simulate clicks, replay the deterministic top-k on the logs."""
    k, requests_per_client = 4, 25
    clients = [f"c{n:03d}" for n in range(60)]
    url = "/v1/clients/{}/recommendations"
    top = {
        c: [i["item_id"] for i in client.get(url.format(c), params={"k": k}).json()["items"]]
        for c in clients
    }
    with TestClient(create_app(exploring)) as explorer:
        for r in range(requests_per_client):
            for c in clients:
                headers = {"X-Request-ID": f"{c}-{r}"}
                assert explorer.get(url.format(c), params={"k": k}, headers=headers).is_success
    expected = requests_per_client * sum(len(items) for items in top.values())
    logged = impressions(store, expected)
    assert len(logged) == expected

    rng = np.random.default_rng(2024)
    items = sorted({r.item_id for r in logged})
    noise = {(c, i): rng.normal(0, 0.5) for c in clients for i in items}

    def click_probability(client_id: str, item_id: str) -> float:
        favoured = 1.5 if item_id in top[client_id] else 0.0  # the model is right, mostly
        return float(1 / (1 + np.exp(-(-2.0 + favoured + noise[(client_id, item_id)]))))

    logs = pd.DataFrame(
        {
            "client_id": [r.client_id for r in logged],
            "item_id": [r.item_id for r in logged],
            "position": [r.position for r in logged],
            "propensity": [r.propensity for r in logged],
        }
    )
    chance = np.array(
        [click_probability(c, i) for c, i in zip(logs.client_id, logs.item_id, strict=True)]
    )
    logs["clicked"] = (rng.random(len(logs)) < chance).astype(int)
    truth = float(np.mean([click_probability(c, i) for c in clients for i in top[c]]))

    estimate = replay(logs, top, n_bootstrap=500, seed=1)
    logged_rate = float(logs["clicked"].mean())
    assert estimate.ips_low <= truth <= estimate.ips_high
    assert estimate.ips == pytest.approx(truth, rel=0.1)
    assert estimate.snips == pytest.approx(truth, rel=0.1)
    assert abs(estimate.ips - truth) < abs(logged_rate - truth)  # exploration costs clicks
    assert estimate.matched < len(logs)  # explored offers are not the candidate's
