"""Power and MDE: a published calculator value, the inverse relation and a simulation check."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.experiments.power import (
    minimum_detectable_effect,
    power_proportions,
    sample_size_proportions,
)
from recommender.experiments.stats import proportion_test

#: Evan Miller's sample-size calculator: 5 % baseline, +10 % relative, alpha 0.05, power 0.8.
EVAN_MILLER_5PCT_10PCT = 31_234


def test_sample_size_matches_published_value() -> None:
    plan = sample_size_proportions(0.05, 0.1, alpha=0.05, power=0.8)
    assert plan.n_per_variant == EVAN_MILLER_5PCT_10PCT
    assert plan.treatment == pytest.approx(0.055)
    same = sample_size_proportions(0.05, 0.005, relative=False)
    assert same.n_per_variant == plan.n_per_variant


def test_mde_inverts_sample_size() -> None:
    plan = sample_size_proportions(0.08, 0.15, power=0.9)
    back = minimum_detectable_effect(0.08, plan.n_per_variant, power=0.9)
    assert back.relative_mde == pytest.approx(0.15, rel=1e-3)
    assert back.relative_mde <= 0.15


def test_planned_size_reaches_the_power_in_simulation() -> None:
    plan = sample_size_proportions(0.1, 0.1, power=0.8)
    rng = np.random.default_rng(0)
    runs, n = 4000, plan.n_per_variant
    result = proportion_test(
        rng.binomial(n, 0.1, runs), n, rng.binomial(n, plan.treatment, runs), n
    )
    assert float(np.mean(result.p_value < 0.05)) == pytest.approx(0.8, abs=0.03)
    assert power_proportions(0.1, plan.treatment, n, 0.05) == pytest.approx(0.8, abs=1e-3)


@pytest.mark.parametrize(("baseline", "mde"), [(0.0, 0.1), (0.5, 1.5), (0.1, 0.0)])
def test_rejects_impossible_plans(baseline: float, mde: float) -> None:
    with pytest.raises(ValueError, match=r"baseline|effect"):
        sample_size_proportions(baseline, mde)
