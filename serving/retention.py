"""Churn risk in the ranking: what the cabinet, the manager API and the pages share.

* ``with_risk`` / ``with_client_risk`` - the churn probability of each client put into its
  profile (the attribute ``churn_probability`` that ``RetentionBoost`` of the one ranking
  policy reads), so at-risk clients get retention offers ranked higher, on every path;
* ``retention_marks`` - which of the ranked offers are retention offers for a client at risk
  (the ones the boost favoured), to be given the retention reason (``retention_reason``);
* ``risk_band`` - a client's band, for experiments that target one;
* ``spend_of`` - a client's yearly spend (list prices of what it owns), for revenue at risk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from recommender.churn.bands import RiskBands
from recommender.churn.scoring import ScoreTable
from recommender.ranking import ClientBlock, RankingModel, RankingPolicy
from recommender.ranking.boosts import CHURN_ATTRIBUTE, RetentionBoost
from serving.churn_risk import ChurnRiskHolder
from serving.recommend import ClientContext


def with_client_risk(holder: ChurnRiskHolder, ctx: ClientContext) -> ClientContext:
    """One client's context with its churn probability (the request path: one dict look-up);
    unchanged without a churn model."""
    churn = holder.current
    if churn is None or ctx.client_id is None:
        return ctx
    probability = churn.scores.probability_of(ctx.client_id)
    return replace(ctx, profile={**ctx.profile, CHURN_ATTRIBUTE: probability})


def risk_band(holder: ChurnRiskHolder, bands: RiskBands, client_id: str | None) -> str | None:
    """The client's churn-risk band (``None``: no churn model, not scored, holds no tariff)."""
    churn = holder.current
    if churn is None or client_id is None:
        return None
    probability = churn.scores.probability_of(client_id)
    return None if probability != probability else bands.band(probability)


def with_risk(contexts: Sequence[ClientContext], scores: ScoreTable) -> list[ClientContext]:
    """``contexts`` with each client's churn probability in its profile (NaN: unknown)."""
    probability = scores.probabilities([c.client_id or "" for c in contexts])
    return [
        replace(ctx, profile={**ctx.profile, CHURN_ATTRIBUTE: float(p)})
        for ctx, p in zip(contexts, probability.tolist(), strict=True)
    ]


def retention_boost(policy: RankingPolicy) -> RetentionBoost | None:
    """The policy's retention boost (``None`` when it is switched off)."""
    return next((b for b in policy.boosts if isinstance(b, RetentionBoost)), None)


def retention_marks(
    policy: RankingPolicy, model: RankingModel, block: ClientBlock, items: np.ndarray
) -> np.ndarray:
    """(n, k) booleans: offer ``items[i, j]`` (-1: none) is a retention offer the policy
    favoured for client ``i`` (a client of the medium or high band)."""
    items = np.asarray(items, dtype=np.int64).reshape(len(block), -1)
    boost = retention_boost(policy)
    if boost is None or items.size == 0:
        return np.zeros(items.shape, dtype=bool)
    at_risk = boost.client_weights(block) > 0
    if not at_risk.any():
        return np.zeros(items.shape, dtype=bool)
    offers = boost.retention_offers(model, block)
    picked = np.take_along_axis(offers, np.maximum(items, 0), axis=1)
    return picked & (items >= 0) & at_risk[:, None]


def spend_of(model: RankingModel, owned: np.ndarray) -> float:
    """Yearly spend: the list prices of the offers owned (that the model knows)."""
    return float(model.price[np.asarray(owned, dtype=np.int64)].sum())
