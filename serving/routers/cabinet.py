"""The client cabinet: a known client's recommendations, on every page view."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Path, Response, status

from serving.deps import CabinetCallDep, ExplainQuery, KindQuery, KQuery, boosts, ranking_rules
from serving.recommend import client_context, namer, rank
from serving.schemas import ErrorBody, RecommendationsOut
from serving.security import forbid_client

router = APIRouter(prefix="/v1", tags=["client cabinet"])

ClientId = Path(min_length=1, max_length=128, description="External client id")


@router.get(
    "/clients/{client_id}/recommendations",
    response_model=RecommendationsOut,
    responses={
        401: {"model": ErrorBody},
        403: {"model": ErrorBody},
        404: {"model": ErrorBody, "description": "Unknown client: use POST /v1/recommendations"},
    },
)
def client_recommendations(
    call: CabinetCallDep,
    client_id: str = ClientId,
    k: KQuery = None,
    kind: KindQuery = None,
    explain: ExplainQuery = False,
) -> Response:
    """Top offers for a known client, excluding what it owns; ``degraded`` without Redis."""
    model, store, settings, principal = call.model, call.store, call.settings, call.principal
    rules = ranking_rules(settings, k, kind)
    ctx = client_context(model, store, client_id)
    if principal.role == "manager":
        if ctx.degraded:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                detail="cannot check the client's manager while the online store is "
                "unavailable; retry shortly",
            )
        if not principal.may_see_client_of(ctx.attribute("manager_id")):
            raise forbid_client(client_id)
    name_of = namer(model, store, ctx.owned.tolist()) if explain else None
    ranking = rank(model, ctx, rules, boosts(settings), name_of)
    body = RecommendationsOut.of(ranking, call.request_id, model.label)
    # already validated by construction: serialize once instead of FastAPI re-validating it
    return Response(body.model_dump_json(), media_type="application/json")
