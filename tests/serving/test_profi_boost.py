"""The Profi boost: offers that add a service get weight / services missing for the next tier;
the one ranking policy applies it (``loyalty_programme='profi'``, the default)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from recommender.ranking import RankingModel, RankingPolicy
from recommender.ranking.boosts import ProfiBoost, TierProgressBoost
from recommender.ranking.policy import PolicySettings
from recommender.servable import ServableModel


def _units(boost: ProfiBoost, model: RankingModel, owned: list[str]) -> dict[str, float]:
    block = model.client("c", owned, {})
    units = np.broadcast_to(boost.units(model, block), (1, model.n_items))[0]
    return {item: float(u) for item, u in zip(model.item_ids, units, strict=True) if u}


def test_an_offer_that_reaches_profi_gets_the_whole_weight(model_dir: Path) -> None:
    model = RankingModel(ServableModel.load(model_dir))
    # two services in use (a tariff and an add-on) + a course: one service short of Profi
    boosted = _units(ProfiBoost(0.5), model, ["sup_basic", "backup", "course_linux1"])
    # add-ons not held and the tariff of a family not held; no course, no tier of "support"
    assert set(boosted) == {
        "os_std", "os_ent", "monitoring", "migration", "antivirus", "gov_cloud", "licences",
    } & set(model.item_ids)  # fmt: skip
    assert set(boosted.values()) == {0.5}
    # one service: two to go, half the weight each
    assert set(_units(ProfiBoost(0.5), model, ["backup"]).values()) == {0.25}
    # at the top tier nothing is boosted
    top = ["sup_basic", "os_std", "backup", "monitoring", "migration"]
    assert _units(ProfiBoost(0.5), model, top) == {}


def test_the_policy_uses_the_programme_the_settings_name(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = RankingPolicy.from_settings(PolicySettings())
    assert any(isinstance(b, ProfiBoost) for b in policy.boosts)
    monkeypatch.setenv("RECSYS_PROFI_THRESHOLDS", '{"basic": 0, "pro": 2}')
    monkeypatch.setenv("RECSYS_LOYALTY_PROGRAMME", "profi")
    (profi,) = [b for b in RankingPolicy.from_settings().boosts if isinstance(b, ProfiBoost)]
    assert profi.thresholds == (0, 2)
    spend = RankingPolicy.from_settings(PolicySettings(loyalty_programme="spend"))
    assert any(isinstance(b, TierProgressBoost) for b in spend.boosts)
    monkeypatch.setenv("RECSYS_PROFI_THRESHOLDS", '{"basic": 0, "pro": 0}')
    with pytest.raises(ValidationError, match="must increase"):
        PolicySettings()
