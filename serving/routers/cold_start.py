"""Cold start: recommendations for a new or unknown client from its features and owned offers."""

from __future__ import annotations

from fastapi import APIRouter

from serving.deps import (
    CabinetDep,
    ModelDep,
    RequestIdDep,
    SettingsDep,
    StoreDep,
    boosts,
    ranking_rules,
)
from serving.recommend import ClientContext, UnknownItemError, namer, owned_indices, rank
from serving.schemas import ColdStartIn, ErrorBody, RecommendationsOut

router = APIRouter(prefix="/v1", tags=["client cabinet"])


@router.post(
    "/recommendations",
    responses={401: {"model": ErrorBody}, 422: {"description": "Unknown offer or bad field"}},
)
def cold_start_recommendations(
    body: ColdStartIn,
    model: ModelDep,
    store: StoreDep,
    settings: SettingsDep,
    principal: CabinetDep,
    request_id: RequestIdDep,
) -> RecommendationsOut:
    """Offers for a client the service does not know, from what the request says about it.

    Scored by folding in the owned offers, else the features (hybrid models), else the
    popularity of the client's industry and segment. Needs no online store.
    """
    for position, item_id in enumerate(body.owned):
        if item_id not in model.item_index:
            raise UnknownItemError(f"owned[{position}]", item_id)
    rules = ranking_rules(settings, body.k, body.kind)
    profile = body.features.model_dump(mode="json", exclude_none=True)
    ctx = ClientContext(None, None, owned_indices(model, body.owned), profile, degraded=False)
    name_of = namer(model, store, ctx.owned.tolist()) if body.explain else None
    ranking = rank(model, ctx, rules, boosts(settings), name_of)
    return RecommendationsOut.of(ranking, request_id, model.label)
