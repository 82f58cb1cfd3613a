"""The retention boost of the one ranking policy: for a client at risk of churning, courses,
support and the step to the next Profi tier rise; low-risk and unscored clients are untouched."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from recommender.churn.bands import RiskBands
from recommender.ranking import RankingModel, RankingPolicy
from recommender.ranking.boosts import CHURN_ATTRIBUTE, RetentionBoost
from recommender.ranking.policy import PolicySettings
from recommender.servable import ServableModel

OWNED = ["sup_basic", "backup"]  # two services: one short of Profi


def _units(model: RankingModel, probability: float | None) -> dict[str, float]:
    profile = {} if probability is None else {CHURN_ATTRIBUTE: probability}
    block = model.client("c", OWNED, profile)
    units = np.broadcast_to(RetentionBoost(0.4).units(model, block), (1, model.n_items))[0]
    return {item: float(u) for item, u in zip(model.item_ids, units, strict=True) if u}


def test_retention_offers_of_a_high_risk_client_get_the_whole_weight(model_dir: Path) -> None:
    model = RankingModel(ServableModel.load(model_dir))
    boosted = _units(model, 0.6)
    courses = {i for i, k in zip(model.item_ids, model.kinds, strict=True) if k == "course"}
    assert courses <= set(boosted)  # training
    assert {"sup_premium"} <= set(boosted)  # support (a support tariff: family "support")
    assert {"monitoring", "os_std"} <= set(boosted)  # one more service reaches Profi
    assert set(boosted.values()) == {0.4}


def test_the_weight_follows_the_band(model_dir: Path) -> None:
    model = RankingModel(ServableModel.load(model_dir))
    bands = RiskBands()
    assert _units(model, bands.medium - 0.01) == {}  # low band
    assert _units(model, None) == {} and _units(model, float("nan")) == {}  # not scored
    medium = np.array(list(_units(model, bands.medium).values()))
    np.testing.assert_allclose(medium, 0.2)  # half the weight at the medium threshold
    between = np.array(list(_units(model, (bands.medium + bands.high) / 2).values()))
    np.testing.assert_allclose(between, 0.3)


def test_the_policy_ranks_retention_offers_higher_for_a_client_at_risk(model_dir: Path) -> None:
    model = RankingModel(ServableModel.load(model_dir))
    # a client at the top Profi tier: only training and support retain it
    tiers = {"basic": 0, "profi": 3}
    strong = RankingPolicy.from_settings(
        PolicySettings(retention_boost=5.0, profi_thresholds=tiers)
    )
    off = RankingPolicy.from_settings(PolicySettings(retention_boost=0.0, profi_thresholds=tiers))
    boost = next(b for b in strong.boosts if isinstance(b, RetentionBoost))
    owned = ["os_std", "backup", "monitoring", "course_linux1"]

    def retention_share(policy: RankingPolicy, probability: float) -> float:
        block = model.client("c", owned, {CHURN_ATTRIBUTE: probability})
        items = policy.rank(model, block, policy.rules(3)).row(0)
        return float(boost.retention_offers(model, block)[0, items].mean())

    assert retention_share(strong, 0.9) == 1.0
    assert retention_share(strong, 0.9) > retention_share(off, 0.9)
    assert retention_share(strong, 0.01) == retention_share(off, 0.01)  # low risk: as before


def test_band_thresholds_are_checked() -> None:
    with pytest.raises(ValidationError, match="medium < high"):
        PolicySettings(churn_band_medium=0.5, churn_band_high=0.3)
    assert PolicySettings(churn_band_medium=0.2, churn_band_high=0.5).risk_bands().band(0.3) == (
        "medium"
    )
