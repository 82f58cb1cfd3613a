"""The synthetic churn story: who leaves and why shows in the events, with noise."""

import numpy as np

from recommender.churn import ChurnDefinition, EventLog
from recommender.churn.features import COLUMN, Vocabularies, feature_matrix
from recommender.churn.labels import outcomes
from recommender.synthetic import SyntheticConfig, generate


def test_leavers_are_the_clients_the_story_says() -> None:
    data = generate(SyntheticConfig(n_clients=6_000, seed=3))
    log = EventLog.from_frames(data.interactions, data.clients, data.items)
    cutoffs = [log.last_day - 90.0 - 60.0 * k for k in range(4)]
    x, y = [], []
    for cutoff in cutoffs:
        result = outcomes(log, cutoff, ChurnDefinition())
        x.append(feature_matrix(log, cutoff, Vocabularies.of(log))[result.at_risk])
        y.append(result.churned[result.at_risk])
    features, churned = np.concatenate(x), np.concatenate(y)
    rate = churned.mean()
    assert 0.03 < rate < 0.15  # about 28 % a year

    def churn_rate(mask: np.ndarray) -> float:
        return float(churned[mask].mean())

    services = features[:, COLUMN["services"]]
    assert churn_rate(services <= 1) > 2 * churn_rate(services >= 3)
    courses = features[:, COLUMN["completions_ever"]]
    assert churn_rate(courses == 0) > 1.3 * churn_rate(courses > 0)
    change = features[:, COLUMN["usage_change"]]
    falling = change < -0.3
    assert churn_rate(falling) > 1.3 * churn_rate(change >= 0)
    # falling usage is evidence, not proof: most clients whose usage falls stay
    assert churn_rate(falling) < 0.5
