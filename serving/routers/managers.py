"""Account managers: next-best offers across a manager's portfolio, ordered by opportunity."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

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
from serving.language import request_speaker
from serving.recommend import explained, manager_contexts, namer, rank
from serving.schemas import ErrorBody, ManagerOffersOut, NextBestOfferOut, OfferValueOut
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
        int, Query(ge=1, le=100_000, description="Clients at most: the best opportunities")
    ] = 100,
) -> ManagerOffersOut:
    """The manager's clients by expected value of their top offers, each with reasons.

    Every client of the portfolio is ranked; the ``limit`` best opportunities are returned.
    """
    if not principal.may_see_manager(manager_id):
        raise forbid_manager(manager_id)
    if limit > settings.max_manager_clients:
        raise out_of_range("limit", limit, settings.max_manager_clients)
    rules = ranking_rules(settings, k, None)
    # the whole portfolio is ranked (without reasons), ordered by opportunity, then cut to
    # ``limit``: cutting first would drop the best opportunities of clients late in id order
    contexts = manager_contexts(model, store, manager_id)
    policy = ranking_policy(settings)
    ranked = [rank(model, ctx, rules, policy) for ctx in contexts]
    ranked.sort(key=lambda r: (-r.expected_value, r.context.client_id or ""))
    owned = sorted({int(i) for r in ranked[:limit] for i in r.context.owned})
    narrator = namer(model, store, owned, request_speaker(request, settings, "manager"))
    rankings = [explained(model, r, narrator) for r in ranked[:limit]]
    return ManagerOffersOut(
        request_id=request_id,
        model_version=model.label,
        manager_id=manager_id,
        degraded=False,
        clients=[
            NextBestOfferOut(
                client_id=r.context.client_id or "",
                expected_value=r.expected_value,
                offers=[OfferValueOut.of(o) for o in r.offers],
            )
            for r in rankings
        ],
    )
