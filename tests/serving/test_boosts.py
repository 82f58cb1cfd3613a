"""Business boosts: margin for everyone, loyalty by how much of the next tier an offer covers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from recommender import loyalty
from recommender.servable import ServableModel
from serving.model_holder import LoadedModel
from serving.recommend import Boosts, ClientContext

SPREAD = 2.0


def _model(model_dir: Path) -> LoadedModel:
    return LoadedModel(ServableModel.load(model_dir), "v1", "champion", datetime.now(UTC))


def _client(model: LoadedModel, owned: list[str], tier: str) -> ClientContext:
    indices = np.asarray(sorted(model.item_index[i] for i in owned), dtype=np.int64)
    return ClientContext("c", None, indices, {"loyalty_tier": tier}, degraded=False)


def test_margin_alone_is_the_margin_times_the_spread(model_dir: Path) -> None:
    model = _model(model_dir)
    ctx = _client(model, ["backup"], "silver")
    boost = Boosts(margin=0.1).vector(model, ctx, np.zeros(model.servable.n_items), SPREAD)
    want = SPREAD * 0.1 * np.asarray(model.servable.catalog.margin, dtype=np.float32)
    np.testing.assert_allclose(boost, want, rtol=1e-6)


def test_loyalty_is_the_share_of_the_gap_an_offer_closes(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _model(model_dir)
    price = np.asarray(model.servable.catalog.price, dtype=np.float64)
    ctx = _client(model, ["backup", "monitoring"], "silver")  # spend 20 + 30
    spend = price[ctx.owned].sum()
    monkeypatch.setitem(loyalty.TIER_THRESHOLDS, "gold", spend + 100.0)  # 100 to go
    boost = Boosts(loyalty=0.5).vector(model, ctx, np.zeros(model.servable.n_items), SPREAD)
    want = SPREAD * 0.5 * np.minimum(price / 100.0, 1.0)
    np.testing.assert_allclose(boost, want, rtol=1e-6)
    closes = price >= 100.0
    assert closes.any() and (~closes).any()
    assert np.all(boost[closes] == boost.max())  # every offer that closes the gap: full boost
    assert np.all(boost[~closes] < boost.max())


def test_no_loyalty_boost_at_the_top_tier_or_past_the_threshold(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _model(model_dir)
    zeros = np.zeros(model.servable.n_items)
    top = _client(model, ["backup"], "platinum")
    assert not np.any(Boosts(loyalty=0.5).vector(model, top, zeros, SPREAD))
    ready = _client(model, ["backup"], "silver")
    monkeypatch.setitem(loyalty.TIER_THRESHOLDS, "gold", 10.0)  # spend 20 already passes it
    assert not np.any(Boosts(loyalty=0.5).vector(model, ready, zeros, SPREAD))
