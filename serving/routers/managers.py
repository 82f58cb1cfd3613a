"""Account managers: next-best offers across a manager's portfolio, ordered by opportunity or
by revenue at risk (``serving.churn_risk``), with retention offers for clients at risk."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Path, Query, Request

from recommender.churn.bands import RiskBand
from recommender.churn.retention import (
    ClientRisk,
    PortfolioOrder,
    client_risk,
    retention_reason,
)
from recommender.phrases import Language
from recommender.ranking import RankingPolicy
from serving.churn_risk import NOT_LOADED, ChurnModelMissingError, ChurnRiskHolder
from serving.churn_schemas import ManagerRetentionOut, NextBestOfferRiskOut, RiskOut
from serving.deps import (
    K_CEILING,
    ModelDep,
    RequestIdDep,
    SettingsDep,
    StaffDep,
    StoreDep,
    out_of_range,
    ranking_policy,
    ranking_rules,
)
from serving.language import request_language, request_speaker
from serving.model_holder import LoadedModel
from serving.recommend import Ranking, explained, manager_contexts, namer, rank
from serving.retention import retention_marks, spend_of, with_risk
from serving.routers.churn import not_loaded
from serving.schemas import ErrorBody, OfferValueOut
from serving.security import forbid_manager

router = APIRouter(prefix="/v1", tags=["account managers"])


@router.get(
    "/managers/{manager_id}/next-best-offers",
    responses={
        401: {"model": ErrorBody},
        403: {"model": ErrorBody},
        503: {"model": ErrorBody, "description": "Online store down, or no model loaded yet"},
    },
)
def next_best_offers(
    model: ModelDep,
    store: StoreDep,
    settings: SettingsDep,
    principal: StaffDep,
    request_id: RequestIdDep,
    request: Request,
    manager_id: Annotated[str, Path(min_length=1, max_length=128)],
    k: Annotated[int, Query(ge=1, le=K_CEILING, description="Offers per client")] = 3,
    limit: Annotated[
        int, Query(ge=1, le=100_000, description="Clients at most: the first by the order")
    ] = 100,
    sort: Annotated[
        PortfolioOrder,
        Query(description="opportunity (expected value) or risk (yearly spend x churn risk)"),
    ] = "opportunity",
    risk: Annotated[
        list[RiskBand] | None, Query(description="Only clients of these churn-risk bands")
    ] = None,
) -> ManagerRetentionOut:
    """The manager's clients by expected value of their top offers (``sort=opportunity``) or
    by revenue at risk (``sort=risk``: yearly spend x churn probability), each with reasons
    and its churn risk. With a churn model, at-risk clients get retention offers (training,
    support, the step to the next Profi tier) favoured by the ranking policy, with a reason
    that says why the client is at risk.

    Every client of the portfolio is ranked; the ``limit`` first by the order are returned.
    """
    if not principal.may_see_manager(manager_id):
        raise forbid_manager(manager_id)
    if limit > settings.max_manager_clients:
        raise out_of_range("limit", limit, settings.max_manager_clients)
    holder: ChurnRiskHolder = request.app.state.churn
    churn = holder.current
    if churn is None and (sort == "risk" or risk):
        raise not_loaded(ChurnModelMissingError(f"{NOT_LOADED}: {holder.problem}"))
    rules = ranking_rules(settings, k, None)
    # the whole portfolio is ranked (without reasons), ordered, filtered, then cut to
    # ``limit``: cutting first would drop the best clients late in id order
    contexts = manager_contexts(model, store, manager_id)
    if churn is not None:
        contexts = with_risk(contexts, churn.scores)
    policy = ranking_policy(settings)
    bands = settings.risk_bands()
    ranked = [rank(model, ctx, rules, policy) for ctx in contexts]
    risks = {
        r.context.client_id: client_risk(churn.scores, bands, r.context.client_id or "")
        if churn is not None
        else None
        for r in ranked
    }
    at_stake = {
        r.context.client_id: _revenue_at_risk(model, r, risks[r.context.client_id]) for r in ranked
    }
    if risk:
        wanted = set(risk)
        ranked = [r for r in ranked if (x := risks[r.context.client_id]) and x.band in wanted]
    if sort == "risk":
        ranked.sort(
            key=lambda r: (-(at_stake[r.context.client_id] or 0.0), r.context.client_id or "")
        )
    else:
        ranked.sort(key=lambda r: (-r.expected_value, r.context.client_id or ""))
    kept = ranked[:limit]
    owned = sorted({int(i) for r in kept for i in r.context.owned})
    language = request_language(request, settings)
    narrator = namer(model, store, owned, request_speaker(request, settings, "manager"))
    rankings = [explained(model, r, narrator) for r in kept]
    rankings = [
        _with_retention_reason(model, policy, r, risks[r.context.client_id], language)
        for r in rankings
    ]
    return ManagerRetentionOut(
        request_id=request_id,
        model_version=model.label,
        manager_id=manager_id,
        degraded=False,
        sort=sort,
        churn_model_version=churn.label if churn is not None else None,
        churn_problem=None if churn is not None else f"{NOT_LOADED}: {holder.problem}",
        clients=[
            NextBestOfferRiskOut(
                client_id=r.context.client_id or "",
                expected_value=r.expected_value,
                offers=[OfferValueOut.of(o) for o in r.offers],
                risk=(
                    RiskOut.of(x, language)
                    if (x := risks[r.context.client_id]) is not None
                    else None
                ),
                revenue_at_risk=at_stake[r.context.client_id],
            )
            for r in rankings
        ],
    )


def _revenue_at_risk(model: LoadedModel, ranking: Ranking, risk: ClientRisk | None) -> float | None:
    """Yearly spend x churn probability (0 for a client holding no tariff; None: unknown)."""
    if risk is None:
        return None
    if risk.probability is None:
        return 0.0
    return round(spend_of(model.ranking, ranking.context.owned) * risk.probability, 2)


def _with_retention_reason(
    model: LoadedModel,
    policy: RankingPolicy,
    ranking: Ranking,
    risk: ClientRisk | None,
    language: Language,
) -> Ranking:
    """The retention offers of an at-risk client with the reason why it is at risk first."""
    if risk is None or risk.band in (None, "low") or not ranking.offers:
        return ranking
    items = np.asarray([[o.item_index for o in ranking.offers]], dtype=np.int64)
    marks = retention_marks(policy, model.ranking, ranking.context.block, items)[0]
    if not marks.any():
        return ranking
    reason = retention_reason(risk, language)
    offers = [
        o._replace(reasons=(reason, *o.reasons)) if marked else o
        for o, marked in zip(ranking.offers, marks.tolist(), strict=True)
    ]
    return replace(ranking, offers=offers)
