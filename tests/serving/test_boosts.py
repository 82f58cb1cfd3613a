"""Business boosts: margin for everyone, loyalty by how much of the next tier an offer covers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recommender import loyalty
from recommender.ranking import ClientBlock, RankingModel
from recommender.ranking.boosts import MarginBoost, TierProgressBoost
from recommender.servable import ServableModel

SPREAD = 2.0


def _model(model_dir: Path) -> RankingModel:
    return RankingModel(ServableModel.load(model_dir))


def _client(model: RankingModel, owned: list[str], tier: str) -> ClientBlock:
    return model.client("c", owned, {"loyalty_tier": tier})


def _vector(boost: MarginBoost | TierProgressBoost, model: RankingModel, block: ClientBlock):
    """The boost the policy adds for one client whose scores span ``SPREAD``."""
    units = np.broadcast_to(boost.units(model, block), (1, model.n_items))[0]
    return SPREAD * units


def test_margin_alone_is_the_margin_times_the_spread(model_dir: Path) -> None:
    model = _model(model_dir)
    ctx = _client(model, ["backup"], "silver")
    boost = _vector(MarginBoost(0.1), model, ctx)
    want = SPREAD * 0.1 * np.asarray(model.servable.catalog.margin, dtype=np.float32)
    np.testing.assert_allclose(boost, want, rtol=1e-6)


def test_loyalty_is_the_share_of_the_gap_an_offer_closes(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _model(model_dir)
    price = np.asarray(model.servable.catalog.price, dtype=np.float64)
    ctx = _client(model, ["backup", "monitoring"], "gold")  # the CRM's tier is not trusted
    spend = price[ctx.owned(0)].sum()  # 20 + 30: bronze
    monkeypatch.setitem(loyalty.TIER_THRESHOLDS, "silver", spend + 100.0)  # 100 to go
    boost = _vector(TierProgressBoost(0.5), model, ctx)
    want = SPREAD * 0.5 * np.minimum(price / 100.0, 1.0)
    np.testing.assert_allclose(boost, want, rtol=1e-6)
    closes = price >= 100.0
    assert closes.any() and (~closes).any()
    assert np.all(boost[closes] == boost.max())  # every offer that closes the gap: full boost
    assert np.all(boost[~closes] < boost.max())


def test_the_boost_and_the_pages_share_one_tier_definition(model_dir: Path) -> None:
    model = _model(model_dir)
    price = np.asarray(model.servable.catalog.price, dtype=np.float64)
    for owned, stated in ((["backup"], "platinum"), (["backup", "monitoring"], None)):
        block = _client(model, owned, stated or "")
        spend = float(price[block.owned(0)].sum())
        needed = loyalty.tier_progress(spend, stated).needed
        inverse = TierProgressBoost.inverse_needed(model, block)[0]
        assert inverse == pytest.approx(1.0 / needed)


def test_no_loyalty_boost_at_the_top_tier(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _model(model_dir)
    for tier in ("silver", "gold", "platinum"):
        monkeypatch.setitem(loyalty.TIER_THRESHOLDS, tier, 10.0)  # spend 20 reaches the top
    top = _client(model, ["backup"], "bronze")
    assert not np.any(_vector(TierProgressBoost(0.5), model, top))
